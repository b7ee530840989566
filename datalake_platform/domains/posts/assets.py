"""The posts domain as assets: human scores -> labelled tweets -> sentiment model; landing posts -> the stream
(universal posts, scored posts, metrics per minute), run `availableNow` as an asset or continuously as a job."""

import queue
import time
from collections.abc import Iterator

import dagster as dg
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from datalake_platform.domains.posts import stream, transforms
from datalake_platform.domains.posts.checks import LABELLED_CONTRACT, stream_check_results, stream_check_specs
from datalake_platform.domains.posts.schemas import LabelledTweets, MetricsPerMinute, Posts, ScoredPosts
from datalake_platform.domains.posts.tables import (
    LABELLED_TWEETS,
    LANDING_POSTS,
    LANDING_SCORES,
    METRICS_PER_MINUTE,
    OWNERS,
    POSTS,
    SCORED_POSTS,
    SENTIMENT_MODEL,
    STREAM_CHECKPOINT,
)
from datalake_platform.lake.files import data_files
from datalake_platform.metadata import table_metadata
from datalake_platform.ml.artifacts import ModelStore, content_version, model_version
from datalake_platform.ml.metrics import binary_metrics
from datalake_platform.quality.validation import spark_schema
from datalake_platform.resources import LakeResource, ServingResource, SparkResource
from datalake_platform.spark.table_io import read_table, write_table

Results = Iterator[dg.AssetCheckResult | dg.MaterializeResult]

landing_posts = dg.AssetSpec(
    key=LANDING_POSTS.key_path,
    group_name=LANDING_POSTS.group_name,
    kinds={"json"},
    owners=OWNERS,
    description="Posts as they arrived: JSON lines {id, author, text, timestamp} in dt=<landing day> folders, "
    "dropped by the replayer (or `datalake seed`). The author is personal data. Never modified.",
)
landing_human_scores = dg.AssetSpec(
    key=LANDING_SCORES.key_path,
    group_name=LANDING_SCORES.group_name,
    kinds={"text"},
    owners=OWNERS,
    description="The tweets' mean human sentiment scores (-4..4) as published with VADER (id TAB score TAB text).",
)


@dg.asset(
    key=LABELLED_TWEETS.key_path,
    deps=[landing_human_scores],
    group_name=LABELLED_TWEETS.group_name,
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    check_specs=[LABELLED_CONTRACT.spec],
    description="Tweets with their human score and a label (1 when the score is positive), split train/test by a "
    "hash of the id. Lines that break a rule go to quarantine/posts/labelled_tweets.",
)
def labelled_tweets(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource) -> Results:
    storage = lake.storage
    files = data_files(storage, LANDING_SCORES)
    classified = transforms.classify_scores(transforms.score_lines(spark.session(), files)).cache()
    try:
        audit = LABELLED_CONTRACT.audit(context)
        rows = write_table(transforms.labelled_tweets(classified), storage, LABELLED_TWEETS, audit)
        yield from LABELLED_CONTRACT.outcome(audit)
        quarantined = write_table(transforms.rejected(classified), storage, LABELLED_TWEETS.quarantine())
    finally:
        classified.unpersist()
    yield dg.MaterializeResult(
        metadata=table_metadata(
            storage,
            LABELLED_TWEETS,
            LabelledTweets,
            rows=rows,
            landing_files=len(files),
            quarantined_rows=quarantined,
        )
    )


@dg.asset(
    key=SENTIMENT_MODEL.key_path,
    deps=[labelled_tweets],
    group_name=SENTIMENT_MODEL.group_name,
    kinds={"spark", "mllib"},
    owners=OWNERS,
    description="TF-IDF (words and word pairs, hashed) + logistic regression, trained on the train split of the "
    "labelled tweets; saved under version=<hash of the table and the spec>. Metrics are on the test split. The "
    "stream scores with the version last published, reloading it when a new one appears.",
)
def sentiment_model(
    context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource
) -> dg.MaterializeResult:
    tweets = read_table(spark.session(), lake.storage, LABELLED_TWEETS, spark_schema(LabelledTweets))
    data_version = content_version(tweets)
    version = model_version(data_version, transforms.model_spec())
    train = tweets.where(F.col("split") == "train").cache()
    try:
        started = time.perf_counter()
        model = transforms.train_sentiment(train)
        seconds = time.perf_counter() - started
        n_train = train.count()
    finally:
        train.unpersist()
    store = ModelStore(lake.storage, SENTIMENT_MODEL)
    uri = store.publish(version, lambda folder: model.write().save(folder))
    # Scored as published, loaded back: a model just fitted by Spark 4.0 keeps a training summary that
    # holds the session, which 4.0 fails to serialize into the scoring tasks ("Task not serializable").
    published = PipelineModel.load(store.uri(version))
    scores = binary_metrics(published.transform(tweets.where(F.col("split") == "test")))
    context.log.info(f"sentiment model {version}: test accuracy {scores['accuracy']:.4f}, AUC {scores['auc']:.4f}")
    return dg.MaterializeResult(
        metadata={
            "dagster/uri": uri,
            "model_version": version,
            "training_table_version": data_version,
            "accuracy": scores["accuracy"],
            "auc": scores["auc"],
            "f1": scores["f1"],
            "confusion_matrix": dg.MetadataValue.json(scores["confusion"]),
            "train_rows": n_train,
            "test_rows": scores["rows"],
            "training_seconds": round(seconds, 3),
            "spec": transforms.model_spec(),
        }
    )


