"""The lake on object stores, each on its emulator on 127.0.0.1: S3 on moto, GCS on fake-gcs-server,
Azure Blob on Azurite.

For each: Iceberg commits of files under the table's location, a run killed mid-commit, the transactions domain end to end with
the same report as a local lake, and the landing sensor's listing. Spark reads and writes the
bucket through Hadoop's connector for the store (S3A, the GCS connector: jars from PyPI, see
spark.connectors); everything else goes through fsspec (s3fs, gcsfs, adlfs). No ABFS driver for
Spark can be had here: on Azure, Spark works on a local mirror of the container (lake.mirror),
which the same assets keep in step with it. Only the cloud is emulated.
"""

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datalake_platform.domains.transactions.tables import LANDING, PURCHASES, REPORT_BY_PERSON
from datalake_platform.lake.migration import migrate
from datalake_platform.lake.storage import LakeStorage, LocalLakeStorage
from datalake_platform.lake.table_refs import TableRef, Zone
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.spark.table_io import read_table, write_partitions
from datalake_platform_tests.conftest import REPO, check_results, land, land_cdnow_day, materialize

TABLE = TableRef(Zone.UNIVERSAL, "demo", "things")
DAYS = ["1997-01-02", "1997-01-03", "1997-01-04"]


@pytest.fixture(params=["s3", "gcs", "azure"])
def bucket_lake(request) -> LakeStorage:
    """A lake in a fresh bucket of each object store's emulator."""
    return request.getfixturevalue(f"{request.param}_lake")


@pytest.fixture
def store_spark(spark, bucket_lake):
    """The test session (made with every connector), set up for this lake's store as a run's SparkResource sets it up."""
    return SparkResource(lake=LakeResource(root=bucket_lake.location)).session()


def _bucket(lake: LakeStorage) -> LakeStorage:
    """The store itself (for a mirrored lake, the container behind the mirror)."""
    return getattr(lake, "remote", lake)


def _write(spark, lake, values: dict[str, list[int]]) -> dict[str, int]:
    rows = [(v, day) for day, vs in values.items() for v in vs]
    df = spark.createDataFrame(rows, "x int, dt string").selectExpr("x", "to_date(dt) as dt")
    return write_partitions(df, lake, TABLE, list(values))


def _read(spark, lake, days=None) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in read_table(spark, lake, TABLE, None, days).collect():
        out.setdefault(str(r.dt), []).append(r.x)
    return {d: sorted(v) for d, v in sorted(out.items())}


def test_a_commit_replaces_the_days_in_one_snapshot_of_files_under_the_table(store_spark, bucket_lake):
    assert _write(store_spark, bucket_lake, {"2020-01-01": [1, 2], "2020-01-02": [3]}) == {
        "2020-01-01": 2,
        "2020-01-02": 1,
    }
    first = bucket_lake.tables.snapshot_id(TABLE)
    assert _write(store_spark, bucket_lake, {"2020-01-01": [4], "2020-01-02": []}) == {"2020-01-01": 1, "2020-01-02": 0}
    assert _read(store_spark, bucket_lake) == {"2020-01-01": [4]}
    assert bucket_lake.list_partitions(TABLE) == ["2020-01-01"]  # the emptied day holds no file
    bucket = _bucket(bucket_lake)
    table = bucket_lake.tables.load(TABLE)
    files = [task.file.file_path for task in table.scan().plan_files()]
    location = bucket.table_uri(TABLE).replace("s3a://", "s3://")
    assert table.location() == location and all(f.startswith(f"{location}/data/") for f in files)
    assert all(bucket.fs.exists(f) for f in files)  # on the store itself, where every engine reads them
    assert table.scan(snapshot_id=first).to_arrow().num_rows == 3  # the previous snapshot still reads


