"""Delimited text files in landing, read line by line with their provenance.

Every data line keeps the file it came from (relative to its landing table), its line number
and its raw text, so a rejected row can be quarantined exactly as it arrived. Columns are
found by header name, so a file whose producer reorders columns still reads correctly.
Spark's CSV reader drops provenance and line numbers; hence this small reader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from datalake_platform.lake.storage import LandingFile
from datalake_platform.lake.tables import PARTITION_COLUMN

MAX_LINE_CHARS = 1 << 20  # a data line longer than this is not a record of any table we ingest


def read_lines(
    spark: SparkSession,
    files: list[LandingFile],
    columns: Sequence[str] = (),
    delimiter: str = ",",
    duplicates: Mapping[str, str] | None = None,
) -> DataFrame:
    """One row per non-blank data line: dt, source_file, line_number, raw_line, header, fields.

    `header` holds the file's first line split, trimmed and lower-cased; `fields` the line
    split. For each of `columns`, the file's header position is found once per file (see
    `field`), and `missing_columns` lists those its header lacks (`wrong_delimiter` says when
    that is because the file is delimited by `;`, tab or `|` instead); `extra_columns` lists the
    header's other columns, whose values each row carries in `rescued_data` (JSON). `duplicate_of` names the file
    whose bytes this file repeats (from `duplicates`, see ingestion.manifest), else null. Blank
    lines carry no data and are not rows (the conservation check counts the same way).
    """
    positions = [_position(c) for c in columns]
    if not files:
        return spark.createDataFrame(
            [],
            "dt string, source_file string, line_number int, raw_line string, header array<string>, "
            "fields array<string>, missing_columns string, wrong_delimiter boolean, extra_columns array<string>, "
            "duplicate_of string"
            + "".join(f", {p} int" for p in positions)
            + ", rescued_data string",
        )
    text = spark.read.text([f.path for f in files], wholetext=True)
    # Per-file values first, in their own projection: computed inside the explode's projection
    # they would be recomputed from the whole file for every one of its lines.
    # A byte-order mark can only open the file: stripped from the header line alone.
    first_line = F.rtrim(F.regexp_replace(F.col("lines")[0], "^\ufeff", ""), F.lit("\r"))
    header = F.transform(F.split(F.lower(first_line), delimiter), lambda h: F.trim(h))
    expected = F.array(*[F.lit(c) for c in columns]).cast("array<string>")
    # Columns the reader was not asked for: their values are rescued, not dropped (schema drift).
    extra = F.array_except(F.col("header"), expected) if columns else F.array().cast("array<string>")
    per_file = (
        text.select(_source_file().alias("source_file"), F.is_valid_utf8("value").alias("_utf8"), "value")
        .select("source_file", "_utf8", _split_lines(_byte_preserving(F.col("value"), F.col("_utf8"))).alias("lines"))
        .select(
            _day_of(F.col("source_file")).alias(PARTITION_COLUMN),
            "source_file",
            "_utf8",
            header.alias("header"),
            F.slice("lines", 2, F.greatest(F.size("lines") - 1, F.lit(0))).alias("lines"),
        )
        .select(
            "*",
            F.array_join(F.array_except(expected, F.col("header")), ",").alias("missing_columns"),
            _other_delimiter(F.col("header"), delimiter).alias("wrong_delimiter"),
            extra.alias("extra_columns"),
            F.transform(extra, lambda c: F.array_position("header", c).cast("int")).alias("_extra_positions"),
            *[F.array_position("header", c).cast("int").alias(p) for c, p in zip(columns, positions)],
        )
    )
    carried = [
        PARTITION_COLUMN, "source_file", "header", "missing_columns", "wrong_delimiter", "extra_columns", "_extra_positions",
        *positions,
    ]
    exploded = per_file.select(*carried, "_utf8", F.posexplode("lines").alias("pos", "raw_line")).select(
        *carried, "pos", F.rtrim(_original_bytes(F.col("raw_line"), F.col("_utf8")), F.lit("\r")).alias("raw_line")
    )
    rows = exploded.where(F.trim("raw_line") != "").select(
        PARTITION_COLUMN,
        "source_file",
        (F.col("pos") + 2).cast("int").alias("line_number"),  # 1-based, after the header
        "raw_line",
        "header",
        F.split("raw_line", delimiter, -1).alias("fields"),
        "missing_columns",
        "wrong_delimiter",
        "extra_columns",
        "_extra_positions",
        _duplicate_of(duplicates or {}).alias("duplicate_of"),
        *positions,
    )
    return rows.select("*", _rescued(F.col("extra_columns"), F.col("_extra_positions")).alias("rescued_data")).drop(
        "_extra_positions"
    )


OTHER_DELIMITERS = ";\t|"


def _other_delimiter(header: Column, delimiter: str) -> Column:
    """True when the header is one field that another common delimiter would split: the file uses that one."""
    others = "".join(d for d in OTHER_DELIMITERS if d != delimiter)
    return (F.size(header) == 1) & F.element_at(header, 1).rlike(f"[{others}]")


def _byte_preserving(text: Column, utf8: Column) -> Column:
    """A file's text, made safe to split when its bytes are not all UTF-8.

    Splitting goes through Java strings, which would replace invalid bytes with U+FFFD and lose
    them. Such a file is read as ISO-8859-1 instead (one char per byte, nothing lost) and each
    line is turned back into its own bytes after the split (`_original_bytes`).
    """
    return F.when(utf8, text).otherwise(F.decode(text.cast("binary"), "ISO-8859-1"))


def _original_bytes(line: Column, utf8: Column) -> Column:
    # binary -> string keeps the bytes as they are: a line that is not UTF-8 stays detectable.
    return F.when(utf8, line).otherwise(F.encode(line, "ISO-8859-1").cast("string"))


def _rescued(names: Column, positions: Column) -> Column:
    """The values of a file's extra columns as a JSON object, `{"column": "value"}`; null if none."""
    values = F.transform(positions, lambda p: F.try_element_at("fields", p))
    return F.when(F.size(names) > 0, F.to_json(F.map_from_arrays(names, values)))


