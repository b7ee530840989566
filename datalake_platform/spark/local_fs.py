"""Hadoop's local file system for local Spark, without a `chmod` process per directory.

Without its native library (libhadoop.so, which pyspark does not ship), Hadoop's local file
system sets permissions by running `chmod`, ~10 ms each and several per file written (a write
of 100 partitions started 1,224 processes and threads, ~5 without): seconds for the 546 days of
a single-run backfill (the plain write of 1M purchases took 5.8 s, 2.5 s without).
`LocalFileSystem.java` sets them through Java instead. Written by hand: neither Hadoop nor Spark
offers this without the native library.

It is compiled once per machine by the JDK's `javac`, next to the connector jars (built here, like
them never committed). Where there is no `javac`, or it fails, Spark keeps Hadoop's own.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pyspark

from datalake_platform.spark.connectors import jars_dir
from datalake_platform.spark.java import jdk_tool

SOURCE = Path(__file__).with_name("LocalFileSystem.java")
CLASS = "datalake_platform.hadoop.LocalFileSystem"
JAVA_RELEASE = "17"  # the oldest Java Spark 4 runs on
log = logging.getLogger(__name__)


def session_conf() -> dict[str, str]:
    """The Spark conf that puts the file system in place, or {} where it cannot be built."""
    jar = local_fs_jar()
    return {"spark.driver.extraClassPath": str(jar), "spark.hadoop.fs.file.impl": CLASS} if jar else {}


def local_fs_jar() -> Path | None:
    """The compiled jar (built on first use), or None where there is no `javac` or it fails."""
    hadoop_api = _hadoop_api_jar()
    if hadoop_api is None:
        return None
    key = hashlib.sha256(SOURCE.read_bytes() + Path(hadoop_api).name.encode()).hexdigest()[:16]
    jar = jars_dir() / "local_fs" / f"datalake-local-fs-{key}.jar"
    if jar.is_file():
        return jar
    javac = jdk_tool("javac")
    if javac is None:
        log.info("No javac: Spark keeps Hadoop's local file system, which runs chmod for every directory")
        return None
    try:
        _build(javac, hadoop_api, jar)
    except (OSError, subprocess.SubprocessError) as error:
        said = (getattr(error, "stderr", None) or b"").decode(errors="replace").strip()
        log.warning(f"Could not build {SOURCE.name} ({error} {said}): Spark keeps Hadoop's local file system")
        return None
    return jar


def _hadoop_api_jar() -> str | None:
    found = sorted(glob.glob(str(Path(pyspark.__file__).parent / "jars" / "hadoop-client-api-*.jar")))
    return found[-1] if found else None


def _build(javac: str, hadoop_api: str, jar: Path) -> None:
    jar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as classes:
        subprocess.run(
            [javac, "--release", JAVA_RELEASE, "-nowarn", "-cp", hadoop_api, "-d", classes, str(SOURCE)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        partial = jar.with_name(f".{jar.name}.{os.getpid()}.part")
        with zipfile.ZipFile(partial, "w") as archive:  # a jar is a zip of the classes
            for path in sorted(Path(classes).rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
        partial.replace(jar)  # concurrent builders each write their own, then one wins whole
