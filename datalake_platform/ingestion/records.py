"""Landing records with their provenance, whatever the file's format, and the reasons to reject them.

Every record keeps the file it came from (relative to its landing table), its line number and
its raw text, so a rejected row can be quarantined exactly as it arrived. Columns are found by
name, in any order; columns nobody asked for are kept as JSON (`rescued_data`). The format is
told by the file's name: JSON lines (`.jsonl`, `.ndjson`, `.json`) or delimited text (any other).
Domains add their own row rules after `INGESTION_REASONS`, which are about the file and record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from datalake_platform.compat import spark as compat
from datalake_platform.ingestion import delimited, jsonlines, lines
from datalake_platform.ingestion.layout import field, position, rescued
from datalake_platform.ingestion.text import (
    COMPRESSION_SUFFIXES,
    check_file_keys,
    file_key,
    landing_text,
    relative,
    source_file,
)
from datalake_platform.lake.storage import LakeStorage, LandingFile
from datalake_platform.lake.table_refs import PARTITION_COLUMN, TableRef

__all__ = [
    "INGESTION_REASONS",
    "MAX_LINE_CHARS",
    "LandingCount",
    "count_landing",
    "count_records",
    "field",
    "ingestion_reasons",
    "per_day",
    "quarantined",
    "quoted_files",
    "read_records",
    "rescued_columns",
    "unreadable_files",
]

MAX_LINE_CHARS = 1 << 20  # a record longer than this is not a record of any table we ingest

# Why a record cannot be a row, whatever its table: checked first, in this order.
INGESTION_REASONS = (
    "duplicate_file",
    "unreadable_file",
    "not_utf8",
    "line_too_long",
    "malformed_record",
    "wrong_delimiter",
    "missing_column",
    "wrong_field_count",
)


def read_records(
    spark: SparkSession,
    files: list[LandingFile],
    columns: Sequence[str] = (),
    delimiter: str = ",",
    duplicates: Mapping[str, str] | None = None,
    unreadable: Mapping[str, str] | None = None,
    quoted: frozenset[str] | None = None,
    per_file: Mapping[str, Column] | None = None,
) -> DataFrame:
    """One row per non-blank data record: dt, source_file, file_key, line_number, raw_line, header, fields, ...

    `header` holds the record's column names (a delimited file's header, trimmed and lower-cased;
    a JSON line's keys), `fields` its values. For each of `columns`, `field(column)` reads its
    value; `missing_columns` lists those the record lacks (`wrong_delimiter` says when that is
    because the file is delimited by `;`, tab or `|` instead); `extra_columns` lists the others,
    whose values are in `rescued_data` (JSON). `malformed` is set for a record that cannot be
    parsed. `duplicate_of` names the file whose bytes this file repeats (from `duplicates`, see
    ingestion.manifest), else null. `file_key` is short and unique among a day's files (two that
    collide are refused): with `line_number` it makes a record's stable, unique key. Files in
    `unreadable` (see `unreadable_files`) are not read: each is one record, line 0, `malformed` =
    unreadable_file. `quoted` names the delimited files with quotes, if `count_landing` or
    `quoted_files` has already told. `per_file` names values computed once per file from dt,
    source_file and file_key, which each of its records carries (cheaper than once per record).
    """
    check_file_keys(files)
    unreadable = unreadable or {}
    per_file = per_file or {}
    unreadable_rows = lambda: _unreadable_records(  # noqa: E731
        spark, [f for f in files if f.relative_path in unreadable], columns
    ).select("*", *[c.alias(n) for n, c in per_file.items()])
    # Rows made on the driver are a Python RDD: made only when there are some (or nothing else).
    parts = [unreadable_rows()] if unreadable else []
    files = [f for f in files if f.relative_path not in unreadable]
    json_files = [f for f in files if jsonlines.is_json_lines(f.name)]
    other = [f for f in files if f not in json_files]
    if quoted is None:
        quoted = quoted_files(spark, other)
    if plain := [f for f in other if f.relative_path not in quoted]:
        parts.append(delimited.delimited_records(landing_text(spark, plain, per_file), columns, delimiter))
    if with_quotes := [f for f in other if f.relative_path in quoted]:
        parts.append(delimited.quoted_records(landing_text(spark, with_quotes, per_file), columns, delimiter))
    if json_files:
        parts.append(jsonlines.json_records(landing_text(spark, json_files, per_file), columns))
    records = reduce(DataFrame.unionByName, parts or [unreadable_rows()])
    return records.select(
        "*", _duplicate_of(duplicates or {}).alias("duplicate_of"), rescued().alias("rescued_data")
    ).drop("_extra_positions")


def unreadable_files(spark: SparkSession, files: list[LandingFile]) -> dict[str, str]:
    """Compressed files that cannot be decompressed, with the error: {relative path: message}.

    Spark decompresses `.gz`, `.bz2`, ... landing files by their suffix, and one corrupt file
    would fail the whole read. Each compressed file is read alone first (a job per file: they
    are few), so a broken one is set aside by name and quarantined whole.
    """
    broken = {}
    for f in files:
        if f.name.lower().endswith(COMPRESSION_SUFFIXES):
            try:
                spark.read.text(f.path).count()
            except Exception as error:
                broken[f.relative_path] = _cause(error)
    return broken


def _cause(error: Exception) -> str:
    """The innermost Java exception's one-line message, not the whole stack trace."""
    causes = [line.strip() for line in str(error).splitlines() if "Exception:" in line or "Error:" in line]
    return (causes[-1] if causes else str(error).splitlines()[0]).removeprefix("Caused by: ")[:500]


