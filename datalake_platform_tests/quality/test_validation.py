"""The one-pass Spark validation agrees with pandera's own validation of the same model."""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import fsspec
import pandera.pyspark as pa
import pyarrow
import pyarrow.parquet as pq
import pyspark.sql.types as T
import pytest

from datalake_platform.domains.transactions.schemas import PURCHASES_TABLE_RULES, DailySales, Purchases, ReportByPerson
from datalake_platform.domains.transactions.tables import DAILY_SALES, PURCHASES, REPORT_BY_PERSON
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.quality import validation
from datalake_platform.quality.staged_files import StagedFiles
from datalake_platform.quality.validation import ContractAudit, compile_rules, spark_schema, validate
from datalake_platform.spark.table_io import write_partitions, write_table

GOOD_ID = "19970101-0123456789ab-2"
D1, D2 = dt.date(1997, 1, 1), dt.date(1997, 1, 2)


def _purchases(spark, rows):
    """Rows as (ID, person, FECHA, CANTIDAD, MONTO, dt); `_rescued_data` is null."""
    return spark.createDataFrame([(*r[:-1], None, r[-1]) for r in rows], spark_schema(Purchases))


def test_valid_rows_pass(spark):
    df = _purchases(
        spark,
        [
            (GOOD_ID, "00001", D1, 1, Decimal("11.77"), D1),
            ("19970102-0123456789ab-2", "00002", D2, 3, Decimal("0.00"), D2),
        ],
    )
    report = validate(Purchases, df, PURCHASES_TABLE_RULES)
    assert report.passed
    assert report.rows == {"1997-01-01": 1, "1997-01-02": 1}


def test_failures_are_counted_per_rule_and_partition(spark):
    df = _purchases(
        spark,
        [
            (GOOD_ID, "00001", D1, 0, Decimal("-1.00"), D1),  # CANTIDAD < 1 and MONTO < 0
            (GOOD_ID, "00002", D2, 1, Decimal("1.00"), D1),  # duplicate id, FECHA != dt
            ("x", None, D2, 1, Decimal("1.00"), D2),  # bad id, null person
        ],
    )
    report = validate(Purchases, df, PURCHASES_TABLE_RULES)
    assert not report.passed
    assert report.failures == {
        "1997-01-01": {
            "CANTIDAD:greater_than_or_equal_to": 1,
            "MONTO:greater_than_or_equal_to": 1,
            "FECHA:equals_dt": 1,
            "ID_TRANSACCION:unique": 1,
        },
        "1997-01-02": {"ID_TRANSACCION:str_matches": 1, "ID_PERSONA:not_null": 1},
    }
    assert report.failures_by_rule["MONTO:greater_than_or_equal_to"] == 1


def test_sequenced_keys_are_proved_unique_by_prefix_and_number(spark):
    """`<prefix>-<n>` keys are counted in bitmaps; a key that only looks repeated is counted exactly."""
    ids = [
        "19970101-aaaaaaaaaaaa-2",
        "19970101-aaaaaaaaaaaa-3",
        "19970101-bbbbbbbbbbbb-2",
        "19970101-aaaaaaaaaaaa-40002",
    ]
    row = lambda i: (i, "00001", D1, 1, Decimal("1.00"), D1)  # noqa: E731
    assert validate(Purchases, _purchases(spark, [row(i) for i in ids])).passed
    # "-02" maps to the same number as "-2": suspected, then found distinct; ids[3] really repeats.
    doubled = _purchases(spark, [row(i) for i in [*ids, ids[3], "19970101-aaaaaaaaaaaa-02"]])
    assert validate(Purchases, doubled).failures == {"1997-01-01": {"ID_TRANSACCION:unique": 1}}


def test_keys_are_unique_per_partition(spark):
    """A key in two partitions is no repeat within either; a key twice in one partition is."""
    row = lambda i, day: (i, "00001", day, 1, Decimal("1.00"), day)  # noqa: E731
    across = _purchases(spark, [row(GOOD_ID, D1), row(GOOD_ID, D2), row("19970102-0123456789ab-3", D2)])
    assert validate(Purchases, across).passed
    twice = _purchases(spark, [row(GOOD_ID, D1), row(GOOD_ID, D2), row(GOOD_ID, D2)])
    assert validate(Purchases, twice).failures == {"1997-01-02": {"ID_TRANSACCION:unique": 1}}
    audit = ContractAudit(Purchases)  # the staged files' verification counts the same way
    assert not audit.verify(twice, {"1997-01-01": 1, "1997-01-02": 2})
    assert audit.report.failures == {"1997-01-02": {"ID_TRANSACCION:unique": 1}}
    assert ContractAudit(Purchases).verify(across, {"1997-01-01": 1, "1997-01-02": 2})


def test_compiled_rules_agree_with_pandera_on_every_column_check(spark):
    """pandera's pyspark backend flags the same columns and checks as our single pass."""
    df = _purchases(
        spark,
        [
            (GOOD_ID, "00001", D1, 0, Decimal("-1.00"), D1),
            ("zz", "has space", D1, 2, Decimal("2.00"), D1),
        ],
    )
    native = Purchases.validate(df).pandera.errors["DATA"]
    native_failures = {(e["column"], e["check"]) for errors in native.values() for e in errors}
    ours = set(validate(Purchases, df).failures_by_rule)
    assert {f"{col}:{check.split('(')[0]}" for col, check in native_failures} == ours


