"""The transactions domain on a real distributed engine: a Spark standalone cluster on 127.0.0.1
(a master and two workers, started with pyspark's own `spark-class`), one worker killed mid-run.

The run is `DATALAKE_SPARK_MASTER=spark://127.0.0.1:PORT` and nothing else: the same assets, the
platform's code shipped to the executors as a zip (compute.package). The report must equal one
computed independently by pandas from the same landing lines (the local run equals that too:
domains/transactions/test_full_lake.py).
"""

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyspark
import pytest
import requests

from datalake_platform.domains.transactions.tables import DAILY_SALES, PURCHASES, REPORT_BY_PERSON
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.spark.java import require_java
from datalake_platform_tests.conftest import REPO, _wait_for, free_port, land_cdnow_day, table_frame

SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"
DAYS = 45  # enough work that the run is still going when the worker dies


class StandaloneCluster:
    """A master and workers as separate JVMs, each in its own process group (a worker and the
    executors it launched die together)."""

    def __init__(self, work: Path):
        self.work = work
        self.port, self.ui_port = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []
        self.env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": "512m", "PYTHONPATH": str(REPO)}

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "wb")
        proc = subprocess.Popen(
            [str(SPARK_CLASS), *args], stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        self.processes.append(proc)
        return proc

    def start(self, workers: int) -> list[subprocess.Popen]:
        self._start(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--webui-port",
            str(self.ui_port),
        )
        started = []
        for i in range(workers):
            work_dir = self.work / f"worker{i}"
            work_dir.mkdir()
            started.append(
                self._start(
                    f"worker{i}",
                    "org.apache.spark.deploy.worker.Worker",
                    self.url,
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "1",
                    "--memory",
                    "1g",
                    "--webui-port",
                    str(free_port()),
                    "--work-dir",
                    str(work_dir),
                )
            )
        _wait_for(lambda: self._expect(len(self.alive_workers()) == workers), timeout=120)
        return started

    def state(self) -> dict:
        return requests.get(f"http://127.0.0.1:{self.ui_port}/json", timeout=5).json()

    def alive_workers(self) -> list[dict]:
        return [w for w in self.state()["workers"] if w["state"] == "ALIVE"]

    @staticmethod
    def _expect(condition: bool) -> None:
        if not condition:
            raise OSError("not yet")

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def cluster(tmp_path):
    require_java()
    cluster = StandaloneCluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def _expected_report(cdnow: dict[str, list[str]], days: list[str]) -> pd.DataFrame:
    rows = [line.split(",") for day in days for line in cdnow[day]]
    frame = pd.DataFrame(rows, columns=["person", "date", "cds", "dollars"])
    frame["amount"] = frame.dollars.map(Decimal)
    return frame.groupby("person").agg(total=("amount", "sum"), n=("amount", "size")).sort_index()


def test_the_transactions_domain_survives_a_worker_killed_mid_run(cluster, cdnow, tmp_path):
    storage = LocalLakeStorage(str(tmp_path / "lake"))  # one folder every executor sees: the same machine
    days = list(cdnow)[:DAYS]
    landed = sum(land_cdnow_day(storage, cdnow, day) for day in days)
    workers = cluster.start(workers=2)

    env = {
        **os.environ,
        "DATALAKE_ROOT": storage.location,
        "DATALAKE_SPARK_MASTER": cluster.url,
        "PYTHONPATH": str(REPO),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    env.pop("DATALAKE_SPARK_REMOTE", None)
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("run_transactions.py"))],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # Mid-run: the ingestion step has listed its files and both executors are working.
            _wait_for(
                lambda: cluster._expect(b"landing files for" in log_path.read_bytes() and _executors(cluster) == 2), 300
            )
            cluster.kill(workers[1])
            assert run.poll() is None, "the run ended before the worker was killed"
            _wait_for(lambda: cluster._expect(len(cluster.alive_workers()) == 1), 120)
            run.wait(timeout=900)
        finally:
            if run.poll() is None:
                run.kill()
    output = log_path.read_text(errors="replace")
    assert run.returncode == 0, output[-5000:]
    [summary] = [json.loads(line[len("RESULT ") :]) for line in output.splitlines() if line.startswith("RESULT ")]
    assert [s["success"] for s in summary] == [True, True] and not any(s["failed_checks"] for s in summary)
    assert "Telling app of lost executor" in (tmp_path / "master.log").read_text()  # the app did lose one

    assert_the_lake_holds(storage, cdnow, days, landed)  # every landed line, none twice despite retried tasks


def _executors(cluster: StandaloneCluster) -> int:
    """Executors of the running application, across the alive workers."""
    apps = cluster.state()["activeapps"]
    return sum(1 for w in cluster.alive_workers() if w["coresused"] > 0) if apps else 0


def assert_the_lake_holds(storage, cdnow, days, landed) -> None:
    """Every landed line in purchases; the report and daily sales equal to an independent pandas computation."""
    kept = storage.row_counts(PURCHASES, days)
    assert sum(kept.values()) == landed
    report = table_frame(storage, REPORT_BY_PERSON).set_index("ID_PERSONA").sort_index()
    expected = _expected_report(cdnow, days)
    assert list(report.index) == list(expected.index)
    assert list(report.MONTO_TRANSACCIONES) == list(expected.total)
    assert list(report.NUM_TRANSACCIONES) == list(expected.n)
    assert len(table_frame(storage, DAILY_SALES)) == len(days)