def _unreadable_records(spark: SparkSession, files: list[LandingFile], columns: Sequence[str]) -> DataFrame:
    rows = [
        (
            f.day,
            f.relative_path,
            file_key(f.relative_path),
            [],
            False,
            "",
            [],
            [],
            *[None] * len(columns),
            0,
            "",
            [],
            "unreadable_file",
        )
        for f in files
    ]
    return spark.createDataFrame(rows, _record_schema(columns))


def quoted_files(spark: SparkSession, files: list[LandingFile]) -> frozenset[str]:
    """The delimited files that contain a double quote: they take the quote-aware path.

    One cheap pass over the files (no split, no parse): most landing files have no quotes and
    keep the fast path, whose plan has no Python in it.
    """
    if not files:
        return frozenset()
    text = spark.read.text([f.path for f in files], wholetext=True)  # the bytes as they are: no decoding needed
    quoted = text.where(delimited.has_quotes(F.col("value"))).select(source_file().alias("source_file"))
    return frozenset(r.source_file for r in quoted.collect())


def ingestion_reasons() -> list[tuple[str, Column]]:
    """`INGESTION_REASONS` as conditions on `read_records`'s rows, in order."""
    broken = [
        F.col("duplicate_of").isNotNull(),
        F.col("malformed") == "unreadable_file",
        ~compat.is_valid_utf8("raw_line"),
        F.length("raw_line") > MAX_LINE_CHARS,
        F.col("malformed") == "malformed_record",
        F.col("wrong_delimiter"),
        F.col("missing_columns") != "",
        F.size("fields") != F.size("header"),
    ]
    return list(zip(INGESTION_REASONS, broken, strict=True))


def quarantined(rejected: DataFrame) -> DataFrame:
    """Rejected records as quarantine keeps them: dt, source_file, line_number, raw_line, raw_bytes, reason.

    `raw_line` is always valid text (parquet strings must be UTF-8; bytes that are not become
    U+FFFD); `raw_bytes` keeps the exact bytes of a line that was not UTF-8, so nothing is lost.
    """
    raw = F.col("raw_line")
    return rejected.select(
        F.to_date(PARTITION_COLUMN).alias(PARTITION_COLUMN),
        "source_file",
        "line_number",
        compat.make_valid_utf8(raw).alias("raw_line"),
        F.when(~compat.is_valid_utf8(raw), raw.cast("binary")).alias("raw_bytes"),
        "reason",
    )


def rescued_columns(
    spark: SparkSession, storage: LakeStorage, ref: TableRef, days: list[str], column: str
) -> list[str]:
    """The landing columns whose values the rows of `ref`'s `days` keep as JSON in `column` (see
    `read_records`). Only the files whose footers say they rescued something are read, if any."""
    files = storage.files_with_values(storage.partition_files(ref, days), column)
    if not files:
        return []
    rows = spark.read.parquet(*files).select(column)
    keys = rows.where(F.col(column).isNotNull()).select(F.explode(F.json_object_keys(column)).alias("key")).distinct()
    return sorted(r.key for r in keys.collect())


@dataclass(frozen=True)
class LandingCount:
    """Each landing file's data records, counted independently of `read_records`."""

    records: Mapping[str, int]  # relative path -> data records (an unreadable file is one)
    quoted: frozenset[str]  # the delimited files with quotes, found on the way


def per_day(files: list[LandingFile], records: Mapping[str, int]) -> dict[str, int]:
    """`records` (per file, see `LandingCount`) summed per day of `files`."""
    days: dict[str, int] = {}
    for f in files:
        days[f.day] = days.get(f.day, 0) + records[f.relative_path]
    return days


