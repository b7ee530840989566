"""The bundled tweets, read in plain Python (no Spark): what the seed and the replayer send as posts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files

from datalake_platform.domains.posts.transforms import synthetic_author

TWEETS = files("datalake_platform.domains.posts") / "sample_data" / "tweets_GroundTruth.txt"


@dataclass(frozen=True)
class Tweet:
    id: int
    score: float
    text: str


def tweets() -> list[Tweet]:
    """The 4,200 tweets in file order (`id TAB score TAB text`, CRLF)."""
    out = []
    for line in TWEETS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            tid, score, text = line.split("\t", 2)
            out.append(Tweet(int(tid), float(score), text))
    return out


def post_json(tweet: Tweet, at: datetime, id_offset: int = 0) -> str:
    """One landing line: the tweet as a post (id, author, text, timestamp)."""
    post_id = tweet.id + id_offset
    record = {
        "id": post_id,
        "author": synthetic_author(post_id),
        "text": tweet.text,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
    }
    return json.dumps(record, ensure_ascii=False)
