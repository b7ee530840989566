"""The shared Spark session: loopback only, UTC, UI off, a driver sized to the machine."""

from datalake_platform.spark.session import get_or_create_session, local_driver_memory


def test_one_session_per_process_configured_for_a_local_lake(spark):
    assert get_or_create_session() is spark  # every asset of a run shares it
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.driver.bindAddress") == conf.get("spark.driver.host") == "127.0.0.1"
    assert conf.get("spark.ui.enabled") == "false"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.driver.memory") == local_driver_memory()
    max_heap_gib = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory() / 2**30
    assert max_heap_gib > int(local_driver_memory()[:-1]) * 0.8  # the JVM really got it, not 1g



def test_sql_settings_hold_for_the_queries_inside_only(spark):
    from pyspark.sql import functions as F

    from datalake_platform.spark.session import sql_conf

    key, shuffle = "spark.sql.execution.bypassPartialAggregation", "spark.sql.shuffle.partitions"
    counts = lambda: spark.range(100).groupBy((F.col("id") % 3).alias("k")).count()  # noqa: E731
    plan = lambda df: df._jdf.queryExecution().executedPlan().toString()  # noqa: E731
    assert "partial_count" in plan(counts())
    before = (spark.conf.get(key), spark.conf.get(shuffle))
    with sql_conf(spark, {key: "true", shuffle: "3"}):
        inside = counts()
        assert "partial_count" not in plan(inside)  # one aggregation, after the shuffle
        assert sorted(r["count"] for r in inside.collect()) == [33, 33, 34]
    assert (spark.conf.get(key), spark.conf.get(shuffle)) == before == ("false", before[1])
    assert "partial_count" in plan(counts())
    try:
        with sql_conf(spark, {"spark.datalake.test.setting": "x"}):
            raise RuntimeError("a failing query")
    except RuntimeError:
        pass
    assert spark.conf.get("spark.datalake.test.setting", None) is None  # one that was not set is removed
