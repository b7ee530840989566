"""Iceberg commit costs of the lake's table layer (lake.iceberg), on a local lake, without Spark.

- one day replaced in a table of 546 days, and a 546-day backfill in one commit: the commit alone
  (the files are staged first, as Spark leaves them), with the time to write those files as the
  same-session baseline;
- a stream's batch of rows added to a day holding more and more rows: the append (what the posts
  stream does, O(batch)) against rewriting the day with the batch merged in (what it did before,
  O(day)).

    python benchmarks/iceberg/bench.py [--rows-per-day 2000] [--batch 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.lake.table_refs import TableRef, Zone

TABLE = TableRef(Zone.UNIVERSAL, "bench", "purchases")
SCHEMA = pa.schema([("id", pa.int64()), ("amount", pa.decimal128(12, 2)), ("dt", pa.date32())])
DAYS = [(dt.date(1997, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(546)]


def rows(day: str, n: int, start: int = 0) -> pa.Table:
    ids = pa.array(range(start, start + n), pa.int64())
    amounts = pa.array([i % 10_000 for i in range(n)], pa.decimal128(12, 2))
    return pa.table({"id": ids, "amount": amounts, "dt": [dt.date.fromisoformat(day)] * n}, schema=SCHEMA)


def stage(lake, tables: dict[str, pa.Table]) -> tuple[str, float]:
    """The files of one write, as Spark leaves them; the seconds writing them took."""
    started = time.perf_counter()
    staging = Path(lake.staging_uri(TABLE))
    for day, table in tables.items():
        (staging / f"day={day}").mkdir(parents=True)
        pq.write_table(table, staging / f"day={day}" / "part-0.parquet")
    return str(staging), time.perf_counter() - started


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def commits(lake, rows_per_day: int, repeat: int) -> dict:
    staging, write = stage(lake, {d: rows(d, rows_per_day) for d in DAYS})
    backfill = timed(lake.commit_partitions, TABLE, staging, DAYS, SCHEMA)
    staging, _ = stage(lake, {d: rows(d, rows_per_day) for d in DAYS})
    rerun = timed(lake.commit_partitions, TABLE, staging, DAYS, SCHEMA)  # every day replaced, as a re-run does
    counts = timed(lake.row_counts, TABLE, DAYS)
    one_day, one_write = [], []
    for i in range(repeat):
        day = DAYS[(i * 97) % len(DAYS)]
        staging, w = stage(lake, {day: rows(day, rows_per_day)})
        one_write.append(w)
        one_day.append(timed(lake.commit_partitions, TABLE, staging, [day], SCHEMA))
    return {
        "backfill_546_days_commit_s": round(backfill, 3),
        "backfill_546_days_write_files_s": round(write, 3),
        "rerun_546_days_commit_s": round(rerun, 3),
        "row_counts_546_days_s": round(counts, 3),
        "one_day_commit_s": round(statistics.median(one_day), 3),
        "one_day_write_file_s": round(statistics.median(one_write), 4),
    }


def stream_batches(lake, batch: int, repeat: int, day_sizes: list[int]) -> list[dict]:
    out = []
    for n in day_sizes:
        day = f"2026-01-{len(out) + 1:02d}"
        staging, _ = stage(lake, {day: rows(day, n)})
        lake.commit_partitions(TABLE, staging, [day], SCHEMA)
        append, rewrite = [], []
        for r in range(repeat):
            new = rows(day, batch, start=10**9 + r * batch)
            staging, w = stage(lake, {day: new})
            append.append(w + timed(lake.append_partitions, TABLE, staging, [day], SCHEMA, {}))
            rewrite.append(timed(_rewrite_day, lake, day, new))
        a, b = statistics.median(append), statistics.median(rewrite)
        out.append(
            {
                "day_rows": n,
                "batch_rows": batch,
                "append_s": round(a, 4),
                "rewrite_day_s": round(b, 4),
                "rewrite_over_append": round(b / a, 1),
            }
        )
    return out


def _rewrite_day(lake, day: str, new: pa.Table) -> None:
    """The O(day) way: read the day, merge the batch in, write the day again, replace it."""
    current = pa.concat_tables([pq.read_table(f, partitioning=None) for f in lake.partition_files(TABLE, [day])])
    staging, _ = stage(lake, {day: pa.concat_tables([current, new])})
    lake.commit_partitions(TABLE, staging, [day], SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows-per-day", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        lake = LocalLakeStorage(folder)
        result = {"commits": commits(lake, args.rows_per_day, args.repeat)}
        result["stream"] = stream_batches(lake, args.batch, args.repeat, [10_000, 100_000, 1_000_000])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
