"""The posts stream: landing JSON lines -> universal posts, scored posts, metrics per minute.

Spark Structured Streaming reads new landing files incrementally (its checkpoint lives in the
lake's work area); each micro-batch is handled by `process_batch` with batch writes committed
to the tables' Iceberg catalog. Exactly once, by the idempotent-sink pattern:

- Spark records a batch's files in its offset log before running it and re-runs the same batch
  id with the same files after a crash;
- each table gets a batch's rows in one append whose snapshot records the batch id
  (`append_partitions`); a replayed batch skips the tables its first attempt committed, so no
  row is added twice, whatever moment the crash hit. An append costs O(batch), whatever the
  day's size; the metrics per minute get the batch's totals merged into the minutes of the days
  it touches, in a commit that records the batch too (domains/posts/metrics.py).

Run as a module for a stream outside Dagster (tests, benchmarks):

    python -m datalake_platform.domains.posts.stream --root LAKE [--continuous --seconds N]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
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

from datalake_platform.domains.posts import metrics, transforms
from datalake_platform.domains.posts import online as views
from datalake_platform.domains.posts.schemas import Posts, ScoredPosts
from datalake_platform.domains.posts.tables import (
    LANDING_POSTS,
    METRICS_PER_MINUTE,
    POSTS,
    SCORED_POSTS,
    SENTIMENT_MODEL,
    STREAM_CHECKPOINT,
)
from datalake_platform.lake import arrow_io
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.metadata import commit_summary
from datalake_platform.ml.artifacts import ModelStore
from datalake_platform.quality.validation import spark_schema
from datalake_platform.serving.store import OnlineStore, StoreUnavailable
from datalake_platform.serving.sync import publish
from datalake_platform.spark.table_io import STREAM_BATCH, append_partitions, read_table

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
    # Seconds per part: scores, publish, count, posts, metrics, publish_metrics.
    phases: dict[str, float] = field(default_factory=dict)


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
    """One micro-batch: scores first (the real-time path), then posts, quarantine and metrics.

    Each table gets the batch's rows in one commit that records the batch (O(batch)); a replay
    of the batch after a crash writes only to the tables its first attempt did not reach. Once
    the scores are committed, the posts and the metrics are written side by side while the
    scores go to the online store: the next batch, and the next posts' freshness, wait for all."""
    started = time.perf_counter()
    report = BatchReport(batch_id)
    complete = files.where(~F.col("path").rlike(IN_PROGRESS))  # as lake.storage.is_data_file: not yet landed
    known = read_table(spark, storage, POSTS, spark_schema(Posts)).select("post_id", "source_file", "line_number")
    classified = transforms.classify_posts(transforms.post_lines(complete), known).cache()
    batch = f"{STREAM_NAME}:{batch_id}"
    try:
        report.model_version, pipeline = model.get()
        new_posts = transforms.posts(classified, hash_key)
        # A post's id is kept by one line only (the others are quarantined as duplicates), so a re-run
        # of this batch scores exactly the posts it keeps.
        scores = _write_scores(spark, storage, pipeline, new_posts, classified, batch, report)
        try:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"posts-batch-{batch_id}") as pool:
                tail = [
                    pool.submit(_write_posts, storage, classified, new_posts, batch, report),
                    pool.submit(_write_metrics, storage, new_posts, scores, batch, report, online),
                ]
                if online is not None:
                    rows = (r.asDict() for r in scores.collect())
                    report.published += _publish(online, storage, views.SCORES, rows, report)
                    report.scores_published_at = datetime.now(UTC)
                tail[0].result()
                report.published += tail[1].result()  # the metrics' rows written to the online store
        finally:
            scores.unpersist()
    finally:
        classified.unpersist()
    report.seconds = time.perf_counter() - started
    return report


def _count(classified: DataFrame, report: BatchReport) -> None:
    """Lines by reason and day, files."""
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


def _write_scores(
    spark: SparkSession,
    storage: LakeStorage,
    pipeline: PipelineModel,
    new_posts: DataFrame,
    classified: DataFrame,
    batch: str,
    report: BatchReport,
) -> DataFrame:
    """The batch's scores committed (the batch's first job: it fills the cache of `classified`); the
    rows the lake holds for them (cached): this attempt's, or on a replay the first attempt's
    (scored at another time)."""
    report.scored_at = datetime.now(UTC)
    scored = transforms.scored_posts(pipeline, new_posts, report.model_version, report.scored_at).cache()
    with _phase(report, "scores"):
        appended = append_partitions(scored, storage, SCORED_POSTS, None, batch)
    report.scores_committed_at = datetime.now(UTC)
    if appended is None:
        scored.unpersist()
        days = sorted(str(r["dt"]) for r in classified.select("dt").distinct().collect())
        scored = _committed_scores(spark, storage, new_posts, days).cache()
    return scored


def _write_posts(
    storage: LakeStorage, classified: DataFrame, new_posts: DataFrame, batch: str, report: BatchReport
) -> None:
    """The batch counted (from the cache), its posts and its quarantined lines appended."""
    with _phase(report, "count"):
        _count(classified, report)
    with _phase(report, "posts"):
        append_partitions(new_posts, storage, POSTS, report.days, batch)
        if report.rejected:
            append_partitions(transforms.rejected(classified), storage, POSTS.quarantine(), report.days, batch)


def _write_metrics(
    storage: LakeStorage,
    new_posts: DataFrame,
    scores: DataFrame,
    batch: str,
    report: BatchReport,
    online: OnlineStore | None,
) -> int:
    """The batch's totals merged into the minutes of the days it touches, in one commit that records
    the batch, then the minutes it changed into the online store (on a replay that finds the commit
    made, those of its days as the lake holds them); the rows written to the store."""
    with _phase(report, "metrics"):
        totals = transforms.minute_totals(new_posts, scores).withColumn("minute", F.unix_micros("minute")).collect()
        days = sorted({str(r["dt"]) for r in totals})
        if not days:
            return 0
        current = arrow_io.read_partitions(storage, METRICS_PER_MINUTE, days, metrics.SCHEMA)
        changed = current
        if not storage.tables.committed(METRICS_PER_MINUTE, STREAM_BATCH, batch):
            rows, changed = metrics.merge_batch(current, (r.asDict() for r in totals))
            summary = {**commit_summary(), STREAM_BATCH: batch}
            arrow_io.replace_partitions(storage, METRICS_PER_MINUTE, rows, days, summary)
    if online is None:
        return 0
    return _publish(online, storage, views.METRICS, changed.to_pylist(), report, "publish_metrics")


def _committed_scores(spark: SparkSession, storage: LakeStorage, new_posts: DataFrame, days: list[str]) -> DataFrame:
    """The scores an earlier attempt of this batch committed (a replay re-scores at another time)."""
    committed = read_table(spark, storage, SCORED_POSTS, spark_schema(ScoredPosts), days=days)
    return committed.join(new_posts.select("post_id"), "post_id", "left_semi")


def _publish(
    online: OnlineStore, storage: LakeStorage, view, rows: Iterable[dict], report: BatchReport, phase: str = "publish"
) -> int:
    """Committed rows into the online store; the rows written. A store that does not answer does not
    stop the stream: the lake has the rows, and the online asset's next sync writes what the store missed."""
    try:
        with _phase(report, phase):
            return publish(online, storage, view, rows)
    except StoreUnavailable as error:
        report.publish_error = str(error)
        return 0


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