def quarantined(rejected: DataFrame) -> DataFrame:
    """Rejected lines as quarantine keeps them: dt, source_file, line_number, raw_line, raw_bytes, reason.

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


def _duplicate_of(duplicates: Mapping[str, str]) -> Column:
    if not duplicates:
        return F.lit(None).cast("string")
    pairs = [F.lit(x) for item in sorted(duplicates.items()) for x in item]
    return F.element_at(F.create_map(*pairs), F.col("source_file"))


def _position(column: str) -> str:
    return f"_position_of_{column}"


def _split_lines(text: Column) -> Column:
    r"""A file's lines, ending in LF or CRLF (CR stripped after the split), or CR alone.

    Splitting on one plain character takes Java's fast path; the equivalent regex
    (`\r\n|\n|\r`) made this the slowest step of ingestion. A file that mixes lone CRs
    into LF lines keeps them inside lines; the conservation check, which counts with
    Hadoop's line reader, would then flag the file rather than lose its rows.
    """
    return F.when(F.instr(text, "\n") > 0, F.split(text, "\n")).otherwise(F.split(text, "\r"))


def field(name: str) -> Column:
    """The trimmed value of column `name` (one of `read_lines`'s `columns`); null when the file lacks it."""
    position = F.col(_position(name))
    return F.when(position > 0, F.trim(F.try_element_at("fields", position)))


def count_data_lines(spark: SparkSession, files: list[LandingFile]) -> dict[str, int]:
    """Non-blank lines after each file's header, per day: an independent count for conservation.

    Reads with Spark's line reader (not the wholetext path above), so a bug in one shows up
    as a difference against the other.
    """
    if not files:
        return {}
    lines = spark.read.text([f.path for f in files]).where(F.trim("value") != "")
    per_file = lines.groupBy(F.col("_metadata.file_path").alias("path")).count()
    per_day = per_file.groupBy(_day_of(_relative(F.col("path"))).alias("day")).agg(
        F.sum(F.col("count") - 1).alias("n")  # every file's first non-blank line is its header
    )
    return {r["day"]: int(r["n"]) for r in per_day.collect()}


def _relative(path: Column) -> Column:
    """`dt=YYYY-MM-DD/name` from the URI Spark reports, which is URL-encoded (`%20` for a space)."""
    decoded = F.url_decode(F.replace(path, F.lit("+"), F.lit("%2B")))  # a literal '+' stays '+'
    return F.regexp_extract(decoded, r"([^/]+/[^/]+)$", 1)


def _source_file() -> Column:
    return _relative(F.col("_metadata.file_path"))


def _day_of(source_file: Column) -> Column:
    return F.regexp_extract(source_file, f"^{PARTITION_COLUMN}=([^/]+)/", 1)
