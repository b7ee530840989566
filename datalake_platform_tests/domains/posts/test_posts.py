"""The posts domain on real tweets: model, stream (availableNow), quarantine, and exactly once across a SIGKILL."""

import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from datalake_platform.domains.posts import stream
from datalake_platform.domains.posts.online import SCORES
from datalake_platform.domains.posts.sample import post_json, tweets
from datalake_platform.domains.posts.seed import seed
from datalake_platform.domains.posts.tables import (
    LABELLED_TWEETS,
    LANDING_POSTS,
    METRICS_PER_MINUTE,
    POSTS,
    SCORED_POSTS,
    SENTIMENT_MODEL,
)
from datalake_platform.domains.posts.transforms import synthetic_author
from datalake_platform.governance.pii import lake_key
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.serving.store import OnlineStore
from datalake_platform.serving.sync import lake_rows, lake_snapshot
from datalake_platform_tests.conftest import REPO, check_results, materialize, table_frame

KEYS = [LABELLED_TWEETS, SENTIMENT_MODEL, POSTS, SCORED_POSTS, METRICS_PER_MINUTE]
SELECTION = dg.AssetSelection.assets(*[dg.AssetKey(r.key_path) for r in KEYS])


def _table(storage, ref) -> pd.DataFrame:
    return table_frame(storage, ref)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A lake seeded with the 4,200 tweets, model trained and the stream run availableNow through Dagster."""
    storage = LocalLakeStorage(str(tmp_path_factory.mktemp("posts") / "lake"))
    seed(storage)
    result = materialize(storage, SELECTION)
    return storage, result


def test_every_tweet_is_posted_scored_once_and_counted(seeded):
    storage, result = seeded
    assert result.success
    checks = check_results(result)
    expected = {
        "universal/posts/posts:contract",
        "universal/posts/posts:nothing_lost",
        "smart/posts/scored_posts:exactly_once",
        "smart/posts/scored_posts:contract",
        "smart/posts/metrics_per_minute:contract",
        "smart/posts/sentiment_model:accuracy_floor",
        "universal/posts/labelled_tweets:contract",
    }
    assert expected <= set(checks) and all(checks[k].passed for k in expected), {
        k: c.metadata for k, c in checks.items() if not c.passed
    }
    truth = {t.id: t for t in tweets()}
    posts, scored = _table(storage, POSTS), _table(storage, SCORED_POSTS)
    assert len(truth) == 4200 and sorted(posts["post_id"]) == sorted(truth)
    assert len(scored) == 4200 and scored["post_id"].is_unique and set(scored["post_id"]) == set(truth)
    assert scored["score"].between(-1, 1).all() and set(scored["label"]) == {"positive", "negative"}
    # Authors: only their keyed hash (computed here with Python's hmac) and a masked form are stored.
    row = posts.set_index("post_id").loc[6]
    key = lake_key(storage, None)
    assert row["author_hash"] == hmac.new(key, synthetic_author(6).encode(), hashlib.sha256).hexdigest()
    assert row["author_masked"] == "u" + "*" * (len(synthetic_author(6)) - 1)
    assert row["hashtags"] == 2 and "#gratitude" in row["text"]
    assert not posts["author_masked"].str.contains("user_").any()
    # 4,200 posts one second apart from 12:00: 70 full minutes of 60 posts.
    metrics = _table(storage, METRICS_PER_MINUTE)
    assert len(metrics) == 70 and (metrics["posts"] == 60).all()
    assert metrics["hashtags"].sum() == posts["hashtags"].sum()
    joined = posts.merge(scored, on="post_id")
    first_minute = joined[joined["posted_at"] < pd.Timestamp("2026-01-01 12:01:00", tz="UTC")]
    m0 = metrics.sort_values("minute").iloc[0]
    assert m0["mean_sentiment"] == pytest.approx(first_minute["score"].mean())
    # Agreement with the human scores on the whole set (train and test): far better than chance.
    agree = (
        joined["label"] == joined["post_id"].map(lambda i: "positive" if truth[i].score > 0 else "negative")
    ).mean()
    assert agree > 0.8


def test_bad_lines_are_quarantined_with_a_reason_and_only_new_files_are_read(seeded):
    storage, _ = seeded
    good = post_json(tweets()[0], pd.Timestamp("2026-01-02T08:00:00Z").to_pydatetime(), id_offset=100_000)
    lines = [
        good,
        "{not json",
        json.dumps({"id": 100_002, "author": "x", "text": "no timestamp"}),
        json.dumps({"id": 100_003, "author": "x", "text": 7, "timestamp": "2026-01-02T08:00:00Z"}),
        json.dumps({"id": 100_004, "author": "x", "text": "a" * 5000, "timestamp": "2026-01-02T08:00:00Z"}),
        json.dumps({"id": 1, "author": "x", "text": "an id seen yesterday", "timestamp": "2026-01-02T08:00:00Z"}),
        good,  # the same post twice in one file
        json.dumps({"id": "abc", "author": "x", "text": "t", "timestamp": "2026-01-02T08:00:00Z"}),
    ]
    storage.write_bytes(
        f"{storage.partition_uri(LANDING_POSTS, '2026-01-02')}/bad.jsonl", ("\n".join(lines) + "\n\n").encode()
    )
    storage.write_bytes(
        f"{storage.partition_uri(LANDING_POSTS, '2026-01-02')}/late.jsonl.tmp", (good + "\n").encode()
    )  # still being written
    result = materialize(
        storage, dg.AssetSelection.assets(*[dg.AssetKey(r.key_path) for r in (POSTS, SCORED_POSTS, METRICS_PER_MINUTE)])
    )
    assert result.success, [c.metadata for c in check_results(result).values() if not c.passed]
    assert result.asset_materializations_for_node("posts_stream")[0].metadata["posts_this_run"].value == 1
    quarantine = table_frame(storage, POSTS.quarantine(), "2026-01-02")
    assert dict(zip(quarantine["line_number"], quarantine["reason"])) == {
        2: "malformed_json",
        3: "missing_field",
        4: "wrong_type",
        5: "oversized_text",
        6: "duplicate_post_id",
        7: "duplicate_post_id",
        8: "wrong_type",
    }
    assert len(_table(storage, POSTS)) == 4201 and len(_table(storage, SCORED_POSTS)) == 4201


KILL_FILES, PER_FILE = 6, 100


def test_a_stream_killed_mid_batch_and_restarted_scores_every_post_once(seeded, tmp_path, spark):
    model_lake, _ = seeded
    storage = LocalLakeStorage(str(tmp_path / "lake"))
    shutil.copytree(model_lake.table_uri(SENTIMENT_MODEL), storage.table_uri(SENTIMENT_MODEL))
    sample = tweets()[: KILL_FILES * PER_FILE]
    at = pd.Timestamp("2026-01-03T00:00:00Z").to_pydatetime()
    for i in range(KILL_FILES):
        text = "\n".join(post_json(t, at) for t in sample[i * PER_FILE : (i + 1) * PER_FILE]) + "\n"
        storage.write_bytes(f"{storage.partition_uri(LANDING_POSTS, '2026-01-03')}/p{i}.jsonl", text.encode())
    args = [
        sys.executable,
        "-m",
        "datalake_platform.domains.posts.stream",
        "--root",
        storage.root,
        "--max-files-per-trigger",
        "1",
    ]
    proc = subprocess.Popen(
        args, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    writes = Path(storage.table_uri(SCORED_POSTS)) / "data"  # a folder per batch's write of scores
    try:
        deadline = time.time() + 240
        # Mid-stream: one batch's scores committed, and the next one's being written.
        while not (writes.exists() and len(list(writes.iterdir())) >= 2):
            assert proc.poll() is None and time.time() < deadline, (
                proc.stdout.read().decode()[-3000:] if proc.poll() is not None else "timeout"
            )
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    scored_before = len(_table(storage, SCORED_POSTS))
    assert 0 < scored_before < len(sample)  # it really died halfway
    # The killed process published to the online store (DATALAKE_SERVING_URL and _PREFIX, inherited).
    online = OnlineStore.from_url(os.environ["DATALAKE_SERVING_URL"], os.environ["DATALAKE_SERVING_PREFIX"])
    assert 0 < sum(1 for _ in online.point_keys(SCORES)) <= scored_before
    reports = stream.run_available_now(spark, storage, lake_key(storage, None), max_files_per_trigger=1, online=online)
    assert reports, "the restarted stream found work left"
    scored = _table(storage, SCORED_POSTS)
    assert len(scored) == len(sample) and scored["post_id"].is_unique
    assert set(scored["post_id"]) == {t.id for t in sample}
    posts = _table(storage, POSTS)
    assert len(posts) == len(sample)
    # Each batch's totals went into the metrics once, whichever commit the kill came between.
    minutes = posts.merge(scored, on="post_id").assign(minute=lambda d: d["posted_at"].dt.floor("min"))
    expected = minutes.groupby("minute").agg(posts=("post_id", "size"), mean=("score", "mean"))
    metrics = _table(storage, METRICS_PER_MINUTE).set_index("minute").sort_index()
    assert metrics["posts"].tolist() == expected["posts"].tolist()
    assert metrics["mean_sentiment"].tolist() == pytest.approx(expected["mean"].tolist(), abs=1e-12)
    # The store equals scored_posts row for row: no post missing, none scored twice with another value.
    snapshot = lake_snapshot(storage, SCORES)
    lake_scores = {r["post_id"]: json.loads(SCORES.encode(r)) for r in lake_rows(storage, SCORES, snapshot)}
    assert sorted(int(k) for k in online.point_keys(SCORES)) == sorted(lake_scores)
    assert {post_id: online.point(SCORES, post_id) for post_id in lake_scores} == lake_scores


def test_the_realtime_job_streams_continuously_and_reports_each_batch(seeded, tmp_path):
    from datalake_platform_tests.conftest import defs, resources_for

    model_lake, _ = seeded
    storage = LocalLakeStorage(str(tmp_path / "lake"))
    shutil.copytree(model_lake.table_uri(SENTIMENT_MODEL), storage.table_uri(SENTIMENT_MODEL))
    sample = tweets()[:50]
    text = "\n".join(post_json(t, pd.Timestamp("2026-01-04T00:00:00Z").to_pydatetime()) for t in sample) + "\n"
    storage.write_bytes(f"{storage.partition_uri(LANDING_POSTS, '2026-01-04')}/live.jsonl", text.encode())
    job = defs.get_job_def("posts_realtime")
    config = {"ops": {"run_posts_stream_continuously": {"config": {"seconds": 25, "trigger_seconds": 1}}}}
    result = job.execute_in_process(
        run_config=config, resources=resources_for(storage), instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    seen = {tuple(m.asset_key.path) for m in result.asset_materializations_for_node("run_posts_stream_continuously")}
    assert seen == {tuple(r.key_path) for r in (POSTS, SCORED_POSTS, METRICS_PER_MINUTE)}
    assert sorted(_table(storage, SCORED_POSTS)["post_id"]) == [t.id for t in sample]


def test_a_batch_replayed_after_all_its_commits_changes_no_table_and_publishes_what_the_lake_holds(
    seeded, tmp_path, spark
):
    model_lake, _ = seeded
    storage = LocalLakeStorage(str(tmp_path / "lake"))
    shutil.copytree(model_lake.table_uri(SENTIMENT_MODEL), storage.table_uri(SENTIMENT_MODEL))
    at = pd.Timestamp("2026-01-04T00:00:00Z").to_pydatetime()
    text = "\n".join(post_json(t, at) for t in tweets()[:50]) + "\nnot json\n"
    storage.write_bytes(f"{storage.partition_uri(LANDING_POSTS, '2026-01-04')}/p.jsonl", text.encode())
    files = spark.read.format("binaryFile").schema(stream.LANDED_FILE_SCHEMA).load(storage.table_uri(LANDING_POSTS))
    online = OnlineStore.from_url(os.environ["DATALAKE_SERVING_URL"], os.environ["DATALAKE_SERVING_PREFIX"])
    model, key = stream.CurrentModel(storage), lake_key(storage, None)
    first = stream.process_batch(spark, storage, model, files, 7, key, online)
    tables = (POSTS, POSTS.quarantine(), SCORED_POSTS, METRICS_PER_MINUTE)
    before = {ref: _table(storage, ref) for ref in tables}
    replay = stream.process_batch(spark, storage, model, files, 7, key, online)  # Spark's replay after a crash
    assert (first.posts, first.rejected) == (replay.posts, replay.rejected) == (50, {"malformed_json": 1})
    for ref in tables:  # nothing added twice, the metrics not merged twice
        pd.testing.assert_frame_equal(_table(storage, ref), before[ref], check_like=True)
    # The replay published the scores the first attempt committed, not its own new scored_at.
    lake_scores = before[SCORED_POSTS].set_index("post_id")["scored_at"]
    stored = {p: online.point(SCORES, p) for p in lake_scores.index}
    assert all(pd.Timestamp(v["scored_at"]) == lake_scores[p] for p, v in stored.items())
    assert replay.published == 50 + len(before[METRICS_PER_MINUTE])
