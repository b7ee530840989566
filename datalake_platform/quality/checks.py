"""The blocking checks every zone table gets: its pandera contract, and nothing lost.

The contract is checked inside the asset that writes the table (write-audit-publish): the
write checks every row and the staged files are verified before they are published. A table
that breaks its contract is never visible, not even to a reader outside Dagster, and its
previous version stays whole. Nothing lost (`NothingLost`, the one implementation every
domain uses) compares the rows written with landing's records, counted by other readers than
ingestion's: how depends on the landing table (`ingestion.counting`).
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import dagster as dg
import pandera.pyspark as pa
from pyspark.sql import SparkSession

from datalake_platform.ingestion import counting
from datalake_platform.ingestion.counting import LandingCounter
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import TableRef
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
            check_name=self.key.name,
            asset_key=self.key.asset_key,
            passed=report.passed,
            metadata=_metadata(report, days),
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


class Balance(NamedTuple):
    """Per partition (`ALL` for an unpartitioned table): landing records, rows kept, rows quarantined."""

    landed: dict[str, int]
    kept: dict[str, int]
    rejected: dict[str, int]

    @property
    def broken(self) -> dict[str, dict[str, int]]:
        """The partitions where landing's records are not all in universal or quarantine."""
        return {
            p: {"landing": self.landed.get(p, 0), "universal": self.kept[p], "quarantine": self.rejected[p]}
            for p in self.kept
            if self.landed.get(p, 0) != self.kept[p] + self.rejected[p]
        }


@dataclass(frozen=True)
class NothingLost:
    """The blocking `nothing_lost` check of every zone table fed by a landing table: per partition,
    landing's records (counted by `count`, see `ingestion.counting`, by other readers than
    ingestion's) = rows in `universal` + rows in its quarantine.

    As a check of its own (`definition`), or given as a spec to the asset that writes the table
    and reported by it (`spec`, `result`): the misplaced files' quarantine, the posts stream.
    `universal` None: the records all belong in `quarantine` (misplaced files).
    """

    landing: TableRef
    universal: TableRef | None
    count: LandingCounter = counting.records_per_day
    partitioned: bool = True
    quarantine: TableRef | None = None  # universal's quarantine by default
    records: str = "data record"  # what one landing record is, for the description
    counted_by_spark: bool = True  # False: `count` needs no Spark session (a check run starts none)

    @property
    def rejected(self) -> TableRef:
        if self.quarantine is not None:
            return self.quarantine
        assert self.universal is not None, "nothing_lost needs a universal table or a quarantine"
        return self.universal.quarantine()

    @property
    def key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(dg.AssetKey((self.universal or self.rejected).key_path), "nothing_lost")

    @property
    def description(self) -> str:
        kept = f"{self.universal} or in {self.rejected}" if self.universal else str(self.rejected)
        per = ", per partition" if self.partitioned else ""
        return f"Every {self.records} of {self.landing} is in {kept}{per}."

    @property
    def spec(self) -> dg.AssetCheckSpec:
        """For the `check_specs` of the asset that reports it."""
        return dg.AssetCheckSpec(self.key.name, asset=self.key.asset_key, blocking=True, description=self.description)

    def balance(self, spark: SparkSession | None, storage: LakeStorage, days: list[str] | None = None) -> Balance:
        """The counts of `days` (None: the whole table, when it is not partitioned)."""
        landed = dict(self.count(spark, storage, self.landing, days))
        return Balance(landed, _rows(storage, self.universal, days), _rows(storage, self.rejected, days))

    def result(
        self, spark: SparkSession | None, storage: LakeStorage, days: list[str] | None = None
    ) -> dg.AssetCheckResult:
        counts = self.balance(spark, storage, days)
        broken = counts.broken
        return dg.AssetCheckResult(
            check_name=self.key.name,
            asset_key=self.key.asset_key,
            passed=not broken,
            metadata={
                "partitions": describe_days(days) if days is not None else counting.ALL,
                "landing_rows": sum(counts.landed.values()),
                "universal_rows": sum(counts.kept.values()),
                "quarantine_rows": sum(counts.rejected.values()),
                "unbalanced_partitions": dg.MetadataValue.json(dict(list(broken.items())[:MAX_PARTITIONS_LISTED])),
            },
        )

    def definition(self) -> dg.AssetChecksDefinition:
        """The check of its own, for a domain's `checks`: the run's days, or the whole table."""

        @dg.asset_check(asset=self.key.asset_key, name=self.key.name, blocking=True, description=self.description)
        def _nothing_lost(
            context: dg.AssetCheckExecutionContext, lake: LakeResource, spark: SparkResource
        ) -> dg.AssetCheckResult:
            session = spark.session() if self.counted_by_spark else None
            return self.result(session, lake.storage, run_days(context) if self.partitioned else None)

        return _nothing_lost


def _rows(storage: LakeStorage, ref: TableRef | None, days: list[str] | None) -> dict[str, int]:
    """Rows of `ref` per day of `days`, from the parquet footers; all its rows under `ALL` when `days` is None."""
    if days is None:
        return {counting.ALL: storage.table_rows(ref) if ref is not None else 0}
    return storage.row_counts(ref, days) if ref is not None else dict.fromkeys(days, 0)
