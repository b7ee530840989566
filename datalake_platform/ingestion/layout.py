"""Where each expected column is in a record: found by name, in any order; others are rescued.

A delimited file has one layout (its header), found once per file; a JSON line has its own
(its keys). Either way a record carries `header` (its column names) and `fields` (its values,
in the same order), and these columns say where the expected ones are.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

from datalake_platform.compat import spark as compat


def position(column: str) -> str:
    """The name of the column holding `column`'s 1-based position in `fields` (0 when absent)."""
    return f"_position_of_{column}"


def layout(header: Column, columns: Sequence[str]) -> list[Column]:
    """missing_columns (comma-joined), extra_columns, their positions, and a position per column."""
    expected = F.array(*[F.lit(c) for c in columns]).cast("array<string>")
    # Columns the reader was not asked for: their values are rescued, not dropped (schema drift).
    extra = F.array_except(header, expected) if columns else F.array().cast("array<string>")
    return [
        F.array_join(F.array_except(expected, header), ",").alias("missing_columns"),
        extra.alias("extra_columns"),
        F.transform(extra, lambda c: compat.array_position(header, c).cast("int")).alias("_extra_positions"),
        *[F.array_position(header, c).cast("int").alias(position(c)) for c in columns],
    ]


def rescued() -> Column:
    """The values of a record's extra columns as a JSON object, `{"column": "value"}`; null if none."""
    values = F.transform("_extra_positions", lambda p: F.try_element_at("fields", p))
    return F.when(F.size("extra_columns") > 0, F.to_json(F.map_from_arrays(F.col("extra_columns"), values)))


def field(name: str) -> Column:
    """The trimmed value of column `name` (one of the reader's `columns`); null when the record lacks it."""
    at = F.col(position(name))
    return F.when(at > 0, F.trim(F.try_element_at("fields", at)))
