"""Delimited (CSV) landing files: one record per line, or per quoted record where fields are quoted.

Spark's CSV reader drops provenance and line numbers, hence this reader. A file without a
double quote is split on its line breaks and delimiters by Spark alone (the fast path, which
all of CDNOW takes). A file with quotes is parsed by Python's `csv` module, which knows that
a quoted field may hold the delimiter or a line break (RFC 4180); its records keep the line
number where they start and their raw text, line breaks included.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from datalake_platform.ingestion.layout import layout
from datalake_platform.ingestion.text import (
    carried_columns,
    numbered_lines,
    original_bytes,
    split_lines,
    trailing_crs_removed,
    without_trailing_cr,
)

OTHER_DELIMITERS = ";\t|"
QUOTE = '"'
csv.field_size_limit(2**31 - 1)  # overlong records are judged downstream (line_too_long), not by csv


def delimited_records(per_file: DataFrame, columns: Sequence[str], delimiter: str) -> DataFrame:
    """Records of files without quotes: each non-blank line after the header, split on `delimiter`."""
    # Per-file values first, in their own projection: computed inside the explode's projection
    # they would be recomputed from the whole file for every one of its lines.
    # A byte-order mark can only open the file: stripped from the header line alone.
    carried = carried_columns(per_file)
    lines = per_file.select(*carried, "utf8", split_lines(F.col("text")).alias("lines"))
    first_line = trailing_crs_removed(F.regexp_replace(F.col("lines")[0], "^\ufeff", ""))
    files = lines.select(
        *carried,
        "utf8",
        F.transform(F.split(F.lower(first_line), delimiter), lambda h: F.trim(h)).alias("header"),
        F.slice("lines", 2, F.greatest(F.size("lines") - 1, F.lit(0))).alias("lines"),
    ).select("*", *_file_layout(columns, delimiter))
    carried = [c for c in files.columns if c not in ("utf8", "lines")]
    return numbered_lines(files, carried, first=2).select(  # line 1 is the header
        "*", F.split("raw_line", delimiter, -1).alias("fields"), F.lit(None).cast("string").alias("malformed")
    )


def quoted_records(per_file: DataFrame, columns: Sequence[str], delimiter: str) -> DataFrame:
    """Records of files with quotes, parsed by Python's csv module (same columns as `delimited_records`)."""
    parse = F.udf(lambda text: parse_csv(text, delimiter), _PARSED)
    carried = carried_columns(per_file)
    parsed = per_file.select(*carried, "utf8", parse("text").alias("parsed"))
    files = parsed.select(
        *carried, "utf8", F.col("parsed.header").alias("header"), F.col("parsed.records").alias("records")
    ).select("*", *_file_layout(columns, delimiter))
    carried = [c for c in files.columns if c not in ("utf8", "records")]
    record = F.col("record")
    return files.select(*carried, "utf8", F.explode("records").alias("record")).select(
        *carried,
        record.line_number.alias("line_number"),
        without_trailing_cr(original_bytes(record.raw_line, F.col("utf8"))).alias("raw_line"),
        record.fields.alias("fields"),
        F.when(record.fields.isNull(), F.lit("malformed_record")).alias("malformed"),
    )


def has_quotes(text: Column) -> Column:
    return F.instr(text, QUOTE) > 0


def _file_layout(columns: Sequence[str], delimiter: str) -> list[Column]:
    return [_other_delimiter(F.col("header"), delimiter).alias("wrong_delimiter"), *layout(F.col("header"), columns)]


def _other_delimiter(header: Column, delimiter: str) -> Column:
    """True when the header is one field that another common delimiter would split: the file uses that one."""
    others = "".join(d for d in OTHER_DELIMITERS if d != delimiter)
    return (F.size(header) == 1) & F.element_at(header, 1).rlike(f"[{others}]")


_PARSED = (
    "struct<header: array<string>, records: array<struct<line_number: int, raw_line: string, fields: array<string>>>>"
)


def parse_csv(text: str | None, delimiter: str) -> dict | None:
    """A file's header (trimmed, lower-cased) and its non-blank data records, quotes understood.

    Line breaks are found as `split_lines` finds them (LF, CRLF, or CR in a file without LF),
    so a file's line numbers are the same whichever path reads it. Records the csv module
    cannot parse are returned line by line without fields (quarantined as malformed_record).
    """
    if text is None:
        return None
    lines = _physical_lines(text.removeprefix("\ufeff"))
    reader = csv.reader(lines, delimiter=delimiter, quotechar=QUOTE, strict=False)
    header: list[str] | None = None
    records = []
    start = 0
    try:
        for fields in reader:
            raw, line_number, start = _raw(lines, start, reader.line_num), start + 1, reader.line_num
            if header is None:
                header = [h.strip().lower() for h in fields]
            elif raw.strip():
                records.append({"line_number": line_number, "raw_line": raw, "fields": fields})
    except csv.Error:  # the rest of the file, line by line, as it arrived
        records += [
            {"line_number": i + 1, "raw_line": _raw(lines, i, i + 1), "fields": None}
            for i in range(start, len(lines))
            if lines[i].strip()
        ]
    return {"header": header or [], "records": records}


def _physical_lines(text: str) -> list[str]:
    """The file's lines with their line breaks, which csv needs to keep breaks inside quoted fields."""
    sep = "\n" if "\n" in text else "\r"
    parts = text.split(sep)
    lines = [p + sep for p in parts[:-1]]
    return lines + [parts[-1]] if parts[-1] else lines


def _raw(lines: list[str], start: int, end: int) -> str:
    """Lines [start, end) as one record's raw text, without its final line break."""
    raw = "".join(lines[start:end])
    return raw[:-1] if raw.endswith(("\n", "\r")) else raw
