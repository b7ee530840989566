"""The transactions domain as assets: landing purchases -> universal purchases -> smart reports."""

from collections.abc import Callable, Iterator

import dagster as dg
from pyspark.sql import DataFrame, Observation

from datalake_platform.compat import spark as compat
from datalake_platform.domains.transactions import transforms
from datalake_platform.domains.transactions.checks import DAILY_SALES_CONTRACT, PURCHASES_CONTRACT, REPORT_CONTRACT
from datalake_platform.domains.transactions.schemas import RESCUED_DATA, DailySales, Purchases, ReportByPerson
from datalake_platform.domains.transactions.tables import (
    DAILY_SALES,
    LANDING,
    LANDING_COLUMNS,
    LANDING_PURCHASES,
    OWNERS,
    PURCHASES,
    REPORT_BY_PERSON,
    landing_days,
)
from datalake_platform.ingestion.automation import refresh_when_upstream_lands
from datalake_platform.ingestion.batch import read_landing
from datalake_platform.ingestion.misplaced import misplaced_files_asset
from datalake_platform.ingestion.records import rescued_columns
from datalake_platform.lake.storage import LakeStorage, LandingFile
from datalake_platform.metadata import add_partition_row_counts, table_metadata
from datalake_platform.partitions import run_days
from datalake_platform.quality.validation import spark_schema
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.spark.session import FEW_ROWS_PER_GROUP, sql_conf
from datalake_platform.spark.table_io import clear_partitions, read_table, write_partitions, write_table

MAX_LISTED = 100  # files named in metadata; the manifest has them all

landing_purchases = dg.AssetSpec(
    key=LANDING_PURCHASES.key_path,
    group_name=LANDING_PURCHASES.group_name,
    kinds={"csv"},
    owners=OWNERS,
    partitions_def=landing_days,
    description="CDNOW purchase lines exactly as they arrived: one CSV per day under dt=YYYY-MM-DD/, "
    "header customer_id,date,number_of_cds,dollar_value. Never modified by the platform.",
)

misplaced_purchases = misplaced_files_asset(LANDING, OWNERS)


