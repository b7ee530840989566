"""Local Spark's file system: Hadoop's, but setting permissions without a `chmod` process."""

import logging
import os
import stat
import zipfile
from pathlib import Path

import pytest

from datalake_platform.spark import local_fs
from datalake_platform.spark.java import jdk_tool

needs_javac = pytest.mark.skipif(jdk_tool("javac") is None, reason="no javac: Spark keeps Hadoop's file system")


def _processes_started() -> int:
    """Processes and threads this machine has started since boot (Linux counts both as forks)."""
    with open("/proc/stat") as stats:
        return next(int(line.split()[1]) for line in stats if line.startswith("processes "))


def _hadoop_fs(spark):
    jvm = spark._jvm
    return jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), spark._jsc.hadoopConfiguration())


@needs_javac
def test_a_partitioned_write_starts_no_process_per_directory(spark, tmp_path):
    assert _hadoop_fs(spark).getClass().getName() == local_fs.CLASS
    before = _processes_started()
    spark.range(400).selectExpr("id", "id % 100 AS day").write.partitionBy("day").parquet(str(tmp_path / "t"))
    started = _processes_started() - before
    # Hadoop's own runs chmod ~3 times per file written, each a process and a thread that reads
    # its output: 1,224 for these 200 files (the JVM's own threads are a few).
    assert started < 50, started
    assert len(list(tmp_path.glob("t/day=*"))) == 100
    assert spark.read.parquet(str(tmp_path / "t")).count() == 400
    assert list(tmp_path.glob("t/day=7/.*.crc"))  # still checksummed, as Hadoop's `file:` is


@needs_javac
def test_permissions_are_set_as_hadoop_sets_them(spark, tmp_path):
    fs, jvm = _hadoop_fs(spark), spark._jvm
    path = lambda p: jvm.org.apache.hadoop.fs.Path(str(p))  # noqa: E731
    permission = jvm.org.apache.hadoop.fs.permission.FsPermission
    umask = int(spark._jsc.hadoopConfiguration().get("fs.permissions.umask-mode", "022"), 8)
    assert fs.mkdirs(path(tmp_path / "a" / "b"), permission("775"))
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b").st_mode) == 0o775 & ~umask
    (tmp_path / "f").write_text("x")
    for mode in ("640", "400", "751", "000"):
        fs.setPermission(path(tmp_path / "f"), permission(mode))
        assert stat.S_IMODE(os.stat(tmp_path / "f").st_mode) == int(mode, 8)
    fs.setPermission(path(tmp_path / "a"), permission("1777"))  # a sticky bit: left to chmod
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o1777


def test_without_javac_spark_keeps_hadoops_file_system(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("DATALAKE_JARS_DIR", str(tmp_path / "jars"))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jre"))  # a Java runtime without a compiler
    with caplog.at_level(logging.INFO, logger=local_fs.__name__):
        assert local_fs.session_conf() == {}
    assert "No javac" in caplog.text


@needs_javac
def test_built_once_then_used_without_javac(monkeypatch, tmp_path):
    monkeypatch.setenv("DATALAKE_JARS_DIR", str(tmp_path / "jars"))
    jar = local_fs.local_fs_jar()
    assert jar is not None and jar.parent == tmp_path / "jars" / "local_fs"
    assert "datalake_platform/hadoop/LocalFileSystem$Raw.class" in zipfile.ZipFile(jar).namelist()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jre"))
    assert local_fs.session_conf() == {
        "spark.driver.extraClassPath": str(jar),
        "spark.hadoop.fs.file.impl": local_fs.CLASS,
    }


@needs_javac
def test_a_source_that_does_not_compile_is_reported_and_left_out(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("DATALAKE_JARS_DIR", str(tmp_path / "jars"))
    broken = tmp_path / "LocalFileSystem.java"
    broken.write_text("public class LocalFileSystem { not java }")
    monkeypatch.setattr(local_fs, "SOURCE", Path(broken))
    assert local_fs.session_conf() == {}
    assert "Could not build LocalFileSystem.java" in caplog.text and "error" in caplog.text
    assert not list((tmp_path / "jars" / "local_fs").glob("*.jar"))  # nothing half-built is kept
