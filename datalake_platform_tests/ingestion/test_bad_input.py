"""Bad files dropped beside a day's real file: the good rows are kept, every other row has a reason, nothing is lost."""

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from datalake_platform.domains.transactions.tables import LANDING, LANDING_PURCHASES, PURCHASES
from datalake_platform.ingestion.records import MAX_LINE_CHARS
from datalake_platform_tests.conftest import check_results, land_cdnow_day, materialize, table_frame

DAY = "1997-01-02"
HEADER = b"customer_id,date,number_of_cds,dollar_value\n"
UNIVERSAL = "universal/transactions/purchases"

# file name -> (bytes, {line number: quarantine reason}); lines not listed are good rows.
BAD_FILES = {
    "empty.csv": (b"", {}),
    "header_only.csv": (HEADER, {}),
    "semicolons.csv": (b"customer_id;date;number_of_cds;dollar_value\n00001;19970102;1;1.00\n", {2: "wrong_delimiter"}),
    "tabs.csv": (b"customer_id\tdate\tnumber_of_cds\tdollar_value\n00001\t19970102\t1\t1.00\n", {2: "wrong_delimiter"}),
    "truncated.csv": (HEADER + b"00001,19970102,1,1.00\n00002,19970102,1", {3: "wrong_field_count"}),
    "latin1.csv": (HEADER + "Jos\xe9,19970102,1,1.00\n".encode("latin-1"), {2: "not_utf8"}),
    "long_line.csv": (HEADER + b"00001,19970102,1,1.00,x" + b"x" * MAX_LINE_CHARS + b"\n", {2: "line_too_long"}),
    "decimal_comma.csv": (HEADER + b"00001,19970102,1,5,00\n", {2: "wrong_field_count"}),
    "date_formats.csv": (
        HEADER + b"00001,1997-01-02,1,1.00\n00001,02/01/1997,1,1.00\n",
        {2: "unparseable_date", 3: "unparseable_date"},
    ),
    "amounts.csv": (
        HEADER + b"00001,19970102,1,-1.00\n00001,19970102,1,99999999999.99\n00001,19970102,1,1.001\n",
        {2: "negative_amount", 3: "unparseable_amount", 4: "unparseable_amount"},
    ),
    "blank_person.csv": (HEADER + b" ,19970102,1,1.00\n,19970102,1,1.00\n", {2: "missing_person", 3: "missing_person"}),
    # Whitespace inside an id (spaces around it are trimmed): a tab, a space, a form feed.
    "malformed_person.csv": (
        HEADER + b"00001\t,19970102,1,1.00\n000 02,19970102,1,1.00\n\x0c00003,19970102,1,1.00\n",
        {2: "malformed_person", 3: "malformed_person", 4: "malformed_person"},
    ),
    "field_counts.csv": (
        HEADER + b"00001,19970102,1,1.00,extra\n00001,19970102\n",
        {2: "wrong_field_count", 3: "wrong_field_count"},
    ),
    "quantities.csv": (
        HEADER + b"00001,19970102,0,1.00\n00001,19970102,100000,1.00\n00001,19970102,1.5,1.00\n",
        {2: "quantity_out_of_range", 3: "quantity_out_of_range", 4: "unparseable_quantity"},
    ),
    "día de compras.csv": (HEADER + b"00009,19970102,1,9.99\n", {}),
    "crlf.csv": (HEADER.replace(b"\n", b"\r\n") + b"00010,19970102,2,3.00\r\n", {}),
}
# Quoted fields keep their commas and line breaks (RFC 4180); a record spanning lines is one row.
QUOTED = (
    b'customer_id,date,number_of_cds,dollar_value,note\n"00011","19970102","1","1.00","a, b"\n'
    b'00012,19970102,1,"1,234.50",\n00013,19970102,2,4.00,"two\nlines"\n'
)
BAD_FILES["quoted.csv"] = (QUOTED, {3: "unparseable_amount"})
# An unterminated quote runs to the end of the file: one record, whose last field is not an amount.
BAD_FILES["unterminated_quote.csv"] = (
    HEADER + b'00014,19970102,1,"1.00\n00015,19970102,1,1.00\n',
    {2: "unparseable_amount"},
)
BAD_FILES["purchases.jsonl"] = (
    b'{"customer_id": "00016", "date": "19970102", "number_of_cds": 1, "dollar_value": 2.00}\n'
    b'{"customer_id": "00017", "date": "19970102"\n'  # truncated object
    b'{"customer_id": "00018", "date": "19970102", "number_of_cds": 1}\n'
    b"\xff\xfe\n",
    {2: "malformed_record", 3: "missing_column", 4: "not_utf8"},
)
# Compressed files are read through their codec; one that cannot be decompressed is quarantined whole (line 0).
BAD_FILES["good.csv.gz"] = (gzip.compress(HEADER + b"00019,19970102,1,1.00\n"), {})
BAD_FILES["broken.csv.gz"] = (b"\x1f\x8b but not gzip after all", {0: "unreadable_file"})


