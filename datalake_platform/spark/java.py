"""Fail early, with the fix, when there is no Java or too old a Java for Spark."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from datalake_platform.settings import current

MIN_JAVA = 17  # Spark 4 runs on Java 17 or 21


class JavaNotFoundError(RuntimeError):
    pass


_FIX = (
    "Install a Java 17 runtime (Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; "
    "macOS: `brew install openjdk@17`) or point JAVA_HOME at one."
)


def java_executable() -> str | None:
    return jdk_tool("java")


def jdk_tool(name: str) -> str | None:
    """A program of the Java that Spark runs on (`java`, `javac`): JAVA_HOME's, else on PATH."""
    home = current().java_home
    if home:
        candidate = os.path.join(home, "bin", name)
        return candidate if os.access(candidate, os.X_OK) else None
    return shutil.which(name)


def java_major_version(java: str) -> int | None:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major  # "1.8" is Java 8


def require_java() -> None:
    java = java_executable()
    if java is None:
        home = current().java_home
        where = f"JAVA_HOME={home} has no bin/java" if home else "no `java` on PATH"
        raise JavaNotFoundError(f"Spark needs Java {MIN_JAVA} or newer, and there is none ({where}). {_FIX}")
    major = java_major_version(java)
    if major is None or major < MIN_JAVA:
        raise JavaNotFoundError(
            f"Spark needs Java {MIN_JAVA} or newer; {java} is Java {major or 'of unknown version'}. {_FIX}"
        )
