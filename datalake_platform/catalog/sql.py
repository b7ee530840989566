"""`datalake sql`: SQL over the lake's Iceberg tables, answered by DuckDB.

Each table of the catalog is a view `{zone}_{domain}.{table}` over DuckDB's `iceberg_scan` of the
snapshot current when the command starts (or of a past one, by id or time): a query reads one
immutable snapshot, so it never waits on a run that commits meanwhile and never sees half of one.
DuckDB and its Iceberg extensions come from PyPI wheels and load without a network.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
from pyiceberg.table import Table

from datalake_platform.lake.iceberg import LakeTables

# Loaded in this order: the Iceberg extension reads manifests with the Avro one.
EXTENSIONS = ("avro", "iceberg", "httpfs")


class SqlError(ValueError):
    """A query DuckDB refused, or a snapshot the table does not have: the message says which."""


@dataclass(frozen=True)
class TableView:
    name: str  # zone_domain.table
    metadata_location: str
    snapshot_id: int | None


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the Iceberg extensions loaded from their PyPI wheels."""
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    for name in EXTENSIONS:
        con.load_extension(str(_extension_file(name)))
    return con


def _extension_file(name: str) -> Path:
    module = importlib.import_module(f"duckdb_extension_{name}")
    return next(Path(module.__file__).parent.glob("extensions/*/*.duckdb_extension"))


def table_views(
    tables: LakeTables, as_of: dt.datetime | None = None, snapshot_id: int | None = None
) -> Iterator[TableView]:
    """Every table of the catalog, at its current snapshot, the one current at `as_of`, or `snapshot_id`
    (for the table that has it: a snapshot id names one table's snapshot)."""
    catalog = tables.catalog
    for namespace in sorted(catalog.list_namespaces()):
        for identifier in sorted(catalog.list_tables(namespace)):
            table = catalog.load_table(identifier)
            chosen = _snapshot(table, as_of, snapshot_id)
            if chosen is _ABSENT:
                continue
            yield TableView(".".join(identifier), table.metadata_location, chosen)


_ABSENT = object()


def _snapshot(table: Table, as_of: dt.datetime | None, snapshot_id: int | None):
    if snapshot_id is not None:
        return snapshot_id if table.snapshot_by_id(snapshot_id) is not None else _ABSENT
    if as_of is None:
        current = table.current_snapshot()
        return current.snapshot_id if current is not None else None
    millis = int(as_of.timestamp() * 1000)
    before = [s for s in table.snapshots() if s.timestamp_ms <= millis]
    return max(before, key=lambda s: s.timestamp_ms).snapshot_id if before else _ABSENT


def register(con: duckdb.DuckDBPyConnection, views: Iterator[TableView]) -> list[str]:
    """Create a schema per namespace and a view per table; the names registered."""
    names = []
    for view in views:
        schema, table = view.name.split(".", 1)
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        con.execute(f'CREATE OR REPLACE VIEW "{schema}"."{table}" AS {scan_sql(view)}')
        names.append(view.name)
    return names


def scan_sql(view: TableView) -> str:
    location = view.metadata_location.replace("'", "''")
    if view.snapshot_id is None:  # a table created but never written: its schema, no rows
        return f"SELECT * FROM iceberg_scan('{location}') LIMIT 0"
    return f"SELECT * FROM iceberg_scan('{location}', snapshot_from_id={view.snapshot_id})"


def session(tables: LakeTables, as_of: dt.datetime | None = None, snapshot_id: int | None = None):
    con = connect()
    names = register(con, table_views(tables, as_of, snapshot_id))
    if snapshot_id is not None and not names:
        raise SqlError(f"no table has a snapshot {snapshot_id}")
    return con


def query(tables: LakeTables, statements: str, as_of=None, snapshot_id=None, limit: int = 1000) -> int:
    """Run `;`-separated statements, printing each result as a table."""
    con = session(tables, as_of, snapshot_id)
    return 0 if all(_run(con, s, limit) for s in filter(str.strip, statements.split(";"))) else 1


def shell(tables: LakeTables, as_of=None, snapshot_id=None) -> int:
    """A prompt that reads statements ending in `;` and prints their results; Ctrl-D ends it."""
    con = session(tables, as_of, snapshot_id)
    buffer = ""
    print("datalake sql (DuckDB): tables are zone_domain.table; end statements with ';', Ctrl-D to quit")
    for line in sys.stdin:
        buffer += line
        if buffer.rstrip().endswith(";"):
            _run(con, buffer)
            buffer = ""
    return 0


def _run(con: duckdb.DuckDBPyConnection, statement: str, limit: int = 1000) -> bool:
    """Print one statement's result; a refused statement prints DuckDB's first line, not a trace."""
    try:
        relation = con.sql(statement)
    except duckdb.Error as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return False
    if relation is not None:
        relation.show(max_rows=limit, max_width=200)
    return True
