"""The report by person: a plain PySpark script vs the platform's assets with their checks.

    .venv/bin/python benchmarks/transactions/bench.py --rows 1000000 10000000 --repeat 2
    .venv/bin/python benchmarks/transactions/bench.py --fresh --rows 10000000 --repeat 2

(a) plain:    the reference architecture's script: read the landing CSVs, type them, write
              universal parquet by day, read it back, GROUP BY ID_PERSONA SUM(MONTO), write.
(b) platform: `materialize` of universal/transactions/purchases (all days, one run) and
              smart/transactions/report_by_person, with their blocking checks.
(c) platform without its checks, to price the checks alone.
(d) validation alone on the universal table: pandera's own pyspark backend vs the platform's
    compiled one-pass validation, same model.
(e) DuckDB: the same job as (a) on one machine's single-node engine (single_node.py).

All in one process and one Spark session, runs alternated, so the ratios compare like with like.
With --fresh, (a), (b) and (e) each run as a fresh process, as a user starts them.
Synthetic landing data has CDNOW's format (one CSV per day over the sample's 546 days) and is
generated once under benchmarks/transactions/_data/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import plain  # the scripts beside this file: python puts its folder on sys.path
import single_node

from datalake_platform import registry
from datalake_platform.definitions import build
from datalake_platform.domains.transactions.schemas import Purchases
from datalake_platform.domains.transactions.tables import (
    LANDING_COLUMNS,
    LANDING_PURCHASES,
    PURCHASES,
    REPORT_BY_PERSON,
    landing_days,
)
from datalake_platform.ingestion.landing import register_landing
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.quality.checks import Contract
from datalake_platform.quality.validation import ContractAudit, ValidationReport, validate
from datalake_platform.resources import LakeResource, ServingResource, SparkResource
from datalake_platform.runs import whole_range_tags
from datalake_platform.settings import Settings
from datalake_platform.spark.session import get_or_create_session, local_driver_memory
from datalake_platform.spark.table_io import read_table

DATA = Path(__file__).resolve().parent / "_data"
DAYS = [d.strftime("%Y-%m-%d") for d in pd.date_range("1997-01-01", "1998-06-30")]  # the CDNOW days


def generate_landing(root: Path, rows: int, seed: int = 7) -> None:
    """`rows` purchase lines in CDNOW's CSV format, spread over the sample's days."""
    marker = root / "landing" / ".complete"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    per_day = np.bincount(rng.integers(0, len(DAYS), rows), minlength=len(DAYS))
    customers = max(rows // 4, 1)
    storage = LocalLakeStorage(str(root))
    for day, n in zip(DAYS, per_day):
        folder = Path(storage.partition_uri(LANDING_PURCHASES, day))
        folder.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(
            {
                "customer_id": pd.Series(rng.integers(1, customers + 1, n)).map("{:05d}".format),
                "date": day.replace("-", ""),
                "number_of_cds": rng.integers(1, 11, n),
                "dollar_value": pd.Series(rng.integers(0, 50_000, n) / 100).map("{:.2f}".format),
            },
            columns=LANDING_COLUMNS,
        )
        frame.to_csv(folder / f"synthetic_{day.replace('-', '')}.csv", index=False)
    marker.touch()


def platform(root: Path, with_checks: bool) -> int:
    """(b)/(c) The platform's assets over every day in one run, with or without their checks."""
    selection = dg.AssetSelection.assets(PURCHASES.key_path, REPORT_BY_PERSON.key_path)
    if not with_checks:
        # Contracts are audited inside the writing asset (write-audit-publish), so they cannot
        # be deselected: their audits do nothing in this run; nothing_lost and pii_protected are deselected.
        selection = selection - dg.AssetSelection.checks(
            dg.AssetCheckKey(dg.AssetKey(PURCHASES.key_path), "nothing_lost"),
            *(dg.AssetCheckKey(dg.AssetKey(ref.key_path), "pii_protected") for ref in (PURCHASES, REPORT_BY_PERSON)),
        )
    # Closed here, on this thread: left to the garbage collector, its SQLite connections were
    # closed on whichever driver thread collected them, which SQLite refuses (a traceback per run).
    with dg.DagsterInstance.ephemeral() as instance, _contracts_audited(with_checks):
        register_landing(instance, LocalLakeStorage(str(root)), registry.landing_tables())
        result = dg.materialize(
            [*(defs := build(Settings())).assets, *defs.asset_checks],
            selection=selection,
            resources={
                "lake": (lake := LakeResource(root=str(root))),
                "spark": SparkResource(),
                "serving": ServingResource(lake=lake),
            },
            instance=instance,
            tags=whole_range_tags(landing_days, instance),
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    # Checked: both contracts, nothing_lost, and each table's pii_protected (governance).
    assert all(e.passed for e in evaluations) and len(evaluations) == (5 if with_checks else 2)
    return LocalLakeStorage(str(root)).table_rows(REPORT_BY_PERSON)


class _NoAudit(ContractAudit):
    """Watches nothing and passes everything: the contract's cost taken out, for (c) only."""

    def watch(self, df):
        return df

    def verify(self, staged, rows, files=None) -> bool:
        self.report = ValidationReport(rows=dict(rows), failures={})
        return True


@contextmanager
def _contracts_audited(on: bool):
    original = Contract.audit
    if not on:
        Contract.audit = lambda self, context: _NoAudit(self.model)
    try:
        yield
    finally:
        Contract.audit = original


def validation(spark, root: Path, engine: str) -> bool:
    """(d) The Purchases contract over the whole universal table."""
    df = read_table(spark, LocalLakeStorage(str(root)), PURCHASES, None)
    if engine == "compiled":
        return validate(Purchases, df, partitioned=True).passed
    validated = Purchases.validate(df)  # pandera's backend: one Spark job per check
    return not validated.pandera.errors


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def landing_folder(root: Path) -> str:
    return LocalLakeStorage(str(root)).table_uri(LANDING_PURCHASES)


def bench(rows: int, repeat: int) -> dict:
    """Every case in this process and its Spark session, after a warm-up of (b); (e) DuckDB in its own."""
    root = DATA / str(rows)
    generate_landing(root, rows)
    spark = get_or_create_session()
    cases = {
        "a_plain": lambda: plain.run(spark, landing_folder(root), root / "plain"),
        "b_platform": lambda: platform(root, with_checks=True),
        "c_platform_no_checks": lambda: platform(root, with_checks=False),
        "d_pandera_native": lambda: validation(spark, root, "pandera"),
        "d_compiled": lambda: validation(spark, root, "compiled"),
        "e_duckdb": lambda: single_node.run(landing_folder(root), root / "duckdb"),
    }
    cases["b_platform"]()  # warm-up: JIT, caches, and the universal table (d) reads
    med = run_cases(cases, rows, repeat)
    return {
        "rows": rows,
        "seconds": {name: round(s, 1) for name, s in med.items()},
        "b/a": round(med["b_platform"] / med["a_plain"], 2),
        "c/a": round(med["c_platform_no_checks"] / med["a_plain"], 2),
        "b/e (platform/DuckDB)": round(med["b_platform"] / med["e_duckdb"], 1),
        "checks share of b": round(1 - med["c_platform_no_checks"] / med["b_platform"], 2),
        "pandera/compiled": round(med["d_pandera_native"] / med["d_compiled"], 1),
    }


def bench_fresh(rows: int, repeat: int) -> dict:
    """(a), (b) and (e) each as a fresh process, as a user starts them: imports, JVM and all."""
    root = DATA / str(rows)
    generate_landing(root, rows)
    here = Path(__file__).resolve().parent
    landing = landing_folder(root)
    memory = local_driver_memory()
    commands = {
        "a_plain": [sys.executable, str(here / "plain.py"), landing, str(root / "plain"), memory],
        "b_platform": [sys.executable, str(here / "bench.py"), "--platform-once", str(rows)],
        "e_duckdb": [sys.executable, str(here / "single_node.py"), landing, str(root / "duckdb")],
    }
    cases = {
        name: lambda command=command: int(
            subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()[-1]
        )
        for name, command in commands.items()
    }
    med = run_cases(cases, rows, repeat)
    return {
        "rows": rows,
        "fresh_process_seconds": {name: round(s, 1) for name, s in med.items()},
        "b/a": round(med["b_platform"] / med["a_plain"], 2),
        "b/e (platform/DuckDB)": round(med["b_platform"] / med["e_duckdb"], 1),
    }


def run_cases(cases: dict, rows: int, repeat: int) -> dict[str, float]:
    """Each case `repeat` times, alternated; the median seconds per case. Plain, platform and DuckDB
    must report the same persons."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    outputs = {}
    for _ in range(repeat):
        for name, case in cases.items():
            seconds, outputs[name] = timed(case)
            times[name].append(seconds)
            print(f"  {rows:>10,} {name:<22} {seconds:7.1f}s", flush=True)
    assert outputs["a_plain"] == outputs["b_platform"] == outputs["e_duckdb"], outputs
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="(a), (b), (e) each in a fresh process")
    parser.add_argument("--platform-once", type=int, help=argparse.SUPPRESS)  # (b) in a fresh process: rows
    args = parser.parse_args()
    if args.platform_once:
        print(platform(DATA / str(args.platform_once), with_checks=True))
        return
    results = [(bench_fresh if args.fresh else bench)(rows, args.repeat) for rows in args.rows]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
