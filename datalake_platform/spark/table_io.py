"""Reading and writing lake tables with Spark, committed through the tables' Iceberg catalog.

Spark writes a run's files into a fresh folder under the table (which no reader plans from), an
optional audit judges the staged rows, then one catalog commit makes them the table's partitions
(lake.iceberg). A run killed mid-write, or a write the audit rejects, leaves the previous
snapshot readable and whole.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Protocol

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from datalake_platform.compat import spark as compat
from datalake_platform.lake.iceberg import DAY_FOLDER_COLUMN, StagedFile, path_day
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import PARTITION_COLUMN, TableRef
from datalake_platform.metadata import commit_summary
from datalake_platform.quality.staged_files import StagedFiles
from datalake_platform.spark.session import runs_in_process


def read_table(
    spark: SparkSession,
    storage: LakeStorage,
    ref: TableRef,
    schema: StructType | None,
    days: list[str] | None = None,
) -> DataFrame:
    """A table read with its declared schema; `days` limits a partitioned table to those partitions.

    Spark reads the data files the table's current snapshot lists (never a folder: a folder also
    holds files no commit published). With `schema=None` the schema is the one the files hold
    (what a contract check must see).
    """
    files = storage.table_files(ref) if days is None else storage.partition_files(ref, days)
    if not files:
        return spark.createDataFrame([], schema or StructType())

    def reader():
        return spark.read.schema(schema) if schema is not None else spark.read

    migrated = [f for f in files if path_day(f) is not None]
    if not migrated:
        return reader().parquet(*files)
    # Files registered by `datalake migrate` hold `dt` only in their `dt=<day>/` folder, which
    # Spark's partition discovery reads back as the column, from the table's folder down.
    table_folder = migrated[0].rsplit("/", 2)[0]  # as readable as the files (a mirror's copy, s3a://)
    frames = [reader().option("basePath", table_folder).parquet(*migrated)]
    if schema is None:  # the day as the files written since hold it, not as the folder name infers
        frames[0] = frames[0].withColumn(PARTITION_COLUMN, F.col(PARTITION_COLUMN).cast("date"))
    if len(migrated) < len(files):
        frames.append(reader().parquet(*[f for f in files if path_day(f) is None]))
    df = functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    return df.select(*schema.fieldNames()) if schema is not None else df


class Audit(Protocol):
    """Write-audit-publish: sees the rows while they are written, then judges the staged files.

    `watch` may make the write fail on a bad row; `tripped` tells such a failure, after which
    the rows are written again, unwatched, for `verify` to judge in full.
    """

    def watch(self, df: DataFrame) -> DataFrame: ...

    def tripped(self, error: Exception) -> bool: ...

    def distinct_columns(self) -> list[str]: ...

    def verify(self, staged: DataFrame, rows: Mapping[str, int], files: StagedFiles | None = None) -> bool: ...


def write_partitions(
    df: DataFrame, storage: LakeStorage, ref: TableRef, days: list[str], audit: Audit | None = None
) -> dict[str, int]:
    """Replace the given partitions of `ref` with `df` (which holds a `dt` column); rows per day.

    Days in `days` with no rows in `df` end with none, so a re-run never leaves a stale partition
    behind. Rows are counted from the written parquet footers, not by a scan. With an `audit`,
    nothing is published unless it passes the staged rows.
    """
    staging = storage.staging_uri(ref)
    try:
        _stage(
            df,
            audit,
            lambda rows: _split_by_day(rows, _write_options(audit)).parquet(staging),
        )
        files = storage.staged_files(staging, days)
        counts = _rows_per_day(files, days)
        if not _passes(audit, df, storage, staging, files, counts):
            storage.discard(staging)
            return counts
        storage.commit_partitions(ref, staging, days, _file_schema(df.schema), commit_summary(), files)
    except BaseException:
        storage.discard(staging)
        raise
    return counts


STREAM_BATCH = "stream-batch"  # the snapshot summary key of an append made by a stream's micro-batch


def append_partitions(
    df: DataFrame, storage: LakeStorage, ref: TableRef, days: list[str] | None, batch: str
) -> dict[str, int] | None:
    """Add `df`'s rows (of `days`, or of every day they hold with None) to table `ref` in one snapshot,
    once per stream `batch` (e.g. `posts:17`): a batch an earlier attempt committed is not added again
    (the idempotent-sink pattern: Spark replays a batch after a crash, with the same id). Rows per
    day; None if skipped."""
    if storage.tables.committed(ref, STREAM_BATCH, batch):
        return None
    staging = storage.staging_uri(ref)
    try:
        _split_by_day(df).parquet(staging)
        files = storage.staged_files(staging, days, every_day=days is None)
        summary = {**commit_summary(), STREAM_BATCH: batch}
        storage.append_partitions(ref, staging, days or [], _file_schema(df.schema), summary, files)
        counts = _rows_per_day(files, days if days is not None else sorted({f.day for f in files}))
    except BaseException:
        storage.discard(staging)
        raise
    return counts


def _split_by_day(df: DataFrame, options: dict[str, str] | None = None):
    """A writer of `df` into one folder per day. Split by a copy of the day: the files keep `dt`, as an
    Iceberg data file must. The day stays a date: Spark sorts the rows by it before writing, and
    dates sort by their prefix alone (radix sort), strings do not (~10% of the write)."""
    return (
        df.withColumn(DAY_FOLDER_COLUMN, F.col(PARTITION_COLUMN))
        .write.mode("overwrite")
        .options(**(options or {}))
        .partitionBy(DAY_FOLDER_COLUMN)
    )


def clear_partitions(
    schema: Callable[[], StructType], storage: LakeStorage, ref: TableRef, days: list[str]
) -> dict[str, int]:
    """What `write_partitions` of no rows leaves (no row in any of `days`), without Spark; rows per
    day (none). `schema` (the rows' Spark schema) is asked for only if the table is new."""
    storage.empty_partitions(ref, days, lambda: _file_schema(schema()))
    return dict.fromkeys(days, 0)


def write_table(df: DataFrame, storage: LakeStorage, ref: TableRef, audit: Audit | None = None) -> int:
    """Replace the whole unpartitioned table `ref` with `df`; returns its row count.

    With an `audit`, nothing is published unless it passes the staged rows.
    """
    staging = storage.staging_uri(ref)
    try:
        _stage(df, audit, lambda rows: rows.write.mode("overwrite").options(**_write_options(audit)).parquet(staging))
        files = storage.staged_files(staging, None)
        rows = sum(f.metadata.num_rows for f in files)
        if not _passes(audit, df, storage, staging, files, {"all": rows}):
            storage.discard(staging)
            return rows
        storage.commit_table(ref, staging, _file_schema(df.schema), commit_summary(), files)
    except BaseException:
        storage.discard(staging)
        raise
    return rows


def _file_schema(schema: StructType) -> pa.Schema:
    """The arrow schema of a table's files. Parquet stores Spark timestamps as UTC instants (the
    session's time zone is UTC, written as TIMESTAMP_MICROS: Iceberg's `timestamptz`)."""
    return compat.arrow_schema(schema)


def _write_options(audit: Audit | None) -> dict[str, str]:
    """No parquet dictionary for columns whose values never or seldom repeat: parquet would build
    a dictionary of (nearly) every value for nothing (~10% of a write per such column)."""
    distinct = audit.distinct_columns() if audit is not None else []
    return {f"parquet.enable.dictionary#{c}": "false" for c in distinct}


def _stage(df: DataFrame, audit: Audit | None, write: Callable[[DataFrame], None]) -> None:
    """`write(df)`, watched by the audit; a write its watch stopped is written again, unwatched."""
    if audit is None:
        write(df)
        return
    try:
        write(audit.watch(df))
    except Exception as error:
        if not audit.tripped(error):
            raise
        write(df)  # mode overwrite: what the stopped write left in staging goes


def _rows_per_day(files: list[StagedFile], days: list[str]) -> dict[str, int]:
    """Rows of each of `days` in a write's files, from their footers (0 for a day Spark wrote nothing for)."""
    counts = dict.fromkeys(days, 0)
    for f in files:
        counts[f.day] += f.metadata.num_rows
    return counts


def _passes(
    audit: Audit | None,
    df: DataFrame,
    storage: LakeStorage,
    staging: str,
    files: list[StagedFile],
    rows: Mapping[str, int],
) -> bool:
    if audit is None:
        return True
    spark = df.sparkSession
    if not files:  # Spark writes no file for no rows
        staged = spark.createDataFrame([], df.schema)
    else:
        staged = spark.read.parquet(staging)  # the types as stored
    if DAY_FOLDER_COLUMN in staged.columns:  # the folder Spark split the write by, not a column of the table
        staged = staged.drop(DAY_FOLDER_COLUMN)
    return audit.verify(staged, rows, _staged_files(storage, files, rows) if runs_in_process(spark) else None)


def _staged_files(storage: LakeStorage, files: list[StagedFile], rows: Mapping[str, int]) -> StagedFiles:
    """The staged files per partition (`rows`' keys: days, or "all" for a whole table)."""
    if list(rows) == ["all"]:
        return StagedFiles(storage.fs, {"all": [f.source for f in files]})
    return StagedFiles(storage.fs, {day: [f.source for f in files if f.day == day] for day in rows})
