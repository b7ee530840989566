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
