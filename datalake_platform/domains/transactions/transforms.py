"""The transactions pipeline as plain functions `(inputs) -> DataFrame`: no Dagster, no paths."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from datalake_platform.compat import spark as compat
from datalake_platform.domains.transactions.schemas import MONEY, PERSON_ID, RESCUED_DATA
from datalake_platform.ingestion.records import INGESTION_REASONS, field, ingestion_reasons, quarantined
from datalake_platform.lake.table_refs import PARTITION_COLUMN
from datalake_platform.quality import patterns

AMOUNT = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"  # what fits decimal(12,2) without rounding
MAX_QUANTITY = 10_000  # a purchase line of more CDs than this is a data error

# Values of a landing file's day, computed once per file by the reader (`read_records(...,
# per_file=per_file())`) instead of once per row: the day as a date and as YYYYMMDD, and the
# prefix of the ID_TRANSACCION of the file's lines. `classify_purchases` needs them.
PER_FILE = {
    "_day": lambda: compat.try_to_date(PARTITION_COLUMN, "yyyy-MM-dd"),
    "_day_text": lambda: _compact_day(),
    "_id_prefix": lambda: F.concat(_compact_day(), F.lit("-"), "file_key", F.lit("-")),
}

# Typed candidate values, parsed once per row in their own projection: the reasons and the
# universal row read these columns instead of re-parsing the fields for every rule.
_PARSED = {
    "_person": lambda: field("customer_id"),
    "_date": lambda: _purchase_date(field("date")),
    "_quantity": lambda: compat.try_cast(field("number_of_cds"), "int"),
    "_amount_text": lambda: field("dollar_value"),
    "_amount": lambda: compat.try_cast(field("dollar_value"), MONEY),
}


def _compact_day() -> Column:
    return F.replace(F.col(PARTITION_COLUMN), F.lit("-"), F.lit(""))  # YYYYMMDD


def per_file() -> dict[str, Column]:
    """`PER_FILE` as the reader takes it."""
    return {name: build() for name, build in PER_FILE.items()}


# Quarantine reasons, checked in this order; a row gets the first that applies. The first are
# about the file and record (see ingestion.records), the others are the rules of a purchase.
PURCHASE_REASONS = (
    "missing_person",
    "malformed_person",
    "unparseable_date",
    "date_outside_partition",
    "unparseable_quantity",
    "quantity_out_of_range",
    "unparseable_amount",
    "negative_amount",
)
REASONS = INGESTION_REASONS + PURCHASE_REASONS


def _purchase_date(text: Column) -> Column:
    """`text` (YYYYMMDD) as a date. A purchase of its own partition's day, nearly every row, is
    recognised by comparing strings, without the pattern parser (the costliest step of typing)."""
    return F.when(text == F.col("_day_text"), F.col("_day")).otherwise(compat.try_to_date(text, "yyyyMMdd"))


def transaction_id() -> Column:
    """`YYYYMMDD-<file key>-<line>`: where the purchase line landed, hence stable across re-runs and
    unique (a day's file keys are distinct, a file's line numbers too); see `Purchases`."""
    return F.concat(F.col("_id_prefix"), F.col("line_number").cast("string"))


def _reasons() -> list[tuple[str, Column]]:
    date, quantity, amount = F.col("_date"), F.col("_quantity"), F.col("_amount_text")
    person = F.col("_person")
    broken = [
        F.coalesce(person, F.lit("")) == "",
        ~patterns.matches(person, PERSON_ID),  # the contract's own rule (a byte search, no regex)
        date.isNull(),
        date != F.col("_day"),
        quantity.isNull(),
        (quantity < 1) | (quantity > MAX_QUANTITY),
        ~F.coalesce(amount, F.lit("")).rlike(AMOUNT),
        F.col("_amount") < 0,
    ]
    return ingestion_reasons() + list(zip(PURCHASE_REASONS, broken, strict=True))


def rejection_metrics() -> list[Column]:
    """Observed while rejected rows are written: rows per reason, files with rejects."""
    reason = F.col("reason")
    return [
        F.to_json(F.collect_set(F.when(reason.isNotNull(), F.col("source_file")))).alias(
            "rejected_files"
        ),  # compat.observed_list
        *[F.count_if(reason == name).alias(name) for name in REASONS],
    ]


def classify_purchases(lines: DataFrame) -> DataFrame:
    """Landing records (`read_records(..., LANDING_COLUMNS)`) with a `reason` (null = good row).

    Returns provenance (dt, source_file, file_key, line_number), the reason, the parsed values, and
    `raw_line` for rejected rows only.
    """
    parsed = lines.select("*", *[build().alias(name) for name, build in _PARSED.items()])
    reason = F.lit(None).cast("string")
    for name, broken in reversed(_reasons()):
        reason = F.when(broken, F.lit(name)).otherwise(reason)
    # Narrow: the raw line only where quarantine keeps it.
    return parsed.withColumn("reason", compat.computed_once(reason)).select(
        "dt",
        *PER_FILE,
        "source_file",
        "file_key",
        "line_number",
        F.when(F.col("reason").isNotNull(), F.col("raw_line")).alias("raw_line"),
        "reason",
        "extra_columns",
        "rescued_data",
        *_PARSED,
    )


def purchases(classified: DataFrame) -> DataFrame:
    """The good rows, typed: universal/transactions/purchases."""
    return classified.where(F.col("reason").isNull()).select(
        transaction_id().alias("ID_TRANSACCION"),
        F.col("_person").alias("ID_PERSONA"),
        F.col("_date").alias("FECHA"),
        F.col("_quantity").alias("CANTIDAD"),
        F.col("_amount").alias("MONTO"),
        F.col("rescued_data").alias(RESCUED_DATA),
        F.col("_day").alias("dt"),
    )


def rejected_purchases(classified: DataFrame) -> DataFrame:
    """The rows that broke a rule, exactly as they arrived: quarantine/transactions/purchases."""
    return quarantined(classified.where(F.col("reason").isNotNull()))


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
