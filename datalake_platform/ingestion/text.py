"""Landing files as text, with their provenance: the part every landing format shares.

Each file is read whole (`wholetext`), so its lines can be numbered and its header found once.
Bytes that are not UTF-8 survive the trip through Java strings (see `byte_preserving`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from datalake_platform.compat import spark as compat
from datalake_platform.lake.storage import LandingFile
from datalake_platform.lake.table_refs import PARTITION_COLUMN

COMPRESSION_SUFFIXES = (".gz", ".bz2", ".deflate", ".zst", ".lz4", ".snappy")  # Hadoop decompresses these by name
FILE_KEY_HEX = 12  # 48 bits: a collision among one day's files is checked for, and refused
# The per-file columns every record carries: its day, its file, and the file's short key.
FILE_COLUMNS = (PARTITION_COLUMN, "source_file", "file_key")


def landing_text(
    spark: SparkSession, files: list[LandingFile], per_file: Mapping[str, Column] | None = None
) -> DataFrame:
    """One row per file: dt, source_file, file_key, the `per_file` values, utf8 (whether all its
    bytes are UTF-8), text. `per_file`: values computed from the first three, once per file."""
    text = spark.read.text([f.path for f in files], wholetext=True)
    files_df = text.select(
        source_file().alias("source_file"), compat.is_valid_utf8("value").alias("utf8"), "value"
    ).select(
        day_of(F.col("source_file")).alias(PARTITION_COLUMN),
        "source_file",
        file_key_column(F.col("source_file")).alias("file_key"),
        "utf8",
        byte_preserving(F.col("value"), F.col("utf8")).alias("text"),
    )
    return files_df.select(*FILE_COLUMNS, *[c.alias(n) for n, c in (per_file or {}).items()], "utf8", "text")


def carried_columns(per_file: DataFrame) -> list[str]:
    """The columns of `landing_text` that each record of the file carries: all but utf8 and text."""
    return [c for c in per_file.columns if c not in ("utf8", "text")]


def file_key(relative_path: str) -> str:
    """A landing file's short stable key, from its path (`dt=.../name`): what `file_key_column` computes."""
    return hashlib.sha256(relative_path.encode()).hexdigest()[:FILE_KEY_HEX]


def file_key_column(source_file: Column) -> Column:
    # Computed once per file (before its lines are exploded), not once per row.
    return F.substring(F.sha2(source_file, 256), 1, FILE_KEY_HEX)


def check_file_keys(files: list[LandingFile]) -> None:
    """Refuses two files of one day with the same key: keys built on them (file key + line) must be unique."""
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in files:
        seen[(f.day, file_key(f.relative_path))].append(f.relative_path)
    clashes = [paths for paths in seen.values() if len(paths) > 1]
    if clashes:
        raise ValueError(f"landing files whose {FILE_KEY_HEX}-hex keys collide (rename one of each): {clashes}")


def byte_preserving(text: Column, utf8: Column) -> Column:
    """A file's text, made safe to split when its bytes are not all UTF-8.

    Splitting goes through Java strings, which would replace invalid bytes with U+FFFD and lose
    them. Such a file is read as ISO-8859-1 instead (one char per byte, nothing lost) and each
    line is turned back into its own bytes after the split (`original_bytes`).
    """
    return F.when(utf8, text).otherwise(F.decode(text.cast("binary"), "ISO-8859-1"))


def original_bytes(line: Column, utf8: Column) -> Column:
    # binary -> string keeps the bytes as they are: a line that is not UTF-8 stays detectable.
    return F.when(utf8, line).otherwise(F.encode(line, "ISO-8859-1").cast("string"))


def without_trailing_cr(line: Column) -> Column:
    """`line` without the CRs that end it (of CRLF line ends). A replacement copies every value it
    is given, trimmed or not (~7% of ingestion's write); only lines that end in CR go to it."""
    return F.when(line.endswith("\r"), trailing_crs_removed(line)).otherwise(line)


