"""The metrics per minute merged from a micro-batch's totals (no Spark: pyarrow and Python)."""

import datetime as dt

import pyarrow as pa
import pytest

from datalake_platform.domains.posts.metrics import SCHEMA, merge_batch

DAY = dt.date(2026, 1, 3)
NOON = dt.datetime(2026, 1, 3, 12, 0, tzinfo=dt.UTC)


def _micros(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000


def test_a_batch_adds_to_the_minutes_it_shares_and_makes_the_new_ones():
    # Stored: 12:00 with 4 posts of mean 0.5 (score sum 2.0); 12:01 untouched by the batch.
    current = pa.Table.from_pylist(
        [
            {"minute": NOON, "posts": 4, "hashtags": 1, "mentions": 2, "mean_sentiment": 0.5, "dt": DAY},
            {
                "minute": NOON + dt.timedelta(minutes=1),
                "posts": 1,
                "hashtags": 0,
                "mentions": 0,
                "mean_sentiment": -1.0,
                "dt": DAY,
            },
        ],
        schema=SCHEMA,
    )
    totals = [
        # 12:00: 2 more posts, scores summing to -1.0 -> (2.0 - 1.0) / 6
        {"dt": DAY, "minute": _micros(NOON), "posts": 2, "hashtags": 3, "mentions": 0, "score_sum": -1.0, "scored": 2},
        # 12:05: a new minute
        {
            "dt": DAY,
            "minute": _micros(NOON + dt.timedelta(minutes=5)),
            "posts": 3,
            "hashtags": 0,
            "mentions": 1,
            "score_sum": 0.3,
            "scored": 3,
        },
    ]
    merged, changed = merge_batch(current, totals)
    rows = {r["minute"]: r for r in merged.to_pylist()}
    assert merged.schema.equals(SCHEMA) and len(rows) == 3
    noon = rows[NOON]
    assert (noon["posts"], noon["hashtags"], noon["mentions"]) == (6, 4, 2)
    assert noon["mean_sentiment"] == pytest.approx(1.0 / 6)
    assert rows[NOON + dt.timedelta(minutes=1)]["mean_sentiment"] == -1.0  # kept as it was
    assert rows[NOON + dt.timedelta(minutes=5)]["mean_sentiment"] == pytest.approx(0.1)
    assert sorted(r["minute"] for r in changed.to_pylist()) == [NOON, NOON + dt.timedelta(minutes=5)]


def test_a_minute_with_no_score_has_a_mean_of_zero():
    totals = [
        {"dt": DAY, "minute": _micros(NOON), "posts": 2, "hashtags": 0, "mentions": 0, "score_sum": None, "scored": 0}
    ]
    merged, _ = merge_batch(SCHEMA.empty_table(), totals)
    assert merged.to_pylist() == [
        {"minute": NOON, "posts": 2, "hashtags": 0, "mentions": 0, "mean_sentiment": 0.0, "dt": DAY}
    ]
