"""The posts stream: landing JSON lines -> universal posts, scored posts, metrics per minute.

Spark Structured Streaming reads new landing files incrementally (its checkpoint lives in the
lake's work area); each micro-batch is handled by `process_batch` with batch writes committed
to the tables' Iceberg catalog. Exactly once, by the idempotent-sink pattern:

- Spark records a batch's files in its offset log before running it and re-runs the same batch
  id with the same files after a crash;
- each table gets a batch's rows in one append whose snapshot records the batch id
  (`append_partitions`); a replayed batch skips the tables its first attempt committed, so no
  row is added twice, whatever moment the crash hit. An append costs O(batch), whatever the
  day's size; only the metrics per minute are recomputed for the days a batch touches.

Run as a module for a stream outside Dagster (tests, benchmarks):

    python -m datalake_platform.domains.posts.stream --root LAKE [--continuous --seconds N]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import (
    BinaryType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from datalake_platform.domains.posts import online as views
from datalake_platform.domains.posts import transforms
from datalake_platform.domains.posts.schemas import Posts, ScoredPosts
from datalake_platform.domains.posts.tables import (
    LANDING_POSTS,
    METRICS_PER_MINUTE,
    POSTS,
    SCORED_POSTS,
    SENTIMENT_MODEL,
    STREAM_CHECKPOINT,
)
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.ml.artifacts import ModelStore
from datalake_platform.quality.validation import spark_schema
from datalake_platform.serving.store import OnlineStore, StoreUnavailable
from datalake_platform.serving.sync import publish
from datalake_platform.spark.table_io import append_partitions, read_table, write_partitions

STREAM_NAME = "posts"  # how the tables' snapshots name this stream's batches (`posts:<batch id>`)

# binaryFile's columns, and the `dt=` folder as a partition column (a stream needs its schema up front).
LANDED_FILE_SCHEMA = StructType(
    [
        StructField("path", StringType()),
        StructField("modificationTime", TimestampType()),
        StructField("length", LongType()),
        StructField("content", BinaryType()),
        StructField("dt", StringType()),
    ]
)

# Names of files still being written (Spark itself skips names starting with `_` or `.`).
IN_PROGRESS = r"\.(part|tmp|crc)$"


@dataclass
class CurrentModel:
    """The published sentiment model, reloaded when a new version is published."""

    storage: LakeStorage
    version: str | None = None
    model: PipelineModel | None = None

    def get(self) -> tuple[str, PipelineModel]:
        store = ModelStore(self.storage, SENTIMENT_MODEL)
        version = store.current()
        if version != self.version:
            self.model, self.version = PipelineModel.load(store.uri(version)), version
        return self.version, self.model


@dataclass
class BatchReport:
    batch_id: int
    files: int = 0
    lines: int = 0
    posts: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    days: list[str] = field(default_factory=list)
    model_version: str = ""
    seconds: float = 0.0
    scored_at: datetime | None = None  # the scored_at of this batch's rows
    scores_committed_at: datetime | None = None  # when they became visible to readers
    scores_published_at: datetime | None = None  # when the online store had them (serving)
    published: int = 0  # rows written to the online store
    publish_error: str = ""  # the store did not answer: the lake has the batch; the online asset's sync repairs it
    phases: dict[str, float] = field(default_factory=dict)  # seconds: count, scores, publish, posts, metrics


@contextlib.contextmanager
def _phase(report: BatchReport, name: str) -> Iterator[None]:
    """Time a part of the batch (where a batch's seconds go: benchmarks/streaming, serving)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        report.phases[name] = round(report.phases.get(name, 0.0) + time.perf_counter() - started, 3)


def process_batch(
    spark: SparkSession,
    storage: LakeStorage,
    model: CurrentModel,
    files: DataFrame,
    batch_id: int,
    hash_key: bytes,
    online: OnlineStore | None = None,
) -> BatchReport:
    """One micro-batch: scores first (the real-time path), then posts, quarantine and metrics."""
    started = time.perf_counter()
    report = BatchReport(batch_id)
    known = read_table(spark, storage, POSTS, spark_schema(Posts)).select("post_id", "source_file", "line_number")
    complete = files.where(~F.col("path").rlike(IN_PROGRESS))  # as lake.storage.is_data_file: not yet landed
    classified = transforms.classify_posts(transforms.post_lines(complete), known).cache()
    try:
        with _phase(report, "count"):
            _count(classified, report)
        if report.days:
            _write(spark, storage, model, classified, report, hash_key, online)
    finally:
        classified.unpersist()
    report.seconds = time.perf_counter() - started
    return report


def _count(classified: DataFrame, report: BatchReport) -> None:
    """Lines by reason and day, files: one job, which also fills the cache the writes read."""
    stats = (
        classified.groupBy("reason", "dt")
        .agg(F.count(F.lit(1)).alias("n"), F.collect_set("source_file").alias("files"))
        .collect()
    )
    report.days = sorted({str(r["dt"]) for r in stats})
    report.files = len({(str(r["dt"]), f) for r in stats for f in r["files"]})
    for r in stats:
        if r["reason"] is None:
            report.posts += r["n"]
        else:
            report.rejected[r["reason"]] = report.rejected.get(r["reason"], 0) + r["n"]
    report.lines = report.posts + sum(report.rejected.values())


def _write(
    spark: SparkSession,
    storage: LakeStorage,
    model: CurrentModel,
    classified: DataFrame,
    report: BatchReport,
    hash_key: bytes,
    online: OnlineStore | None,
) -> None:
    days = report.days
    report.model_version, pipeline = model.get()
    new_posts = transforms.posts(classified, hash_key)
    # A post's id is kept by one line only (the others are quarantined as duplicates), so a re-run
    # of this batch scores exactly the posts it keeps.
    report.scored_at = datetime.now(UTC)
    scored = transforms.scored_posts(pipeline, new_posts, report.model_version, report.scored_at).cache()
    try:
        # Each table gets this batch's rows appended once (O(batch)); scores first: the real-time path.
        # A replay of the batch after a crash appends only to the tables its first attempt did not reach.
        batch = f"{STREAM_NAME}:{report.batch_id}"
        with _phase(report, "scores"):
            appended = append_partitions(scored, storage, SCORED_POSTS, days, batch)
        report.scores_committed_at = datetime.now(UTC)
        if online is not None:  # what the lake holds: this attempt's scores, or on a replay the first one's
            committed = scored if appended is not None else _committed_scores(spark, storage, new_posts, days)
            _publish(online, storage, views.SCORES, committed, report)
            report.scores_published_at = datetime.now(UTC)
    finally:
        scored.unpersist()
    with _phase(report, "posts"):
        append_partitions(new_posts, storage, POSTS, days, batch)
        if report.rejected:
            append_partitions(transforms.rejected(classified), storage, POSTS.quarantine(), days, batch)
    day_posts = read_table(spark, storage, POSTS, spark_schema(Posts), days=days)
    day_scores = read_table(spark, storage, SCORED_POSTS, spark_schema(ScoredPosts), days=days)
    metrics = transforms.metrics_per_minute(day_posts, day_scores).cache()
    try:
        with _phase(report, "metrics"):
            write_partitions(metrics, storage, METRICS_PER_MINUTE, days)
        if online is not None:
            _publish(online, storage, views.METRICS, metrics, report)
    finally:
        metrics.unpersist()


def _committed_scores(spark: SparkSession, storage: LakeStorage, new_posts: DataFrame, days: list[str]) -> DataFrame:
    """The scores an earlier attempt of this batch committed (a replay re-scores at another time)."""
    committed = read_table(spark, storage, SCORED_POSTS, spark_schema(ScoredPosts), days=days)
    return committed.join(new_posts.select("post_id"), "post_id", "left_semi")


def _publish(online: OnlineStore, storage: LakeStorage, view, rows: DataFrame, report: BatchReport) -> None:
    """Committed rows into the online store. A store that does not answer does not stop the stream:
    the lake has the rows, and the online asset's next sync writes what the store missed."""
    try:
        with _phase(report, "publish"):
            report.published += publish(online, storage, view, (r.asDict() for r in rows.collect()))
    except StoreUnavailable as error:
        report.publish_error = str(error)


def start(
    spark: SparkSession,
    storage: LakeStorage,
    hash_key: bytes,
    available_now: bool = True,
    trigger_seconds: float = 1.0,
    max_files_per_trigger: int | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
    online: OnlineStore | None = None,
) -> StreamingQuery:
    """Start the stream: `availableNow` (everything landed so far, then stop) or every `trigger_seconds`.
    Authors are hashed with `hash_key` (the lake's, governance.pii). With an `online` store, each batch's
    scores and metrics go to it right after their commit (serving)."""
    model = CurrentModel(storage)
    reader = spark.readStream.format("binaryFile").schema(LANDED_FILE_SCHEMA)
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", max_files_per_trigger)
    storage.fs.makedirs(storage.table_uri(LANDING_POSTS), exist_ok=True)
    files = reader.load(storage.table_uri(LANDING_POSTS))

    def handle(batch: DataFrame, batch_id: int) -> None:
        report = process_batch(spark, storage, model, batch, batch_id, hash_key, online)
        if on_batch is not None:
            on_batch(report)

    writer = (
        files.writeStream.queryName("posts")
        .foreachBatch(handle)
        .option("checkpointLocation", storage.table_uri(STREAM_CHECKPOINT))
    )
    trigger = {"availableNow": True} if available_now else {"processingTime": f"{trigger_seconds} seconds"}
    return writer.trigger(**trigger).start()


def run_available_now(
    spark: SparkSession,
    storage: LakeStorage,
    hash_key: bytes,
    max_files_per_trigger: int | None = None,
    online: OnlineStore | None = None,
) -> list[BatchReport]:
    """Everything landed so far, in as many micro-batches as it takes; returns one report per batch."""
    reports: list[BatchReport] = []
    start(
        spark,
        storage,
        hash_key,
        True,
        max_files_per_trigger=max_files_per_trigger,
        on_batch=reports.append,
        online=online,
    ).awaitTermination()
    return reports


def main(argv: list[str] | None = None) -> int:
    from datalake_platform.governance.pii import lake_key
    from datalake_platform.lake.backends import storage_for_root
    from datalake_platform.serving.connection import open_store
    from datalake_platform.serving.local_store import LocalStoreError
    from datalake_platform.settings import SettingsError, current
    from datalake_platform.spark.session import get_or_create_session

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None)
    parser.add_argument(
        "--continuous", action="store_true", help="keep running (processing-time trigger) instead of availableNow"
    )
    parser.add_argument(
        "--seconds", type=float, default=0, help="with --continuous: stop after this long (0 = until killed)"
    )
    parser.add_argument("--trigger-seconds", type=float, default=1.0)
    parser.add_argument("--max-files-per-trigger", type=int, default=None)
    parser.add_argument("--no-online", action="store_true", help="do not write to the online store (serving)")
    args = parser.parse_args(argv)
    settings = current()
    root = args.root or settings.lake_root
    storage = storage_for_root(root)
    hash_key = lake_key(storage, settings.pii_key)
    online = None
    if not args.no_online:
        try:
            online = open_store(settings.serving_url, settings.serving_prefix, root, settings.env)
        except (SettingsError, LocalStoreError) as error:
            print(f"warning: not feeding the online store: {error}", flush=True)
    spark = get_or_create_session(conf={"spark.sql.shuffle.partitions": "2"})

    def show(r):
        served = f", {r.published} rows to the online store" if online is not None else ""
        if r.publish_error:
            served = f", NOT in the online store ({r.publish_error})"
        line = f"batch {r.batch_id}: {r.files} files, {r.posts} posts, rejected {r.rejected}{served}, {r.seconds:.2f} s"
        print(line, flush=True)

    query = start(
        spark, storage, hash_key, not args.continuous, args.trigger_seconds, args.max_files_per_trigger, show, online
    )
    if args.continuous and args.seconds:
        query.awaitTermination(args.seconds)
        query.stop()
    else:
        query.awaitTermination()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
