"""The catalog as a Dagster resource: which SQL engine the lake's tables are published to (`DATALAKE_SQL`)."""

from __future__ import annotations

from typing import Optional

import dagster as dg
from pydantic import Field

from datalake_platform.catalog import bigquery, databricks, hive, synapse
from datalake_platform.catalog.published import PublishedTable, published_table, record
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import ServiceArea, TableRef

ENGINES = {
    "spark_sql": "local Spark SQL: a Hive metastore in the lake's work area (`datalake sql`)",
    "glue": "AWS Glue Data Catalog, for Athena",
    "bigquery": "BigQuery external tables",
    "synapse": "Azure Synapse serverless SQL views",
    "databricks_sql": "Databricks SQL (Unity Catalog) external tables",
    "none": "no SQL interface",
}
DEFAULT_ENGINE = {"local": "spark_sql", "aws": "glue", "gcp": "bigquery", "azure": "synapse"}
# The lake roots each engine can read: checked before a run writes anything, not after its first commit.
ROOT_SCHEMES = {
    "spark_sql": ("",),
    "glue": ("s3", "s3a"),
    "bigquery": ("gs",),
    "synapse": ("abfss", "abfs"),
    "databricks_sql": ("abfss", "abfs"),
    "none": None,
}


class CatalogResource(dg.ConfigurableResource):
    """Registers every universal and smart table, and each partition as it is committed, with a SQL engine."""

    engine: str = Field(default="spark_sql", description=" | ".join(ENGINES))
    bigquery_project: Optional[str] = Field(default=None, description="BigQuery project; without one, DDL files only")
    databricks_catalog: str = Field(default="main", description="Unity Catalog catalog")
    databricks_warehouse_id: Optional[str] = Field(
        default=None, description="SQL warehouse; without one, DDL files only"
    )
    glue_catalog_id: Optional[str] = Field(
        default=None, description="AWS account of the Glue catalog (default: the caller's)"
    )

    def publisher(self, storage: LakeStorage) -> Publisher:
        if self.engine not in ENGINES:
            raise ValueError(f"DATALAKE_SQL={self.engine!r}: choose one of {', '.join(ENGINES)}")
        scheme = storage.location.split("://", 1)[0] if "://" in storage.location else ""
        if ROOT_SCHEMES[self.engine] is not None and scheme not in ROOT_SCHEMES[self.engine]:
            raise ValueError(
                f"the SQL engine {self.engine} ({ENGINES[self.engine]}) cannot read a lake at {storage.location}; "
                f"set DATALAKE_SQL to one that can, or to none"
            )
        return Publisher(storage, self)


# What this process has published, per (lake, engine, table): its columns and days. A stream
# rewrites the same day every micro-batch; only new columns or new days need the journal and engine.
_PUBLISHED: dict[tuple[str, str, str], tuple[tuple, frozenset]] = {}


class Publisher:
    """Called after each commit: journals the table, writes its DDL, registers it with the engine."""

    def __init__(self, storage: LakeStorage, config: CatalogResource):
        self.storage, self.config, self._engine = storage, config, None

    def __call__(self, ref: TableRef, schema, days: list[str] | None) -> PublishedTable | None:
        table = published_table(self.storage, ref, schema, days)
        if table is None or self.config.engine == "none":
            return None
        key = (self.storage.root, self.config.engine, table.qualified_name)
        columns, known_days = _PUBLISHED.get(key, ((), frozenset()))
        if columns == table.columns and known_days.issuperset(table.days):
            return table
        self._publish(table)
        _PUBLISHED[key] = (table.columns, known_days | set(table.days))
        return table

    def _publish(self, table: PublishedTable) -> None:
        record(self.storage, table)
        ddl = self._ddl(table)
        if ddl:
            name = f"{ServiceArea.WORK}/catalog/ddl/{self.config.engine}/{table.qualified_name}.sql"
            self.storage.write_bytes(self.storage.uri(name), (";\n\n".join(ddl) + ";\n").encode())
        if engine := self.engine():
            engine.register(table)

    def _ddl(self, table: PublishedTable) -> list[str]:
        config = self.config
        if config.engine == "bigquery":
            return bigquery.statements(table, config.bigquery_project or "PROJECT")
        if config.engine == "synapse":
            return synapse.statements(table)
        if config.engine == "databricks_sql":  # a file applied later finds every partition folder itself
            name = hive.table_name(table, config.databricks_catalog)
            return hive.create_statements(table, config.databricks_catalog) + (
                [f"MSCK REPAIR TABLE {name} SYNC PARTITIONS"] if table.partitioned else []
            )
        return []

    def engine(self):
        """The engine client, made once; None where publishing stops at the journal and DDL files."""
        if self._engine is None:
            config = self.config
            if config.engine == "glue":
                from datalake_platform.catalog.glue import GlueCatalog

                self._engine = GlueCatalog(catalog_id=config.glue_catalog_id)
            elif config.engine == "bigquery" and config.bigquery_project:
                self._engine = bigquery.BigQueryCatalog(config.bigquery_project)
            elif config.engine == "databricks_sql" and config.databricks_warehouse_id:
                self._engine = databricks.DatabricksSqlCatalog(
                    config.databricks_catalog, config.databricks_warehouse_id
                )
        return self._engine
