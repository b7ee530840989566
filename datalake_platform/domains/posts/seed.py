"""Seed landing with the bundled tweets: as posts (JSON lines, one file per 300) and their human scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from datalake_platform.domains.posts.sample import TWEETS, post_json, tweets
from datalake_platform.domains.posts.tables import LANDING_POSTS, LANDING_SCORES
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.registry import SeedResult
from datalake_platform.settings import Settings

SEED_DAY = "2026-01-01"
SEED_START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # post i is posted i seconds after this: 70 minutes
POSTS_PER_FILE = 300


def seed(storage: LakeStorage, settings: Settings | None = None) -> list[SeedResult]:
    posts = SeedResult(table=str(LANDING_POSTS))
    all_tweets = tweets()
    for start in range(0, len(all_tweets), POSTS_PER_FILE):
        chunk = all_tweets[start : start + POSTS_PER_FILE]
        lines = [post_json(t, SEED_START + timedelta(seconds=start + i)) for i, t in enumerate(chunk)]
        uri = f"{storage.partition_uri(LANDING_POSTS, SEED_DAY)}/posts-{start // POSTS_PER_FILE:04d}.jsonl"
        posts.add(storage.write_bytes(uri, ("\n".join(lines) + "\n").encode("utf-8")), len(chunk))
    scores = SeedResult(table=str(LANDING_SCORES))
    data = TWEETS.read_bytes()
    scores.add(
        storage.write_bytes(f"{storage.table_uri(LANDING_SCORES)}/tweets_GroundTruth.txt", data), len(all_tweets)
    )
    return [posts, scores]
