"""The transactions assets on a few real CDNOW days: rows, quarantine, checks, re-runs."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from datalake_platform.domains.transactions import transforms
from datalake_platform.domains.transactions.schemas import MONEY
from datalake_platform.domains.transactions.tables import DAILY_SALES, PURCHASES, REPORT_BY_PERSON
from datalake_platform.ingestion.text import file_key
from datalake_platform_tests.conftest import check_results, land, land_cdnow_day, materialize, table_frame

DAY = "1997-01-02"
HEADER = "customer_id,date,number_of_cds,dollar_value"
UNIVERSAL = "universal/transactions/purchases"


def _universal(lake, day=DAY) -> pd.DataFrame:
    return table_frame(lake, PURCHASES, day)


def _quarantine(lake, day=DAY) -> pd.DataFrame:
    return table_frame(lake, PURCHASES.quarantine(), day)


def _metadata(result, node="universal__transactions__purchases"):
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_one_day_materializes_alone_with_its_metadata_and_checks(lake, cdnow):
    n = land_cdnow_day(lake, cdnow, DAY)
    land_cdnow_day(lake, cdnow, "1997-01-03")  # another day, not part of this run
    result = materialize(lake, UNIVERSAL, partition_key=DAY)
    assert result.success
    meta = _metadata(result)
    assert meta["dagster/partition_row_count"] == meta["dagster/row_count"] == n
    assert meta["dagster/uri"] == lake.table_uri(PURCHASES)
    assert meta["quarantined_rows"] == 0 and meta["landing_files"] == 1
    assert [c.name for c in meta["dagster/column_schema"].columns] == [
        "ID_TRANSACCION",
        "ID_PERSONA",
        "FECHA",
        "CANTIDAD",
        "MONTO",
        "_rescued_data",
        "dt",
    ]
    checks = check_results(result)
    assert {k: c.passed for k, c in checks.items()} == {
        f"{UNIVERSAL}:contract": True,
        f"{UNIVERSAL}:nothing_lost": True,
        f"{UNIVERSAL}:pii_protected": True,
    }
    assert checks[f"{UNIVERSAL}:nothing_lost"].metadata["landing_rows"].value == n

    rows = _universal(lake)
    expected = sorted(tuple(line.split(",")) for line in cdnow[DAY])
    got = sorted(
        zip(
            rows.ID_PERSONA,
            rows.FECHA.map(lambda d: d.strftime("%Y%m%d")),
            rows.CANTIDAD.astype(str),
            rows.MONTO.astype(str),
        )
    )
    assert got == expected  # leading zeros kept, amounts exact
    assert lake.list_partitions(PURCHASES) == [DAY]  # the other day was not touched
    key = hashlib.sha256(f"dt={DAY}/cdnow_{DAY}.csv".encode()).hexdigest()[:12]  # computed independently
    assert set(rows.ID_TRANSACCION) == {f"{DAY.replace('-', '')}-{key}-{line}" for line in range(2, n + 2)}


def test_bad_rows_go_to_quarantine_with_line_and_reason_and_nothing_is_lost(lake):
    lines = [
        "00001,19970102,1,11.77",  # 2 good
        "00001,19970102,1,11.77",  # 3 identical purchase: real, kept
        "00002,19970102,1",  # 4
        ",19970102,1,5.00",  # 5
        "00003,1997-01-02,1,5.00",  # 6
        "00004,19970103,1,5.00",  # 7
        "00005,19970102,x,5.00",  # 8
        "00006,19970102,0,5.00",  # 9
        "00007,19970102,1,5,00",  # 10 decimal comma: one field too many
        "00008,19970102,1,abc",  # 11
        "00009,19970102,1,-3.00",  # 12
        "",  # blank line: no data
        "00010,19970102,1,1.005",  # 14 would round
    ]
    land(lake, DAY, "mixed.csv", "\n".join([HEADER, *lines]) + "\n")
    land(lake, DAY, "reordered.csv", "date,dollar_value,customer_id,number_of_cds\n19970102,2.50,00011,2\n")
    land(lake, DAY, "no_amount.csv", "customer_id,date,number_of_cds\n00012,19970102,1\n")
    result = materialize(lake, UNIVERSAL, partition_key=DAY)
    assert result.success, "every bad row has a reason: the checks pass"

    kept = _universal(lake).sort_values("ID_PERSONA")
    assert list(kept.ID_PERSONA) == ["00001", "00001", "00011"]
    # The key says where each purchase landed: day, the file's key, line number.
    day = DAY.replace("-", "")
    assert set(kept.ID_TRANSACCION) == {
        f"{day}-{file_key(f'dt={DAY}/mixed.csv')}-2",
        f"{day}-{file_key(f'dt={DAY}/mixed.csv')}-3",
        f"{day}-{file_key(f'dt={DAY}/reordered.csv')}-2",
    }
    assert str(kept[kept.ID_PERSONA == "00011"].MONTO.iloc[0]) == "2.50"

    quarantined = _quarantine(lake)
    reasons = {(r.source_file, r.line_number): r.reason for r in quarantined.itertuples()}
    m = f"dt={DAY}/mixed.csv"
    assert reasons == {
        (m, 4): "wrong_field_count",
        (m, 5): "missing_person",
        (m, 6): "unparseable_date",
        (m, 7): "date_outside_partition",
        (m, 8): "unparseable_quantity",
        (m, 9): "quantity_out_of_range",
        (m, 10): "wrong_field_count",
        (m, 11): "unparseable_amount",
        (m, 12): "negative_amount",
        (m, 14): "unparseable_amount",
        (f"dt={DAY}/no_amount.csv", 2): "missing_column",
    }
    assert quarantined.set_index("line_number").loc[6, "raw_line"] == "00003,1997-01-02,1,5.00"
    meta = _metadata(result)
    assert meta["quarantined_rows"] == 11
    assert meta["quarantine_reasons"]["wrong_field_count"] == 2
    conservation = check_results(result)[f"{UNIVERSAL}:nothing_lost"].metadata
    assert (
        conservation["landing_rows"].value,
        conservation["universal_rows"].value,
        conservation["quarantine_rows"].value,
    ) == (14, 3, 11)


def test_a_rerun_that_rejects_nothing_empties_the_days_quarantine(lake):
    """Without rejected rows no Spark job writes quarantine: its partition is emptied (or created
    empty, with its columns), so no stale rejects stay behind."""
    land(lake, DAY, "orders.csv", f"{HEADER}\n00001,19970102,1,1.00\n,19970102,1,5.00\n")
    assert materialize(lake, UNIVERSAL, partition_key=DAY).success
    assert list(_quarantine(lake).line_number) == [3]
    land(
        lake, DAY, "orders.csv", f"{HEADER}\n00001,19970102,1,1.00\n00002,19970102,1,5.00\n"
    )  # corrected by its sender
    land(lake, "1997-01-03", "orders.csv", f"{HEADER}\n00003,19970103,1,2.00\n")
    result = materialize(
        lake,
        UNIVERSAL,
        tags={"dagster/asset_partition_range_start": DAY, "dagster/asset_partition_range_end": "1997-01-03"},
    )
    assert result.success and _metadata(result)["quarantined_rows"] == 0
    assert sorted(_universal(lake).ID_PERSONA) == ["00001", "00002"]
    for day in (DAY, "1997-01-03"):
        emptied = _quarantine(lake, day)
        assert len(emptied) == 0 and sorted(emptied.columns) == sorted(
            ["source_file", "line_number", "raw_line", "raw_bytes", "reason", "dt"]
        )
    assert check_results(result)[f"{UNIVERSAL}:nothing_lost"].passed


def test_schema_drift_extra_columns_are_rescued_and_a_missing_column_quarantines_the_file(lake):
    """Columns by header name in any order; unknown ones kept as JSON in _rescued_data and reported."""
    land(lake, DAY, "plain.csv", f"{HEADER}\n00001,19970102,1,1.00\n")
    land(
        lake,
        DAY,
        "drifted.csv",
        "Store, dollar_value,customer_id,date,number_of_cds,note\nNYC,2.50,00002,19970102,2,gift\nSF,3.00,00003,19970102,1,\n",
    )
    land(lake, DAY, "no_date.csv", "customer_id,number_of_cds,dollar_value,note\n00004,1,1.00,x\n00005,1,2.00,y\n")
    result = materialize(lake, UNIVERSAL, partition_key=DAY)
    assert result.success
    kept = _universal(lake).set_index("ID_PERSONA")
    assert sorted(kept.index) == ["00001", "00002", "00003"]
    assert kept.loc["00001", "_rescued_data"] is None
    assert json.loads(kept.loc["00002", "_rescued_data"]) == {"store": "NYC", "note": "gift"}
    assert json.loads(kept.loc["00003", "_rescued_data"]) == {"store": "SF", "note": ""}
    assert str(kept.loc["00002", "MONTO"]) == "2.50" and kept.loc["00002", "CANTIDAD"] == 2
    assert _metadata(result)["rescued_columns"] == ["note", "store"]
    quarantined = _quarantine(lake)
    assert sorted(quarantined.line_number) == [2, 3] and set(quarantined.reason) == {"missing_column"}
    assert set(quarantined.source_file) == {f"dt={DAY}/no_date.csv"}


def test_rerun_replaces_a_partition_with_the_same_data(lake, cdnow):
    n = land_cdnow_day(lake, cdnow, DAY)
    materialize(lake, UNIVERSAL, partition_key=DAY)
    first = _universal(lake).sort_values("ID_TRANSACCION").reset_index(drop=True)
    materialize(lake, UNIVERSAL, partition_key=DAY)
    second = _universal(lake).sort_values("ID_TRANSACCION").reset_index(drop=True)
    assert len(second) == n
    pd.testing.assert_frame_equal(first, second)


BUGS = {
    "negative_amounts": lambda df: df.withColumn("MONTO", (-F.col("MONTO") - 1).cast(MONEY)),
    "amount_type_changed": lambda df: df.withColumn("MONTO", -F.col("MONTO") - 1),  # decimal(13,2)
    "rows_doubled": lambda df: df.unionAll(df),  # what a file ingested twice would do
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_transform_bug_is_never_published_and_stops_downstream_assets(lake, cdnow, monkeypatch, bug):
    """Write-audit-publish: the contract fails on the staged write, the previous version stays, downstream waits."""
    n = land_cdnow_day(lake, cdnow, DAY)
    assert materialize(lake, UNIVERSAL, partition_key=DAY).success
    published = _universal(lake).sort_values("ID_TRANSACCION").reset_index(drop=True)
    correct = transforms.purchases
    monkeypatch.setattr(transforms, "purchases", lambda c: BUGS[bug](correct(c)))

    result = materialize(lake, [UNIVERSAL, "smart/transactions/daily_sales"], partition_key=DAY)
    assert not result.success
    contract = check_results(result)[f"{UNIVERSAL}:contract"]
    assert not contract.passed
    expected = {
        "negative_amounts": {"MONTO:greater_than_or_equal_to": n},
        "amount_type_changed": {},
        "rows_doubled": {"ID_TRANSACCION:unique": n},
    }[bug]
    assert contract.metadata["failures_by_rule"].value == expected
    assert contract.metadata["failed_partitions"].value == ([DAY] if expected else [])
    if bug == "amount_type_changed":
        assert contract.metadata["schema_errors"].value == ["MONTO: type decimal(13,2), expected decimal(12,2)"]
    assert not result.asset_materializations_for_node("universal__transactions__purchases")
    pd.testing.assert_frame_equal(_universal(lake).sort_values("ID_TRANSACCION").reset_index(drop=True), published)
    assert not result.asset_materializations_for_node("smart__transactions__daily_sales")
    assert lake.list_partitions(DAILY_SALES) == []


def test_daily_sales_sums_the_days_purchases(lake, cdnow):
    land_cdnow_day(lake, cdnow, DAY)
    result = materialize(lake, [UNIVERSAL, "smart/transactions/daily_sales"], partition_key=DAY)
    assert result.success
    sales = table_frame(lake, DAILY_SALES, DAY).iloc[0]
    fields = [line.split(",") for line in cdnow[DAY]]
    assert sales.NUM_TRANSACCIONES == len(fields)
    assert sales.NUM_PERSONAS == len({f[0] for f in fields})
    assert sales.CANTIDAD_TOTAL == sum(int(f[2]) for f in fields)
    assert int(sales.MONTO_TOTAL * 100) == sum(round(float(f[3]) * 100) for f in fields)


def test_a_day_with_no_landing_files_becomes_an_empty_partition_that_keeps_its_schema(lake):
    """Nothing landed: the day holds no rows, the table still has its types, and the checks pass."""
    result = materialize(lake, [UNIVERSAL, "smart/transactions/daily_sales"], partition_key=DAY)
    assert result.success
    assert {k: c.passed for k, c in check_results(result).items()} == {
        f"{UNIVERSAL}:contract": True,
        f"{UNIVERSAL}:nothing_lost": True,
        f"{UNIVERSAL}:pii_protected": True,
        "smart/transactions/daily_sales:contract": True,
        "smart/transactions/daily_sales:pii_protected": True,
    }
    empty = _universal(lake)
    assert len(empty) == 0
    assert list(empty.columns) == ["ID_TRANSACCION", "ID_PERSONA", "FECHA", "CANTIDAD", "MONTO", "_rescued_data", "dt"]
    assert str(lake.tables.load(PURCHASES).schema().find_field("MONTO").field_type) == "decimal(12, 2)"
    assert lake.row_counts(PURCHASES, [DAY]) == {DAY: 0}
    assert len(table_frame(lake, DAILY_SALES, DAY)) == 0


def test_a_report_that_breaks_its_contract_is_counted_per_rule_and_never_published(lake, cdnow, monkeypatch):
    """An unpartitioned table: the guard stops the write, the rows are written again and counted per rule."""
    land_cdnow_day(lake, cdnow, DAY)
    assert materialize(lake, UNIVERSAL, partition_key=DAY).success
    assert materialize(lake, "smart/transactions/report_by_person").success
    published = table_frame(lake, REPORT_BY_PERSON).sort_values("ID_PERSONA").reset_index(drop=True)
    correct = transforms.report_by_person
    negative = F.when(F.col("ID_PERSONA") == published.ID_PERSONA.iloc[0], -F.col("MONTO_TRANSACCIONES"))
    monkeypatch.setattr(
        transforms,
        "report_by_person",
        lambda p: correct(p).withColumn("MONTO_TRANSACCIONES", negative.otherwise(F.col("MONTO_TRANSACCIONES"))),
    )

    result = materialize(lake, "smart/transactions/report_by_person")
    assert not result.success
    contract = check_results(result)["smart/transactions/report_by_person:contract"]
    assert not contract.passed
    assert contract.metadata["failures_by_rule"].value == {"MONTO_TRANSACCIONES:greater_than_or_equal_to": 1}
    assert contract.metadata["rows_checked"].value == len(published)
    pd.testing.assert_frame_equal(
        table_frame(lake, REPORT_BY_PERSON).sort_values("ID_PERSONA").reset_index(drop=True), published
    )


def test_nothing_lost_fails_when_a_row_is_missing_or_landing_changed_since_it_was_counted(spark, lake, cdnow):
    """The check compares the rows written with landing's records, counted when the run wrote them
    (kept in the manifest) or again for a file that changed since."""
    from datalake_platform.domains.transactions.checks import PURCHASES_NOTHING_LOST
    from datalake_platform.domains.transactions.tables import LANDING_PURCHASES
    from datalake_platform.ingestion import manifest

    n = land_cdnow_day(lake, cdnow, DAY)
    assert materialize(lake, UNIVERSAL, partition_key=DAY).success
    assert [e.records for e in manifest.read(lake, LANDING_PURCHASES)] == [n]
    unbalanced = lambda: PURCHASES_NOTHING_LOST.balance(spark, lake, [DAY]).broken  # noqa: E731 - what the check reports

    assert unbalanced() == {}
    (written,) = lake.partition_files(PURCHASES, [DAY])
    table = pq.read_table(written)
    snapshot = lake.tables.snapshot_id(PURCHASES)
    staging = Path(lake.staging_uri(PURCHASES)) / f"day={DAY}"
    staging.mkdir(parents=True)
    pq.write_table(table.slice(1), staging / "part-0.parquet")
    lake.commit_partitions(PURCHASES, str(staging.parent), [DAY], table.schema)  # a row lost by another writer
    assert unbalanced() == {DAY: {"landing": n, "universal": n - 1, "quarantine": 0}}

    lake.tables.load(PURCHASES).manage_snapshots().rollback_to_snapshot(snapshot).commit()
    assert unbalanced() == {}
    extra = "00001,19970102,1,1.00"
    land(
        lake,
        DAY,
        f"cdnow_{DAY}.csv",
        "\n".join(["customer_id,date,number_of_cds,dollar_value", *cdnow[DAY], extra]) + "\n",
    )
    # The file changed since it was counted: counted again, one record more than was ingested.
    assert unbalanced() == {DAY: {"landing": n + 1, "universal": n, "quarantine": 0}}