def test_readers_read_the_snapshot_not_the_files_beside_it(store_spark, bucket_lake):
    _write(store_spark, bucket_lake, {"2020-01-01": [1, 2]})
    bucket = _bucket(bucket_lake)
    committed = bucket.partition_files(TABLE, ["2020-01-01"])[0]
    # A killed write's leftover: a whole data file under the table, never committed.
    leftover = f"{bucket.table_uri(TABLE)}/data/killed/day=2020-01-01/part-99999-leftover.c000.snappy.parquet"
    bucket.fs.copy(committed, leftover)
    assert _read(store_spark, bucket_lake) == {"2020-01-01": [1, 2]}
    assert bucket_lake.row_counts(TABLE, ["2020-01-01"]) == {"2020-01-01": 2}


# A child process runs the real asset on the store and SIGKILLs itself at the chosen step of the commit.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import dagster as dg
    from pyiceberg.catalog.sql import SqlCatalog
    from datalake_platform.lake.backends import storage_for_root
    from datalake_platform_tests.conftest import resources_for
    from datalake_platform_tests.conftest import LANDING_TABLES, defs
    from datalake_platform.ingestion.landing import register_landing

    root, moment = sys.argv[1], sys.argv[2]
    storage = storage_for_root(root)
    real_commit = SqlCatalog.commit_table

    def commit_then_die(self, table, requirements, updates):
        if table.name()[0] == "universal_transactions":
            if moment == "after_commit":
                real_commit(self, table, requirements, updates)
            os.kill(os.getpid(), signal.SIGKILL)  # files, manifests and metadata written on the store
        return real_commit(self, table, requirements, updates)

    SqlCatalog.commit_table = commit_then_die
    instance = dg.DagsterInstance.ephemeral()
    register_landing(instance, storage, LANDING_TABLES)
    dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection="universal/transactions/purchases",
        resources=resources_for(storage),
        instance=instance,
        tags={"dagster/asset_partition_range_start": sys.argv[3], "dagster/asset_partition_range_end": sys.argv[4]},
    )
    """
)


def _universal(lake, day) -> pd.DataFrame:
    files = lake.partition_files(PURCHASES, [day])
    frames = [pq.read_table(lake.fs.open(f, "rb")).to_pandas() for f in files]
    return pd.concat(frames).sort_values("ID_TRANSACCION").reset_index(drop=True)


def test_a_run_killed_mid_commit_leaves_each_partition_whole(bucket_lake, cdnow):
    days = DAYS[:2]
    v1 = {day: land_cdnow_day(bucket_lake, cdnow, day) for day in days}
    for day in days:
        assert materialize(bucket_lake, "universal/transactions/purchases", partition_key=day).success
    before = {day: _universal(bucket_lake, day) for day in days}
    for day in days:
        land(
            bucket_lake,
            day,
            "late.csv",
            f"customer_id,date,number_of_cds,dollar_value\n99999,{day.replace('-', '')},1,1.00\n",
        )

    for moment in ["inside_commit", "after_commit"]:
        proc = subprocess.run(
            [sys.executable, "-c", KILLER, bucket_lake.location, moment, *days],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == -9, proc.stderr[-3000:]  # it really died by SIGKILL
        for day in days:
            if moment == "inside_commit":  # nothing committed: both days are the previous snapshot, whole
                pd.testing.assert_frame_equal(_universal(bucket_lake, day), before[day])
            else:  # committed in one snapshot: both days new, whole
                assert len(_universal(bucket_lake, day)) == v1[day] + 1


def _report(spark, lake) -> dict[str, Decimal]:
    rows = read_table(spark, lake, REPORT_BY_PERSON, None).collect()
    return {r.ID_PERSONA: r.MONTO_TRANSACCIONES for r in rows}


def _run_transactions(lake, cdnow) -> None:
    for day in DAYS:
        land_cdnow_day(lake, cdnow, day)
    land(lake, DAYS[0], "bad.csv", "customer_id,date,number_of_cds,dollar_value\n,19970102,1,1.00\n")
    result = materialize(
        lake,
        'key:"universal/transactions/purchases"+ or key:"quarantine/transactions/purchases_misplaced"',
        tags={"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]},
    )
    assert result.success
    assert all(c.passed for c in check_results(result).values()), check_results(result)


def test_the_transactions_domain_runs_end_to_end_and_reports_what_the_local_lake_does(
    store_spark, bucket_lake, tmp_path, cdnow, monkeypatch
):
    _run_transactions(bucket_lake, cdnow)
    report = _report(store_spark, bucket_lake)
    with monkeypatch.context() as m:  # the local lake has its own catalog, in its work area
        m.delenv("DATALAKE_CATALOG")
        m.delenv("DATALAKE_CATALOG_URI")
        local = LocalLakeStorage(str(tmp_path / "local"))
        _run_transactions(local, cdnow)
        assert report == _report(store_spark, local)
    expected: dict[str, Decimal] = {}
    for day in DAYS:
        for line in cdnow[day]:
            person, _, _, dollars = line.split(",")
            expected[person] = expected.get(person, Decimal(0)) + Decimal(dollars)
    assert report == expected  # and both equal sums computed here from the raw lines
    assert bucket_lake.table_rows(PURCHASES.quarantine()) == 1
    assert bucket_lake.list_partitions(PURCHASES) == DAYS
    bucket = _bucket(bucket_lake)
    assert bucket.root.startswith(("s3a://", "gs://", "abfss://"))
    assert all(bucket.fs.exists(f) for f in bucket.table_files(PURCHASES))  # committed in the bucket itself
    assert bucket.table_uri(PURCHASES).endswith("/lake/universal/transactions/purchases")


def test_the_landing_sensor_lists_the_bucket(bucket_lake):
    import dagster as dg

    from datalake_platform.ingestion.landing import scan_landing
    from datalake_platform_tests.ingestion.test_sensors import tick

    for day in DAYS:
        land(bucket_lake, day, "a.csv", "customer_id,date,number_of_cds,dollar_value\n")
    land(bucket_lake, DAYS[0], "_tmp-b.csv", "in progress")
    with dg.instance_for_test() as instance:
        first = tick(bucket_lake, instance, None)
        assert [r.partition_key_range for r in first.run_requests][0].start == DAYS[0]
        assert LANDING.partitions.get_partition_keys(dynamic_partitions_store=instance) == DAYS
        assert tick(bucket_lake, instance, first.cursor).run_requests == []  # etags unchanged: nothing again
    assert scan_landing(bucket_lake, LANDING).files == dict.fromkeys(DAYS, 1)


def test_migrating_a_legacy_lake_registers_only_what_its_markers_committed(store_spark, bucket_lake):
    """The old protocol's `_commit.json` listed a folder's committed files; the others were never
    visible, and stay unregistered (`datalake migrate` on a bucket)."""
    store = _bucket(bucket_lake)
    rows = {day: pa.table({"x": pa.array(range(n), pa.int32())}) for day, n in zip(DAYS, [4, 6, 8])}
    for day, values in rows.items():
        folder = f"{store.table_uri(TABLE)}/dt={day}"
        for name in ("part-0.parquet", "part-left-by-a-killed-run.parquet"):
            with store.fs.open(f"{folder}/{name}", "wb") as fh:
                pq.write_table(values, fh)
        if day != DAYS[2]:  # the third day's first write was killed before its marker
            store.fs.pipe_file(f"{folder}/_commit.json", json.dumps({"files": ["part-0.parquet"]}).encode())

    [result] = migrate(store)

    assert (result.rows, result.days, result.files) == (10, 2, 2)
    assert store.tables.load(TABLE).current_snapshot().summary["datalake.uncommitted-files-left"] == "4"
    assert _read(store_spark, bucket_lake) == {DAYS[0]: list(range(4)), DAYS[1]: list(range(6))}
    assert {os.path.basename(f) for f in store.table_files(TABLE)} == {"part-0.parquet"}
