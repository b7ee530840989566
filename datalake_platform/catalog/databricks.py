"""Databricks SQL (Unity Catalog): external parquet tables over the lake's ADLS folders, partitions added as they land.

Executed through the Databricks SDK's statement-execution API on a SQL warehouse. No emulator
exists: tests replace the SDK client at its boundary and check the statements.
"""

from __future__ import annotations

from datalake_platform.catalog import hive
from datalake_platform.catalog.published import PublishedTable


def statements(table: PublishedTable, catalog: str) -> list[str]:
    out = hive.create_statements(table, catalog)
    if table.partitioned and table.days:
        out += hive.partition_statements(table, table.days, catalog)
    return out


class DatabricksSqlCatalog:
    def __init__(self, catalog: str, warehouse_id: str, client=None):
        if client is None:
            from databricks.sdk import WorkspaceClient  # host and token from the SDK's standard chain

            client = WorkspaceClient()
        self.catalog, self.warehouse_id, self.client = catalog, warehouse_id, client

    def register(self, table: PublishedTable) -> None:
        for statement in statements(table, self.catalog):
            response = self.client.statement_execution.execute_statement(
                statement=statement, warehouse_id=self.warehouse_id, wait_timeout="50s"
            )
            state = getattr(getattr(response, "status", None), "state", None)
            if state is not None and str(getattr(state, "value", state)) not in ("SUCCEEDED",):
                error = getattr(response.status, "error", None)
                raise RuntimeError(f"Databricks SQL failed on {table.qualified_name}: {state} {error}\n{statement}")
