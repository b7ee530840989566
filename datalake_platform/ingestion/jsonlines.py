"""JSON-lines landing files: one JSON object per non-blank line, its keys the record's columns.

A line is parsed into a map of its top-level keys to their values as text (a nested value is
kept as its JSON text), so the same layout machinery as for delimited files finds the expected
columns by name and rescues the others. A line that is not a JSON object is `malformed_record`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from datalake_platform.ingestion.layout import layout
from datalake_platform.ingestion.text import COMPRESSION_SUFFIXES, carried_columns, numbered_lines, split_lines

SUFFIXES = (".jsonl", ".ndjson", ".json")


def is_json_lines(name: str) -> bool:
    """By the name's suffix, before any compression suffix (`posts.jsonl.gz`)."""
    stem, _, last = name.lower().rpartition(".")
    return name.lower().endswith(SUFFIXES) or (f".{last}" in COMPRESSION_SUFFIXES and stem.endswith(SUFFIXES))


def json_records(per_file: DataFrame, columns: Sequence[str]) -> DataFrame:
    """Records with the columns of `delimited.delimited_records`; `header` is each line's keys."""
    carried = carried_columns(per_file)
    lines = per_file.select(*carried, "utf8", split_lines(F.col("text")).alias("lines"))
    exploded = numbered_lines(lines, carried, first=1)  # no header line
    # A byte-order mark can only open the file, before its first object.
    text = F.regexp_replace("raw_line", "^\ufeff", "")
    parsed = exploded.select(
        "*", F.when(F.ltrim(text).startswith("{"), F.from_json(text, "map<string,string>")).alias("_object")
    )
    header = F.coalesce(F.map_keys("_object"), F.array().cast("array<string>"))
    return parsed.select(
        *carried,
        "line_number",
        "raw_line",
        header.alias("header"),
        F.coalesce(F.map_values("_object"), F.array().cast("array<string>")).alias("fields"),
        F.lit(False).alias("wrong_delimiter"),
        *layout(header, columns),
        F.when(F.col("_object").isNull(), F.lit("malformed_record")).alias("malformed"),
    )
