"""Landing lines keep their file, line number and raw text, whatever the line endings."""

import pytest

from datalake_platform.domains.transactions.tables import LANDING_PURCHASES
from datalake_platform.ingestion.delimited import count_data_lines, read_lines

DAY = "1997-01-02"
BODY = ["00001,19970102,1,11.77", "00002,19970102,2,3.50", "", "00003,19970102,1,1.00"]


@pytest.mark.parametrize(
    "name, data",
    [
        ("lf.csv", "customer_id,date\n" + "\n".join(BODY) + "\n"),
        ("crlf.csv", "customer_id,date\r\n" + "\r\n".join(BODY) + "\r\n"),
        ("cr.csv", "customer_id,date\r" + "\r".join(BODY) + "\r"),
        ("bom crlf.csv", "\ufeffCustomer_ID , Date\r\n" + "\r\n".join(BODY)),  # no final newline
    ],
)
def test_lines_keep_provenance_for_every_line_ending(spark, lake, name, data):
    lake.write_bytes(f"{lake.partition_uri(LANDING_PURCHASES, DAY)}/{name}", data.encode("utf-8"))
    files = lake.list_landing_files(LANDING_PURCHASES, [DAY])
    rows = read_lines(spark, files, ["date", "customer_id", "dollar_value"]).orderBy("line_number").collect()
    assert [(r.line_number, r.raw_line) for r in rows] == [(2, BODY[0]), (3, BODY[1]), (5, BODY[3])]
    assert {r.dt for r in rows} == {DAY} and {r.source_file for r in rows} == {f"dt={DAY}/{name}"}
    assert rows[0].header == ["customer_id", "date"]
    assert rows[0].fields == ["00001", "19970102", "1", "11.77"]
    assert (rows[0]._position_of_date, rows[0]._position_of_customer_id, rows[0].missing_columns) == (2, 1, "dollar_value")
    assert count_data_lines(spark, files) == {DAY: 3}  # the independent count agrees
