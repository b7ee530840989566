"""Azure Synapse serverless SQL: a view per lake table over OPENROWSET on its ADLS Gen2 folder.

Serverless SQL pools have no partitioned external tables; the idiom is a view whose wildcard
path covers every `dt=` folder, with `filepath(1)` exposing the folder's date (queries filtering
on it read only those folders). New partitions are queryable as they land. No emulator exists
for Synapse: the DDL is generated and checked in tests, and applied from the DDL files
(`sqlcmd`, Synapse Studio) or by a caller-supplied executor.
"""

from __future__ import annotations

import re

from datalake_platform.catalog.published import PublishedTable
from datalake_platform.lake.table_refs import PARTITION_COLUMN

UTF8 = "COLLATE Latin1_General_100_BIN2_UTF8"  # parquet strings are UTF-8
SIMPLE = {
    "string": f"VARCHAR(8000) {UTF8}",
    "tinyint": "SMALLINT",
    "smallint": "SMALLINT",
    "int": "INT",
    "bigint": "BIGINT",
    "float": "REAL",
    "double": "FLOAT",
    "boolean": "BIT",
    "date": "DATE",
    "timestamp": "DATETIME2",
    "timestamp_ntz": "DATETIME2",
    "binary": "VARBINARY(8000)",
}


def sql_type(spark_type: str) -> str:
    if spark_type in SIMPLE:
        return SIMPLE[spark_type]
    if decimal := re.fullmatch(r"decimal\((\d+),(\d+)\)", spark_type):
        return f"DECIMAL({decimal.group(1)}, {decimal.group(2)})"
    if spark_type.startswith(("array<", "struct<", "map<")):
        return f"VARCHAR(MAX) {UTF8}"  # OPENROWSET returns nested parquet types as JSON text
    raise ValueError(f"no Synapse type for Spark type {spark_type!r}")


def https_location(location: str) -> str:
    """abfss://container@account.dfs.core.windows.net/path -> https://account.dfs.core.windows.net/container/path"""
    match = re.fullmatch(r"abfss?://([^@/]+)@([^/]+)(/.*)?", location)
    if not match:
        raise ValueError(f"{location!r} is not an abfss:// location")
    container, host, path = match.groups()
    return f"https://{host}/{container}{path or ''}"


def statements(table: PublishedTable) -> list[str]:
    schema = table.database
    files = f"{https_location(table.location)}/{'dt=*/' if table.partitioned else ''}*.parquet"
    columns = ",\n    ".join(f"[{n}] {sql_type(t)}" for n, t in table.columns)
    day = f",\n    CAST(rows.filepath(1) AS DATE) AS [{PARTITION_COLUMN}]" if table.partitioned else ""
    return [
        f"IF SCHEMA_ID('{schema}') IS NULL EXEC('CREATE SCHEMA [{schema}]')",
        f"CREATE OR ALTER VIEW [{schema}].[{table.table}] AS\nSELECT rows.*{day}\n"
        f"FROM OPENROWSET(BULK '{files}', FORMAT = 'PARQUET')\nWITH (\n    {columns}\n) AS rows",
    ]