@dg.asset(
    key=PURCHASES.key_path,
    deps=[landing_purchases],
    partitions_def=landing_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=PURCHASES.group_name,
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    check_specs=[PURCHASES_CONTRACT.spec],
    description="Typed, validated purchases (ID_TRANSACCION, ID_PERSONA, FECHA, CANTIDAD, MONTO) per day. "
    "Rows that break a rule go to quarantine/transactions/purchases with the raw line and the reason.",
)
def universal_purchases(
    context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    days = run_days(context)
    session, storage = spark.session(), lake.storage
    landing = read_landing(session, storage, LANDING_PURCHASES, days, LANDING_COLUMNS, per_file=transforms.per_file())
    for name, error in landing.unreadable.items():
        context.log.warning(
            f"{LANDING_PURCHASES}/{name} cannot be read ({error}): quarantined whole as unreadable_file"
        )
    files, duplicates = landing.files, landing.duplicates
    context.log.info(
        f"{len(files)} landing files for {len(days)} days, {len(duplicates)} duplicates of files ingested before"
    )
    audit = PURCHASES_CONTRACT.audit(context)
    universal = transforms.purchases(transforms.classify_purchases(landing.records()))
    with landing.manifest_alongside_write() as publish_manifest:
        kept = write_partitions(universal, storage, PURCHASES, days, audit)
        yield from PURCHASES_CONTRACT.outcome(audit, days)  # stops here if the write was not published
        rejected, metrics = _quarantine(storage, days, landing.short_of(kept), landing.records)
        publish_manifest()
    bad_files = set(compat.observed_list(metrics["rejected_files"]))
    rescued = rescued_columns(session, storage, PURCHASES, days, RESCUED_DATA)
    add_partition_row_counts(context, kept)
    yield dg.MaterializeResult(
        metadata=table_metadata(
            storage,
            PURCHASES,
            Purchases,
            rows_by_day=kept,
            landing_files=len(files),
            files_with_rejected_rows=len(bad_files),
            quarantined_rows=sum(rejected.values()),
            quarantine_reasons=dg.MetadataValue.json({r: metrics[r] for r in transforms.REASONS if metrics[r]}),
            quarantine_uri=storage.table_uri(PURCHASES.quarantine()),
            duplicate_files=dg.MetadataValue.json(dict(list(duplicates.items())[:MAX_LISTED])),
            unreadable_files=dg.MetadataValue.json(dict(list(landing.unreadable.items())[:MAX_LISTED])),
            rescued_columns=dg.MetadataValue.json(rescued),
        )
    )


def _quarantine(
    storage: LakeStorage, days: list[str], suspects: list[LandingFile], read: Callable[[list[LandingFile]], DataFrame]
) -> tuple[dict[str, int], dict]:
    """The rejected rows of `suspects` (the files of the days that kept fewer rows than they have
    records), written to quarantine: rows per day, and rows per reason. With no suspects no Spark
    job runs: quarantine's partitions of the days are made empty, where they are not already."""
    seen = Observation("rejected purchases")
    rejects = lambda files: transforms.rejected_purchases(  # noqa: E731
        transforms.classify_purchases(read(files)).observe(seen, *transforms.rejection_metrics())
    )
    if not suspects:
        nothing = {"rejected_files": None, **dict.fromkeys(transforms.REASONS, 0)}
        # The schema (a Spark plan to analyse, ~0.2 s) only if a partition must be made empty.
        return clear_partitions(lambda: rejects([]).schema, storage, PURCHASES.quarantine(), days), nothing
    return write_partitions(rejects(suspects), storage, PURCHASES.quarantine(), days), seen.get


@dg.asset(
    key=DAILY_SALES.key_path,
    deps=[universal_purchases],
    partitions_def=landing_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=DAILY_SALES.group_name,
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    check_specs=[DAILY_SALES_CONTRACT.spec],
    description="Per day: purchases, distinct persons, CDs and amount sold.",
)
def daily_sales(
    context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    days = run_days(context)
    purchases = read_table(spark.session(), lake.storage, PURCHASES, spark_schema(Purchases), days)
    audit = DAILY_SALES_CONTRACT.audit(context)
    rows = write_partitions(transforms.daily_sales(purchases), lake.storage, DAILY_SALES, days, audit)
    yield from DAILY_SALES_CONTRACT.outcome(audit, days)
    add_partition_row_counts(context, rows)
    yield dg.MaterializeResult(metadata=table_metadata(lake.storage, DAILY_SALES, DailySales, rows_by_day=rows))


@dg.asset(
    key=REPORT_BY_PERSON.key_path,
    deps=[universal_purchases],
    group_name=REPORT_BY_PERSON.group_name,
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    check_specs=[REPORT_CONTRACT.spec],
    automation_condition=refresh_when_upstream_lands(),
    description="The batch report of the reference architecture: MONTO_TRANSACCIONES = SUM(MONTO) per "
    "ID_PERSONA over all days, with the purchase count and first and last purchase dates.",
)
def report_by_person(
    context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    session = spark.session()
    purchases = read_table(session, lake.storage, PURCHASES, spark_schema(Purchases))
    audit = REPORT_CONTRACT.audit(context)
    with sql_conf(session, FEW_ROWS_PER_GROUP):  # a person has a few purchases
        rows = write_table(transforms.report_by_person(purchases), lake.storage, REPORT_BY_PERSON, audit)
    yield from REPORT_CONTRACT.outcome(audit)
    # The total read back from the published column: observed while writing, it cost the write
    # ~6% (an observation stops Spark's code generation there); read back, ~0.1 s for 2.5M rows.
    total = lake.storage.column_sum(REPORT_BY_PERSON, "MONTO_TRANSACCIONES")
    yield dg.MaterializeResult(
        metadata=table_metadata(
            lake.storage,
            REPORT_BY_PERSON,
            ReportByPerson,
            rows=rows,
            total_amount=str(total if total is not None else "0.00"),  # exact decimal, not a float
        )
    )
