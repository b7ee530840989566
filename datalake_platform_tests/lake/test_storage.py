"""The local storage backend: listing landing; partition and table commits as Iceberg snapshots."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datalake_platform.lake.iceberg import TableCommitError
from datalake_platform.lake.storage import is_data_file
from datalake_platform.lake.table_refs import TableRef, Zone

TABLE = TableRef(Zone.UNIVERSAL, "demo", "things")


SCHEMA = pa.schema([("x", pa.int64()), ("dt", pa.date32())])


def _stage(lake, rows_by_day: dict[str, int], ref: TableRef = TABLE) -> str:
    """A write's files as Spark leaves them: `day=` folders, each file holding its `dt`."""
    staging = lake.staging_uri(ref)
    for day, n in rows_by_day.items():
        folder = Path(staging) / f"day={day}"
        folder.mkdir(parents=True, exist_ok=True)
        dates = [dt.date.fromisoformat(day)] * n
        pq.write_table(pa.table({"x": list(range(n)), "dt": dates}, schema=SCHEMA), folder / "part-0.parquet")
    return staging


def _rows(lake, ref=TABLE) -> dict[str, int]:
    """Rows per day as pyarrow reads the files the snapshot lists: not the platform's count."""
    counts: dict[str, int] = {}
    for path in lake.table_files(ref):
        for day in pq.read_table(path).column("dt").to_pylist():
            counts[day.isoformat()] = counts.get(day.isoformat(), 0) + 1
    return counts


def test_table_paths_follow_zone_domain_table(lake):
    assert lake.table_uri(TABLE) == f"{lake.root}/universal/demo/things"
    assert lake.partition_uri(TABLE, "1997-01-01").endswith("universal/demo/things/dt=1997-01-01")
    assert TABLE.quarantine().relative_path == "quarantine/demo/things"
    assert TABLE.key_path == ["universal", "demo", "things"]


def test_commit_replaces_partitions_in_one_snapshot_and_empties_days_with_nothing_staged(lake):
    days = ["2020-01-01", "2020-01-02"]
    first = lake.commit_partitions(TABLE, _stage(lake, {"2020-01-01": 3, "2020-01-02": 2}), days, SCHEMA)
    second = lake.commit_partitions(TABLE, _stage(lake, {"2020-01-01": 4}), days, SCHEMA, {"run": "r2"})
    assert _rows(lake) == {"2020-01-01": 4}  # 2020-01-02 replaced by nothing, not kept stale
    assert lake.row_counts(TABLE, days) == {"2020-01-01": 4, "2020-01-02": 0}
    assert lake.list_partitions(TABLE) == ["2020-01-01"]
    table = lake.tables.load(TABLE)
    assert table.current_snapshot().snapshot_id == second != first
    assert table.current_snapshot().summary["datalake.run"] == "r2"
    assert table.scan(snapshot_id=first).to_arrow().num_rows == 5  # the previous snapshot still reads


def test_commit_leaves_other_partitions_alone(lake):
    lake.commit_partitions(TABLE, _stage(lake, {"2020-01-01": 1}), ["2020-01-01"], SCHEMA)
    lake.commit_partitions(TABLE, _stage(lake, {"2020-01-02": 2}), ["2020-01-02"], SCHEMA)
    assert _rows(lake) == {"2020-01-01": 1, "2020-01-02": 2}


def test_commit_table_replaces_every_file(lake):
    report = TableRef(Zone.SMART, "demo", "report")
    for n in (3, 2):
        staging = lake.staging_uri(report)
        Path(staging).mkdir(parents=True)
        pq.write_table(pa.table({"x": list(range(n))}), f"{staging}/part-0.parquet")
        (Path(staging) / "_SUCCESS").write_text("")  # markers are not data
        lake.commit_table(report, staging, pa.schema([("x", pa.int64())]))
    assert lake.table_rows(report) == 2
    assert len(lake.table_files(report)) == 1
    assert lake.table_rows(TableRef(Zone.SMART, "demo", "absent")) == 0


