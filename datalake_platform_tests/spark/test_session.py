"""The shared Spark session: loopback only, UTC, UI off, a driver sized to the machine."""

import threading
import time

from datalake_platform.spark.session import get_or_create_session, local_driver_memory, wait_until_running


def test_one_session_per_process_configured_for_a_local_lake(spark):
    assert get_or_create_session() is spark  # every asset of a run shares it
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.driver.bindAddress") == conf.get("spark.driver.host") == "127.0.0.1"
    assert conf.get("spark.ui.enabled") == "false"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.driver.memory") == local_driver_memory()
    max_heap_gib = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory() / 2**30
    assert max_heap_gib > int(local_driver_memory()[:-1]) * 0.8  # the JVM really got it, not 1g


def test_a_driver_thread_waits_until_a_job_started_after_it_runs(spark):
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup())
    seen: list[set] = []
    waiter = threading.Thread(
        target=lambda: (
            wait_until_running(spark, timeout_s=120),
            seen.append(set(tracker.getJobIdsForGroup()) - before),
        )
    )
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive() and not seen  # jobs that ran before the call do not count
    assert spark.range(1000).count() == 1000
    waiter.join(timeout=120)
    assert not waiter.is_alive() and seen[0]  # returned because a new job ran, not by the timeout
    started = time.monotonic()
    wait_until_running(spark, timeout_s=0.3)  # no job: gives up after its timeout
    assert time.monotonic() - started >= 0.3


def test_sql_settings_hold_for_the_queries_inside_only(spark):
    from pyspark.sql import functions as F

    from datalake_platform.spark.session import sql_conf

    key, shuffle = "spark.sql.execution.bypassPartialAggregation", "spark.sql.shuffle.partitions"
    bypass = spark.conf.isModifiable(key)  # Spark 3.5 and 4.0 have no such setting: there it changes nothing
    counts = lambda: spark.range(100).groupBy((F.col("id") % 3).alias("k")).count()  # noqa: E731
    plan = lambda df: df._jdf.queryExecution().executedPlan().toString()  # noqa: E731
    assert "partial_count" in plan(counts())
    before = (spark.conf.get(key, None), spark.conf.get(shuffle))
    with sql_conf(spark, {key: "true", shuffle: "3"}):
        inside = counts()
        assert ("partial_count" not in plan(inside)) == bypass  # one aggregation, after the shuffle
        assert spark.conf.get(shuffle) == "3"
        assert sorted(r["count"] for r in inside.collect()) == [33, 33, 34]
    assert (spark.conf.get(key, None), spark.conf.get(shuffle)) == before and before[0] in (None, "false")
    assert "partial_count" in plan(counts())
    try:
        with sql_conf(spark, {"spark.datalake.test.setting": "x"}):
            raise RuntimeError("a failing query")
    except RuntimeError:
        pass
    assert spark.conf.get("spark.datalake.test.setting", None) is None  # one that was not set is removed