def test_a_person_id_ending_in_a_line_break_breaks_the_contract(spark):
    """Java's (and Python's) `$` matches before a final line break: the id pattern ends at the very end."""
    row = lambda i, person: (f"19970101-0123456789ab-{i}", person, D1, 1, Decimal("1.00"), D1)  # noqa: E731
    df = _purchases(spark, [row(2, "00001\n"), row(3, "00002\r"), row(4, "00003")])
    assert validate(Purchases, df).failures == {"1997-01-01": {"ID_PERSONA:str_matches": 2}}
    native = Purchases.validate(df).pandera.errors["DATA"]
    assert {e["column"] for errors in native.values() for e in errors} == {"ID_PERSONA"}


def test_wrong_types_and_missing_columns_are_schema_errors(spark):
    df = spark.createDataFrame([("a", 1)], "ID_TRANSACCION string, ID_PERSONA int")
    report = validate(Purchases, df)
    assert not report.passed
    assert "ID_PERSONA: type int, expected string" in report.schema_errors
    assert "MONTO: column missing" in report.schema_errors


def test_a_check_without_spark_translation_is_refused():
    class Odd(pa.DataFrameModel):
        x: T.IntegerType() = pa.Field(unique_values_eq=[1, 2])

    with pytest.raises(NotImplementedError, match="unique_values_eq"):
        compile_rules(Odd)


@pytest.mark.parametrize("prover", ["driver", "spark"])
def test_staged_keys_are_proved_unique_alike_on_the_driver_and_by_spark(spark, tmp_path, monkeypatch, prover):
    """Writes audit their staged files' unique keys with pyarrow on the driver (local Spark, small
    partitions) or with a Spark job: both find the same repeats, and nothing is published."""
    driver_counts = []
    counted = StagedFiles.distinct_keys
    monkeypatch.setattr(
        StagedFiles, "distinct_keys", lambda self, cols: driver_counts.append(cols) or counted(self, cols)
    )
    if prover == "spark":
        monkeypatch.setattr(validation, "DRIVER_KEY_ROWS", 0)
    storage, days = LocalLakeStorage(str(tmp_path)), ["1997-01-01", "1997-01-02"]
    row = lambda i, day: (i, "00001", day, 1, Decimal("1.00"), day)  # noqa: E731
    twice = _purchases(spark, [row(GOOD_ID, D1), row(GOOD_ID, D2), row(GOOD_ID, D2)])
    audit = ContractAudit(Purchases)
    assert write_partitions(twice, storage, PURCHASES, days, audit) == {"1997-01-01": 1, "1997-01-02": 2}
    assert audit.report.failures == {"1997-01-02": {"ID_TRANSACCION:unique": 1}}
    # The partition column as the key (it is in the folders' names, not in the files).
    sales = spark.createDataFrame(
        [(1, 1, 1, Decimal("1.00"), D1)] * 2 + [(1, 1, 1, Decimal("1.00"), D2)], spark_schema(DailySales)
    )
    audit = ContractAudit(DailySales)
    write_partitions(sales, storage, DAILY_SALES, days, audit)
    assert audit.report.failures == {"1997-01-01": {"dt:unique": 1}}
    # A whole table: a person twice.
    report = spark.createDataFrame(
        [("00001", Decimal("1.00"), 1, D1, D1)] * 2 + [("00002", Decimal("1.00"), 1, D1, D1)],
        spark_schema(ReportByPerson),
    )
    audit = ContractAudit(ReportByPerson, partitioned=False)
    assert write_table(report, storage, REPORT_BY_PERSON, audit) == 3
    assert audit.report.failures == {"all": {"ID_PERSONA:unique": 1}}
    assert all(storage.tables.load(t) is None for t in (PURCHASES, DAILY_SALES, REPORT_BY_PERSON))  # nothing published
    assert driver_counts == ([["ID_TRANSACCION"], ["dt"], ["ID_PERSONA"]] if prover == "driver" else [])


def test_staged_files_count_keys_of_several_columns(tmp_path):
    for name, rows in {"a": [(1, "x"), (1, "y"), (1, "x")], "b": [(2, "x")]}.items():
        pq.write_table(
            pyarrow.table({"n": [r[0] for r in rows], "s": [r[1] for r in rows]}), tmp_path / f"{name}.parquet"
        )
    files = StagedFiles(
        fsspec.filesystem("file"), {"p": [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")], "q": []}
    )
    assert files.distinct_keys(["n", "s"]) == {"p": 3, "q": 0}
    assert files.distinct_keys(["s"]) == {"p": 2, "q": 0}
    assert files.as_one().distinct_keys(["n"]) == {"all": 2}


def test_many_text_keys_are_counted_in_buckets_alike(tmp_path, monkeypatch):
    """Above `BUCKETED_KEYS` a whole table's text keys are counted in buckets by their last byte, in
    parallel: the same counts as one count of them all, nulls (one value) and empty text included."""
    from datalake_platform.quality import staged_files

    values = ["a", "b", "", None, "ab", "ba", "a", None, "", "é", "xé", "é", "a\x00", "a"]
    for i in range(3):  # several files, so several chunks
        pq.write_table(pyarrow.table({"k": values[i::3]}), tmp_path / f"{i}.parquet")
    files = StagedFiles(fsspec.filesystem("file"), {"all": [str(tmp_path / f"{i}.parquet") for i in range(3)]})
    expected = len(set(values))  # None counted once
    assert files.distinct_keys(["k"]) == {"all": expected}
    monkeypatch.setattr(staged_files, "BUCKETED_KEYS", 0)
    buckets = staged_files._buckets(pyarrow.chunked_array([pyarrow.array(values)]), 4)
    assert sum(len(b) for b in buckets) == len(values) and len({b for b in range(4) if len(buckets[b])}) > 1
    assert files.distinct_keys(["k"]) == {"all": expected}
    with ThreadPoolExecutor(2) as pool:
        assert (
            staged_files._distinct([pyarrow.table({"k": pyarrow.array([None, None], pyarrow.string())})], ["k"], pool)
            == 1
        )
