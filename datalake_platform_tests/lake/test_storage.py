"""The local storage backend: listing landing, atomic partition and table commits."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datalake_platform.lake.storage import is_data_file
from datalake_platform.lake.table_refs import TableRef, Zone

TABLE = TableRef(Zone.UNIVERSAL, "demo", "things")


def _stage(lake, files: dict[str, str]) -> str:
    staging = lake.staging_uri(TABLE)
    for rel, text in files.items():
        path = Path(staging) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return staging


def test_table_paths_follow_zone_domain_table(lake):
    assert lake.table_uri(TABLE) == f"{lake.root}/universal/demo/things"
    assert lake.partition_uri(TABLE, "1997-01-01").endswith("universal/demo/things/dt=1997-01-01")
    assert TABLE.quarantine().relative_path == "quarantine/demo/things"
    assert TABLE.key_path == ["universal", "demo", "things"]


def test_commit_replaces_partitions_and_empties_days_with_nothing_staged(lake):
    lake.commit_partitions(TABLE, _stage(lake, {"dt=2020-01-01/a.parquet": "v1", "dt=2020-01-02/a.parquet": "v1"}), ["2020-01-01", "2020-01-02"])
    lake.commit_partitions(TABLE, _stage(lake, {"dt=2020-01-01/b.parquet": "v2"}), ["2020-01-01", "2020-01-02"])
    table = Path(lake.table_uri(TABLE))
    assert sorted(p.name for p in (table / "dt=2020-01-01").iterdir()) == ["b.parquet"]
    assert list((table / "dt=2020-01-02").iterdir()) == []  # replaced by an empty partition, not kept stale
    assert lake.list_partitions(TABLE) == ["2020-01-01", "2020-01-02"]
    assert not any(Path(lake.uri("work/_staging")).rglob("*.parquet"))  # staging cleaned up


def test_commit_leaves_other_partitions_alone(lake):
    lake.commit_partitions(TABLE, _stage(lake, {"dt=2020-01-01/a.parquet": "v1"}), ["2020-01-01"])
    lake.commit_partitions(TABLE, _stage(lake, {"dt=2020-01-02/a.parquet": "v1"}), ["2020-01-02"])
    assert (Path(lake.partition_uri(TABLE, "2020-01-01")) / "a.parquet").read_text() == "v1"


def test_commit_table_swaps_the_whole_folder(lake):
    lake.commit_table(TABLE, _stage(lake, {"a.parquet": "v1"}))
    lake.commit_table(TABLE, _stage(lake, {"b.parquet": "v2"}))
    assert sorted(p.name for p in Path(lake.table_uri(TABLE)).iterdir()) == ["b.parquet"]


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


def test_table_rows_are_read_from_parquet_footers(lake):
    import pyarrow as pa
    import pyarrow.parquet as pq

    staging = Path(lake.staging_uri(TABLE))
    for day, n in [("2020-01-01", 3), ("2020-01-02", 0), ("2020-01-03", 5)]:
        (staging / f"dt={day}").mkdir(parents=True)
        pq.write_table(pa.table({"x": list(range(n))}), staging / f"dt={day}" / "part-0.parquet")
    (staging / "dt=2020-01-03" / "_SUCCESS").write_text("")  # markers are not data
    lake.commit_partitions(TABLE, str(staging), ["2020-01-01", "2020-01-02", "2020-01-03"])
    assert lake.table_rows(TABLE) == 8
    report = TableRef(Zone.SMART, "demo", "report")
    staged = Path(lake.staging_uri(report))
    staged.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1, 2]}), staged / "part-0.parquet")
    lake.commit_table(report, str(staged))
    assert lake.table_rows(report) == 2
    assert lake.table_rows(TableRef(Zone.SMART, "demo", "absent")) == 0


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
    assert lake.files_with_values(files, "rescued") == [str(tmp_path / "values.parquet"), str(tmp_path / "no_stats.parquet")]


def test_a_column_is_summed_exactly_from_the_files_of_a_folder(lake, tmp_path):
    """Decimals stay exact across files and batches; nulls add nothing; no value at all is None."""
    from decimal import Decimal

    money = pa.decimal128(22, 2)
    pq.write_table(pa.table({"m": pa.array([Decimal("0.10"), None, Decimal("12345678901234.99")], money)}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"m": pa.array([Decimal("0.20")] * 3000, money)}), tmp_path / "b.parquet", row_group_size=1000)
    (tmp_path / "_SUCCESS").write_text("")  # not data
    assert lake.parquet_column_sum(str(tmp_path), "m") == Decimal("12345678901234.99") + Decimal("0.10") + Decimal("600.00")
    empty = tmp_path / "empty"
    empty.mkdir()
    pq.write_table(pa.table({"m": pa.array([None], money)}), empty / "a.parquet")
    assert lake.parquet_column_sum(str(empty), "m") is None
    assert lake.parquet_column_sum(str(tmp_path / "absent"), "m") is None
