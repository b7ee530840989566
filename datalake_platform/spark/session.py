"""One Spark session per process, configured once.

Every asset of a run shares the session: starting Spark costs seconds, and a single-run
backfill over hundreds of partitions must not pay it per partition.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from datalake_platform.compat import spark as compat
from datalake_platform.settings import spark_process_defaults
from datalake_platform.spark import local_fs
from datalake_platform.spark.java import require_java

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")
_lock = threading.Lock()
_session: SparkSession | None = None

# Conf every session gets: loopback only, quiet, deterministic, and no implicit type guessing
# of partition folders (tables are read with their declared schema).
BASE_CONF: dict[str, str] = {
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.sql.parquet.compression.codec": "snappy",
    # Iceberg reads timestamps as INT64 micros (its `timestamptz`); Spark's default INT96 it refuses.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    # Listing hundreds of partition folders with a Spark job costs seconds; on a local disk
    # the driver lists them in milliseconds. (Object stores may want the job back.)
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
    # PySpark 4 records the Python call site of every DataFrame and function call (5 JVM round
    # trips and a stack walk each), for error messages: most of the cost of building a plan.
    "spark.python.sql.dataFrameDebugging.enabled": "false",
    **compat.SESSION_CONF,  # what every Spark line needs to give the same values
}


def local_driver_memory() -> str:
    """A local driver is the whole cluster: give it a share of the machine, not Spark's 1g default."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return "1g"
    return f"{max(1, min(16, int(total * 0.4 / 2**30)))}g"


def get_or_create_session(
    master: str | None = "local[*]",
    app_name: str = "datalake_platform",
    conf: Mapping[str, str] | None = None,
    ui_enabled: bool = False,
    log_level: str = "WARN",
) -> SparkSession:
    global _session
    with _lock:
        if _session is not None and not _session_stopped(_session):
            return _session
        require_java()
        spark_process_defaults()
        builder = SparkSession.builder.appName(app_name)
        if master:  # None: the master spark-submit (or a cloud's launcher) already set
            builder = builder.master(master)
        for key, value in _session_conf((master or "").startswith("local"), conf or {}, ui_enabled).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel(log_level)
        _session = session
        return session


def _session_conf(local: bool, conf: Mapping[str, str], ui_enabled: bool) -> dict[str, str]:
    """The platform's conf, then the caller's; the caller's JVM options and class path add to the
    platform's, never replace them."""
    platform = {
        **BASE_CONF,
        **({"spark.driver.memory": local_driver_memory(), **local_fs.session_conf()} if local else {}),
        "spark.ui.enabled": str(ui_enabled).lower(),
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG4J_CONFIG}",  # quiet
    }
    merged = {**platform, **conf}
    for key, separator in (("spark.driver.extraJavaOptions", " "), ("spark.driver.extraClassPath", os.pathsep)):
        joined = separator.join(filter(None, [platform.get(key), conf.get(key)]))
        if joined:
            merged[key] = joined
    return merged


def get_or_create_connect_session(remote: str, app_name: str = "datalake_platform") -> SparkSession:
    """A Spark Connect session (`sc://host:port`): the driver is the server's; this process is a client."""
    global _session
    with _lock:
        if _session is not None and not _session_stopped(_session):
            return _session
        session = SparkSession.builder.remote(remote).appName(app_name).getOrCreate()
        shared = (
            "spark.sql.session.timeZone",
            "spark.sql.sources.partitionOverwriteMode",
            "spark.sql.shuffle.partitions",
            "spark.sql.parquet.outputTimestampType",
        )
        for key in (*shared, *compat.SESSION_CONF):
            session.conf.set(key, BASE_CONF[key])
        _session = session
        return session


# For aggregations whose groups hold a few rows each (see `sql_conf`): an aggregation before the
# shuffle would keep nearly every row while building a hash map of them all (~15% of the report
# by person at 10M purchases); the rows go straight to the one aggregation after the shuffle.
# Every row then crosses the shuffle, and adaptive execution coalesces its partitions up to the
# advisory size: at 64MB (the default) 10M purchases became 3 tasks, and one of 2 cores idled for
# a third of the stage. At 16MB they stay 8 even tasks; a small shuffle still becomes one task.
FEW_ROWS_PER_GROUP = {
    "spark.sql.execution.bypassPartialAggregation": "true",
    "spark.sql.adaptive.advisoryPartitionSizeInBytes": "16m",
}


@contextmanager
def sql_conf(spark: SparkSession, conf: Mapping[str, str]) -> Iterator[None]:
    """SQL settings for the queries run inside only (Spark has no per-query settings): set on the
    session, then put back as they were."""
    previous = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def runs_in_process(spark: SparkSession) -> bool:
    """Whether Spark's executors are threads of this process (a local master), so that work on
    the driver takes nothing from the cluster: there is no other."""
    if type(spark).__module__.startswith("pyspark.sql.connect"):
        return False
    return spark.sparkContext.master.startswith("local")


def wait_until_running(spark: SparkSession, timeout_s: float = 1.0) -> None:
    """Returns once the session runs a job started after this call, or after `timeout_s`.

    A driver thread with Python work to do meanwhile waits for this first: while the main thread
    still plans its job, each of its py4j calls would wait for the GIL (measured: universal's
    write was submitted 0.1-0.2 s later beside the manifest's staging)."""
    if not runs_in_process(spark):
        return  # a remote session plans on the cluster; nothing to wait for
    tracker = spark.sparkContext.statusTracker()
    # Jobs of no group (finished ones too, should the job be quick), and the running ones of any.
    jobs = lambda: {*tracker.getJobIdsForGroup(), *tracker.getActiveJobsIds()}  # noqa: E731
    before = jobs()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not jobs() - before:
        time.sleep(0.01)


def _session_stopped(session: SparkSession) -> bool:
    if not hasattr(session, "sparkContext") or type(session).__module__.startswith("pyspark.sql.connect"):
        return bool(getattr(session, "is_stopped", False))
    return compat.classic_session_stopped(session)
