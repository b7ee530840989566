"""`datalake migrate`: a lake written before its tables were Iceberg tables (parquet folders, commit
markers on object stores) becomes Iceberg tables in place. The legacy tables are written here as
the old platform wrote them: by Spark's `partitionBy("dt")` (files without `dt`, INT96 times).
On object stores, where the old protocol's markers said what was committed: test_object_stores."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DecimalType, LongType, StructField, StructType, TimestampType

from datalake_platform import cli
from datalake_platform.catalog.sql import connect
from datalake_platform.lake.maintenance import MaintenancePolicy, maintain
from datalake_platform.lake.migration import migrate
from datalake_platform.lake.table_refs import TableRef, Zone
from datalake_platform.spark.session import sql_conf
from datalake_platform.spark.table_io import read_table, write_partitions

EVENTS = TableRef(Zone.UNIVERSAL, "demo", "events")
REPORT = TableRef(Zone.SMART, "demo", "report")
MODEL = TableRef(Zone.SMART, "demo", "model")
SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("amount", DecimalType(10, 2)),
        StructField("at", TimestampType()),
        StructField("dt", DateType()),
    ]
)
DAYS = ["2020-01-01", "2020-01-02", "2020-01-03"]


def _rows(day: str, n: int, start: int) -> list[tuple]:
    d = dt.date.fromisoformat(day)
    at = dt.datetime(d.year, d.month, d.day, 12, 30, tzinfo=dt.UTC)
    return [(start + i, Decimal(f"{i}.25"), at + dt.timedelta(seconds=i), d) for i in range(n)]


def _expected() -> list[tuple]:
    return _rows(DAYS[0], 5, 0) + _rows(DAYS[1], 7, 100) + _rows(DAYS[2], 3, 200)


def _legacy_lake(spark, lake) -> None:
    """Tables as the old platform left them on a local disk, with its work area and a model."""
    df = spark.createDataFrame(_expected(), SCHEMA).repartition(2)
    with sql_conf(spark, {"spark.sql.parquet.outputTimestampType": "INT96"}):  # Spark's default then
        df.write.partitionBy("dt").parquet(lake.table_uri(EVENTS))
        df.groupBy("dt").agg(F.sum("amount").alias("total")).coalesce(1).write.parquet(lake.table_uri(REPORT))
    empty_day = Path(lake.partition_uri(EVENTS, "2020-01-04"))  # an empty day: an empty file
    empty_day.mkdir()
    pq.write_table(pa.schema([("id", pa.int64())]).empty_table(), empty_day / "part-empty-0.parquet")
    model = Path(lake.table_uri(MODEL))
    (model / "version=abc").mkdir(parents=True)
    pq.write_table(pa.table({"w": [1.0]}), model / "version=abc" / "part-0.parquet")  # MLlib saves parquet
    (model / "current.json").write_text(json.dumps({"version": "abc"}))
    staged = Path(lake.uri("work/_staging/universal/demo/events/1/dt=2020-01-01"))
    staged.mkdir(parents=True)
    pq.write_table(pa.table({"id": [999]}), staged / "part-0.parquet")  # a killed write: never committed


def _collected(df) -> list[tuple]:
    return sorted((r.id, r.amount, r.at.astimezone(dt.UTC), r.dt) for r in df.collect())


def test_a_legacy_lake_becomes_iceberg_tables_in_place_and_every_reader_agrees(spark, lake):
    _legacy_lake(spark, lake)
    files_before = set(Path(lake.root).rglob("*.parquet"))

    results = {r.ref: r for r in migrate(lake)}

    assert set(results) == {EVENTS, REPORT}  # not the model, not the work area
    assert (results[EVENTS].rows, results[EVENTS].days, results[EVENTS].files) == (15, 3, 6)
    assert results[REPORT].rows == 3 and results[REPORT].days is None
    assert set(Path(lake.root).rglob("*.parquet")) == files_before  # nothing rewritten or moved
    # The platform's Spark reader: `dt` from the folder, INT96 times as the instants they were.
    assert _collected(read_table(spark, lake, EVENTS, SCHEMA)) == _expected()
    assert _collected(read_table(spark, lake, EVENTS, None)) == _expected()
    assert read_table(spark, lake, EVENTS, SCHEMA, days=["2020-01-02"]).count() == 7
    # pyiceberg and DuckDB project `dt` from each file's partition (the Iceberg spec's rule).
    table = lake.tables.load(EVENTS)
    scanned = table.scan().to_arrow()
    assert scanned.num_rows == 15 and scanned.column("dt").null_count == 0
    per_day = connect().sql(
        f"SELECT CAST(dt AS VARCHAR), count(*), sum(amount), min(\"at\") FROM iceberg_scan('{table.metadata_location}') "
        "GROUP BY dt ORDER BY dt"
    )
    assert per_day.fetchall() == [
        (day, n, sum(r[1] for r in _expected() if str(r[3]) == day), min(r[2] for r in _expected() if str(r[3]) == day))
        for day, n in zip(DAYS, [5, 7, 3])
    ]
    assert table.current_snapshot().summary["datalake.operation"] == "migration"
    assert migrate(lake) == []  # once only: the tables are in the catalog now


def test_a_migrated_table_takes_new_writes_and_maintenance(spark, lake):
    _legacy_lake(spark, lake)
    migrate(lake)
    replaced = spark.createDataFrame(_rows(DAYS[1], 2, 500), SCHEMA).coalesce(1)

    write_partitions(replaced, lake, EVENTS, [DAYS[1]])

    expected = sorted(_rows(DAYS[0], 5, 0) + _rows(DAYS[1], 2, 500) + _rows(DAYS[2], 3, 200))
    assert _collected(read_table(spark, lake, EVENTS, SCHEMA)) == expected  # migrated and new files, one read
    policy = MaintenancePolicy(dt.timedelta(days=1), dt.timedelta(days=1), small_file_bytes=1 << 20)
    result = maintain(lake, EVENTS, policy, dt.datetime.now(dt.UTC))
    assert result.partitions_compacted == 2  # the two migrated days held two files each
    assert _collected(read_table(spark, lake, EVENTS, SCHEMA)) == expected  # `dt` and times kept
    assert all("/dt=" not in f for f in lake.table_files(EVENTS))


def test_a_table_that_cannot_be_registered_is_named_and_the_others_migrate(spark, lake, monkeypatch, capsys):
    _legacy_lake(spark, lake)
    odd = Path(lake.partition_uri(TableRef(Zone.UNIVERSAL, "demo", "odd"), "not-a-day"))
    odd.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), odd / "part-0.parquet")
    monkeypatch.setenv("DATALAKE_ROOT", lake.root)
    monkeypatch.setenv("DAGSTER_HOME", str(Path(lake.root).parent / "dagster"))

    assert cli.main(["migrate", "--dry-run"]) == 1
    assert lake.tables.load(EVENTS) is None  # a dry run registers nothing
    assert cli.main(["migrate"]) == 1

    out = capsys.readouterr().out
    assert "universal/demo/odd" in out and "NOT MIGRATED" in out and "'dt=not-a-day' does not name a day" in out
    assert "universal/demo/events" in out and "6 files, 15 rows (3 days)" in out
    assert f"left in place (no longer read; may be deleted): {lake.root}/work/_staging" in out
    assert lake.tables.load(EVENTS) is not None and lake.table_rows(EVENTS) == 15
