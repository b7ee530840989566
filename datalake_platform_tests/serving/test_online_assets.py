"""The online report as an asset of the graph, on real Spark and Dagster: loaded after its table's
refresh, its blocking check comparing store and lake, `datalake serve --rebuild` refilling an emptied
store, and a refresh switched to while the API serves. Values are checked against sums computed
here from the raw CDNOW lines."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal

import dagster as dg
import httpx
import pytest

from datalake_platform.domains.transactions.online import REPORT
from datalake_platform.serving.assets import MATCHES_LAKE
from datalake_platform.serving.store import OnlineStore
from datalake_platform_tests.conftest import (
    REPO,
    check_results,
    free_port,
    land_cdnow_day,
    materialize,
    serving_prefix,
)

DAYS = ["1997-01-01", "1997-01-02"]
LATER = "1997-01-03"
REFRESH = ["smart/transactions/report_by_person", "online/transactions/report_by_person"]
CHECK = f"online/transactions/report_by_person:{MATCHES_LAKE}"


def _expected(cdnow, days) -> dict[str, dict]:
    """Each person's report from the raw lines, independently of the platform."""
    totals, counts, dates = defaultdict(Decimal), defaultdict(int), defaultdict(list)
    for day in days:
        for line in cdnow[day]:
            person, date, _, dollars = line.split(",")
            totals[person] += Decimal(dollars)
            counts[person] += 1
            dates[person].append(dt.datetime.strptime(date, "%Y%m%d").date().isoformat())
    return {
        p: {
            "ID_PERSONA": p,
            "MONTO_TRANSACCIONES": str(totals[p]),
            "NUM_TRANSACCIONES": counts[p],
            "PRIMERA_COMPRA": min(dates[p]),
            "ULTIMA_COMPRA": max(dates[p]),
        }
        for p in totals
    }


def _ingest(lake, cdnow, days) -> None:
    for day in days:
        land_cdnow_day(lake, cdnow, day)
        assert materialize(lake, "universal/transactions/purchases", day).success


def _served(store: OnlineStore) -> dict[str, dict]:
    import json

    version = store.snapshot_status(REPORT)["version"]
    return {k.decode(): json.loads(v) for k, v in store.client.hgetall(store.keys(REPORT).version(version)).items()}


@pytest.fixture
def online_store(lake, online_store_server):
    store = OnlineStore.from_url(online_store_server, serving_prefix(lake))
    yield store
    for name in store.client.scan_iter(match=f"{store.prefix}:*", count=1000):
        store.client.delete(name)


def test_the_report_is_loaded_after_its_refresh_and_its_check_blocks_a_store_that_differs(lake, cdnow, online_store):
    _ingest(lake, cdnow, DAYS)
    result = materialize(lake, REFRESH)
    assert result.success
    expected = _expected(cdnow, DAYS)
    assert _served(online_store) == expected  # every person, row for row
    evaluation = check_results(result)[CHECK]
    assert evaluation.passed and evaluation.metadata["store_rows"].value == len(expected)
    version = online_store.snapshot_status(REPORT)["version"]
    online_store.client.hdel(online_store.keys(REPORT).version(version), "00001")  # a row lost in the store
    checked = materialize(lake, dg.AssetSelection.checks(dg.AssetCheckKey.from_user_string(CHECK)))
    failed = check_results(checked)[CHECK]
    assert not failed.passed and failed.metadata["store_rows"].value == len(expected) - 1
    assert failed.metadata["lake_rows"].value == len(expected)


def test_datalake_serve_rebuild_refills_an_emptied_store_and_serves_each_refresh_whole(
    lake, cdnow, online_store, tmp_path
):
    _ingest(lake, cdnow, DAYS)
    assert materialize(lake, REFRESH).success
    online_store.client.delete(*online_store.client.keys(f"{online_store.prefix}:*"))  # the store emptied
    port = free_port()
    api = _start_api(lake, online_store, port, tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(api, base)
        expected = _expected(cdnow, DAYS)
        for person in ("00001", sorted(expected)[len(expected) // 2], max(expected)):
            answer = httpx.get(f"{base}/v1/persons/{person}/report")
            assert answer.status_code == 200
            assert {k: v for k, v in answer.json().items() if k != "as_of"} == expected[person]
        assert _served(online_store) == expected
        # A refresh while the API serves: the next reads answer from the new version, whole.
        _ingest(lake, cdnow, [LATER])
        assert materialize(lake, REFRESH).success
        later = _expected(cdnow, [*DAYS, LATER])
        person = next(p for p in later if later[p] != expected.get(p) and p in expected)
        time.sleep(0.5)  # the API looks the current version up every 0.25 s
        answer = httpx.get(f"{base}/v1/persons/{person}/report").json()
        assert {k: v for k, v in answer.items() if k != "as_of"} == later[person]
        assert _served(online_store) == later
    finally:
        api.send_signal(signal.SIGTERM)
        output = api.communicate(timeout=30)[0]
    assert "transactions/report_by_person: equal to the lake" in output, output


def _start_api(lake, store, port, tmp_path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATALAKE_ROOT": lake.root,
        "DATALAKE_SERVING_PREFIX": store.prefix,  # the prefix the assets wrote under
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "datalake_platform.cli", "serve", "--rebuild", "--port", str(port)]
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_ready(api: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert api.poll() is None, api.communicate()[0]
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("datalake serve --rebuild was not ready in 120 s")
