"""The images pipeline as plain functions: landing files -> decoded tensors (Spark), no Dagster, no paths."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from datalake_platform.compat import spark as compat
from datalake_platform.domains.images.decoding import decode_image
from datalake_platform.domains.images.tables import CLASSES, TEST_SHARE

SPLIT_SQL = f"CASE WHEN pmod(xxhash64(image_id, 42), 100) < {TEST_SHARE} THEN 'test' ELSE 'train' END"

# Quarantine reasons, checked in this order; an image gets the first that applies.
REASONS = ("unknown_label", "undecodable", "wrong_size", "wrong_channels")
DECODED_SCHEMA = (
    "source_file string, label_name string, size_bytes long, reason string, detail string, "
    "height int, width int, channels int, tensor binary"
)


def _decode_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    columns = DECODED_SCHEMA.replace(",", "").split()[::2]
    for batch in batches:
        rows = []
        for path, content in zip(batch["path"], batch["content"]):
            source = "/".join(path.rsplit("/", 2)[-2:])  # class folder / file name
            label = source.split("/")[0]
            row = {"source_file": source, "label_name": label, "size_bytes": len(content)}
            if label not in CLASSES:
                row.update(reason="unknown_label", detail=f"folder {label!r} is not one of {CLASSES}")
            else:
                row.update(decode_image(bytes(content)))
            rows.append(row)
        yield pd.DataFrame(rows, columns=columns)


def decode_images(spark: SparkSession, landing_uri: str) -> DataFrame:
    """Every data file under the landing folder (any depth), decoded in Spark's Python workers.

    Spark skips hidden and `_`-prefixed files itself; `.part` and `.tmp` uploads are skipped here.
    """
    files = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(landing_uri)
        .where(~F.col("path").rlike(r"\.(part|tmp|crc)$"))
    )
    # Spark plans a task per few small files (each "costs" openCostInBytes, 4 MB): 20,000 images
    # would be 600 tasks of Python worker round trips. A few tasks per core, each streaming its files.
    tasks = spark.sparkContext.defaultParallelism * 2
    return files.select("path", "content").coalesce(tasks).mapInPandas(_decode_batches, DECODED_SCHEMA)


def tensors(decoded: DataFrame) -> DataFrame:
    """The good images: universal/images/tensors (`image_id` hashes the landing path, stable across runs)."""
    classes = F.array(*[F.lit(c) for c in CLASSES])
    good = decoded.where(F.col("reason").isNull()).withColumn(
        "image_id", F.substring(F.sha2("source_file", 256), 1, 32)
    )
    return good.select(
        "image_id",
        "source_file",
        (compat.array_position(classes, F.col("label_name")) - 1).cast("int").alias("label"),
        "label_name",
        "height",
        "width",
        "channels",
        "tensor",
        F.expr(SPLIT_SQL).alias("split"),
    )


def rejected_images(decoded: DataFrame) -> DataFrame:
    """What could not be a tensor, with the reason: quarantine/images/tensors (the file stays in landing)."""
    return decoded.where(F.col("reason").isNotNull()).select(
        "source_file", "size_bytes", "reason", "detail", "height", "width", "channels"
    )
