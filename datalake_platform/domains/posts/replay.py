"""Replay the bundled tweets as live posts into landing, at a chosen rate.

    python -m datalake_platform.domains.posts.replay --rate 100 [--limit N] [--id-offset K] [--kafka HOST:PORT]

Every `--interval` seconds one JSON-lines file with the posts due lands in
`landing/posts/posts/dt=<today>/` (written under a hidden name, then renamed: the stream never
sees half a file). Timestamps are the send time. With `--kafka`, each post is also produced to
the topic `posts` of a Kafka-compatible broker (kafka-python, a dev dependency; Spark here has no
Kafka connector, so the lake's stream reads the files).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from datalake_platform.domains.posts.sample import Tweet, post_json, tweets
from datalake_platform.domains.posts.tables import LANDING_POSTS
from datalake_platform.lake.backends import storage_for_root
from datalake_platform.lake.storage import LakeStorage


def schedule(items: list[Tweet], rate: float, interval: float) -> Iterator[tuple[float, list[Tweet]]]:
    """(due second, tweets) per file: post i is due at i / rate seconds."""
    per_file = max(1, round(rate * interval))
    for start in range(0, len(items), per_file):
        yield start / rate, items[start : start + per_file]


LOOP_ID_STEP = 10_000  # tweet ids are below this: loop k adds k * LOOP_ID_STEP to every id


def replay(
    storage: LakeStorage,
    rate: float,
    limit: int | None = None,
    id_offset: int = 0,
    interval: float = 0.1,
    producer=None,
    loops: int = 1,
) -> int:
    """Land `limit` posts (default all 4,200) `loops` times at `rate` per second; returns how many were sent."""
    items = tweets()[:limit]
    run, t0, sent = uuid.uuid4().hex[:8], time.monotonic(), 0
    due_offset = 0.0
    for loop in range(loops):
        sent += _send(
            storage, items, rate, interval, id_offset + loop * LOOP_ID_STEP, producer, f"{run}-{loop}", t0 + due_offset
        )
        due_offset += len(items) / rate
    if producer is not None:
        producer.flush()
    return sent


def _send(storage, items, rate, interval, id_offset, producer, run, t0) -> int:
    sent = 0
    for seq, (due, chunk) in enumerate(schedule(items, rate, interval)):
        time.sleep(max(0.0, t0 + due - time.monotonic()))
        now = datetime.now(UTC)
        lines = [post_json(t, now, id_offset) for t in chunk]
        day = now.strftime("%Y-%m-%d")
        storage.write_bytes(
            f"{storage.partition_uri(LANDING_POSTS, day)}/replay-{run}-{seq:06d}.jsonl",
            ("\n".join(lines) + "\n").encode(),
        )
        if producer is not None:
            for line in lines:
                producer.send("posts", line.encode())
        sent += len(chunk)
    return sent


def _producer(bootstrap: str | None):
    if not bootstrap:
        return None
    from kafka import KafkaProducer  # optional: kafka-python, against e.g. the Tansu broker (see OFFLINE.md)

    return KafkaProducer(bootstrap_servers=bootstrap)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="lake root (default: DATALAKE_ROOT or ./lake)")
    parser.add_argument("--rate", type=float, default=100.0, help="posts per second")
    parser.add_argument("--limit", type=int, default=None, help="how many tweets (default all 4,200)")
    parser.add_argument(
        "--id-offset",
        type=int,
        default=0,
        help="added to every tweet id: a second replay with a new offset gives new posts",
    )
    parser.add_argument(
        "--loops",
        type=int,
        default=1,
        help=f"send the tweets this many times, ids shifted by {LOOP_ID_STEP:,} each time",
    )
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between landing files")
    parser.add_argument("--kafka", default=None, help="also produce to this Kafka-compatible broker (host:port)")
    args = parser.parse_args(argv)
    from datalake_platform.settings import current

    storage = storage_for_root(args.root or current().lake_root)
    started = time.monotonic()
    sent = replay(storage, args.rate, args.limit, args.id_offset, args.interval, _producer(args.kafka), args.loops)
    print(f"replayed {sent} posts in {time.monotonic() - started:.1f} s into {storage.table_uri(LANDING_POSTS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