STREAM_TABLES = {POSTS: Posts, SCORED_POSTS: ScoredPosts, METRICS_PER_MINUTE: MetricsPerMinute}
_DESCRIPTIONS = {
    POSTS: "Cleaned posts (author hashed and masked, mentions replaced, HTML entities decoded), one per post_id; "
    "bad lines (malformed JSON, missing fields, wrong types, oversized text, duplicate ids) in quarantine/posts/posts.",
    SCORED_POSTS: "Every post scored once by the sentiment model current when its micro-batch ran.",
    METRICS_PER_MINUTE: "Posts, hashtags, mentions and mean sentiment per minute of posting.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=ref.key_path,
            group_name=ref.group_name,
            kinds={"spark", "iceberg"},
            owners=OWNERS,
            deps=[landing_posts, sentiment_model] if ref != METRICS_PER_MINUTE else [],
            description=_DESCRIPTIONS[ref] + " Written by the posts stream (Spark Structured Streaming, checkpoint in "
            f"{STREAM_CHECKPOINT}); this asset runs it availableNow: every post landed so far, then stop.",
        )
        for ref in STREAM_TABLES
    ],
    check_specs=stream_check_specs(),
    name="posts_stream",
)
def posts_stream(
    context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource, serving: ServingResource
) -> Results:
    storage, session = lake.storage, spark.session()
    reports = stream.run_available_now(session, storage, lake.hash_key(), online=serving.optional_store(context.log))
    posts = sum(r.posts for r in reports)
    context.log.info(
        f"{len(reports)} micro-batches, {posts} new posts, {sum(sum(r.rejected.values()) for r in reports)} rejected, "
        f"{sum(r.published for r in reports)} rows written to the online store"
    )
    for error in {r.publish_error for r in reports if r.publish_error}:
        context.log.warning(f"not in the online store until the online assets sync it: {error}")
    yield from stream_check_results(session, storage)
    for ref, model in STREAM_TABLES.items():
        extra = {"micro_batches": len(reports), "posts_this_run": posts}
        if ref == POSTS:
            extra["quarantined_rows"] = storage.table_rows(POSTS.quarantine())
        yield dg.MaterializeResult(
            asset_key=ref.key_path,
            metadata=table_metadata(storage, ref, model, rows=storage.table_rows(ref), **extra),
        )


class RealtimeConfig(dg.Config):
    seconds: float = 0.0  # stop after this long; 0 = until the run is terminated
    trigger_seconds: float = 1.0


@dg.op(out=dg.Out(dg.Nothing), tags={"kind": "spark"})
def run_posts_stream_continuously(
    context: dg.OpExecutionContext,
    config: RealtimeConfig,
    lake: LakeResource,
    spark: SparkResource,
    serving: ServingResource,
):
    """The posts stream in real time (processing-time trigger). Each micro-batch that brought posts is reported
    as a materialization of the stream's tables, so the asset catalog follows it live. Terminating the run stops it."""
    storage, reports = lake.storage, queue.Queue()
    query = stream.start(
        spark.session(),
        storage,
        lake.hash_key(),
        available_now=False,
        trigger_seconds=config.trigger_seconds,
        on_batch=reports.put,
        online=serving.optional_store(context.log),
    )
    deadline = time.monotonic() + config.seconds if config.seconds else None
    try:
        while query.isActive and (deadline is None or time.monotonic() < deadline):
            try:
                report = reports.get(timeout=0.5)
            except queue.Empty:
                continue
            context.log.info(
                f"batch {report.batch_id}: {report.posts} posts, rejected {report.rejected}, {report.seconds:.2f} s"
            )
            if report.publish_error:
                context.log.warning(f"batch {report.batch_id} not in the online store: {report.publish_error}")
            if report.posts or report.rejected:
                for ref in STREAM_TABLES:
                    yield dg.AssetMaterialization(
                        asset_key=ref.key_path,
                        metadata={
                            "batch_id": report.batch_id,
                            "posts": report.posts,
                            "model_version": report.model_version,
                        },
                    )
    finally:
        query.stop()


@dg.job(
    description="The posts stream, continuously (real time). Launch it from the UI or `dagster job execute`; "
    "terminate the run to stop it. The scheduled/CI path is the posts_stream asset (availableNow)."
)
def posts_realtime():
    run_posts_stream_continuously()
