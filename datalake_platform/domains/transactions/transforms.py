"""The transactions pipeline as plain functions `(inputs) -> DataFrame`: no Dagster, no paths."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from datalake_platform.domains.transactions.schemas import MONEY
from datalake_platform.domains.transactions.tables import LANDING_COLUMNS
from datalake_platform.ingestion.delimited import QUARANTINE_COLUMNS, field, missing_columns

AMOUNT = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"  # what fits decimal(12,2) without rounding
MAX_QUANTITY = 10_000  # a purchase line of more CDs than this is a data error

# Quarantine reasons, checked in this order; a row gets the first that applies.
def _reasons() -> list[tuple[str, Column]]:
    date = F.try_to_date(field("date"), "yyyyMMdd")
    quantity = field("number_of_cds").try_cast("int")
    amount = field("dollar_value")
    return [
        ("missing_column", missing_columns(LANDING_COLUMNS) != ""),
        ("wrong_field_count", F.size("fields") != F.size("header")),
        ("missing_person", F.coalesce(field("customer_id"), F.lit("")) == ""),
        ("unparseable_date", date.isNull()),
        ("date_outside_partition", date != F.to_date("dt")),
        ("unparseable_quantity", quantity.isNull()),
        ("quantity_out_of_range", (quantity < 1) | (quantity > MAX_QUANTITY)),
        ("unparseable_amount", ~F.coalesce(amount, F.lit("")).rlike(AMOUNT)),
        ("negative_amount", amount.try_cast(MONEY) < 0),
    ]


def classify_purchases(lines: DataFrame) -> DataFrame:
    """Landing lines (see `ingestion.delimited.read_lines`) with a `reason` (null = good row)."""
    reason = F.lit(None).cast("string")
    for name, broken in reversed(_reasons()):
        reason = F.when(broken, F.lit(name)).otherwise(reason)
    return lines.withColumn("reason", reason)


def purchases(classified: DataFrame) -> DataFrame:
    """The good rows, typed: universal/transactions/purchases."""
    return classified.where(F.col("reason").isNull()).select(
        F.substring(F.sha2(F.concat_ws(":", "source_file", F.col("line_number").cast("string")), 256), 1, 32).alias(
            "ID_TRANSACCION"
        ),
        field("customer_id").alias("ID_PERSONA"),
        F.try_to_date(field("date"), "yyyyMMdd").alias("FECHA"),
        field("number_of_cds").try_cast("int").alias("CANTIDAD"),
        field("dollar_value").try_cast(MONEY).alias("MONTO"),
        F.to_date("dt").alias("dt"),
    )


def rejected_purchases(classified: DataFrame) -> DataFrame:
    """The rows that broke a rule, exactly as they arrived: quarantine/transactions/purchases."""
    return classified.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS).withColumn("dt", F.to_date("dt"))


def report_by_person(purchases: DataFrame) -> DataFrame:
    """The reference architecture's report: SUM(MONTO) per person, with count and first/last date."""
    return purchases.groupBy("ID_PERSONA").agg(
        F.sum("MONTO").alias("MONTO_TRANSACCIONES"),
        F.count(F.lit(1)).alias("NUM_TRANSACCIONES"),
        F.min("FECHA").alias("PRIMERA_COMPRA"),
        F.max("FECHA").alias("ULTIMA_COMPRA"),
    )


def daily_sales(purchases: DataFrame) -> DataFrame:
    """Totals per day."""
    return purchases.groupBy("dt").agg(
        F.count(F.lit(1)).alias("NUM_TRANSACCIONES"),
        F.count_distinct("ID_PERSONA").alias("NUM_PERSONAS"),
        F.sum("CANTIDAD").cast("long").alias("CANTIDAD_TOTAL"),
        F.sum("MONTO").alias("MONTO_TOTAL"),
    )
