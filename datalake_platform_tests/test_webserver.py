"""The Dagster UI's server loads workspace.yaml and lists the lake's assets, groups and checks."""

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from datalake_platform_tests.conftest import REPO, free_port

QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    kinds
    owners { ... on TeamAssetOwner { team } }
    isPartitioned
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
}
"""


@pytest.fixture
def webserver(tmp_path):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DATALAKE_ROOT": str(tmp_path / "lake")}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    binary = Path(os.sys.executable).parent / "dagster-webserver"
    proc = subprocess.Popen(
        [binary, "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


LOCATION_ERRORS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    locationOrLoadError { ... on PythonError { message } } } } } }
"""


def _graphql(url, query):
    return requests.post(f"{url}/graphql", json={"query": query}, timeout=30).json()["data"]


def _asset_nodes(url):
    deadline = time.time() + 120  # the code location loads after the server answers
    while time.time() < deadline:
        if nodes := _graphql(url, QUERY)["assetNodes"]:
            return nodes
        time.sleep(2)
    # No assets: say why the code location failed to load (e.g. a definition Dagster cannot serialize).
    pytest.fail(str(_graphql(url, LOCATION_ERRORS)))


def test_ui_lists_assets_by_zone_with_their_checks(webserver):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in _asset_nodes(webserver)}
    assert set(nodes) == {
        "landing/transactions/purchases",
        "universal/transactions/purchases",
        "smart/transactions/daily_sales",
        "smart/transactions/report_by_person",
        "quarantine/transactions/purchases_misplaced",
        "landing/passengers/passengers",
        "universal/passengers/passengers",
        "smart/passengers/features",
        "smart/passengers/survival_model",
        "smart/passengers/survival_predictions",
        "landing/images/images",
        "universal/images/tensors",
        "smart/images/cnn_model",
        "smart/images/predictions",
        "landing/posts/posts",
        "landing/posts/human_scores",
        "universal/posts/labelled_tweets",
        "smart/posts/sentiment_model",
        "universal/posts/posts",
        "smart/posts/scored_posts",
        "smart/posts/metrics_per_minute",
        *[f"work/transactions/enrichment_checkpoint_{k:02d}" for k in range(1, 9)],
        "smart/transactions/purchase_features",
        "work/platform/table_maintenance",
        "work/platform/retention",
        "online/posts/scored_posts",
        "online/posts/metrics_per_minute",
        "online/transactions/report_by_person",
    }
    assert {k: n["groupName"] for k, n in nodes.items()} == {k: k.split("/")[0] for k in nodes}
    universal = nodes["universal/transactions/purchases"]
    assert universal["isPartitioned"] and set(universal["kinds"]) == {"spark", "iceberg"}
    assert universal["owners"] == [{"team": "transactions"}]
    checks = {c["name"]: c["blocking"] for c in universal["assetChecksOrError"]["checks"]}
    assert checks == {"contract": True, "nothing_lost": True, "pii_protected": True}
    assert sorted(c["name"] for c in nodes["smart/transactions/report_by_person"]["assetChecksOrError"]["checks"]) == [
        "contract",
        "pii_protected",
    ]
