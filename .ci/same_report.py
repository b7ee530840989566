"""Exit 1 unless two demo lakes hold the same data: every universal, smart and quarantine table with
the same row count, the same quarantine reasons, and smart/transactions/report_by_person equal row
for row, to the cent. Read with pyarrow alone (not Spark): CI compares each Spark line's lake with
the default line's."""

import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds

REPORT = "smart/transactions/report_by_person"
COLUMNS = ["ID_PERSONA", "MONTO_TRANSACCIONES", "NUM_TRANSACCIONES", "PRIMERA_COMPRA", "ULTIMA_COMPRA"]


def tables(root: Path) -> dict[str, ds.Dataset]:
    """zone/domain/table -> its parquet files (a table's files, or its dt= partitions' files)."""
    found = {}
    for folder in sorted(root.glob("*/*/*")):
        if folder.parts[-3] in ("universal", "smart", "quarantine") and folder.is_dir():
            files = [*folder.glob("*.parquet"), *folder.glob("dt=*/*.parquet")]
            if files:
                found["/".join(folder.parts[-3:])] = ds.dataset(folder, format="parquet", partitioning="hive")
    return found


def summary(root: Path) -> dict[str, tuple]:
    out = {}
    for name, data in tables(root).items():
        reasons = (
            Counter(data.to_table(columns=["reason"]).column(0).to_pylist()) if "reason" in data.schema.names else {}
        )
        out[name] = (data.count_rows(), dict(sorted(reasons.items())))
    return out


def report(root: Path) -> dict:
    rows = ds.dataset(root / REPORT, format="parquet").to_table(columns=COLUMNS).to_pylist()
    return {r["ID_PERSONA"]: tuple(r[c] for c in COLUMNS[1:]) for r in rows}


def main(reference: str, candidate: str) -> int:
    a, b = summary(Path(reference)), summary(Path(candidate))
    different = {t: (a.get(t), b.get(t)) for t in sorted(a.keys() | b.keys()) if a.get(t) != b.get(t)}
    for table, (mine, theirs) in different.items():
        print(f"  {table}: reference {mine}, this line {theirs}")
    print(f"{len(a)} tables compared: {len(different)} differ")
    ra, rb = report(Path(reference)), report(Path(candidate))
    total = lambda r: sum((v[0] for v in r.values()), Decimal(0))  # noqa: E731
    differ = [p for p in ra.keys() & rb.keys() if ra[p] != rb[p]]
    print(
        f"report_by_person: {len(ra)} persons (reference) / {len(rb)} (this line); total {total(ra)} / {total(rb)}; "
        f"{len(differ)} differ, {len(ra.keys() - rb.keys())} missing, {len(rb.keys() - ra.keys())} extra"
    )
    return 0 if ra == rb and ra and a and not different else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
