"""BigQuery: an external table per lake table over its parquet files on GCS, Hive-partitioned by `dt`.

BigQuery lists a Hive-partitioned external table's folders at query time, so a partition is
queryable as soon as it lands: there is no partition to register, only the table (re-declared
when its columns change). No emulator exists for BigQuery: the DDL is generated and checked in
tests, and executed through google-cloud-bigquery where a project is configured.
"""

from __future__ import annotations

import re

from datalake_platform.catalog.published import PublishedTable
from datalake_platform.lake.table_refs import PARTITION_COLUMN

SIMPLE = {
    "string": "STRING",
    "tinyint": "INT64",
    "smallint": "INT64",
    "int": "INT64",
    "bigint": "INT64",
    "float": "FLOAT64",
    "double": "FLOAT64",
    "boolean": "BOOL",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamp_ntz": "DATETIME",
    "binary": "BYTES",
}


def bigquery_type(spark_type: str) -> str:
    if spark_type in SIMPLE:
        return SIMPLE[spark_type]
    if decimal := re.fullmatch(r"decimal\((\d+),(\d+)\)", spark_type):
        precision, scale = map(int, decimal.groups())
        return f"{'NUMERIC' if precision - scale <= 29 and scale <= 9 else 'BIGNUMERIC'}({precision}, {scale})"
    if spark_type.startswith("array<") and spark_type.endswith(">"):
        return f"ARRAY<{bigquery_type(spark_type[6:-1])}>"
    raise ValueError(f"no BigQuery type for Spark type {spark_type!r}")


def _name(*parts: str) -> str:
    return "`" + ".".join(parts) + "`"


def statements(table: PublishedTable, project: str) -> list[str]:
    columns = ", ".join(f"`{n}` {bigquery_type(t)}" for n, t in table.columns)
    options = ["format = 'PARQUET'", f"uris = ['{table.location}/*.parquet']"]  # not the commit markers
    partitioning = ""
    if table.partitioned:
        partitioning = f"\nWITH PARTITION COLUMNS (`{PARTITION_COLUMN}` DATE)"
        options.append(f"hive_partition_uri_prefix = '{table.location}'")
    return [
        f"CREATE SCHEMA IF NOT EXISTS {_name(project, table.database)}",
        f"CREATE OR REPLACE EXTERNAL TABLE {_name(project, table.database, table.table)} ({columns})"
        f"{partitioning}\nOPTIONS ({', '.join(options)})",
    ]


class BigQueryCatalog:
    def __init__(self, project: str, client=None):
        if client is None:
            from google.cloud import bigquery

            client = bigquery.Client(project=project)
        self.project, self.client = project, client
        self.declared: dict[str, tuple] = {}  # the shape each table was last declared with

    def register(self, table: PublishedTable) -> None:
        shape = (table.columns, table.location, table.partitioned)
        if self.declared.get(table.qualified_name) == shape:  # new partitions need no DDL
            return
        for statement in statements(table, self.project):
            self.client.query(statement).result()
        self.declared[table.qualified_name] = shape
