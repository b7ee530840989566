"""The checkpoint pattern: 10, 20, 50, 100 enrichment steps, unbroken vs checkpointed, at a small fixed memory.

    .venv/bin/python benchmarks/checkpoint/bench.py --steps 10 20 50 100 --memory 512m --timeout 240

Each case runs in its own process (a fresh JVM with spark.driver.memory = --memory; local mode, so
the driver is the executor too) over the CDNOW log (69,659 purchases, typed like universal):

- unbroken:     the n steps as one lineage, then written to parquet;
- checkpointed: the same steps with `run_checkpointed` and the platform's POLICY (64 MiB of
                estimated intermediates or +150 plan nodes per segment), each checkpoint a parquet
                table in the lake's work area, read back.

Measured: wall time of the whole case; plan-analysis time (the planner's estimates plus analysis and
optimization of the final plan before it runs); peak JVM heap (sum of the heap pools' peaks) and the
JVM's peak RSS (VmHWM); the checkpoints' count, bytes written and seconds. A case past --timeout is
killed and reported as such; a JVM error (OutOfMemoryError, StackOverflowError) as failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def case(steps: int, checkpointed: bool, memory: str, root: str) -> dict:
    """One case, in this process (called in a child)."""
    from datalake_platform.domains.transactions.enrichment import enrichment_steps
    from datalake_platform.domains.transactions.enrichment_assets import POLICY, _source
    from datalake_platform.lake.storage import LocalLakeStorage
    from datalake_platform.lake.table_refs import ServiceArea, TableRef
    from datalake_platform.spark.checkpoint_planner import run_checkpointed
    from datalake_platform.spark.session import get_or_create_session
    from datalake_platform.spark.table_io import read_table, write_table

    spark = get_or_create_session(conf={"spark.driver.memory": memory, "spark.sql.shuffle.partitions": "4"})
    storage = LocalLakeStorage(root)
    source = _source(spark, storage).cache()
    source.count()
    written: list[dict] = []

    def checkpoint(k, df):
        ref = TableRef(ServiceArea.WORK, "bench", f"checkpoint_{k:02d}")
        started = time.perf_counter()
        write_table(df, storage, ref)
        files = storage.table_files(ref)
        written.append({"seconds": time.perf_counter() - started, "bytes": sum(Path(f).stat().st_size for f in files)})
        return read_table(spark, storage, ref, None)

    started = time.perf_counter()
    run = run_checkpointed(source, enrichment_steps(steps), POLICY if checkpointed else None, checkpoint)
    planning = time.perf_counter()
    run.result._jdf.queryExecution().executedPlan()  # analysis + optimization + physical planning of the last segment
    plan_seconds = run.plan_seconds + time.perf_counter() - planning
    write_table(run.result, storage, TableRef(ServiceArea.WORK, "bench", "output"))
    wall = time.perf_counter() - started
    jvm = spark._jvm.java.lang.management.ManagementFactory
    heap_peak = sum(p.getPeakUsage().getUsed() for p in jvm.getMemoryPoolMXBeans() if str(p.getType()) == "Heap memory")
    pid = spark.sparkContext._gateway.proc.pid
    hwm = next((int(line.split()[1]) * 1024 for line in open(f"/proc/{pid}/status") if line.startswith("VmHWM")), 0)
    return {
        "steps": steps,
        "mode": "checkpointed" if checkpointed else "unbroken",
        "status": "ok",
        "wall_s": round(wall, 1),
        "plan_s": round(plan_seconds, 2),
        "heap_peak_mib": round(heap_peak / 2**20),
        "rss_peak_mib": round(hwm / 2**20),
        "checkpoints": len(written),
        "checkpoint_mib": round(sum(w["bytes"] for w in written) / 2**20, 1),
        "checkpoint_s": round(sum(w["seconds"] for w in written), 1),
    }


def run_case(steps: int, checkpointed: bool, memory: str, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as root:
        args = [sys.executable, __file__, "--case", str(steps), str(int(checkpointed)), memory, root]
        started = time.perf_counter()
        # Its own process group: on a timeout the JVM goes too, not only the Python child.
        child = subprocess.Popen(
            args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return {
                "steps": steps,
                "mode": "checkpointed" if checkpointed else "unbroken",
                "status": f"timeout > {timeout:.0f} s",
            }
        proc = subprocess.CompletedProcess(args, child.returncode, out, err)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode == 0 and lines:
            return json.loads(lines[-1])
        error = next(
            (e for e in ("OutOfMemoryError", "StackOverflowError", "GC overhead") if e in proc.stderr),
            f"rc {proc.returncode}",
        )
        return {
            "steps": steps,
            "mode": "checkpointed" if checkpointed else "unbroken",
            "status": f"failed: {error}",
            "wall_s": round(time.perf_counter() - started, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 20, 50, 100])
    parser.add_argument("--memory", default="512m")
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument("--case", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        steps, checkpointed, memory, root = args.case
        print(json.dumps(case(int(steps), checkpointed == "1", memory, root)), flush=True)
        return
    for steps in args.steps:
        for checkpointed in (False, True):
            print(json.dumps(run_case(steps, checkpointed, args.memory, args.timeout)), flush=True)


if __name__ == "__main__":
    main()
