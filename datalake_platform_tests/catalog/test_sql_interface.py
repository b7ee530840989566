"""Open tables: what runs commit is an Iceberg table any engine reads, and `datalake sql` answers over it.

Real parts only: pyiceberg's SQL catalog on SQLite (the local default) and its Glue catalog on
moto's Glue; DuckDB's `iceberg_scan` as the independent reader, opened from nothing but what
`datalake catalog config` prints.
"""

import datetime as dt
import json
import multiprocessing
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import load_catalog

from datalake_platform.catalog.sql import connect
from datalake_platform.domains.transactions.tables import DAILY_SALES, PURCHASES, REPORT_BY_PERSON
from datalake_platform.lake.backends import storage_for_root
from datalake_platform.lake.iceberg import TableCommitError
from datalake_platform.lake.table_refs import TableRef, Zone
from datalake_platform.spark.table_io import read_table
from datalake_platform_tests.conftest import REPO, land, land_cdnow_day, materialize

DAYS = ["1997-01-01", "1997-01-02"]
LATER = "1997-01-03"
SELECTION = ["universal/transactions/purchases", "smart/transactions/daily_sales"]


def _land_and_materialize(lake, cdnow, days, report=False):
    for day in days:
        land_cdnow_day(lake, cdnow, day)
    for day in days:
        assert materialize(lake, SELECTION, day).success
    if report:
        assert materialize(lake, "smart/transactions/report_by_person").success


