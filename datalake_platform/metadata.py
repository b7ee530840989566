"""What every materialization reports: rows, partitions, location, schema."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandera.pyspark as pa

from datalake_platform.partitions import describe_days

MAX_PARTITION_ROWS_SHOWN = 1000  # keep event metadata small on long backfills


def column_schema(model: type[pa.DataFrameModel]) -> dg.TableSchema:
    """The `dagster/column_schema` of a table, from its pandera model."""
    columns = []
    for name, column in model.to_schema().columns.items():
        constraints = dg.TableColumnConstraints(
            nullable=column.nullable,
            other=[f"{c.name} {c.statistics}" for c in column.checks],
        )
        # Field metadata (e.g. {"pii": "hashed"}) becomes column tags the catalog can search.
        tags = {k: str(v) for k, v in (column.metadata or {}).items()}
        columns.append(
            dg.TableColumn(
                name, column.dtype.type.simpleString(), description=column.description, constraints=constraints, tags=tags
            )
        )
    unique = model.to_schema().unique or []
    return dg.TableSchema(columns=columns, constraints=dg.TableConstraints(other=[f"unique({', '.join(unique)})"] if unique else []))


def table_metadata(
    uri: str,
    model: type[pa.DataFrameModel],
    rows_by_day: dict[str, int] | None = None,
    rows: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Materialization metadata of a table; partitioned tables pass `rows_by_day`, others `rows`."""
    meta: dict[str, Any] = {"dagster/uri": uri, "dagster/column_schema": column_schema(model)}
    if rows_by_day is not None:
        days = sorted(rows_by_day)
        rows = sum(rows_by_day.values())
        meta["partitions"] = describe_days(days)
        if len(days) == 1:
            meta["dagster/partition_row_count"] = rows
        elif len(days) <= MAX_PARTITION_ROWS_SHOWN:
            meta["rows_by_partition"] = dg.MetadataValue.json(rows_by_day)
    meta["dagster/row_count"] = rows
    meta.update(extra)
    return meta
