"""The whole path users rely on: files dropped into landing are ingested by the daemon, once.

Starts a real `dagster-daemon` (sensor ticks, queued runs launched in subprocesses) on a
temporary instance and lake, and stops it at the end.
"""

import os
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from datalake_platform.domains.transactions.tables import LANDING_PURCHASES, PURCHASES, REPORT_BY_PERSON
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform_tests.conftest import REPO, land_cdnow_day, table_frame

DAYS = ["1997-03-01", "1997-03-02"]
TICK_SECONDS = 3
SENSOR, AUTOMATION = "landing_transactions_purchases_files", "lake_automation"


@pytest.fixture
def daemon(tmp_path):
    """A dagster-daemon on a temporary DAGSTER_HOME and lake; yields (instance, lake root)."""
    home, root = tmp_path / "home", tmp_path / "lake"
    home.mkdir()
    shutil.copyfile(REPO / "deployments" / "local" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATALAKE_ROOT": str(root),
        "DATALAKE_SENSOR_INTERVAL_SECONDS": str(TICK_SECONDS),
    }
    binary = Path(os.sys.executable).parent / "dagster-daemon"
    log = (tmp_path / "daemon.log").open("w")
    # The instance's SQLite storages are created here, before the daemon and its code server
    # start: processes creating them at once can both stamp a schema version (two alembic heads).
    instance = dg.DagsterInstance.from_config(str(home))
    proc = subprocess.Popen(
        [binary, "run", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with instance:
            yield instance, root, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the daemon and the runs it launched
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _runs(instance) -> list[dg.DagsterRun]:
    return list(instance.get_runs())


def _wait_for_runs(instance, proc, at_least: int, timeout: float = 420) -> list[dg.DagsterRun]:
    """Until `at_least` runs exist and none is queued or running."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the daemon died"
        runs = _runs(instance)
        if len(runs) >= at_least and all(r.is_finished for r in runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"runs did not finish in {timeout}s: {[(r.run_id[:8], r.status) for r in _runs(instance)]}")


def _universal(storage, day) -> pd.DataFrame:
    return table_frame(storage, PURCHASES, day).sort_values("ID_TRANSACCION").reset_index(drop=True)


def _report(storage) -> dict[str, Decimal]:
    report = table_frame(storage, REPORT_BY_PERSON)
    return dict(zip(report.ID_PERSONA, report.MONTO_TRANSACCIONES))


def _expected_report(cdnow) -> dict[str, Decimal]:
    """Sums computed here from the raw CDNOW lines, independently of the platform."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for day in DAYS:
        for line in cdnow[day]:
            person, _, _, dollars = line.split(",")
            totals[person] += Decimal(dollars)
    return dict(totals)


def _by_kind(runs: list[dg.DagsterRun]) -> dict[str, list[dg.DagsterRun]]:
    """Runs of the landing sensor and runs of declarative automation (the report's refresh)."""
    kinds: dict[str, list[dg.DagsterRun]] = defaultdict(list)
    for run in runs:
        kinds[run.tags.get("dagster/sensor_name", "other")].append(run)
    return dict(kinds)


def test_files_dropped_into_landing_are_ingested_by_the_daemon_once(daemon, cdnow):
    instance, root, proc = daemon
    storage = LocalLakeStorage(str(root))
    landed = {day: land_cdnow_day(storage, cdnow, day) for day in DAYS}

    runs = _wait_for_runs(instance, proc, at_least=2)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [r.status for r in runs]
    # One ingestion run from the landing sensor, then the report refreshed by automation.
    assert {kind: len(r) for kind, r in _by_kind(runs).items()} == {SENSOR: 1, AUTOMATION: 1}
    first = {day: _universal(storage, day) for day in DAYS}
    assert {day: len(rows) for day, rows in first.items()} == landed
    assert set(instance.get_dynamic_partitions("transactions_days")) == set(DAYS)
    assert _report(storage) == _expected_report(cdnow)

    # Ticks keep seeing the same files: nothing is ingested again.
    time.sleep(4 * TICK_SECONDS)
    assert len(_runs(instance)) == 2, "an unchanged landing was ingested again"
    # The same files dropped again (rewritten, same bytes): the days are replaced with the same rows.
    for day in DAYS:
        for file in storage.list_landing_files(LANDING_PURCHASES, [day]):
            Path(file.path).write_bytes(Path(file.path).read_bytes())
            os.utime(file.path, (time.time() + 2, time.time() + 2))  # a new mtime even on a coarse clock
    runs = _wait_for_runs(instance, proc, at_least=4)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert {kind: len(r) for kind, r in _by_kind(runs).items()} == {SENSOR: 2, AUTOMATION: 2}
    for day in DAYS:
        pd.testing.assert_frame_equal(_universal(storage, day), first[day])
    assert _report(storage) == _expected_report(cdnow)
