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

from datalake_platform.ingestion import delimited, jsonlines
from datalake_platform.ingestion.layout import field, position, rescued
from datalake_platform.ingestion.text import (
    COMPRESSION_SUFFIXES, check_file_keys, day_of, file_key, landing_text, relative, source_file,
)
from datalake_platform.lake.storage import LandingFile
from datalake_platform.lake.tables import PARTITION_COLUMN

__all__ = [
    "INGESTION_REASONS", "MAX_LINE_CHARS", "LandingProfile", "count_records", "field", "ingestion_reasons", "profile_files",
    "quarantined", "read_records", "rescued_columns", "unreadable_files",
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
    unreadable_file. `quoted` names the delimited files with quotes, if a `profile_files` of
    these files has already told.
    """
    check_file_keys(files)
    unreadable = unreadable or {}
    parts = [_unreadable_records(spark, [f for f in files if f.relative_path in unreadable], columns)]
    files = [f for f in files if f.relative_path not in unreadable]
    json_files = [f for f in files if jsonlines.is_json_lines(f.name)]
    other = [f for f in files if f not in json_files]
    if quoted is None:
        quoted = profile_files(spark, other).quoted
    if plain := [f for f in other if f.relative_path not in quoted]:
        parts.append(delimited.delimited_records(landing_text(spark, plain), columns, delimiter))
    if with_quotes := [f for f in other if f.relative_path in quoted]:
        parts.append(delimited.quoted_records(landing_text(spark, with_quotes), columns, delimiter))
    if json_files:
        parts.append(jsonlines.json_records(landing_text(spark, json_files), columns))
    records = reduce(DataFrame.unionByName, parts)
    return records.select("*", _duplicate_of(duplicates or {}).alias("duplicate_of"), rescued().alias("rescued_data")).drop(
        "_extra_positions"
    )


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
            except Exception as error:  # noqa: BLE001 - whatever the codec raises, the file is unreadable
                broken[f.relative_path] = _cause(error)
    return broken


def _cause(error: Exception) -> str:
    """The innermost Java exception's one-line message, not the whole stack trace."""
    causes = [line.strip() for line in str(error).splitlines() if "Exception:" in line or "Error:" in line]
    return (causes[-1] if causes else str(error).splitlines()[0]).removeprefix("Caused by: ")[:500]


def _unreadable_records(spark: SparkSession, files: list[LandingFile], columns: Sequence[str]) -> DataFrame:
    rows = [
        (f.day, f.relative_path, file_key(f.relative_path), [], False, "", [], [], *[None] * len(columns), 0, "", [], "unreadable_file")
        for f in files
    ]
    return spark.createDataFrame(rows, _record_schema(columns))


@dataclass(frozen=True)
class LandingProfile:
    """What one cheap pass over landing files tells before they are parsed."""

    quoted: frozenset[str]  # delimited files with a double quote: they take the quote-aware path
    lines: Mapping[str, int]  # each file's lines, blank ones included

    def most_records(self, f: LandingFile) -> int:
        """An upper bound of the file's data records (an unprofiled, unreadable file is one record)."""
        if f.relative_path not in self.lines:
            return 1
        header = 0 if jsonlines.is_json_lines(f.name) else 1
        return max(self.lines[f.relative_path] - header, 0)


def profile_files(spark: SparkSession, files: list[LandingFile]) -> LandingProfile:
    """One pass over the files' bytes (no split, no parse): which have quotes, how many lines.

    Most landing files have no quotes and keep the fast path, whose plan has no Python in it.
    Lines are line breaks counted by their bytes (LF, or CR in a file without LF), plus an
    unterminated last line.
    """
    if not files:
        return LandingProfile(frozenset(), {})
    text = F.col("value")  # the bytes as they are: no decoding needed
    size = F.octet_length(text)
    lf, cr = (size - F.octet_length(F.replace(text, F.lit(c), F.lit(""))) for c in ("\n", "\r"))
    unterminated = (size > 0) & ~text.endswith("\n") & ~text.endswith("\r")
    lines = F.when(lf > 0, lf).otherwise(cr) + unterminated.cast("int")
    per_file = spark.read.text([f.path for f in files], wholetext=True).select(
        source_file().alias("source_file"), delimited.has_quotes(text).alias("quotes"), lines.alias("lines")
    )
    rows = per_file.collect()
    delimited_files = {f.relative_path for f in files if not jsonlines.is_json_lines(f.name)}
    quoted = frozenset(r.source_file for r in rows if r.quotes and r.source_file in delimited_files)
    empty = {f.relative_path: 0 for f in files}  # Spark gives an empty file no row
    return LandingProfile(quoted, empty | {r.source_file: r.lines for r in rows})


def ingestion_reasons() -> list[tuple[str, Column]]:
    """`INGESTION_REASONS` as conditions on `read_records`'s rows, in order."""
    broken = [
        F.col("duplicate_of").isNotNull(),
        F.col("malformed") == "unreadable_file",
        ~F.is_valid_utf8("raw_line"),
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
        F.make_valid_utf8(raw).alias("raw_line"),
        F.when(~F.is_valid_utf8(raw), raw.cast("binary")).alias("raw_bytes"),
        "reason",
    )


def rescued_columns(rows: DataFrame, column: str) -> list[str]:
    """The landing columns whose values `rows` keep as JSON in `column` (see `read_records`).

    Only rows that rescued something are read: parquet's null counts let Spark skip the rest.
    """
    keys = rows.where(F.col(column).isNotNull()).select(F.explode(F.json_object_keys(column)).alias("key")).distinct()
    return sorted(r.key for r in keys.collect())


def count_records(spark: SparkSession, files: list[LandingFile]) -> dict[str, int]:
    """Data records per day, counted independently of `read_records`, for the conservation check.

    Non-blank lines by Spark's line reader (minus each delimited file's header); for delimited
    files with quotes, records by Spark's own CSV reader in multi-line mode. A bug in either
    reader shows up as a difference against the other. An unreadable file counts as one record.
    """
    unreadable = unreadable_files(spark, files)
    counts: dict[str, int] = {}
    for f in files:
        if f.relative_path in unreadable:
            counts[f.day] = counts.get(f.day, 0) + 1
    readable = [f for f in files if f.relative_path not in unreadable]
    lines, quoted = _count_lines(spark, readable)
    for day, n in lines.items():
        counts[day] = counts.get(day, 0) + n
    for day, n in _count_csv_records(spark, [f for f in readable if f.relative_path in quoted]).items():
        counts[day] = counts.get(day, 0) + n
    return counts


def _count_lines(spark: SparkSession, files: list[LandingFile]) -> tuple[dict[str, int], set[str]]:
    """Per day, data lines of the files whose lines are their records; and the delimited files with
    quotes, whose records must be counted by a CSV reader instead (found in the same pass)."""
    if not files:
        return {}, set()
    lines = spark.read.text([f.path for f in files]).where(F.trim("value") != "")
    per_file = lines.groupBy(F.col("_metadata.file_path").alias("path")).agg(
        F.count(F.lit(1)).alias("count"), F.bool_or(delimited.has_quotes(F.col("value"))).alias("quotes")
    ).select(relative(F.col("path")).alias("file"), "count", (F.col("quotes") & ~_is_json_lines(F.col("path"))).alias("quoted"))
    rows = per_file.collect()
    quoted = {r.file for r in rows if r.quoted}
    counts: dict[str, int] = {}
    for r in rows:
        if r.file not in quoted:
            day = r.file.split("/", 1)[0].split("=", 1)[1]
            header = 0 if jsonlines.is_json_lines(r.file) else 1  # a delimited file's first non-blank line
            counts[day] = counts.get(day, 0) + r["count"] - header
    return counts, quoted


def _count_csv_records(spark: SparkSession, files: list[LandingFile]) -> dict[str, int]:
    if not files:
        return {}
    records = spark.read.csv([f.path for f in files], multiLine=True, header=False, quote='"', escape='"')
    per_file = records.groupBy(F.col("_metadata.file_path").alias("path")).count()
    per_day = per_file.groupBy(day_of(relative(F.col("path"))).alias("day")).agg(F.sum(F.col("count") - 1).alias("n"))
    return {r["day"]: int(r["n"]) for r in per_day.collect()}


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
