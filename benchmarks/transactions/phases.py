"""Where (b) of bench.py spends its time: the platform's functions timed inside `materialize`.

    .venv/bin/python benchmarks/transactions/phases.py --rows 10000000 --repeat 2

Wraps the storage, audit and writer functions with timers (seconds summed per function, nested
calls counted in each caller too), then runs bench.py's (b) on the same synthetic landing data.
The first repetition is cold; compare the later ones.
"""

from __future__ import annotations

import argparse
import collections
import functools
import time

import bench  # the benchmark beside this file: python puts its folder on sys.path

import datalake_platform.domains.transactions.assets as assets
import datalake_platform.ingestion.batch as batch
import datalake_platform.lake.iceberg as iceberg
import datalake_platform.lake.storage as storage
import datalake_platform.quality.checks as checks
import datalake_platform.quality.validation as validation
import datalake_platform.spark.table_io as tables
from datalake_platform.spark.session import get_or_create_session

SECONDS: collections.Counter[str] = collections.Counter()
TIMED = [
    (assets, ["read_landing", "write_partitions", "write_table", "read_table", "rescued_columns"]),
    (batch, ["unreadable_files", "count_landing"]),
    (batch.manifest, ["judge", "stage"]),
    (checks, ["_rows"]),
    (tables, ["_passes", "_stage"]),
    (validation.ContractAudit, ["verify", "_repeated_keys"]),
    (storage.LakeStorage, ["staged_files", "list_landing_files", "commit_partitions", "row_counts", "table_rows"]),
    (iceberg.LakeTables, ["load", "replace", "data_files"]),
]


def _timed(owner, name: str) -> None:
    original = getattr(owner, name)
    label = f"{getattr(owner, '__name__', '').rsplit('.', 1)[-1]}.{name}"

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SECONDS[label] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    for owner, names in TIMED:
        for name in names:
            _timed(owner, name)
    root = bench.DATA / str(args.rows)
    bench.generate_landing(root, args.rows)
    get_or_create_session()
    for i in range(args.repeat):
        SECONDS.clear()
        total, _ = bench.timed(bench.platform, root, True)
        print(f"--- repetition {i + 1}: b_platform {total:.1f}s")
        for label, seconds in SECONDS.most_common():
            print(f"  {label:<45} {seconds:6.1f}")


if __name__ == "__main__":
    main()
