"""What every materialization reports: rows, partitions, location, schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import pandera.pyspark as pa

from datalake_platform.compat.dagster import add_partition_metadata
from datalake_platform.governance.spec import Pii
from datalake_platform.lake.iceberg import identifier
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import TableRef
from datalake_platform.partitions import describe_days

PARTITION_ROW_COUNT = "dagster/partition_row_count"
ROWS_BY_PARTITION = "rows_by_partition"  # how a remote run (Pipes) reports each day's rows
ORCHESTRATOR_RUN_TAG = "datalake/orchestrator_run_id"  # on a cluster's run: the Dagster run that sent the step


def column_schema(model: type[pa.DataFrameModel], pii: Mapping[str, Pii] | None = None) -> dg.TableSchema:
    """The `dagster/column_schema` of a table, from its pandera model; columns holding personal
    data (its governance spec's `pii`) are tagged with their treatment and category."""
    columns = []
    pii = pii or {}
    for name, column in model.to_schema().columns.items():
        constraints = dg.TableColumnConstraints(
            nullable=column.nullable,
            other=[f"{c.name} {c.statistics}" for c in column.checks],
        )
        # Field metadata and PII treatment become column tags the catalog can search.
        tags = {k: str(v) for k, v in (column.metadata or {}).items()}
        if name in pii:
            tags.update(pii[name].tags)
        columns.append(
            dg.TableColumn(
                name,
                column.dtype.type.simpleString(),
                description=column.description,
                constraints=constraints,
                tags=tags,
            )
        )
    unique = model.to_schema().unique or []
    return dg.TableSchema(
        columns=columns, constraints=dg.TableConstraints(other=[f"unique({', '.join(unique)})"] if unique else [])
    )


def add_partition_row_counts(context: dg.AssetExecutionContext, rows_by_day: Mapping[str, int]) -> None:
    """Each day's rows on that day's own materialization event (a run of many days emits one
    per day), instead of every day's count repeated on each of them."""
    if len(rows_by_day) > 1:
        add_partition_metadata(context, {day: {PARTITION_ROW_COUNT: rows} for day, rows in rows_by_day.items()})


def with_partition_row_counts(context: dg.AssetExecutionContext, result: Any) -> Any:
    """A remote run's result with its `ROWS_BY_PARTITION` put back on each day's event."""
    if not isinstance(result, dg.MaterializeResult) or ROWS_BY_PARTITION not in (result.metadata or {}):
        return result
    metadata = dict(result.metadata)
    rows = metadata.pop(ROWS_BY_PARTITION)
    add_partition_row_counts(context, getattr(rows, "value", rows))
    return dg.MaterializeResult(
        asset_key=result.asset_key,
        metadata=metadata,
        check_results=result.check_results,
        data_version=result.data_version,
        tags=result.tags,
    )


def table_metadata(
    storage: LakeStorage,
    ref: TableRef,
    model: type[pa.DataFrameModel],
    rows_by_day: dict[str, int] | None = None,
    rows: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Materialization metadata of a table; partitioned tables pass `rows_by_day`, others `rows`.
    The Iceberg snapshot is the one current as the step reports (the one it committed)."""
    namespace, name = identifier(ref)
    meta: dict[str, Any] = {
        "dagster/uri": storage.table_uri(ref),
        "dagster/table_name": f"{namespace}.{name}",
        "dagster/column_schema": column_schema(model, _pii_of(ref)),
    }
    snapshot = storage.tables.snapshot_id(ref)
    if snapshot is not None:
        meta["iceberg/snapshot_id"] = str(snapshot)
    if rows_by_day is not None:
        days = sorted(rows_by_day)
        rows = sum(rows_by_day.values())
        meta["partitions"] = describe_days(days)
        if len(days) == 1:
            meta[PARTITION_ROW_COUNT] = rows
    meta["dagster/row_count"] = rows
    meta.update(extra)
    return meta


def _pii_of(ref: TableRef) -> Mapping[str, Pii]:
    """The PII columns of a table, from its domain's governance spec (the one place they are declared)."""
    from datalake_platform.registry import table_governance

    governance = table_governance(ref)
    return governance.pii if governance is not None else {}


def commit_summary() -> dict[str, str]:
    """What a table's snapshot records of the Dagster step that committed it: run, asset,
    partitions and code version. Empty outside a Dagster step (a cluster's job, a script)."""
    try:
        context = dg.AssetExecutionContext.get()
    except Exception:  # no step is running in this thread
        return {}
    keys = context.partition_keys if context.has_partition_key_range or context.has_partition_key else []
    key = context.asset_key if len(context.assets_def.keys) == 1 else None
    version = context.assets_def.code_versions_by_key.get(key) if key is not None else None
    return {
        # On a cluster the step runs in a run of its own: the orchestrator's run is the one to name.
        "dagster.run-id": context.run.tags.get(ORCHESTRATOR_RUN_TAG) or context.run_id,
        **({"dagster.asset-key": key.to_user_string()} if key is not None else {}),
        **({"dagster.partition-keys": describe_days(list(keys))} if keys else {}),
        "dagster.code-version": version or _package_version(),
    }


def _package_version() -> str:
    from importlib.metadata import version

    return version("datalake_platform")
