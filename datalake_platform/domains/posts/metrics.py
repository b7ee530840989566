"""smart/posts/metrics_per_minute, kept current by each micro-batch of the posts stream.

A batch's totals per minute (transforms.minute_totals of its own posts and scores) are merged into
the minutes its landing days already hold, and the days are written back with pyarrow in one
commit (lake.arrow_io): O(batch + a day's 1,440 minutes), where recomputing from the day's posts
and scores was O(day) and one more Spark job per batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datalake_platform.compat import spark as compat
from datalake_platform.domains.posts.schemas import MetricsPerMinute
from datalake_platform.quality.validation import spark_schema

SCHEMA = compat.arrow_schema(spark_schema(MetricsPerMinute))
_COUNTS = ("posts", "hashtags", "mentions")


def merge_batch(current: pa.Table, totals: Iterable[Mapping[str, Any]]) -> tuple[pa.Table, pa.Table]:
    """The days' metrics with a batch's totals added (rows of `minute_totals`, `minute` in epoch
    microseconds), and the minutes the batch changed. The stored mean is weighted by the minute's
    posts: the stream scores every post it keeps (the `exactly_once` check)."""
    minutes: dict[tuple[dt.date, int], list[float]] = {}
    for row in _with_micros(current).to_pylist():
        minutes[(row["dt"], row["minute"])] = [
            *(row[c] for c in _COUNTS),
            row["mean_sentiment"] * row["posts"],
            row["posts"],
        ]
    changed = set()
    for row in totals:
        key = (row["dt"], row["minute"])
        sums = minutes.setdefault(key, [0, 0, 0, 0.0, 0])
        for i, value in enumerate((*(row[c] for c in _COUNTS), row["score_sum"] or 0.0, row["scored"])):
            sums[i] += value
        changed.add(key)
    merged = _table(minutes)
    return merged, _table({key: minutes[key] for key in changed})


def _with_micros(rows: pa.Table) -> pa.Table:
    i = rows.schema.get_field_index("minute")
    return rows.set_column(i, "minute", pc.cast(rows["minute"], pa.int64()))


def _table(minutes: Mapping[tuple[dt.date, int], list[float]]) -> pa.Table:
    keys = sorted(minutes)
    sums = [minutes[k] for k in keys]
    columns = {
        "minute": pa.array([m for _, m in keys], pa.int64()).cast(SCHEMA.field("minute").type),
        **{c: pa.array([s[i] for s in sums], pa.int64()) for i, c in enumerate(_COUNTS)},
        "mean_sentiment": pa.array([s[3] / s[4] if s[4] else 0.0 for s in sums], pa.float64()),
        "dt": pa.array([d for d, _ in keys], pa.date32()),
    }
    return pa.Table.from_pydict(columns, schema=SCHEMA)
