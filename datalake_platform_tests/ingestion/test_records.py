"""Landing records keep their file, line number and raw text, whatever the line endings, quotes or format."""

import json

import pytest

from datalake_platform.domains.transactions.tables import LANDING_COLUMNS, LANDING_PURCHASES
from datalake_platform.ingestion.delimited import parse_csv
from datalake_platform.ingestion.records import count_landing, count_records, per_day, read_records

DAY = "1997-01-02"
BODY = ["00001,19970102,1,11.77", "00002,19970102,2,3.50", "", "00003,19970102,1,1.00"]
COLUMNS = ["date", "customer_id", "dollar_value"]


def _land(lake, name: str, data: bytes):
    lake.write_bytes(f"{lake.partition_uri(LANDING_PURCHASES, DAY)}/{name}", data)
    return lake.list_landing_files(LANDING_PURCHASES, [DAY])


@pytest.mark.parametrize(
    "name, data",
    [
        ("lf.csv", "customer_id,date\n" + "\n".join(BODY) + "\n"),
        ("crlf.csv", "customer_id,date\r\n" + "\r\n".join(BODY) + "\r\n"),
        ("cr.csv", "customer_id,date\r" + "\r".join(BODY) + "\r"),
        ("bom crlf.csv", "\ufeffCustomer_ID , Date\r\n" + "\r\n".join(BODY)),  # no final newline
        ("quoted.csv", '"customer_id","date"\n' + "\n".join(BODY) + "\n"),  # the quote-aware path
        ("quoted crlf.csv", '\ufeff"Customer_ID", Date\r\n' + "\r\n".join(BODY) + "\r\n"),
    ],
)
def test_lines_keep_provenance_for_every_line_ending(spark, lake, name, data):
    files = _land(lake, name, data.encode("utf-8"))
    rows = read_records(spark, files, COLUMNS).orderBy("line_number").collect()
    assert [(r.line_number, r.raw_line) for r in rows] == [(2, BODY[0]), (3, BODY[1]), (5, BODY[3])]
    assert {r.dt for r in rows} == {DAY} and {r.source_file for r in rows} == {f"dt={DAY}/{name}"}
    assert rows[0].header == ["customer_id", "date"]
    assert rows[0].fields == ["00001", "19970102", "1", "11.77"]
    assert (rows[0]._position_of_date, rows[0]._position_of_customer_id, rows[0].missing_columns) == (
        2,
        1,
        "dollar_value",
    )
    assert count_records(spark, files) == {DAY: 3}  # the independent count agrees


def test_quoted_fields_keep_their_delimiters_and_line_breaks(spark, lake):
    text = (
        "customer_id,date,number_of_cds,dollar_value,comment\n"
        '"00001","19970102","1","1.00",plain\n'
        '00002,19970102,1,2.50,"gift, wrapped\nwith a ""card"""\n'
        "\n"
        '00003,19970102,1,"1,234.50",\n'
    )
    files = _land(lake, "quoted.csv", text.encode())
    rows = read_records(spark, files, LANDING_COLUMNS).orderBy("line_number").collect()
    assert [r.line_number for r in rows] == [2, 3, 6]
    assert rows[1].raw_line == '00002,19970102,1,2.50,"gift, wrapped\nwith a ""card"""'  # as it arrived
    assert rows[1].fields == ["00002", "19970102", "1", "2.50", 'gift, wrapped\nwith a "card"']
    assert json.loads(rows[1].rescued_data) == {"comment": 'gift, wrapped\nwith a "card"'}
    assert rows[0].fields[0] == "00001" and rows[2].fields[3] == "1,234.50"
    assert count_records(spark, files) == {DAY: 3}  # Spark's CSV reader counts the same records


def test_an_unterminated_quote_swallows_the_rest_of_the_file_into_one_record():
    parsed = parse_csv('a,b\n1,"open\n2,3\n', ",")
    assert parsed["header"] == ["a", "b"]
    assert [(r["line_number"], r["raw_line"]) for r in parsed["records"]] == [(2, '1,"open\n2,3')]


