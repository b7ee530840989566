"""The posts tables applications read online (serving): a post's score, and the metrics of a range of minutes."""

from typing import Any

from datalake_platform.domains.posts.tables import METRICS_PER_MINUTE, SCORED_POSTS
from datalake_platform.serving.views import OnlineView, ViewKind

SCORES = OnlineView(
    SCORED_POSTS,
    ViewKind.POINT,
    key="post_id",
    key_type=int,
    columns=("score", "label", "model_version", "scored_at"),
    version_column="scored_at",
    path="/v1/posts/{post_id}/score",
    batch_path="/v1/posts:batchGet",
    description="The sentiment score of a post: written by the stream right after each micro-batch's commit.",
)


def merge_minute(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One minute's rows (one per landing day it has posts in) as one: counts add up, the mean is weighted."""
    posts = sum(r["posts"] for r in rows)
    return {
        "minute": rows[0]["minute"],
        "posts": posts,
        "hashtags": sum(r["hashtags"] for r in rows),
        "mentions": sum(r["mentions"] for r in rows),
        "mean_sentiment": sum(r["mean_sentiment"] * r["posts"] for r in rows) / posts if posts else 0.0,
    }


METRICS = OnlineView(
    METRICS_PER_MINUTE,
    ViewKind.SERIES,
    key="minute",
    columns=("posts", "hashtags", "mentions", "mean_sentiment"),
    path="/v1/posts/metrics",
    merge=merge_minute,
    description="Posts, hashtags, mentions and mean sentiment per minute of posting, for a range of minutes.",
)

ONLINE = [SCORES, METRICS]
