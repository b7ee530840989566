"""Landing sensor tick time with 100, 1,000 and 10,000 files in landing.

    .venv/bin/python benchmarks/sensor/bench.py --files 100 1000 10000 --repeat 3

Files are CDNOW-format CSVs, 10 per day folder. For each size, in one process and one Dagster
instance, timed:
  first tick    every day is new: registers the partitions and requests the runs
  steady tick   nothing changed (the common case: a tick every 30 s)
  one new file  a file lands in one day folder
  listing only  the baseline: one `find` of the landing table through the same storage, which
                every tick must do at least (the ratio steady/listing is the sensor's own cost)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from datalake_platform.domains.transactions.tables import LANDING
from datalake_platform.ingestion.sensors import landing_sensor
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.resources import LakeResource

purchases_files = landing_sensor(LANDING)

FILES_PER_DAY = 10
LINE = "customer_id,date,number_of_cds,dollar_value\n00001,{compact},1,1.00\n"


def land(storage: LocalLakeStorage, files: int) -> list[str]:
    days = [d.strftime("%Y-%m-%d") for d in pd.date_range("1990-01-01", periods=max(1, files // FILES_PER_DAY))]
    for i in range(files):
        day = days[i // FILES_PER_DAY]
        folder = Path(storage.partition_uri(LANDING.ref, day))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{i:05d}.csv").write_text(LINE.format(compact=day.replace("-", "")))
    return days


def tick(storage, instance, cursor):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"lake": LakeResource(root=storage.root)}
    )
    result = purchases_files(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench(files: int, repeat: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="sensor-bench-"))
    try:
        storage = LocalLakeStorage(str(tmp / "lake"))
        days = land(storage, files)
        seconds: dict[str, list[float]] = {"first tick": [], "steady tick": [], "one new file": [], "listing only": []}
        for r in range(repeat):
            with dg.instance_for_test() as instance:
                t, first = timed(lambda: tick(storage, instance, None))
                seconds["first tick"].append(t)
                assert len(instance.get_dynamic_partitions(LANDING.partitions.name)) == len(days) and first.run_requests
                t, steady = timed(lambda cursor=first.cursor: tick(storage, instance, cursor))
                seconds["steady tick"].append(t)
                assert not steady.run_requests
                (Path(storage.partition_uri(LANDING.ref, days[len(days) // 2])) / f"late-{r}.csv").write_text(
                    LINE.format(compact="19900101")
                )
                t, late = timed(lambda cursor=steady.cursor: tick(storage, instance, cursor))
                seconds["one new file"].append(t)
                assert len(late.run_requests) == 1
                t, _ = timed(lambda: storage.fs.find(storage.table_uri(LANDING.ref), detail=True))
                seconds["listing only"].append(t)
        med = {k: statistics.median(v) for k, v in seconds.items()}
        return {
            "files": files,
            "days": len(days),
            "seconds": {k: round(v, 3) for k, v in med.items()},
            "steady/listing": round(med["steady tick"] / med["listing only"], 1),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for files in args.files:
        print(json.dumps(bench(files, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
