"""Blocking asset checks every zone table gets: its pandera contract, and nothing lost."""


from collections.abc import Mapping

import dagster as dg
import pandera.pyspark as pa

from datalake_platform.ingestion.delimited import count_data_lines
from datalake_platform.lake.tables import TableRef
from datalake_platform.partitions import describe_days, run_days
from datalake_platform.quality.validation import validate
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.spark.tables import read_table

MAX_PARTITIONS_LISTED = 50


def contract_check(
    ref: TableRef,
    model: type[pa.DataFrameModel],
    partitions_def: dg.PartitionsDefinition | None = None,
    table_rules: Mapping[str, str] | None = None,
) -> dg.AssetChecksDefinition:
    """The table's pandera model (and table rules), checked on the run's partitions in one pass."""

    @dg.asset_check(
        asset=dg.AssetKey(ref.key_path),
        name="contract",
        blocking=True,
        description=f"Rows satisfy the pandera model {model.__name__}"
        + (f" and the rules {sorted(table_rules)}" if table_rules else "")
        + "; failures are counted per rule and partition.",
    )
    def _contract(context: dg.AssetCheckExecutionContext, lake: LakeResource, spark: SparkResource) -> dg.AssetCheckResult:
        days = run_days(context) if partitions_def else None
        df = read_table(spark.session(), lake.storage, ref, None, days)  # as stored: types are checked too
        report = validate(model, df, table_rules, partitioned=partitions_def is not None)
        return dg.AssetCheckResult(
            passed=report.passed,
            metadata={
                "partitions": describe_days(days) if days is not None else "all",
                "rows_checked": sum(report.rows.values()),
                "failures_by_rule": dg.MetadataValue.json(report.failures_by_rule),
                "failed_partitions": dg.MetadataValue.json(report.failed_partitions[:MAX_PARTITIONS_LISTED]),
                "failures_by_partition": dg.MetadataValue.json(
                    {p: report.failures[p] for p in report.failed_partitions[:MAX_PARTITIONS_LISTED]}
                ),
                "schema_errors": dg.MetadataValue.json(report.schema_errors),
            },
        )

    return _contract


def conservation_check(landing: TableRef, universal: TableRef) -> dg.AssetChecksDefinition:
    """Per partition: data lines in landing = rows in universal + rows in quarantine."""

    @dg.asset_check(
        asset=dg.AssetKey(universal.key_path),
        name="nothing_lost",
        blocking=True,
        description=f"Every data line of {landing} is in {universal} or in {universal.quarantine()}, per partition.",
    )
    def _nothing_lost(context: dg.AssetCheckExecutionContext, lake: LakeResource, spark: SparkResource) -> dg.AssetCheckResult:
        days = run_days(context)
        storage = lake.storage
        landed = count_data_lines(spark.session(), storage.list_landing_files(landing, days))
        kept = storage.parquet_row_counts(storage.table_uri(universal), days)
        rejected = storage.parquet_row_counts(storage.table_uri(universal.quarantine()), days)
        broken = {
            d: {"landing": landed.get(d, 0), "universal": kept[d], "quarantine": rejected[d]}
            for d in days
            if landed.get(d, 0) != kept[d] + rejected[d]
        }
        return dg.AssetCheckResult(
            passed=not broken,
            metadata={
                "partitions": describe_days(days),
                "landing_rows": sum(landed.values()),
                "universal_rows": sum(kept.values()),
                "quarantine_rows": sum(rejected.values()),
                "unbalanced_partitions": dg.MetadataValue.json(dict(list(broken.items())[:MAX_PARTITIONS_LISTED])),
            },
        )

    return _nothing_lost