def _datalake(lake, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATALAKE_ROOT": lake.root, "DAGSTER_HOME": str(Path(lake.root).parent / "dagster_home")}
    return subprocess.run(
        [sys.executable, "-m", "datalake_platform.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _duckdb_from_config(lake) -> tuple[duckdb.DuckDBPyConnection, object]:
    """A DuckDB connection and a pyiceberg catalog opened from `datalake catalog config` alone."""
    done = _datalake(lake, "catalog", "config")
    assert done.returncode == 0, done.stderr[-2000:]
    properties = json.loads(done.stdout)
    catalog = load_catalog(properties.pop("name"), **properties)
    return connect(), catalog


def _scan(con, catalog, name: str, column: str) -> tuple[int, Decimal | None]:
    location = catalog.load_table(name).metadata_location
    return con.sql(f"SELECT count(*), sum({column}) FROM iceberg_scan('{location}')").fetchone()


def _platform(spark, lake, ref, column: str) -> tuple[int, Decimal | None]:
    df = read_table(spark, lake, ref, None)
    return df.count(), df.agg({column: "sum"}).first()[0]


def test_duckdb_reads_every_table_through_catalog_config_as_the_platform_does(lake, cdnow, spark):
    _land_and_materialize(lake, cdnow, DAYS, report=True)
    land(lake, DAYS[0], "bad.csv", "customer_id,date,number_of_cds,dollar_value\n,19970101,1,1.00\n")
    assert materialize(lake, SELECTION, DAYS[0]).success
    con, catalog = _duckdb_from_config(lake)
    expected = {
        "universal_transactions.purchases": (PURCHASES, "MONTO"),
        "smart_transactions.daily_sales": (DAILY_SALES, "MONTO_TOTAL"),
        "smart_transactions.report_by_person": (REPORT_BY_PERSON, "MONTO_TRANSACCIONES"),
    }
    for name, (ref, column) in expected.items():
        assert _scan(con, catalog, name, column) == _platform(spark, lake, ref, column), name
    raw = sum(Decimal(line.split(",")[3]) for day in DAYS for line in cdnow[day])
    assert _scan(con, catalog, "universal_transactions.purchases", "MONTO") == (
        sum(len(cdnow[d]) for d in DAYS),
        raw,
    )  # and both equal what the raw lines hold
    quarantine = catalog.load_table("quarantine_transactions.purchases").metadata_location
    assert con.sql(f"SELECT count(*) FROM iceberg_scan('{quarantine}')").fetchone() == (1,)
    summary = catalog.load_table("universal_transactions.purchases").current_snapshot().summary
    assert summary["datalake.dagster.partition-keys"] == DAYS[0]
    assert summary["datalake.dagster.asset-key"] == "universal/transactions/purchases"
    assert summary["datalake.dagster.run-id"] and summary["datalake.dagster.code-version"]


def test_materializations_name_their_snapshot(lake, cdnow):
    land_cdnow_day(lake, cdnow, DAYS[0])
    result = materialize(lake, SELECTION, DAYS[0])
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[0] == "universal"]
    metadata = event.materialization.metadata
    assert metadata["iceberg/snapshot_id"].value == str(lake.tables.snapshot_id(PURCHASES))
    assert metadata["dagster/table_name"].value == "universal_transactions.purchases"


def _sql(lake, *args: str) -> list[tuple[str, ...]]:
    done = _datalake(lake, "sql", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    # DuckDB's boxed output: the value rows are those between the second and third rule lines.
    rows, rules = [], 0
    for line in done.stdout.splitlines():
        if line.startswith(("├", "└", "┌")):
            rules += 1
        elif line.startswith("│") and rules == 2:
            rows.append(tuple(cell.strip() for cell in line.strip("│").split("│")))
    return rows


def test_datalake_sql_answers_now_and_as_of_an_earlier_snapshot(lake, cdnow):
    _land_and_materialize(lake, cdnow, DAYS)
    first = lake.tables.snapshot_id(PURCHASES)
    before = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(0.05)
    _land_and_materialize(lake, cdnow, [LATER])
    count = "SELECT count(*) FROM universal_transactions.purchases"
    assert _sql(lake, "-e", count) == [(str(sum(len(cdnow[d]) for d in [*DAYS, LATER])),)]
    assert _sql(lake, "-e", count, "--snapshot", str(first)) == [(str(sum(len(cdnow[d]) for d in DAYS)),)]
    assert _sql(lake, "-e", count, "--as-of", before) == [(str(sum(len(cdnow[d]) for d in DAYS)),)]
    refused = _datalake(lake, "sql", "-e", "SELECT nope FROM universal_transactions.purchases")
    assert refused.returncode == 1 and "nope" in refused.stderr and "Traceback" not in refused.stderr
    missing = _datalake(lake, "sql", "-e", count, "--snapshot", "12345")
    assert missing.returncode == 2 and "no table has a snapshot 12345" in missing.stderr


# -- concurrent writers ---------------------------------------------------------------------
TABLE = TableRef(Zone.UNIVERSAL, "demo", "things")
SCHEMA = pa.schema([("x", pa.int64()), ("dt", pa.date32())])


def _commit_day(root: str, day: str, rows: int, start, results) -> None:
    """One writer process: stage a day's file, wait for the others, commit."""
    storage = storage_for_root(root)
    staging = storage.staging_uri(TABLE)
    folder = Path(staging) / f"day={day}"
    folder.mkdir(parents=True)
    table = pa.table({"x": list(range(rows)), "dt": [dt.date.fromisoformat(day)] * rows}, schema=SCHEMA)
    pq.write_table(table, folder / "part-0.parquet")
    start.wait()
    try:
        storage.commit_partitions(TABLE, staging, [day], SCHEMA)
        results.put((day, rows, "committed"))
    except TableCommitError as error:
        storage.discard(staging)
        results.put((day, rows, str(error)))


def _race(lake, writers: list[tuple[str, int]]) -> list[tuple]:
    lake.commit_partitions(TABLE, lake.staging_uri(TABLE), ["2020-01-01"], SCHEMA)  # the table exists
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(len(writers)), context.Queue()
    procs = [context.Process(target=_commit_day, args=(lake.root, d, n, start, results)) for d, n in writers]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return outcomes


def test_concurrent_runs_on_different_days_both_land(lake):
    outcomes = _race(lake, [("2020-01-01", 3), ("2020-01-02", 4), ("2020-01-03", 5)])
    assert sorted(o[2] for o in outcomes) == ["committed"] * 3
    assert lake.row_counts(TABLE, ["2020-01-01", "2020-01-02", "2020-01-03"]) == {
        "2020-01-01": 3,
        "2020-01-02": 4,
        "2020-01-03": 5,
    }


def test_concurrent_runs_on_one_day_keep_the_winner_whole_and_tell_the_loser(lake):
    outcomes = _race(lake, [("2020-01-01", 3), ("2020-01-01", 4)])
    won = [o for o in outcomes if o[2] == "committed"]
    lost = [o for o in outcomes if o[2] != "committed"]
    rows = lake.row_counts(TABLE, ["2020-01-01"])["2020-01-01"]
    if len(won) == 2:
        # On a loaded machine one writer may commit before the other plans: then they ran one after
        # the other, and the day holds the last one's rows, never both.
        assert rows in (3, 4)
        return
    assert len(won) == 1 and len(lost) == 1
    assert "another run committed 2020-01-01 while this one wrote" in lost[0][2]
    assert rows == won[0][1]  # the winner's rows, once


# -- AWS: Glue on moto ------------------------------------------------------------------------
@pytest.fixture
def glue_lake(moto_endpoint, monkeypatch):
    """A lake on moto's S3 whose catalog is moto's Glue (the aws default), reset first: Glue
    databases are shared by every bucket of the server."""
    import requests

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=30).raise_for_status()
    monkeypatch.delenv("DATALAKE_CATALOG", raising=False)
    bucket = "glue-lake"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return storage_for_root(f"s3://{bucket}/lake")


def test_on_aws_every_table_is_an_iceberg_table_in_glue(glue_lake, cdnow, spark):
    assert glue_lake.tables.properties["type"] == "glue"
    land_cdnow_day(glue_lake, cdnow, DAYS[0])
    assert materialize(glue_lake, SELECTION, DAYS[0]).success
    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName="universal_transactions", Name="purchases")["Table"]
    assert table["Parameters"]["table_type"] == "ICEBERG"  # what Athena and EMR read as Iceberg
    assert table["Parameters"]["metadata_location"].startswith("s3://glue-lake/lake/universal/transactions/purchases/")
    loaded = glue_lake.tables.load(PURCHASES)
    assert loaded.scan().to_arrow().num_rows == len(cdnow[DAYS[0]])
    assert _platform(spark, glue_lake, PURCHASES, "MONTO")[0] == len(cdnow[DAYS[0]])
