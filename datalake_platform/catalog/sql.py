"""`datalake sql`: the local lake in Spark SQL, on the metastore in its work area.

Each command opens the metastore, applies what runs journaled since it was last opened, then
answers: one query, the `spark-sql` shell, or a Thrift JDBC server on 127.0.0.1 (beeline, BI
tools) that keeps applying new journal entries while it serves.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from datalake_platform.catalog.hive import JournalApplier, hive_conf
from datalake_platform.compat.spark import start_thrift_server
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.settings import spark_process_defaults
from datalake_platform.spark.session import get_or_create_session

JOURNAL_POLL_SECONDS = 2.0


def synced_session(storage: LakeStorage, extra: dict[str, str] | None = None):
    """A Hive-enabled session whose metastore holds every table and partition journaled so far."""
    spark = get_or_create_session(app_name="datalake sql", conf={**hive_conf(storage), **(extra or {})})
    tables = JournalApplier(storage).apply_new(spark)
    if tables:
        print(f"catalog: applied {len(tables)} table(s) from the journal", file=sys.stderr)
    return spark


def query(storage: LakeStorage, statements: str, limit: int = 1000) -> int:
    """Run `;`-separated statements, printing each result as a table (as `spark-sql -e` takes them)."""
    spark = synced_session(storage)
    for statement in filter(str.strip, statements.split(";")):
        spark.sql(statement).show(limit, truncate=False)
    return 0


def shell(storage: LakeStorage, args: list[str]) -> int:
    """Sync in this JVM, stop it (Derby opens in one JVM at a time), then hand over to `spark-sql`."""
    synced_session(storage).stop()
    import pyspark

    spark_sql = Path(pyspark.__file__).parent / "bin" / "spark-sql"
    confs = [arg for key, value in hive_conf(storage).items() for arg in ("--conf", f"{key}={value}")]
    spark_process_defaults()
    return subprocess.call([str(spark_sql), "--master", "local[*]", *confs, *args])


def serve(storage: LakeStorage, port: int) -> int:
    """HiveThriftServer2 inside this session, on 127.0.0.1:port, applying the journal as it grows."""
    spark = synced_session(
        storage,
        {
            "spark.hadoop.hive.server2.thrift.bind.host": "127.0.0.1",
            "spark.hadoop.hive.server2.thrift.port": str(port),
            "spark.sql.hive.thriftServer.singleSession": "true",  # JDBC clients see the tables this session registers
        },
    )
    start_thrift_server(spark)
    print(f"Thrift JDBC server on jdbc:hive2://127.0.0.1:{port} (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    applier = JournalApplier(storage)
    while not stop.wait(JOURNAL_POLL_SECONDS):
        for table in applier.apply_new(spark):
            print(f"catalog: registered {table.qualified_name} ({len(table.days)} new partition(s))", flush=True)
    spark.stop()
    return 0
