"""Reading and writing lake tables with Spark, through the storage's commit protocol.

Writers never touch a table's folder: Spark writes into a staging folder in the work area,
an optional audit judges the staged rows, then the storage swaps each partition into place.
A run killed mid-write, or a write the audit rejects, leaves the previous version readable
and whole.
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
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import PARTITION_COLUMN, TableRef, partition_folder
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

    With `schema=None` the schema is the one the files hold (what a contract check must see);
    the partition column is then a date, as the lake declares it everywhere.
    """
    uri = storage.table_uri(ref)
    reader = spark.read.schema(schema) if schema is not None else spark.read
    if days is None and storage.committed_files(uri) is None:  # the folder is the table
        if schema is not None and not storage.fs.exists(uri):  # nothing ingested yet: an empty table
            return spark.createDataFrame([], schema)
        return _typed_partition(reader.parquet(uri), schema)
    paths = _committed_paths(storage, ref, days)
    if not paths:
        return spark.createDataFrame([], schema or StructType())
    return _typed_partition(reader.option("basePath", uri).parquet(*paths), schema)


def _committed_paths(storage: LakeStorage, ref: TableRef, days: list[str] | None) -> list[str]:
    """Partition folders where a folder is its committed version; else the committed files themselves."""
    present = storage.list_partitions(ref)
    if days is None and not present:  # an unpartitioned table on an object store
        return storage.parquet_files(storage.table_uri(ref))
    chosen = [d for d in present if days is None or d in set(days)]
    if storage.committed_files(storage.table_uri(ref)) is None:
        return [storage.partition_uri(ref, d) for d in chosen]
    return storage.partition_files(ref, chosen)


class Audit(Protocol):
    """Write-audit-publish: sees the rows while they are written, then judges the staged files.

    `watch` may make the write fail on a bad row; `tripped` tells such a failure, after which
    the rows are written again, unwatched, for `verify` to judge in full.
    """

    def watch(self, df: DataFrame) -> DataFrame: ...

    def tripped(self, error: Exception) -> bool: ...

    def distinct_columns(self) -> list[str]: ...

    def verify(self, staged: DataFrame, rows: Mapping[str, int], files: StagedFiles | None = None) -> bool: ...


def _typed_partition(df: DataFrame, schema: StructType | None) -> DataFrame:
    if schema is None and PARTITION_COLUMN in df.columns:
        return df.withColumn(PARTITION_COLUMN, F.to_date(PARTITION_COLUMN))
    return df


def write_partitions(
    df: DataFrame, storage: LakeStorage, ref: TableRef, days: list[str], audit: Audit | None = None
) -> dict[str, int]:
    """Replace the given partitions of `ref` with `df` (which holds a `dt` column); rows per day.

    Days in `days` with no rows in `df` become empty partitions, so a re-run never leaves a
    stale partition behind. Rows are counted from the written parquet footers, not by a scan.
    With an `audit`, nothing is published unless it passes the staged rows.
    """
    staging = storage.staging_uri(ref)
    try:
        _stage(
            df,
            audit,
            # The day stays a date: Spark sorts the rows by partition before writing them, and
            # dates sort by their prefix alone (radix sort), strings do not (~10% of the write).
            lambda rows: (
                rows.write.mode("overwrite")
                .options(**_write_options(audit))
                .partitionBy(PARTITION_COLUMN)
                .parquet(staging)
            ),
        )
        storage.stage_empty_partitions(staging, days, _file_schema(df.schema))
        counts = storage.parquet_row_counts(staging, days)
        if _passes(audit, df, storage, staging, counts):
            storage.commit_partitions(ref, staging, days)
            _publish(storage, ref, df.schema, days)
    finally:
        storage.discard(staging)
    return counts


def clear_partitions(
    schema: Callable[[], StructType], storage: LakeStorage, ref: TableRef, days: list[str]
) -> dict[str, int]:
    """What `write_partitions` of no rows leaves (each day an empty partition), without Spark, and
    touching only the days that are not empty already; rows per day (none). `schema` (the rows'
    Spark schema) is asked for only if a day must change, and once."""
    schema = functools.cache(schema)
    cleared = storage.empty_partitions(ref, days, lambda: _file_schema(schema()))
    if cleared:
        _publish(storage, ref, schema(), cleared)
    return dict.fromkeys(days, 0)


def write_table(df: DataFrame, storage: LakeStorage, ref: TableRef, audit: Audit | None = None) -> int:
    """Replace the whole unpartitioned table `ref` with `df`; returns its row count.

    With an `audit`, nothing is published unless it passes the staged rows.
    """
    staging = storage.staging_uri(ref)
    try:
        _stage(df, audit, lambda rows: rows.write.mode("overwrite").options(**_write_options(audit)).parquet(staging))
        rows = storage.parquet_rows(staging)
        if _passes(audit, df, storage, staging, {"all": rows}):
            storage.commit_table(ref, staging)
            _publish(storage, ref, df.schema, None)
    finally:
        storage.discard(staging)
    return rows


def _file_schema(schema: StructType) -> pa.Schema:
    """The arrow schema of a partitioned table's files: its columns but the partition column.
    Parquet stores Spark timestamps as UTC instants (the session's time zone is UTC)."""
    return compat.arrow_schema(StructType([f for f in schema.fields if f.name != PARTITION_COLUMN]))


def _publish(storage: LakeStorage, ref: TableRef, schema: StructType, days: list[str] | None) -> None:
    if storage.catalog is not None:  # the SQL engines see the table, its new partitions included
        storage.catalog(ref, schema, days)


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


def _passes(audit: Audit | None, df: DataFrame, storage: LakeStorage, staging: str, rows: Mapping[str, int]) -> bool:
    if audit is None:
        return True
    spark = df.sparkSession
    staged = _typed_partition(spark.read.parquet(staging), None)  # the types as stored
    return audit.verify(staged, rows, _staged_files(storage, staging, rows) if runs_in_process(spark) else None)


def _staged_files(storage: LakeStorage, staging: str, rows: Mapping[str, int]) -> StagedFiles:
    """The staged files per partition (`rows`' keys: days, or "all" for a whole table)."""
    if list(rows) == ["all"]:
        return StagedFiles(storage.fs, {"all": storage.parquet_files(staging)})
    return StagedFiles(storage.fs, {day: storage.parquet_files(f"{staging}/{partition_folder(day)}") for day in rows})
