"""Exit 1 unless DuckDB, reading every Iceberg table of a lake through nothing but what
`datalake catalog config` prints, agrees with the platform's reader (the files the table's current
snapshot plans, read by pyarrow) on each table's row count and on the sum of one numeric column.

Usage: python .ci/tables_agree.py LAKE_ROOT (run after `datalake demo`)."""

import json
import os
import subprocess
import sys
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog import load_catalog

from datalake_platform.catalog.sql import connect
from datalake_platform.lake.backends import storage_for_root
from datalake_platform.lake.table_refs import TableRef


def catalog_config(root: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "datalake_platform.cli", "catalog", "config"],
        env={**os.environ, "DATALAKE_ROOT": root},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def summed_column(schema: pa.Schema) -> str | None:
    """The first numeric column: what both readers sum."""
    for field in schema:
        if pa.types.is_decimal(field.type) or pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            return field.name
    return None


def platform(storage, ref: TableRef, column: str | None) -> tuple[int, object]:
    rows, total = 0, None
    for name in storage.table_files(ref):
        with storage.fs.open(name, "rb") as fh:
            table = pq.read_table(fh, columns=[column] if column else [])
        rows += table.num_rows
        part = pc.sum(table.column(0)).as_py() if column else None
        total = part if total is None else total + part if part is not None else total
    return rows, total


def main(root: str) -> int:
    properties = catalog_config(root)
    catalog = load_catalog(properties.pop("name"), **properties)
    storage = storage_for_root(root)
    con, compared, differ = connect(), 0, 0
    for namespace in sorted(catalog.list_namespaces()):
        for identifier in sorted(catalog.list_tables(namespace)):
            table = catalog.load_table(identifier)
            zone, domain = identifier[0].split("_", 1)
            ref = TableRef(zone, domain, identifier[1])
            column = summed_column(table.schema().as_arrow())
            mine = platform(storage, ref, column)
            if table.current_snapshot() is None:
                theirs = (0, None)
            else:
                total = f'sum("{column}")' if column else "NULL"
                theirs = con.sql(f"SELECT count(*), {total} FROM iceberg_scan('{table.metadata_location}')").fetchone()
            same = mine[0] == theirs[0] and _equal(mine[1], theirs[1])
            compared += 1
            differ += not same
            print(
                f"{'ok  ' if same else 'DIFF'} {'.'.join(identifier):<50} rows {mine[0]:>9} / {theirs[0]:>9}  "
                f"sum({column}) {mine[1]} / {theirs[1]}"
            )
    print(f"{compared} tables read by DuckDB and by the platform: {differ} differ")
    return 0 if compared and not differ else 1


def _equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)))
    return Decimal(str(a)) == Decimal(str(b))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
