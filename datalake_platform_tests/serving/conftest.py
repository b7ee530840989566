"""Serving fixtures: a store under a prefix of the test's own, in the session's loopback valkey-server."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from datalake_platform.serving.store import OnlineStore

DAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)  # within every retention


@pytest.fixture
def store(online_store_server) -> OnlineStore:
    store = OnlineStore.from_url(online_store_server, prefix=f"t{uuid.uuid4().hex[:12]}")
    yield store
    for name in store.client.scan_iter(match=f"{store.prefix}:*", count=1000):
        store.client.delete(name)
    store.client.close()


def score_row(post_id: int, score: float, scored_at: dt.datetime, day: dt.date = DAY) -> dict:
    label = "positive" if score >= 0.5 else "negative"
    return {
        "post_id": post_id,
        "score": score,
        "label": label,
        "model_version": "m1",
        "scored_at": scored_at,
        "dt": day,
    }


def report_row(person: str, amount: str, count: int) -> dict:
    first, last = dt.date(1997, 1, 1), dt.date(1997, 3, 1)
    return {
        "ID_PERSONA": person,
        "MONTO_TRANSACCIONES": Decimal(amount),
        "NUM_TRANSACCIONES": count,
        "PRIMERA_COMPRA": first,
        "ULTIMA_COMPRA": last,
    }


def minute_row(minute: dt.datetime, posts: int, mean: float, day: dt.date = DAY) -> dict:
    return {"minute": minute, "posts": posts, "hashtags": 1, "mentions": 2, "mean_sentiment": mean, "dt": day}
