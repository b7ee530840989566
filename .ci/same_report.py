"""Exit 1 unless two demo lakes hold the same data: every universal, smart and quarantine table with
the same row count, the same quarantine reasons, and smart/transactions/report_by_person equal row
for row, to the cent. Read with pyiceberg (not Spark), from each lake's own catalog: CI compares
each Spark line's lake with the default line's."""

import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from datalake_platform.lake.backends import storage_for_root

REPORT = "smart/transactions/report_by_person"
COLUMNS = ["ID_PERSONA", "MONTO_TRANSACCIONES", "NUM_TRANSACCIONES", "PRIMERA_COMPRA", "ULTIMA_COMPRA"]


def tables(root: Path) -> dict[str, pa.Table]:
    """zone/domain/table -> its rows, as pyiceberg reads the table's current snapshot."""
    catalog = storage_for_root(str(root)).tables.catalog
    found = {}
    for namespace in catalog.list_namespaces():
        zone, domain = namespace[0].split("_", 1)
        if zone in ("universal", "smart", "quarantine"):
            for identifier in catalog.list_tables(namespace):
                found[f"{zone}/{domain}/{identifier[1]}"] = catalog.load_table(identifier).scan().to_arrow()
    return found


def summary(found: dict[str, pa.Table]) -> dict[str, tuple]:
    out = {}
    for name, data in found.items():
        reasons = Counter(data.column("reason").to_pylist()) if "reason" in data.schema.names else {}
        out[name] = (data.num_rows, dict(sorted(reasons.items())))
    return out


def report(found: dict[str, pa.Table]) -> dict:
    rows = found[REPORT].select(COLUMNS).to_pylist()
    return {r["ID_PERSONA"]: tuple(r[c] for c in COLUMNS[1:]) for r in rows}


def main(reference: str, candidate: str) -> int:
    reference_tables, candidate_tables = tables(Path(reference)), tables(Path(candidate))
    a, b = summary(reference_tables), summary(candidate_tables)
    different = {t: (a.get(t), b.get(t)) for t in sorted(a.keys() | b.keys()) if a.get(t) != b.get(t)}
    for table, (mine, theirs) in different.items():
        print(f"  {table}: reference {mine}, this line {theirs}")
    print(f"{len(a)} tables compared: {len(different)} differ")
    ra, rb = report(reference_tables), report(candidate_tables)
    total = lambda r: sum((v[0] for v in r.values()), Decimal(0))  # noqa: E731
    differ = [p for p in ra.keys() & rb.keys() if ra[p] != rb[p]]
    print(
        f"report_by_person: {len(ra)} persons (reference) / {len(rb)} (this line); total {total(ra)} / {total(rb)}; "
        f"{len(differ)} differ, {len(ra.keys() - rb.keys())} missing, {len(rb.keys() - ra.keys())} extra"
    )
    return 0 if ra == rb and ra and a and not different else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
