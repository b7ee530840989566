"""Reading and writing lake tables with Spark, through the storage's commit protocol.

Writers never touch a table's folder: Spark writes into a staging folder in the work area,
then the storage swaps each partition into place. A run killed mid-write leaves only staging
debris behind; readers keep seeing the previous version, whole.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.tables import PARTITION_COLUMN, TableRef


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
    if days is None:
        return _typed_partition(reader.parquet(uri), schema)
    present = set(storage.list_partitions(ref))
    paths = [storage.partition_uri(ref, d) for d in days if d in present]
    if not paths:
        return spark.createDataFrame([], schema or StructType())
    return _typed_partition(reader.option("basePath", uri).parquet(*paths), schema)


def _typed_partition(df: DataFrame, schema: StructType | None) -> DataFrame:
    if schema is None and PARTITION_COLUMN in df.columns:
        return df.withColumn(PARTITION_COLUMN, F.to_date(PARTITION_COLUMN))
    return df


def write_partitions(df: DataFrame, storage: LakeStorage, ref: TableRef, days: list[str]) -> dict[str, int]:
    """Replace the given partitions of `ref` with `df` (which holds a `dt` column); rows per day.

    Days in `days` with no rows in `df` become empty partitions, so a re-run never leaves a
    stale partition behind. Rows are counted from the written parquet footers, not by a scan.
    """
    staging = storage.staging_uri(ref)
    try:
        (
            df.withColumn(PARTITION_COLUMN, F.col(PARTITION_COLUMN).cast("string"))
            .write.mode("overwrite")
            .partitionBy(PARTITION_COLUMN)
            .parquet(staging)
        )
        data_columns = StructType([f for f in df.schema.fields if f.name != PARTITION_COLUMN])
        storage.stage_empty_partitions(staging, days, to_arrow_schema(data_columns))
        counts = storage.parquet_row_counts(staging, days)
        storage.commit_partitions(ref, staging, days)
    finally:
        storage.discard(staging)
    return counts


def write_table(df: DataFrame, storage: LakeStorage, ref: TableRef) -> int:
    """Replace the whole unpartitioned table `ref` with `df`; returns its row count."""
    staging = storage.staging_uri(ref)
    try:
        df.write.mode("overwrite").parquet(staging)
        rows = storage.parquet_rows(staging)
        storage.commit_table(ref, staging)
    finally:
        storage.discard(staging)
    return rows

