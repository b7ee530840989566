"""The transactions domain through Spark Connect: a real Spark Connect server on 127.0.0.1 (started
with pyspark's own `spark-submit` and the connect jar pyspark ships), the run a client of it.

The run is `DATALAKE_SPARK_REMOTE=sc://127.0.0.1:PORT` and nothing else: the same assets, the
driver the server's, the platform's code on its Python workers' path (PYTHONPATH, as a deployment
installs it next to the server). The report must equal one computed independently by pandas from
the same landing lines, as on the standalone cluster (test_standalone_cluster.py).
"""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pyspark
import pytest

from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.spark.java import require_java
from datalake_platform.spark.session import LOG4J_CONFIG
from datalake_platform_tests.compute.test_standalone_cluster import assert_the_lake_holds
from datalake_platform_tests.conftest import REPO, _wait_for, free_port, land_cdnow_day

SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
DAYS = 3


class ConnectServer:
    """A Spark Connect server (its own JVM, local[2] driver) in its own process group."""

    def __init__(self, work: Path):
        self.port = free_port()
        self.url = f"sc://127.0.0.1:{self.port}"
        self.log_path = work / "connect-server.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        conf = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.pyspark.python": sys.executable,  # workers: this interpreter's libraries ...
            "spark.sql.shuffle.partitions": "2",
            "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG4J_CONFIG}",
        }
        command = [
            str(SPARK_SUBMIT),
            "--master",
            "local[2]",
            "--driver-memory",
            "768m",
            "--name",
            "Spark Connect server",
            "--class",
            CONNECT_SERVER,
            *(arg for k, v in conf.items() for arg in ("--conf", f"{k}={v}")),
            "spark-internal",
        ]
        env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONPATH": str(REPO)}  # ... and the platform's code
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        _wait_for(self._listening, timeout=120)

    def _listening(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the Spark Connect server exited ({self.proc.returncode}): {self.log()[-3000:]}")
        socket.create_connection(("127.0.0.1", self.port), timeout=1).close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


@pytest.fixture
def connect_server(tmp_path):
    require_java()
    server = ConnectServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_the_transactions_domain_runs_through_spark_connect(connect_server, cdnow, tmp_path):
    storage = LocalLakeStorage(str(tmp_path / "lake"))  # the server's driver and workers see the same folder
    days = list(cdnow)[:DAYS]
    landed = sum(land_cdnow_day(storage, cdnow, day) for day in days)

    env = {
        **os.environ,
        "DATALAKE_ROOT": storage.location,
        "DATALAKE_SPARK_REMOTE": connect_server.url,
        "PYTHONPATH": str(REPO),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    env.pop("DATALAKE_SPARK_MASTER", None)
    run = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("run_transactions.py"))],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=600,
    )
    output = run.stdout.decode(errors="replace")
    assert run.returncode == 0, output[-5000:] + "\n--- server ---\n" + connect_server.log()[-3000:]
    [summary] = [json.loads(line[len("RESULT ") :]) for line in output.splitlines() if line.startswith("RESULT ")]
    assert [s["success"] for s in summary] == [True] * len(summary) and summary, (
        output[-5000:] + connect_server.log()[-3000:]
    )
    assert not any(s["failed_checks"] for s in summary)
    # The run was a client of the server: its session a Spark Connect one, no Spark of its own.
    assert "SESSION pyspark.sql.connect.session" in output.splitlines(), output[-5000:]

    assert_the_lake_holds(storage, cdnow, days, landed)
