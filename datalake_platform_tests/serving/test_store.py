"""The online store's writes against a real valkey-server: idempotent, newer-wins, expiring by
retention, and a snapshot switched whole while readers read."""

import datetime as dt
import threading
import uuid

import pytest

from datalake_platform.domains.posts.online import METRICS, SCORES
from datalake_platform.domains.transactions.online import REPORT
from datalake_platform.serving.store import CHUNK, OLD_VERSION_GRACE_MS, OnlineStore, StoreUnavailable
from datalake_platform.serving.views import day_end_ms
from datalake_platform_tests.conftest import free_port
from datalake_platform_tests.serving.conftest import DAY, minute_row, report_row, score_row

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_a_replayed_older_score_never_overwrites_a_newer_one(store):
    newer, older = score_row(7, 0.9, T0 + dt.timedelta(seconds=5)), score_row(7, 0.1, T0)
    assert store.upsert_points(SCORES, [newer], retention_days=30).written == 1
    replay = store.upsert_points(SCORES, [older], retention_days=30)
    assert (replay.written, replay.kept_newer) == (0, 1)
    assert store.point(SCORES, 7)["score"] == 0.9
    assert store.point(SCORES, 7)["scored_at"] == "2026-12-01T12:00:05Z"
    again = store.upsert_points(SCORES, [newer], retention_days=30)  # the same batch again: same value
    assert again.written + again.kept_newer == 1 and store.point(SCORES, 7)["score"] == 0.9
    rescored = store.upsert_points(SCORES, [score_row(7, 0.3, T0 + dt.timedelta(minutes=1))], retention_days=30)
    assert rescored.written == 1 and store.point(SCORES, 7)["score"] == 0.3


def test_a_key_expires_with_its_days_retention_and_a_day_past_it_is_not_written(store):
    old_day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=40)
    count = store.upsert_points(SCORES, [score_row(1, 0.5, T0), score_row(2, 0.5, T0, day=old_day)], 30)
    assert (count.written, count.expired) == (1, 1)
    assert store.point(SCORES, 2) is None
    expires_at = store.client.pexpiretime(store.keys(SCORES).point(1))
    assert expires_at == day_end_ms(DAY, 30)
    forever = store.upsert_points(SCORES, [score_row(3, 0.5, T0, day=old_day)], retention_days=None)
    assert forever.written == 1 and store.client.pexpiretime(store.keys(SCORES).point(3)) == -1


def _versioned_rows(version: int, persons: int) -> list[dict]:
    return [report_row(f"{i:05d}", f"{version}.{i % 100:02d}", version) for i in range(persons)]


def test_a_reader_never_sees_a_half_loaded_snapshot(store):
    as_of = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert store.load_snapshot(REPORT, _versioned_rows(1, 10), version=1, as_of=as_of)
    seen_mid_load = []

    def rows_of_version_2():
        for i, row in enumerate(_versioned_rows(2, CHUNK * 2 + 10)):
            if i == CHUNK + 5:  # one chunk of version 2 is in the store, under its loading name
                seen_mid_load.append((store.snapshot_status(REPORT), store.snapshot_row(REPORT, "00003")))
            yield row

    assert store.load_snapshot(REPORT, rows_of_version_2(), version=2, as_of=as_of + dt.timedelta(days=1))
    status, row = seen_mid_load[0]
    assert (status["version"], status["stored"], status["rows"]) == (1, 10, 10)
    assert row["MONTO_TRANSACCIONES"] == "1.03" and row["NUM_TRANSACCIONES"] == 1
    after = store.snapshot_status(REPORT)
    assert (after["version"], after["stored"], after["rows"]) == (2, CHUNK * 2 + 10, CHUNK * 2 + 10)
    assert store.snapshot_row(REPORT, "02009")["MONTO_TRANSACCIONES"] == "2.09"
    assert after["as_of_ms"] == int((as_of + dt.timedelta(days=1)).timestamp() * 1000)
    # A reader that looked up version 1 just before the switch still finds it, for a grace period.
    grace = store.client.pttl(store.keys(REPORT).version(1))
    assert 0 < grace <= OLD_VERSION_GRACE_MS
    assert store.client.pttl(store.keys(REPORT).version(2)) == -1
    assert not list(store.client.scan_iter(match=f"{store.prefix}:*:load:*"))


def test_an_older_snapshot_loaded_late_is_dropped_and_concurrent_loads_end_on_the_newest(store):
    as_of = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert store.load_snapshot(REPORT, _versioned_rows(3, 5), version=3, as_of=as_of)
    assert not store.load_snapshot(REPORT, _versioned_rows(2, 7), version=2, as_of=as_of)
    assert store.snapshot_status(REPORT)["version"] == 3
    assert store.snapshot_row(REPORT, "00001")["NUM_TRANSACCIONES"] == 3
    assert not list(store.client.scan_iter(match=f"{store.prefix}:*:load:*"))

    def load(version):
        OnlineStore.from_url(_url(store), store.prefix).load_snapshot(
            REPORT, _versioned_rows(version, 3000), version, as_of
        )

    threads = [threading.Thread(target=load, args=(v,)) for v in (5, 4, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = store.snapshot_status(REPORT)
    assert (status["version"], status["stored"]) == (6, 3000)
    assert store.snapshot_row(REPORT, "02999")["NUM_TRANSACCIONES"] == 6


def _url(store: OnlineStore) -> str:
    kwargs = store.client.connection_pool.connection_kwargs
    return f"valkey://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def test_a_series_row_rewritten_by_a_newer_table_version_replaces_its_index_entry(store):
    minute = T0.replace(second=0)
    store.upsert_series(
        METRICS, [minute_row(minute, 10, 0.5), minute_row(minute + dt.timedelta(minutes=1), 4, 0)], 1, 30
    )
    newer = store.upsert_series(METRICS, [minute_row(minute, 12, 0.25)], version=2, retention_days=30)
    stale = store.upsert_series(METRICS, [minute_row(minute, 99, 0.99)], version=1, retention_days=30)
    assert (newer.written, stale.kept_newer) == (1, 1)
    rows = store.series(METRICS, minute, minute + dt.timedelta(minutes=5))
    assert [(r["posts"], r["mean_sentiment"]) for r in rows] == [(12, 0.25), (4, 0)]
    assert store.client.zcard(store.keys(METRICS).index) == 2
    second = f"{DAY}|{int((minute + dt.timedelta(minutes=1)).timestamp())}"
    assert store.delete_series_rows(METRICS, [second]) == 1
    assert [r["posts"] for r in store.series(METRICS, minute, minute + dt.timedelta(minutes=5))] == [12]
    assert list(store.series_rows(METRICS)) == [f"{DAY}|{int(minute.timestamp())}"]


def test_a_store_that_does_not_answer_is_a_clear_error_naming_it_without_its_password():
    port = free_port()
    down = OnlineStore.from_url(f"valkey://:s3cret-{uuid.uuid4().hex}@127.0.0.1:{port}/0", "t")
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port} does not answer") as error:
        down.ping()
    assert "s3cret" not in str(error.value)
    with pytest.raises(StoreUnavailable):
        down.upsert_points(SCORES, [score_row(1, 0.5, T0)], 30)