@pytest.fixture
def landed(lake, cdnow):
    real = land_cdnow_day(lake, cdnow, DAY)
    for name, (data, _) in BAD_FILES.items():
        lake.write_bytes(f"{lake.partition_uri(LANDING_PURCHASES, DAY)}/{name}", data)
    return real


def _landing_snapshot(lake) -> dict[str, tuple[bytes, int]]:
    """Every file under landing: its bytes and modification time (ns)."""
    root = Path(lake.table_uri(LANDING_PURCHASES))
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_a_mixture_of_bad_files_keeps_the_good_rows_and_quarantines_the_rest(lake, landed):
    before = _landing_snapshot(lake)
    result = materialize(lake, UNIVERSAL, partition_key=DAY)
    assert result.success
    assert _landing_snapshot(lake) == before  # landing is never modified, moved or deleted

    quarantined = table_frame(lake, PURCHASES.quarantine(), DAY)
    got = {(r.source_file, r.line_number): r.reason for r in quarantined.itertuples()}
    expected = {
        (f"dt={DAY}/{name}", line): reason
        for name, (_, reasons) in BAD_FILES.items()
        for line, reason in reasons.items()
    }
    assert got == expected

    good_rows = {
        "truncated.csv": 1,
        "día de compras.csv": 1,
        "crlf.csv": 1,
        "quoted.csv": 2,
        "purchases.jsonl": 1,
        "good.csv.gz": 1,
    }
    universal = table_frame(lake, PURCHASES, DAY)
    assert len(universal) == landed + sum(good_rows.values())
    assert json.loads(universal[universal.ID_PERSONA == "00013"]._rescued_data.iloc[0]) == {"note": "two\nlines"}
    assert universal[universal.ID_PERSONA == "00016"].MONTO.astype(str).tolist() == ["2.00"]
    crlf = universal[universal.ID_PERSONA == "00010"].iloc[0]
    assert (crlf.CANTIDAD, str(crlf.MONTO)) == (2, "3.00")  # no stray \r in the last field
    # the non-ASCII name with a space is read back exactly (it is part of the row's ID)
    key = hashlib.sha256(f"dt={DAY}/día de compras.csv".encode()).hexdigest()[:12]
    expected_id = f"{DAY.replace('-', '')}-{key}-2"
    assert universal[universal.ID_PERSONA == "00009"].ID_TRANSACCION.tolist() == [expected_id]

    # Nothing lost: landing data lines = universal + quarantine, and the metadata counts both.
    conservation = check_results(result)[f"{UNIVERSAL}:nothing_lost"]
    assert conservation.passed
    assert conservation.metadata["universal_rows"].value == len(universal)
    assert conservation.metadata["quarantine_rows"].value == len(quarantined)
    meta = result.asset_materializations_for_node("universal__transactions__purchases")[0].metadata
    assert meta["quarantined_rows"].value == len(quarantined)
    assert sum(meta["quarantine_reasons"].value.values()) == len(quarantined)
    assert list(meta["unreadable_files"].value) == [f"dt={DAY}/broken.csv.gz"]  # named, with the codec's error


def test_a_line_that_is_not_utf8_keeps_its_exact_bytes_in_quarantine(lake, landed):
    assert materialize(lake, UNIVERSAL, partition_key=DAY).success
    quarantined = table_frame(lake, PURCHASES.quarantine(), DAY).set_index("source_file")
    row = quarantined.loc[f"dt={DAY}/latin1.csv"]
    assert row.raw_bytes == "Jos\xe9,19970102,1,1.00".encode("latin-1")
    assert row.raw_line == "Jos\ufffd,19970102,1,1.00"  # readable text, marked where bytes were invalid
    assert quarantined.loc[f"dt={DAY}/amounts.csv"].raw_bytes.isna().all()  # valid lines need no bytes


def test_the_records_of_a_malformed_day_folder_are_quarantined_whole(lake, landed):
    misplaced = {
        "19970102": b"00001,19970102,1,1.00\n00002,19970102,2,2.00\n",
        "1997-13-01": b"00003,19970102,1,3.00\n",
    }
    for folder, body in misplaced.items():
        lake.write_bytes(f"{lake.partition_uri(LANDING_PURCHASES, folder)}/a.csv", HEADER + body)
    before = _landing_snapshot(lake)
    result = materialize(lake, "quarantine/transactions/purchases_misplaced")
    assert _landing_snapshot(lake) == before
    assert result.success and check_results(result)["quarantine/transactions/purchases_misplaced:nothing_lost"].passed
    rows = table_frame(lake, LANDING.misplaced).sort_values(["source_file", "line_number"])
    assert [(r.source_file, r.line_number, r.raw_line, r.reason) for r in rows.itertuples()] == [
        ("dt=1997-13-01/a.csv", 2, "00003,19970102,1,3.00", "malformed_partition_folder"),
        ("dt=19970102/a.csv", 2, "00001,19970102,1,1.00", "malformed_partition_folder"),
        ("dt=19970102/a.csv", 3, "00002,19970102,2,2.00", "malformed_partition_folder"),
    ]
    assert materialize(lake, UNIVERSAL, partition_key=DAY).success  # the day's own ingestion is not disturbed
