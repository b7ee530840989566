"""The blocking checks every zone table gets: its pandera contract, and nothing lost.

The contract is checked inside the asset that writes the table (write-audit-publish): the
write checks every row and the staged files are verified before they are published. A table
that breaks its contract is never visible, not even to a reader outside Dagster, and its
previous version stays whole. Nothing lost is a separate check that compares the rows written
with landing's records, counted by other readers than ingestion's.
"""


from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import dagster as dg
import pandera.pyspark as pa
from pyspark.sql import SparkSession

from datalake_platform.ingestion import manifest
from datalake_platform.ingestion.records import count_landing, per_day
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.tables import TableRef
from datalake_platform.partitions import describe_days, run_days
from datalake_platform.quality.validation import ContractAudit, ValidationReport
from datalake_platform.resources import LakeResource, SparkResource

MAX_PARTITIONS_LISTED = 50


@dataclass(frozen=True)
class Contract:
    """A table's pandera model (and table rules), as the blocking `contract` check of its asset."""

    ref: TableRef
    model: type[pa.DataFrameModel]
    table_rules: Mapping[str, str] | None = None
    partitioned: bool = True

    @property
    def key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(dg.AssetKey(self.ref.key_path), "contract")

    @property
    def spec(self) -> dg.AssetCheckSpec:
        """For the asset's `check_specs`."""
        rules = f" and the rules {sorted(self.table_rules)}" if self.table_rules else ""
        return dg.AssetCheckSpec(
            name=self.key.name,
            asset=self.key.asset_key,
            blocking=True,
            description=f"Rows satisfy the pandera model {self.model.__name__}{rules}, checked on the staged "
            "write before it is published; failures are counted per rule and partition.",
        )

    def audit(self, context: dg.AssetExecutionContext) -> ContractAudit | None:
        """The audit for this write; None when the run left the check out of its selection."""
        if self.key not in context.selected_asset_check_keys:
            return None
        return ContractAudit(self.model, self.table_rules, self.partitioned)

    def outcome(self, audit: ContractAudit | None, days: list[str] | None = None) -> Iterator[dg.AssetCheckResult]:
        """Yields the check's result; then, if it failed, stops the asset: nothing was published."""
        if audit is None:
            return
        report = audit.report
        assert report is not None, "the audit was not given to the write"
        yield dg.AssetCheckResult(
            check_name=self.key.name, asset_key=self.key.asset_key, passed=report.passed, metadata=_metadata(report, days)
        )
        if not report.passed:
            raise dg.Failure(
                description=f"{self.ref} breaks its contract; the write was not published and the previous "
                f"version stays. Failures by rule: {report.failures_by_rule}; schema errors: {report.schema_errors}",
            )


def _metadata(report: ValidationReport, days: list[str] | None) -> dict:
    listed = report.failed_partitions[:MAX_PARTITIONS_LISTED]
    return {
        "partitions": describe_days(days) if days is not None else "all",
        "rows_checked": sum(report.rows.values()),
        "failures_by_rule": dg.MetadataValue.json(report.failures_by_rule),
        "failed_partitions": dg.MetadataValue.json(listed),
        "failures_by_partition": dg.MetadataValue.json({p: report.failures[p] for p in listed}),
        "schema_errors": dg.MetadataValue.json(report.schema_errors),
    }


def balance(spark: SparkSession, storage: LakeStorage, landing: TableRef, universal: TableRef, days: list[str]) -> tuple:
    """Per day: landing records, universal rows, quarantine rows, and the days where they differ.

    Landing's records were counted by the run that wrote the day, by other readers than its own,
    and kept in the manifest; files it did not count (or that changed since) are counted here.
    """
    files = storage.list_landing_files(landing, days)
    recorded = manifest.recorded_records(storage, landing, files)
    counted = count_landing(spark, [f for f in files if f.relative_path not in recorded]).records
    landed = per_day(files, {**recorded, **counted})
    kept = storage.parquet_row_counts(storage.table_uri(universal), days)
    rejected = storage.parquet_row_counts(storage.table_uri(universal.quarantine()), days)
    broken = {
        d: {"landing": landed.get(d, 0), "universal": kept[d], "quarantine": rejected[d]}
        for d in days
        if landed.get(d, 0) != kept[d] + rejected[d]
    }
    return landed, kept, rejected, broken


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
        landed, kept, rejected, broken = balance(spark.session(), lake.storage, landing, universal, days)
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
