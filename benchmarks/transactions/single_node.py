"""(e) The report by person on one machine's single-node engine: DuckDB, all cores.

    .venv/bin/python benchmarks/transactions/single_node.py LANDING_FOLDER OUT_FOLDER

The same job as plain.py: landing CSVs -> universal parquet by day -> SUM(MONTO) by person ->
parquet; prints the persons. bench.py runs it in every run, in its own process.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import duckdb

COLUMNS = "{'customer_id': 'VARCHAR', 'date': 'VARCHAR', 'number_of_cds': 'VARCHAR', 'dollar_value': 'VARCHAR'}"


def run(landing: str, out: Path) -> int:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    with duckdb.connect() as con:
        con.execute(
            f"""COPY (
                SELECT customer_id AS ID_PERSONA, strptime(date, '%Y%m%d')::DATE AS FECHA,
                       number_of_cds::INTEGER AS CANTIDAD, dollar_value::DECIMAL(12, 2) AS MONTO, dt
                FROM read_csv('{landing}/*/*.csv', header = true, hive_partitioning = true, columns = {COLUMNS})
            ) TO '{out}/universal' (FORMAT parquet, PARTITION_BY (dt))"""
        )
        written = time.perf_counter()
        con.execute(
            f"""COPY (
                SELECT ID_PERSONA, SUM(MONTO) AS MONTO_TRANSACCIONES
                FROM read_parquet('{out}/universal/*/*.parquet', hive_partitioning = true)
                GROUP BY ID_PERSONA
            ) TO '{out}/report_by_person.parquet' (FORMAT parquet)"""
        )
        persons = con.execute(f"SELECT count(*) FROM '{out}/report_by_person.parquet'").fetchone()[0]
    # Where DuckDB's time goes (stderr: stdout is the persons, for bench.py).
    print(
        f"universal (CSV -> parquet by day) {written - started:.1f} s, report {time.perf_counter() - written:.1f} s",
        file=sys.stderr,
    )
    return persons


if __name__ == "__main__":
    print(run(sys.argv[1], Path(sys.argv[2])))