def test_a_file_written_for_another_day_is_refused(lake):
    """A file must hold the day of its folder: Iceberg files its rows by the values it holds."""
    staging = _stage(lake, {"2020-01-01": 2})
    (Path(staging) / "day=2020-01-01" / "part-0.parquet").rename(Path(staging) / "day=2020-01-01" / "x.parquet")
    Path(staging, "day=2020-01-02").mkdir()
    (Path(staging) / "day=2020-01-01" / "x.parquet").rename(Path(staging) / "day=2020-01-02" / "x.parquet")
    with pytest.raises(TableCommitError, match="written for 2020-01-02 but holds 2020-01-01"):
        lake.commit_partitions(TABLE, staging, ["2020-01-02"], SCHEMA)
    assert lake.table_rows(TABLE) == 0


def test_write_bytes_is_idempotent_and_leaves_no_temporary_file(lake):
    uri = lake.uri("landing/demo/things/dt=2020-01-01/x.csv")
    assert lake.write_bytes(uri, b"a,b\n1,2\n") is True
    assert lake.write_bytes(uri, b"a,b\n1,2\n") is False
    assert lake.write_bytes(uri, b"a,b\n1,3\n") is True
    assert [p.name for p in Path(uri).parent.iterdir()] == ["x.csv"]


def test_in_progress_and_hidden_files_are_not_data():
    assert is_data_file("cdnow_19970101.csv")
    for name in ["_tmp-123-x.csv", ".x.csv", "_SUCCESS", "x.csv.part", "x.tmp", ".part-0.parquet.crc"]:
        assert not is_data_file(name), name


def test_landing_listing_skips_in_progress_files(lake):
    ref = TableRef(Zone.LANDING, "demo", "things")
    folder = Path(lake.partition_uri(ref, "2020-01-01"))
    folder.mkdir(parents=True)
    for name in ["good.csv", "_tmp-1-good.csv", ".hidden.csv", "upload.part"]:
        (folder / name).write_text("h\n1\n")
    files = lake.list_landing_files(ref, ["2020-01-01", "2020-01-02"])
    assert [(f.relative_path, f.day, f.size) for f in files] == [("dt=2020-01-01/good.csv", "2020-01-01", 4)]


def test_footers_tell_which_files_hold_values_of_a_column(lake, tmp_path):
    """A column null in every row of a file (by its footer's statistics) needs no reading there."""
    tables = {
        "values.parquet": pa.table({"x": [1, 2], "rescued": [None, '{"a": "1"}']}),
        "nulls.parquet": pa.table({"x": [1, 2], "rescued": pa.array([None, None], pa.string())}),
        "without.parquet": pa.table({"x": [1]}),
        "no_stats.parquet": pa.table({"x": [1], "rescued": pa.array([None], pa.string())}),
    }
    for name, table in tables.items():
        pq.write_table(table, tmp_path / name, write_statistics=name != "no_stats.parquet")
    files = [str(tmp_path / name) for name in tables]
    assert lake.files_with_values(files, "rescued") == [
        str(tmp_path / "values.parquet"),
        str(tmp_path / "no_stats.parquet"),
    ]


def test_a_column_is_summed_exactly_from_the_files_of_a_table(lake):
    """Decimals stay exact across files and batches; nulls add nothing; no value at all is None."""
    money = pa.decimal128(22, 2)
    schema = pa.schema([("m", money)])
    report = TableRef(Zone.SMART, "demo", "money")
    staging = Path(lake.staging_uri(report))
    staging.mkdir(parents=True)
    pq.write_table(
        pa.table({"m": pa.array([Decimal("0.10"), None, Decimal("12345678901234.99")], money)}), staging / "a.parquet"
    )
    pq.write_table(
        pa.table({"m": pa.array([Decimal("0.20")] * 3000, money)}), staging / "b.parquet", row_group_size=1000
    )
    lake.commit_table(report, str(staging), schema)
    assert lake.column_sum(report, "m") == Decimal("12345678901234.99") + Decimal("0.10") + Decimal("600.00")
    staging = Path(lake.staging_uri(report))
    staging.mkdir(parents=True)
    pq.write_table(pa.table({"m": pa.array([None], money)}), staging / "a.parquet")
    lake.commit_table(report, str(staging), schema)
    assert lake.column_sum(report, "m") is None
    assert lake.column_sum(TableRef(Zone.SMART, "demo", "absent"), "m") is None
