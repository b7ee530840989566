"""The platform as the cluster needs it: a zip of the package for executors (`addPyFile`,
`--py-files`) and the job entrypoint, named by their content so versions cannot drift.

The zip's name carries the package version and a hash of its files: a Spark job always imports
exactly the code the Dagster process that submitted it runs, and an upload to the lake's store
is skipped when that exact build is already there. Third-party libraries (dagster-pipes, pandera,
pyarrow) are the cluster image's business: deployments/cluster/requirements.txt, generated from
pyproject.toml (compute.requirements).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from importlib import metadata
from pathlib import Path

import datalake_platform
from datalake_platform.settings import current

PACKAGE_DIR = Path(datalake_platform.__file__).resolve().parent
ENTRYPOINT = PACKAGE_DIR / "compute" / "entrypoint.py"
ARTIFACTS = "work/_artifacts"  # under the lake's root: what remote jobs run


def package_version() -> str:
    try:
        return metadata.version("datalake_platform")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _package_files() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _package_files():
            # A fixed timestamp: the same sources give the same bytes, hence the same name.
            info = zipfile.ZipInfo(str(path.relative_to(PACKAGE_DIR.parent)), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def dist_dir() -> Path:
    return current().dist_dir


def package_zip() -> Path:
    """The package as a zip importable from `sys.path`, built once per content."""
    data = _zip_bytes()
    path = dist_dir() / f"datalake_platform-{package_version()}-{hashlib.sha256(data).hexdigest()[:12]}.zip"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)  # never a half-written zip under the final name
    return path


def upload_artifacts(storage) -> dict[str, str]:
    """Put the package zip and the entrypoint in the lake's store; returns their URIs.

    Both are named by content (the entrypoint by the zip's hash), so an upload never
    overwrites what a running job reads, and a build already uploaded is not sent again.
    """
    storage = getattr(storage, "remote", storage)  # a mirrored lake (Azure here): the container the cluster reads
    local_zip = package_zip()
    build = local_zip.stem  # datalake_platform-<version>-<hash>
    uris = {
        "package": storage.uri(f"{ARTIFACTS}/{local_zip.name}"),
        "entrypoint": storage.uri(f"{ARTIFACTS}/{build}-entrypoint.py"),
    }
    for uri, source in ((uris["package"], local_zip), (uris["entrypoint"], ENTRYPOINT)):
        if not storage.fs.exists(uri):
            storage.write_bytes(uri, source.read_bytes())
    return uris
