"""Governance of the posts tables: posts name their authors (online handles) and mention other
people in their text; authors never leave landing in clear, mentions are replaced by `@user`."""

from datetime import timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from datalake_platform.compat import spark as compat
from datalake_platform.domains.posts.schemas import LabelledTweets, MetricsPerMinute, Posts, ScoredPosts
from datalake_platform.domains.posts.tables import (
    LABELLED_TWEETS,
    LANDING_POSTS,
    LANDING_SCORES,
    METRICS_PER_MINUTE,
    OWNERS,
    POST_FIELDS,
    POSTS,
    SCORED_POSTS,
    SENTIMENT_MODEL,
)
from datalake_platform.governance.spec import (
    Classification,
    Pii,
    PiiCategory,
    TableGovernance,
    Treatment,
    columns_from,
    same_columns,
)
from datalake_platform.lake.files import data_files
from datalake_platform.lake.storage import LakeStorage

OWNER = OWNERS[0]
HANDLE, TEXT = PiiCategory.ONLINE_HANDLE, PiiCategory.FREE_TEXT
ANALYSTS = ("role:analyst", "role:data-scientist")
STREAM_FRESHNESS = timedelta(hours=1)  # the stream runs all day; an hour without a batch is an outage
PUBLIC_TWEETS = (
    "the published tweets of the VADER sentiment data set (Hutto and Gilbert, 2014, MIT licence): "
    "public text, kept whole because it is what the model learns from"
)


def landing_pii(spark: SparkSession, storage: LakeStorage) -> DataFrame:
    """Landing's authors and texts, read from each JSON line as ingestion reads it."""
    lines = spark.read.text(data_files(storage, LANDING_POSTS))
    fields = compat.json_fields(F.col("value"), list(POST_FIELDS)).alias("v")
    return lines.select(fields).select("v.author", "v.text")


GOVERNANCE = [
    TableGovernance(
        LANDING_POSTS,
        owner=OWNER,
        classification=Classification.RESTRICTED,
        readers=("role:data-platform",),
        retention_days=30,  # ingested within minutes; the raw authors are not kept longer than needed
        pii={"author": Pii(HANDLE, Treatment.RAW), "text": Pii(TEXT, Treatment.RAW)},
        landing_values=landing_pii,
    ),
    TableGovernance(
        LANDING_SCORES,
        owner=OWNER,
        classification=Classification.PUBLIC,
        readers=("role:data-platform",),
        pii={"text": Pii(TEXT, Treatment.KEPT, reason=PUBLIC_TWEETS)},
    ),
    TableGovernance(
        POSTS,
        model=Posts,
        owner=OWNER,
        classification=Classification.CONFIDENTIAL,
        readers=ANALYSTS,
        retention_days=365,
        quarantine_retention_days=30,
        freshness=STREAM_FRESHNESS,
        pii={
            "author_hash": Pii(HANDLE, Treatment.KEYED_HASH, source="author"),
            "author_masked": Pii(HANDLE, Treatment.MASKED, source="author"),
            "text": Pii(
                TEXT, Treatment.KEPT, source="text", reason="mentions of people replaced by @user; the text is scored"
            ),
        },
        lineage={
            "post_id": columns_from(LANDING_POSTS, "id"),
            "author_hash": columns_from(LANDING_POSTS, "author"),
            "author_masked": columns_from(LANDING_POSTS, "author"),
            "text": columns_from(LANDING_POSTS, "text"),
            "posted_at": columns_from(LANDING_POSTS, "timestamp"),
            "hashtags": columns_from(LANDING_POSTS, "text"),
            "mentions": columns_from(LANDING_POSTS, "text"),
        },
    ),
    TableGovernance(
        LABELLED_TWEETS,
        model=LabelledTweets,
        owner=OWNER,
        classification=Classification.PUBLIC,
        readers=ANALYSTS,
        pii={"text": Pii(TEXT, Treatment.KEPT, source="text", reason=PUBLIC_TWEETS)},
        lineage={
            "tweet_id": columns_from(LANDING_SCORES, "id"),
            "text": columns_from(LANDING_SCORES, "text"),
            "human_score": columns_from(LANDING_SCORES, "score"),
            "label": columns_from(LANDING_SCORES, "score"),
            "split": columns_from(LANDING_SCORES, "id"),
        },
    ),
    TableGovernance(
        SENTIMENT_MODEL, owner=OWNER, classification=Classification.INTERNAL, readers=ANALYSTS, is_model=True
    ),
    TableGovernance(
        SCORED_POSTS,
        model=ScoredPosts,
        owner=OWNER,
        classification=Classification.INTERNAL,
        readers=(*ANALYSTS, "role:serving-api"),
        retention_days=365,
        freshness=STREAM_FRESHNESS,
        lineage={
            "post_id": columns_from(POSTS, "post_id"),
            "score": columns_from(POSTS, "text"),
            "label": columns_from(POSTS, "text"),
        },
    ),
    TableGovernance(
        METRICS_PER_MINUTE,
        model=MetricsPerMinute,
        owner=OWNER,
        classification=Classification.INTERNAL,
        readers=(*ANALYSTS, "role:serving-api"),
        retention_days=730,
        freshness=STREAM_FRESHNESS,
        lineage={
            "minute": columns_from(POSTS, "posted_at"),
            "posts": columns_from(POSTS, "post_id"),
            **same_columns(POSTS, "hashtags", "mentions"),
            "mean_sentiment": columns_from(SCORED_POSTS, "score"),
        },
    ),
]
