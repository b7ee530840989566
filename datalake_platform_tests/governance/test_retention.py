"""Retention removes exactly the days a table's spec no longer allows, and a dry run removes
nothing (real Spark writes, real Iceberg commits, files on disk)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from datalake_platform.governance import retention
from datalake_platform.governance.spec import Classification, TableGovernance, columns_from
from datalake_platform.lake.table_refs import TableRef, Zone
from datalake_platform.spark.table_io import write_partitions
from datalake_platform_tests.conftest import materialize

TODAY = dt.date(2026, 12, 5)
LANDING = TableRef(Zone.LANDING, "retained", "events")
EVENTS = TableRef(Zone.UNIVERSAL, "retained", "events")
SPECS = [
    TableGovernance(LANDING, owner="team:t", classification=Classification.INTERNAL, readers=(), retention_days=30),
    TableGovernance(
        EVENTS,
        owner="team:t",
        classification=Classification.INTERNAL,
        readers=(),
        retention_days=365,
        quarantine_retention_days=30,
        lineage={"n": columns_from(LANDING, "n")},
    ),
]


def _write(spark, storage, ref, rows_by_day: dict[str, int]) -> None:
    rows = [(i, dt.date.fromisoformat(day)) for day, n in rows_by_day.items() for i in range(n)]
    df = spark.createDataFrame(rows, "n long, dt date")
    write_partitions(df, storage, ref, sorted(rows_by_day))


def _rows(storage, ref) -> dict[str, int]:
    return storage.tables.rows_by_day(ref)


def test_retention_removes_only_expired_days_and_only_ingested_landing(spark, lake):
    _write(spark, lake, EVENTS, {"2025-01-01": 3, "2025-06-01": 2, "2026-12-01": 4})
    _write(spark, lake, EVENTS.quarantine(), {"2026-10-01": 1, "2026-12-01": 1})
    for day in ("2024-01-01", "2025-01-01", "2026-10-01", "2026-11-20"):  # 2024-01-01 was never ingested
        lake.write_bytes(f"{lake.partition_uri(LANDING, day)}/events.csv", b"n\n1\n")

    planned = retention.plan(lake, SPECS, TODAY)
    assert {(str(r.table), r.days, r.held, r.unit) for r in planned} == {
        ("universal/retained/events", ("2025-01-01", "2025-06-01"), 5, "rows"),
        ("quarantine/retained/events", ("2026-10-01",), 1, "rows"),
        ("landing/retained/events", ("2025-01-01", "2026-10-01"), 2, "files"),
    }
    snapshot = lake.tables.snapshot_id(EVENTS)
    # A plan changes nothing.
    assert lake.tables.snapshot_id(EVENTS) == snapshot and len(lake.landing_days(LANDING)) == 4

    retention.apply(lake, planned)
    assert _rows(lake, EVENTS) == {"2026-12-01": 4}
    assert _rows(lake, EVENTS.quarantine()) == {"2026-12-01": 1}
    assert lake.landing_days(LANDING) == ["2024-01-01", "2026-11-20"]
    # One new snapshot; the one before still holds the removed days until maintenance expires it.
    table = lake.tables.load(EVENTS)
    assert table.current_snapshot().parent_snapshot_id == snapshot
    assert table.scan(snapshot_id=snapshot).to_arrow().num_rows == 9
    assert retention.plan(lake, SPECS, TODAY) == []  # applied: nothing left to remove


def test_the_retention_asset_runs_a_dry_run_through_dagster(lake):
    result = materialize(
        lake,
        "work/platform/retention",
        run_config=dg.RunConfig({"work__platform__retention": {"config": {"dry_run": True}}}),
    )
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["dry_run"].value is True and metadata["days_removed"].value == 0