def test_json_lines_are_records_matched_by_key(spark, lake):
    lines = [
        '{"customer_id": "00001", "date": "19970102", "dollar_value": 11.77, "channel": {"web": true}}',
        "",
        '{"dollar_value": "3.50", "customer_id": "00002"}',
        "not json",
        "[1, 2]",
    ]
    files = _land(lake, "purchases.jsonl", ("\n".join(lines) + "\n").encode())
    rows = {r.line_number: r for r in read_records(spark, files, COLUMNS).collect()}
    assert sorted(rows) == [1, 3, 4, 5]  # line numbers of the file, blank line skipped
    first = rows[1]
    assert (first.fields[first._position_of_dollar_value - 1], first.missing_columns, first.malformed) == (
        "11.77",
        "",
        None,
    )
    assert json.loads(first.rescued_data) == {"channel": '{"web":true}'}
    assert (rows[3].missing_columns, rows[3].malformed) == ("date", None)
    assert rows[4].malformed == rows[5].malformed == "malformed_record"
    assert count_records(spark, files) == {DAY: 4}


def test_files_of_one_day_whose_keys_collide_are_refused(spark, lake, monkeypatch):
    """Record keys are file key + line: two files of a day sharing a key would share record keys."""
    from datalake_platform.ingestion import text

    monkeypatch.setattr(text, "FILE_KEY_HEX", 1)  # one hex digit: 17 files must collide
    for i in range(17):
        files = _land(lake, f"part-{i}.csv", b"customer_id\n00001\n")
    by_key = {}
    for f in files:
        by_key.setdefault(text.file_key(f.relative_path), []).append(f.relative_path)
    clashing = next(paths for paths in by_key.values() if len(paths) > 1)
    with pytest.raises(ValueError, match="keys collide") as refused:
        read_records(spark, files, LANDING_COLUMNS)
    assert all(path in str(refused.value) for path in clashing)


@pytest.mark.parametrize("on_driver", [True, False], ids=["bytes_on_driver", "spark_line_reader"])
def test_landing_is_counted_per_file_by_other_readers_whatever_the_line_endings(spark, lake, on_driver):
    """Records per file for `nothing_lost` and the quarantine pass: local files' bytes counted on the
    driver, or Hadoop's line reader (other stores), and Spark's CSV reader; both count alike."""
    bodies = {
        "lf.csv": b"h\na\n\nb\n",  # a blank line is no record
        "crlf.csv": b"h\r\na\r\nb",  # the last line unterminated
        "cr.csv": b"h\ra\rb\r",
        "cr_crlf.csv": b"h\r\r\na\n",  # a lone CR, then CRLF: an empty line between h and a
        "spaces.csv": b"h\n   \na\n\t\n",  # spaces only is blank; a tab is not (Spark's trim)
        "latin1.csv": b"h\n\xe9t\xe9,1\n",  # not UTF-8: still a record
        "quoted.csv": b'h,x\n"a\nstill a",1\nb,2\n',  # a line break inside quotes: 2 records on 3 lines
        "rows.jsonl": b'{"a": "x"}\n{"a": "y"}\n',  # no header; its quotes are JSON's
        "empty.csv": b"",
        "header_only.csv": b"h\n\n",
    }
    for name, data in bodies.items():
        files = _land(lake, name, data)
    counted = count_landing(spark, files, on_driver=on_driver)
    assert {f.name: counted.records[f.relative_path] for f in files} == {
        "lf.csv": 2,
        "crlf.csv": 2,
        "cr.csv": 2,
        "cr_crlf.csv": 1,
        "spaces.csv": 2,
        "latin1.csv": 1,
        "quoted.csv": 2,
        "rows.jsonl": 2,
        "empty.csv": 0,
        "header_only.csv": 0,
    }
    assert counted.quoted == {f"dt={DAY}/quoted.csv"}
    assert per_day(files, counted.records) == {DAY: 14}
