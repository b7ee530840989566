"""The tables of the posts domain.

Landing holds posts as JSON-lines files in `dt=` folders (the day they landed) and the tweets'
human scores as they came. Every streamed table is partitioned by that landing day.
"""

from datalake_platform.lake.table_refs import ServiceArea, TableRef, Zone

LANDING_POSTS = TableRef(Zone.LANDING, "posts", "posts")
LANDING_SCORES = TableRef(Zone.LANDING, "posts", "human_scores")
POSTS = TableRef(Zone.UNIVERSAL, "posts", "posts")
LABELLED_TWEETS = TableRef(Zone.UNIVERSAL, "posts", "labelled_tweets")
SENTIMENT_MODEL = TableRef(Zone.SMART, "posts", "sentiment_model")
SCORED_POSTS = TableRef(Zone.SMART, "posts", "scored_posts")
METRICS_PER_MINUTE = TableRef(Zone.SMART, "posts", "metrics_per_minute")
# The stream's own checkpoint (offsets and commits): service data, not a table.
STREAM_CHECKPOINT = TableRef(ServiceArea.WORK, "posts", "stream_checkpoint")

POST_FIELDS = ["id", "author", "text", "timestamp"]  # one JSON object per line
MAX_TEXT_CHARS = 1000  # a tweet is at most 280; anything far longer is not a post
OWNERS = ["team:posts"]
