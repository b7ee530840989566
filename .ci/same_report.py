"""Exit 1 unless two lakes' smart/transactions/report_by_person hold the same rows, to the cent.

Read with pyarrow alone (not Spark): CI compares each Spark line's demo lake with the default one's."""

import sys
from decimal import Decimal

import pyarrow.dataset as ds

COLUMNS = ["ID_PERSONA", "MONTO_TRANSACCIONES", "NUM_TRANSACCIONES", "PRIMERA_COMPRA", "ULTIMA_COMPRA"]


def report(root: str) -> dict:
    table = ds.dataset(f"{root}/smart/transactions/report_by_person", format="parquet").to_table(columns=COLUMNS)
    rows = table.to_pylist()
    return {r["ID_PERSONA"]: tuple(r[c] for c in COLUMNS[1:]) for r in rows}


def main(reference: str, candidate: str) -> int:
    a, b = report(reference), report(candidate)
    differ = [p for p in a.keys() & b.keys() if a[p] != b[p]]
    total = lambda r: sum((v[0] for v in r.values()), Decimal(0))  # noqa: E731
    print(f"report_by_person: {len(a)} persons (reference) / {len(b)} (this line); total {total(a)} / {total(b)}; "
          f"{len(differ)} differ, {len(a.keys() - b.keys())} missing, {len(b.keys() - a.keys())} extra")
    return 0 if a == b and len(a) > 0 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
