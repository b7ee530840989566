"""No Java, or too old a Java: a clear message that names the fix, before any JVM starts."""

import os
import subprocess
import sys

import pytest

from datalake_platform.spark.java import JavaNotFoundError, require_java


def test_missing_java_home_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    with pytest.raises(JavaNotFoundError, match=r"has no bin/java.*openjdk-17"):
        require_java()


def test_old_java_is_refused_with_its_version(monkeypatch, tmp_path):
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotFoundError, match=r"is Java 11\. Install a Java 17"):
        require_java()


def test_demo_without_java_exits_with_the_message_not_a_stack_trace(tmp_path):
    env = {
        **os.environ,
        "JAVA_HOME": str(tmp_path / "nojava"),
        "DATALAKE_ROOT": str(tmp_path / "lake"),
        "DAGSTER_HOME": str(tmp_path / "dh"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "datalake_platform.cli", "demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2
    assert "Spark needs Java 17 or newer" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "lake").exists()  # failed before seeding anything
