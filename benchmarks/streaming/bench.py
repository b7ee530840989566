"""Landing-to-scored latency of the posts stream at 100 and 1,000 posts per second.

    .venv/bin/python benchmarks/streaming/bench.py --rates 100 1000 --seconds 30

One process runs the stream continuously (processing-time trigger of 0 s: a new micro-batch as soon
as the previous one ends) on a fresh lake with the sentiment model trained first; the replayer runs
as a separate plain-Python process (no Spark) landing one JSON-lines file every 0.1 s. For each
rate, the replayer sends `rate * seconds` posts (the 4,200 tweets, looped with shifted ids), then
the benchmark waits until every one is scored.

Latency of a post = the moment its score is committed (visible to any reader of
smart/posts/scored_posts) - its landing file's modification time (when the replayer renamed it
into landing). Reported: p50, p95, max, micro-batches and mean seconds per batch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from datalake_platform.governance.pii import lake_key
from datalake_platform_tests.conftest import table_frame

REPO = Path(__file__).resolve().parents[2]


def train(storage) -> None:
    from datalake_platform.definitions import build
    from datalake_platform.domains.posts.sample import TWEETS
    from datalake_platform.domains.posts.tables import LABELLED_TWEETS, LANDING_SCORES, SENTIMENT_MODEL
    from datalake_platform.resources import LakeResource, ServingResource, SparkResource
    from datalake_platform.settings import Settings

    storage.write_bytes(f"{storage.table_uri(LANDING_SCORES)}/tweets_GroundTruth.txt", TWEETS.read_bytes())
    lake = LakeResource(root=storage.location)
    result = dg.materialize(
        [*(defs := build(Settings())).assets, *defs.asset_checks],
        selection=dg.AssetSelection.assets(*[r.key_path for r in (LABELLED_TWEETS, SENTIMENT_MODEL)]),
        resources={"lake": lake, "spark": SparkResource(lake=lake), "serving": ServingResource(lake=lake)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success


def measure(storage, reports, rate: float, seconds: float, id_offset: int) -> dict:
    from datalake_platform.domains.posts.tables import POSTS, SCORED_POSTS

    posts = int(rate * seconds)
    loops = -(-posts // 4200)
    limit = min(posts, 4200)
    first_batch = len(reports)
    args = [
        sys.executable,
        "-m",
        "datalake_platform.domains.posts.replay",
        "--root",
        storage.root,
        "--rate",
        str(rate),
        "--limit",
        str(limit),
        "--loops",
        str(loops),
        "--id-offset",
        str(id_offset),
    ]
    subprocess.run(args, cwd=REPO, check=True, capture_output=True)
    ids = {id_offset + loop * 10_000 + i for loop in range(loops) for i in range(1, limit + 1)}
    deadline = time.time() + 300
    while sum(r.posts for r in reports[first_batch:]) < len(ids) and time.time() < deadline:
        time.sleep(0.5)
    batches = reports[first_batch:]
    # Every time as UTC: the batch reports' are aware, the tables' as their reader gives them.
    committed = {pd.Timestamp(r.scored_at): pd.Timestamp(r.scores_committed_at) for r in batches if r.scored_at}
    p = table_frame(storage, POSTS, columns=["post_id", "landed_at"])
    s = table_frame(storage, SCORED_POSTS, columns=["post_id", "scored_at"])
    both = p[p["post_id"].isin(ids)].merge(s, on="post_id")
    scored_at, landed_at = pd.to_datetime(both["scored_at"], utc=True), pd.to_datetime(both["landed_at"], utc=True)
    latency = (scored_at.map(committed) - landed_at).dt.total_seconds()
    return {
        "rate_per_s": rate,
        "posts": len(ids),
        "scored": len(both),
        "micro_batches": len(batches),
        "mean_batch_s": round(sum(r.seconds for r in batches) / max(1, len(batches)), 2),
        "mean_phase_s": {
            phase: round(sum(r.phases.get(phase, 0.0) for r in batches) / max(1, len(batches)), 2)
            for phase in ("scores", "publish", "count", "posts", "metrics", "publish_metrics")
        },
        "p50_s": round(latency.quantile(0.5), 2),
        "p95_s": round(latency.quantile(0.95), 2),
        "max_s": round(latency.max(), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 1000])
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    from datalake_platform.domains.posts import stream
    from datalake_platform.lake.storage import LocalLakeStorage
    from datalake_platform.spark.session import get_or_create_session

    with tempfile.TemporaryDirectory() as root:
        storage = LocalLakeStorage(root)
        spark = get_or_create_session(conf={"spark.sql.shuffle.partitions": "2"})
        train(storage)
        reports: list = []
        query = stream.start(
            spark, storage, lake_key(storage, None), available_now=False, trigger_seconds=0, on_batch=reports.append
        )
        try:
            measure(storage, reports, 50, 4, id_offset=900_000)  # warm-up: JIT, first model load
            for k, rate in enumerate(args.rates):
                print(
                    json.dumps(measure(storage, reports, rate, args.seconds, id_offset=(k + 1) * 1_000_000)), flush=True
                )
        finally:
            query.stop()


if __name__ == "__main__":
    main()
