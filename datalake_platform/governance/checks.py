"""The blocking `pii_protected` check of every universal and smart table: personal data never
reaches them in clear.

Two ways a leak shows, both looked for on the rows the run committed:
- a column declared a keyed hash holds something that is not one (64 lowercase hex);
- any string column holds a value that appears, whole, in a landing column of personal data of
  the table's domain (a name, a ticket, a handle): a transform that forgot to hash, or a new
  column copied from landing. Columns the spec keeps in clear, with a stated reason, are the
  only ones allowed to hold their landing source's values.
"""

from dataclasses import dataclass
from functools import reduce

import dagster as dg
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from datalake_platform.governance.spec import TableGovernance, Treatment
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import Zone
from datalake_platform.partitions import describe_days
from datalake_platform.quality.validation import spark_schema
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.spark.table_io import read_table

KEYED_HASH = r"^[0-9a-f]{64}$"
CHECK_NAME = "pii_protected"


@dataclass(frozen=True)
class PiiProtected:
    """The check of one governed table, given its domain's landing specs (where raw values are)."""

    governance: TableGovernance
    landing: tuple[TableGovernance, ...]

    @property
    def key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(dg.AssetKey(self.governance.table.key_path), CHECK_NAME)

    def raw_columns(self) -> dict[TableGovernance, list[str]]:
        """Per landing table, its raw PII columns whose values must not appear here: all but the
        sources this table keeps in clear."""
        kept = {p.source for p in self.governance.pii.values() if p.treatment == Treatment.KEPT}
        found = {
            spec: [c for c, p in spec.pii.items() if p.treatment == Treatment.RAW and c not in kept]
            for spec in self.landing
        }
        return {spec: columns for spec, columns in found.items() if columns}

    @property
    def description(self) -> str:
        sources = [f"{spec.table}.{c}" for spec, cols in self.raw_columns().items() for c in cols]
        hashed = [c for c, p in self.governance.pii.items() if p.treatment == Treatment.KEYED_HASH]
        return (
            f"No personal data in clear: keyed-hash columns {hashed or 'none'} hold 64-hex hashes only, and no "
            f"string column (but those kept with a reason) holds a value of {', '.join(sources) or 'no landing PII'}."
        )

    def result(self, spark: SparkSession, storage: LakeStorage, days: list[str] | None) -> dg.AssetCheckResult:
        ref, model = self.governance.table, self.governance.model
        rows = read_table(spark, storage, ref, spark_schema(model), days)
        not_hashed = _not_hashed(
            rows, [c for c, p in self.governance.pii.items() if p.treatment == Treatment.KEYED_HASH]
        )
        kept = {c for c, p in self.governance.pii.items() if p.treatment == Treatment.KEPT}
        scanned = [f.name for f in rows.schema.fields if isinstance(f.dataType, StringType) and f.name not in kept]
        raw = self._raw_values(spark, storage) if scanned else None  # no string column: nothing to look for
        in_clear = _values_found(rows, scanned, raw) if raw is not None else {}
        raw_count = raw.count() if raw is not None else 0
        if raw is not None:
            raw.unpersist()  # the session outlives the check (one per run, one per test process)
        return dg.AssetCheckResult(
            check_name=CHECK_NAME,
            asset_key=self.key.asset_key,
            passed=not not_hashed and not in_clear,
            metadata={  # counts per column: the leaked values themselves are never reported
                "partitions": describe_days(days) if days is not None else "all",
                "columns_scanned": dg.MetadataValue.json(scanned),
                "landing_pii_values": raw_count,
                "rows_not_hashed": dg.MetadataValue.json(not_hashed),
                "rows_with_landing_pii": dg.MetadataValue.json(in_clear),
            },
        )

    def _raw_values(self, spark: SparkSession, storage: LakeStorage) -> DataFrame | None:
        """The distinct non-blank raw values of the landing PII columns, as one `value` column."""
        frames = []
        for spec, columns in self.raw_columns().items():
            assert spec.landing_values is not None, f"{spec.table} declares raw PII but no reader of it"
            landed = spec.landing_values(spark, storage)
            frames += [landed.select(F.col(c).cast("string").alias("value")) for c in columns]
        if not frames:
            return None
        values = reduce(DataFrame.unionByName, frames)
        return values.where(F.trim("value") != "").distinct().cache()

    def definition(self) -> dg.AssetChecksDefinition:
        @dg.asset_check(asset=self.key.asset_key, name=CHECK_NAME, blocking=True, description=self.description)
        def _pii_protected(
            context: dg.AssetCheckExecutionContext, lake: LakeResource, spark: SparkResource
        ) -> dg.AssetCheckResult:
            days = (
                list(context.partition_keys) if context.has_partition_key or context.has_partition_key_range else None
            )
            return self.result(spark.session(), lake.storage, days)

        return _pii_protected


def _not_hashed(rows: DataFrame, columns: list[str]) -> dict[str, int]:
    """Per keyed-hash column, the rows whose value is not a 64-hex hash (nulls are the contract's business)."""
    if not columns:
        return {}
    counts = rows.agg(*[F.count_if(~F.col(c).rlike(KEYED_HASH)).alias(c) for c in columns]).first()
    return {c: counts[c] for c in columns if counts[c]}


def _values_found(rows: DataFrame, columns: list[str], raw: DataFrame) -> dict[str, int]:
    """Per string column, the rows holding a raw landing PII value (whole-value match)."""
    cells = rows.select(
        F.explode(F.array(*[F.struct(F.lit(c).alias("column"), F.col(c).alias("value")) for c in columns])).alias(
            "cell"
        )
    ).select("cell.column", "cell.value")
    found = cells.join(F.broadcast(raw), "value", "left_semi").groupBy("column").count().collect()
    return {r["column"]: r["count"] for r in found}


def pii_checks(governance: list[TableGovernance]) -> list[dg.AssetChecksDefinition]:
    """The `pii_protected` check of every universal and smart table of one domain's specs."""
    landing = tuple(g for g in governance if g.table.zone == Zone.LANDING)
    return [
        PiiProtected(g, landing).definition()
        for g in governance
        if g.table.zone in (Zone.UNIVERSAL, Zone.SMART) and not g.is_model and g.model is not None
    ]
