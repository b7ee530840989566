"""Table maintenance on a real Iceberg table (pyiceberg's SQL catalog): compaction keeps every row,
expired snapshots go, files no snapshot references go once past the grace period, and nothing
a snapshot still needs is touched."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from datalake_platform.lake.maintenance import MaintenancePolicy, maintain, referenced_files
from datalake_platform.lake.table_refs import TableRef, Zone
from datalake_platform.maintenance_assets import maintenance_definitions
from datalake_platform.resources import LakeResource
from datalake_platform.settings import Settings
from datalake_platform_tests.conftest import table_frame

TABLE = TableRef(Zone.UNIVERSAL, "demo", "things")
SCHEMA = pa.schema([("x", pa.int64()), ("dt", pa.date32())])


def _commit(lake, files_per_day: dict[str, list[int]]) -> None:
    """One commit whose days each hold the given files (a list of row counts)."""
    staging = Path(lake.staging_uri(TABLE))
    for day, files in files_per_day.items():
        folder = staging / f"day={day}"
        folder.mkdir(parents=True)
        for i, n in enumerate(files):
            rows = pa.table(
                {"x": list(range(i * 100, i * 100 + n)), "dt": [dt.date.fromisoformat(day)] * n}, schema=SCHEMA
            )
            pq.write_table(rows, folder / f"part-{i}.parquet")
    lake.commit_partitions(TABLE, str(staging), sorted(files_per_day), SCHEMA)


def _on_disk(lake) -> set[str]:
    return {str(p) for p in Path(lake.table_uri(TABLE)).rglob("*") if p.is_file()}


def _lake_with_history(lake) -> str:
    _commit(lake, {"2020-01-01": [3, 4, 5], "2020-01-02": [2]})
    _commit(lake, {"2020-01-02": [6]})  # replaces the day: its first file is now only in an old snapshot
    leftover = Path(lake.table_uri(TABLE)) / "data" / "killed-run" / "day=2020-01-01" / "part-0.parquet"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"a run killed before its commit")
    return str(leftover)


def test_maintenance_compacts_expires_and_removes_orphans_keeping_every_row(lake):
    leftover = _lake_with_history(lake)
    before = table_frame(lake, TABLE).sort_values(["dt", "x"]).reset_index(drop=True)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    policy = MaintenancePolicy(dt.timedelta(0), dt.timedelta(0), small_file_bytes=1 << 20)

    result = maintain(lake, TABLE, policy, later)

    after = table_frame(lake, TABLE).sort_values(["dt", "x"]).reset_index(drop=True)
    assert after.equals(before) and len(after) == 18  # the same rows
    assert result.partitions_compacted == 1 and result.files_compacted == 3  # 2020-01-01's three files, now one
    assert len(lake.partition_files(TABLE, ["2020-01-01"])) == 1
    table = lake.tables.load(TABLE)
    assert [s.snapshot_id for s in table.snapshots()] == [table.current_snapshot().snapshot_id]
    assert result.snapshots_expired == 2
    assert not Path(leftover).exists()
    assert _on_disk(lake) == {lake.fs._strip_protocol(f) for f in referenced_files(table)}  # nothing else left


def test_files_younger_than_the_grace_period_are_kept(lake):
    leftover = _lake_with_history(lake)
    policy = MaintenancePolicy(dt.timedelta(days=7), dt.timedelta(hours=72), small_file_bytes=0)
    result = maintain(lake, TABLE, policy, dt.datetime.now(dt.UTC))
    assert (result.snapshots_expired, result.orphans_removed, result.files_compacted) == (0, 0, 0)
    assert Path(leftover).exists()


def test_the_maintenance_asset_reports_each_table(lake):
    _lake_with_history(lake)
    settings = Settings(snapshot_retention_days=0, orphan_grace_hours=0, small_file_mb=1)
    asset, schedule = maintenance_definitions(settings)
    result = dg.materialize([asset], resources={"lake": LakeResource(root=lake.location)})
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["tables"].value == 1 and metadata["files_compacted"].value == 3
    assert metadata["per_table"].value["universal_demo.things"]["partitions_compacted"] == 1
    assert schedule.cron_schedule == "0 3 * * *"
