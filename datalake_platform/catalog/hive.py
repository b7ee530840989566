"""Local Spark SQL: a Hive metastore in the lake's work area, queryable with `spark-sql` or the Thrift server.

The metastore is Derby embedded, which one JVM opens at a time, so run processes never open
it (two concurrent runs would lock each other out). They only journal what they publish;
`datalake sql` (a query, the `spark-sql` shell or the Thrift server) opens the metastore, applies
every journal entry it has not applied yet, and, serving, keeps applying new ones as they land.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from datalake_platform.catalog.published import PublishedTable, journal_entries, merged, read_entry
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import PARTITION_COLUMN, ServiceArea

PARTITIONS_PER_STATEMENT = 500


def metastore_folder(storage: LakeStorage) -> Path:
    if "://" in storage.root:
        raise ValueError("the local Hive metastore serves a lake in a local folder; clouds use their own catalog")
    return Path(storage.uri(f"{ServiceArea.WORK}/catalog/metastore"))


def hive_conf(storage: LakeStorage) -> dict[str, str]:
    """Spark conf of a session whose catalog is the lake's own metastore."""
    folder = metastore_folder(storage)
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true",
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",  # derby.log there, not in the cwd
    }


def _quoted(name: str) -> str:
    return f"`{name.replace('`', '``')}`"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def table_name(table: PublishedTable, catalog: str | None = None) -> str:
    """`database`.`table`, or `catalog`.`database`.`table` (Unity Catalog's three levels)."""
    return ".".join(_quoted(n) for n in (catalog, table.database, table.table) if n)


def create_statements(table: PublishedTable, catalog: str | None = None) -> list[str]:
    """Spark SQL DDL of an external parquet table over the table's folder (also Databricks SQL's)."""
    columns = [f"{_quoted(n)} {t}" for n, t in table.columns]
    partitioning = ""
    if table.partitioned:
        columns.append(f"{_quoted(PARTITION_COLUMN)} DATE")
        partitioning = f" PARTITIONED BY ({_quoted(PARTITION_COLUMN)})"
    return [
        f"CREATE SCHEMA IF NOT EXISTS {'.'.join(_quoted(n) for n in (catalog, table.database) if n)}",
        f"CREATE TABLE IF NOT EXISTS {table_name(table, catalog)} ({', '.join(columns)}) USING PARQUET"
        f"{partitioning} LOCATION {_literal(table.location)}",
    ]


def partition_statements(table: PublishedTable, days: Iterable[str], catalog: str | None = None) -> list[str]:
    days = sorted(days)
    out = []
    for start in range(0, len(days), PARTITIONS_PER_STATEMENT):
        specs = " ".join(
            f"PARTITION ({PARTITION_COLUMN} = {_literal(d)}) LOCATION {_literal(table.partition_location(d))}"
            for d in days[start : start + PARTITIONS_PER_STATEMENT]
        )
        out.append(f"ALTER TABLE {table_name(table, catalog)} ADD IF NOT EXISTS {specs}")
    return out


def apply(
    spark, tables: list[PublishedTable], every_day: Callable[[PublishedTable], tuple[str, ...]] | None = None
) -> None:
    """Create or fix each table in the session's catalog and add its partitions (idempotent).

    A table whose columns changed is dropped (external: the data stays) and re-created with
    every partition it ever published (`every_day`), not only the new ones.
    """
    for table in tables:
        if _declared_columns(spark, table) not in (None, _expected_columns(table)):
            spark.sql(f"DROP TABLE {table_name(table)}")
            if every_day is not None:
                table = replace(table, days=every_day(table))
        create_schema, create_table = create_statements(table)
        if not spark.catalog.databaseExists(table.database):  # Hive logs an error for IF NOT EXISTS on one that does
            spark.sql(create_schema)
        spark.sql(create_table)
        if table.partitioned and table.days:
            for statement in partition_statements(table, table.days):
                spark.sql(statement)


def _expected_columns(table: PublishedTable) -> list[tuple[str, str]]:
    return [*table.columns, *([(PARTITION_COLUMN, "date")] if table.partitioned else [])]


def _declared_columns(spark, table: PublishedTable) -> list[tuple[str, str]] | None:
    if not spark.catalog.tableExists(table.qualified_name):
        return None
    return [(f.name, f.dataType.simpleString()) for f in spark.table(table.qualified_name).schema.fields]


class JournalApplier:
    """Applies the journal to the metastore of a Hive-enabled session, each entry once.

    The entries applied are listed beside the metastore (in the same folder: deleting the
    metastore forgets both), so opening it again applies only what landed since.
    """

    def __init__(self, storage: LakeStorage):
        self.storage = storage
        self.ledger = metastore_folder(storage) / "applied_journal_entries.txt"
        self.applied = set(self.ledger.read_text().split()) if self.ledger.exists() else set()

    def apply_new(self, spark) -> list[PublishedTable]:
        fresh = [uri for uri in journal_entries(self.storage) if uri not in self.applied]
        tables = merged([read_entry(self.storage, uri) for uri in fresh])
        apply(spark, tables, self._every_day)
        with self.ledger.open("a") as fh:
            fh.writelines(f"{uri}\n" for uri in fresh)
        self.applied.update(fresh)
        return tables

    def _every_day(self, table: PublishedTable) -> tuple[str, ...]:
        entries = [read_entry(self.storage, uri) for uri in journal_entries(self.storage)]
        [whole] = [t for t in merged(entries) if t.qualified_name == table.qualified_name]
        return whole.days
