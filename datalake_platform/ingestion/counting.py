"""How a landing table's records are counted for `nothing_lost`, by other readers than ingestion's.

Every counter has the same shape, `(spark, storage, landing, days) -> {partition: records}`, so
one check (`quality.checks.NothingLost`) serves every kind of landing table:

- `records_per_day`: delimited or JSON-lines files in `dt=` folders (one count per day);
- `whole_files`: binary files (images), each one record, at any depth, no days;
- `data_lines`: an undated delimited file (or a few), each line after its header one record;
- `misplaced_records`: the files of the `dt=` folders whose name is not a day (see `ingestion.misplaced`).

An unpartitioned count has one key, `ALL`; `days` is then None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from datalake_platform.ingestion import manifest
from datalake_platform.ingestion.landing import misplaced_files
from datalake_platform.ingestion.records import count_landing, count_records, per_day
from datalake_platform.lake.files import data_files
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import TableRef

ALL = "all"  # the one partition of an unpartitioned table

# (spark, storage, landing, days) -> records per partition; spark is None for a counter that needs none.
LandingCounter = Callable[[SparkSession | None, LakeStorage, TableRef, "list[str] | None"], Mapping[str, int]]


def records_per_day(
    spark: SparkSession, storage: LakeStorage, landing: TableRef, days: list[str] | None
) -> dict[str, int]:
    """Data records per day of `days`: as the run that wrote the day counted them (kept in the
    manifest), and counted here (`records.count_landing`) for files it did not count or that
    changed since. A day with no files counts 0."""
    files = storage.list_landing_files(landing, days or [])
    recorded = manifest.recorded_records(storage, landing, files)
    counted = count_landing(spark, [f for f in files if f.relative_path not in recorded]).records
    return dict.fromkeys(days or [], 0) | per_day(files, {**recorded, **counted})


def whole_files(
    spark: SparkSession | None, storage: LakeStorage, landing: TableRef, days: list[str] | None = None
) -> dict[str, int]:
    """Every data file under `landing`, at any depth, is one record: a storage listing, not Spark's."""
    return {ALL: len(data_files(storage, landing))}


def data_lines(
    spark: SparkSession, storage: LakeStorage, landing: TableRef, days: list[str] | None = None
) -> dict[str, int]:
    """Non-blank lines after each file's header, of the files under `landing` (undated), by Spark's line reader."""
    return {ALL: count_data_lines(spark, data_files(storage, landing))}


def misplaced_records(
    spark: SparkSession, storage: LakeStorage, landing: TableRef, days: list[str] | None = None
) -> dict[str, int]:
    """Data records of the files in `landing`'s `dt=` folders whose name is not a day, all together."""
    return {ALL: sum(count_records(spark, misplaced_files(storage, landing)).values())}


def count_data_lines(spark: SparkSession, paths: list[str]) -> int:
    """Non-blank lines after each file's header, with Spark's line reader."""
    if not paths:
        return 0
    per_file = spark.read.text(paths).where(F.trim("value") != "").groupBy(F.col("_metadata.file_path")).count()
    return int(per_file.agg(F.sum(F.col("count") - 1)).first()[0] or 0)
