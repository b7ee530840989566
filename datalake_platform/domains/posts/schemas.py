"""The contracts of the posts tables (pandera models).

The author is personal data: kept only as a keyed hash (HMAC-SHA-256) and a masked form (declared in the domain's
governance spec, `governance.py`, which tags them in the column schema). Mentions in the text name other people: the cleaned text keeps `@user` in their place.
"""

import pandera.pyspark as pa
import pyspark.sql.types as T

SHA256 = r"^[0-9a-f]{64}$"
VERSION = r"^[0-9a-f]{16}$"


class LabelledTweets(pa.DataFrameModel):
    """universal/posts/labelled_tweets: the tweets with their mean human sentiment score, for training."""

    tweet_id: T.LongType() = pa.Field(ge=1)
    text: T.StringType() = pa.Field()
    human_score: T.DoubleType() = pa.Field(
        in_range={"min_value": -4, "max_value": 4}, description="mean of human ratings"
    )
    label: T.IntegerType() = pa.Field(isin=[0, 1], description="1 when human_score > 0")
    split: T.StringType() = pa.Field(isin=["train", "test"])

    class Config:
        name = "universal/posts/labelled_tweets"
        unique = ["tweet_id"]


class Posts(pa.DataFrameModel):
    """universal/posts/posts: one row per post, cleaned, author protected."""

    post_id: T.LongType() = pa.Field(ge=1)
    author_hash: T.StringType() = pa.Field(
        str_matches=SHA256,
        description="HMAC-SHA-256 of the author under the lake's key",
    )
    author_masked: T.StringType() = pa.Field(description="author with all but its first letter masked")
    text: T.StringType() = pa.Field(description="HTML entities decoded, blanks collapsed, mentions replaced by @user")
    posted_at: T.TimestampType() = pa.Field()
    hashtags: T.IntegerType() = pa.Field(ge=0)
    mentions: T.IntegerType() = pa.Field(ge=0)
    landed_at: T.TimestampType() = pa.Field(description="when the landing file was written (its modification time)")
    source_file: T.StringType() = pa.Field()
    line_number: T.IntegerType() = pa.Field(ge=1)
    dt: T.DateType() = pa.Field(description="partition: the landing day")

    class Config:
        name = "universal/posts/posts"
        unique = ["post_id"]


class ScoredPosts(pa.DataFrameModel):
    """smart/posts/scored_posts: the sentiment model's answer for every post, once."""

    post_id: T.LongType() = pa.Field(ge=1)
    score: T.DoubleType() = pa.Field(
        in_range={"min_value": -1, "max_value": 1}, description="P(positive) - P(negative)"
    )
    label: T.StringType() = pa.Field(isin=["positive", "negative"])
    model_version: T.StringType() = pa.Field(str_matches=VERSION)
    scored_at: T.TimestampType() = pa.Field()
    dt: T.DateType() = pa.Field(description="partition: the landing day")

    class Config:
        name = "smart/posts/scored_posts"
        unique = ["post_id"]


class MetricsPerMinute(pa.DataFrameModel):
    """smart/posts/metrics_per_minute: posts, hashtags, mentions and mean sentiment per minute of posting."""

    minute: T.TimestampType() = pa.Field(description="start of the one-minute window (posted_at)")
    posts: T.LongType() = pa.Field(ge=1)
    hashtags: T.LongType() = pa.Field(ge=0)
    mentions: T.LongType() = pa.Field(ge=0)
    mean_sentiment: T.DoubleType() = pa.Field(in_range={"min_value": -1, "max_value": 1})
    dt: T.DateType() = pa.Field(description="partition: the landing day")

    class Config:
        name = "smart/posts/metrics_per_minute"
        unique = ["minute", "dt"]