def count_landing(
    spark: SparkSession, files: list[LandingFile], unreadable: Mapping[str, str] | None = None, on_driver: bool = True
) -> LandingCount:
    """Data records per file, for the conservation check, by other readers than `read_records`.

    Non-blank lines (minus each delimited file's header), counted from the bytes on the driver
    for files on a local disk (see `ingestion.lines`; unless `on_driver` is False), else by
    Spark's line reader; for delimited files with quotes, records by Spark's own CSV reader in
    multi-line mode. A bug in either reader shows up as a difference against the other.
    `unreadable`: see `unreadable_files` (found here when not given).
    """
    if unreadable is None:
        unreadable = unreadable_files(spark, files)
    readable = [f for f in files if f.relative_path not in unreadable]
    local = {f.relative_path for f in readable if on_driver and lines.countable_on_driver(f.path)}
    line_records, quoted = _count_lines(spark, [f for f in readable if f.relative_path not in local])
    driver_records, driver_quoted = _count_lines_on_driver([f for f in readable if f.relative_path in local])
    line_records, quoted = line_records | driver_records, quoted | driver_quoted
    csv_records = _count_csv_records(spark, [f for f in readable if f.relative_path in quoted])
    records = {f.relative_path: 1 if f.relative_path in unreadable else 0 for f in files}  # an empty file has no line
    return LandingCount(records | line_records | csv_records, frozenset(quoted))


def count_records(spark: SparkSession, files: list[LandingFile]) -> dict[str, int]:
    """Data records per day (see `count_landing`)."""
    return per_day(files, count_landing(spark, files).records)


def _count_lines(spark: SparkSession, files: list[LandingFile]) -> tuple[dict[str, int], set[str]]:
    """Per file, data lines of the files whose lines are their records; and the delimited files with
    quotes, whose records must be counted by a CSV reader instead (found in the same pass)."""
    if not files:
        return {}, set()
    non_blank = spark.read.text([f.path for f in files]).where(F.trim("value") != "")
    per_file = (
        non_blank.groupBy(F.col("_metadata.file_path").alias("path"))
        .agg(F.count(F.lit(1)).alias("count"), F.bool_or(delimited.has_quotes(F.col("value"))).alias("quotes"))
        .select(
            relative(F.col("path")).alias("file"),
            "count",
            (F.col("quotes") & ~_is_json_lines(F.col("path"))).alias("quoted"),
        )
    )
    rows = per_file.collect()
    quoted = {r.file for r in rows if r.quoted}
    return {r.file: r["count"] - _header_lines(r.file) for r in rows if r.file not in quoted}, quoted


def _count_lines_on_driver(files: list[LandingFile]) -> tuple[dict[str, int], set[str]]:
    """`_count_lines` for local files, from their bytes (see `ingestion.lines`)."""
    counted = {f.relative_path: lines.count_file(f.path) for f in files}
    quoted = {name for name, c in counted.items() if c.quotes and not jsonlines.is_json_lines(name)}
    return {name: max(c.lines - _header_lines(name), 0) for name, c in counted.items() if name not in quoted}, quoted


def _header_lines(file: str) -> int:
    """A delimited file's first non-blank line is its header; JSON lines have none."""
    return 0 if jsonlines.is_json_lines(file) else 1


def _count_csv_records(spark: SparkSession, files: list[LandingFile]) -> dict[str, int]:
    if not files:
        return {}
    records = spark.read.csv([f.path for f in files], multiLine=True, header=False, quote='"', escape='"')
    per_file = records.groupBy(relative(F.col("_metadata.file_path")).alias("file")).count()
    return {r.file: r["count"] - 1 for r in per_file.collect()}  # less the header


def _is_json_lines(path: Column) -> Column:
    suffixes = "|".join(s.replace(".", r"\.") for s in jsonlines.SUFFIXES)
    codecs = "|".join(c.replace(".", r"\.") for c in COMPRESSION_SUFFIXES)
    return F.lower(path).rlike(f"({suffixes})({codecs})?$")


def _duplicate_of(duplicates: Mapping[str, str]) -> Column:
    if not duplicates:
        return F.lit(None).cast("string")
    pairs = [F.lit(x) for item in sorted(duplicates.items()) for x in item]
    return F.element_at(F.create_map(*pairs), F.col("source_file"))


def _record_schema(columns: Sequence[str]) -> str:
    """The columns every format's records have, before duplicates and rescued data are added."""
    return (
        "dt string, source_file string, file_key string, header array<string>, wrong_delimiter boolean, "
        "missing_columns string, extra_columns array<string>, _extra_positions array<int>, "
        + "".join(f"{position(c)} int, " for c in columns)
        + "line_number int, raw_line string, fields array<string>, malformed string"
    )