def trailing_crs_removed(line: Column) -> Column:
    # Spark 4's two-argument `rtrim` does the same; this regex works on every Spark line, 3.5 included.
    return F.regexp_replace(line, "\r+$", "")


def split_lines(text: Column) -> Column:
    r"""A file's lines, ending in LF or CRLF (CR stripped after the split), or CR alone.

    Splitting on one plain character takes Java's fast path; the equivalent regex
    (`\r\n|\n|\r`) made this the slowest step of ingestion. A file that mixes lone CRs
    into LF lines keeps them inside lines; the conservation check, which counts with
    Hadoop's line reader, would then flag the file rather than lose its rows.
    """
    return F.when(F.instr(text, "\n") > 0, F.split(text, "\n")).otherwise(F.split(text, "\r"))


def numbered_lines(per_file: DataFrame, carried: list[str], first: int) -> DataFrame:
    """Per-file `lines` exploded: carried columns, line_number (`first` for the first line), raw_line.

    Blank lines carry no data and are not rows (the conservation check counts the same way).
    """
    # `_outer`: for a plain explode Spark infers "the array is not empty" and checks it before
    # exploding, computing the array (a split of the whole file) again for it; the null row
    # an empty file gets instead is blank, and dropped with the blank lines (~8% of ingestion).
    exploded = per_file.select(*carried, "utf8", F.posexplode_outer("lines").alias("pos", "raw_line")).select(
        *carried,
        (F.col("pos") + first).cast("int").alias("line_number"),
        without_trailing_cr(original_bytes(F.col("raw_line"), F.col("utf8"))).alias("raw_line"),
    )
    return exploded.where(F.trim("raw_line") != "")


def file_lines(per_file: DataFrame, keep: Sequence[str] = (), header: bool = False) -> DataFrame:
    """Files as rows (`path`, `value`: the file's whole text) -> one row per non-blank line:
    source_file (the file's name), line_number (1-based), raw_line (less the CR of a CRLF), the
    `keep` columns; with `header`, each file's first line as it is, in `header`, for the caller to judge.

    Lines end at LF; a byte-order mark that starts the file is dropped. The reader of the landing
    files outside day folders (`undated_lines`) and of a stream's files (binaryFile rows); a day's
    landing files go through `landing_text` and `numbered_lines` instead.
    """
    lines = F.split(F.regexp_replace("value", "^\ufeff", ""), "\n")
    first = [lines[0].alias("header")] if header else []
    source = F.regexp_extract("path", r"([^/]+)$", 1).alias("source_file")
    return (
        per_file.select(*keep, *first, source, F.posexplode_outer(lines).alias("pos", "raw_line"))
        .where(F.trim("raw_line") != "")  # also drops an empty file's null row (see `numbered_lines`)
        .select(
            "source_file",
            (F.col("pos") + 1).cast("int").alias("line_number"),
            F.regexp_replace("raw_line", "\r$", "").alias("raw_line"),
            *keep,
            *(["header"] if header else []),
        )
    )


def undated_lines(spark: SparkSession, paths: list[str], header: bool = False) -> DataFrame:
    """`file_lines` of the files at `paths` (URIs, e.g. `lake.files.data_files` of an unpartitioned landing table)."""
    if not paths:
        return spark.createDataFrame(
            [], "source_file string, line_number int, raw_line string" + (", header string" if header else "")
        )
    per_file = spark.read.text(paths, wholetext=True).select(F.col("_metadata.file_path").alias("path"), "value")
    return file_lines(per_file, header=header)


def relative(path: Column) -> Column:
    """`dt=YYYY-MM-DD/name` from the URI Spark reports, which is URL-encoded (`%20` for a space)."""
    decoded = F.url_decode(F.replace(path, F.lit("+"), F.lit("%2B")))  # a literal '+' stays '+'
    return F.regexp_extract(decoded, r"([^/]+/[^/]+)$", 1)


def source_file() -> Column:
    return relative(F.col("_metadata.file_path"))


def day_of(source_file: Column) -> Column:
    return F.regexp_extract(source_file, f"^{PARTITION_COLUMN}=([^/]+)/", 1)
