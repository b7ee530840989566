"""The enrichment pipeline (36 steps over the purchases) as checkpoint assets in the work area.

    python -m datalake_platform.domains.transactions.enrichment_assets [--root LAKE]
        [--memory-budget-mib 64] [--max-plan-nodes 150] [--pin STEP ...]

re-plans: runs the planner over the lake's purchases (or, where none are ingested yet, over the
bundled CDNOW log) with the given policy (default POLICY) and records the policy, the pins and
the cuts in enrichment_plan.json, which decides the segments (assets) of the graph. Pins always
cut: those recorded, and those in POLICY.pinned_after, re-planned or not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from datalake_platform.checkpointed_assets import CheckpointedPipeline, checkpoint_assets
from datalake_platform.domains.transactions.enrichment import ENRICHMENT
from datalake_platform.domains.transactions.schemas import PurchaseFeatures, Purchases
from datalake_platform.domains.transactions.tables import OWNERS, PURCHASES
from datalake_platform.lake.table_refs import TableRef, Zone
from datalake_platform.spark.checkpoint_planner import CheckpointPolicy, run_checkpointed, segments

PURCHASE_FEATURES = TableRef(Zone.SMART, "transactions", "purchase_features")
# A small driver's share: 64 MiB of estimated intermediates per segment, and a plan of at most
# ~150 nodes (past a few hundred, analysis alone takes seconds per step; see benchmarks/checkpoint).
POLICY = CheckpointPolicy(memory_budget_bytes=64 * 2**20, max_plan_nodes=150, pinned_after=())
PIPELINE = CheckpointedPipeline(
    name="enrichment",
    source=PURCHASES,
    source_model=Purchases,
    steps=ENRICHMENT,
    output=PURCHASE_FEATURES,
    output_model=PurchaseFeatures,
    policy=POLICY,
    plan_file=Path(__file__).with_name("enrichment_plan.json"),
)
enrichment_assets = checkpoint_assets(PIPELINE, OWNERS)


def _source(spark, storage):
    from pyspark.sql import functions as F

    from datalake_platform.quality.validation import spark_schema
    from datalake_platform.spark.table_io import read_table

    if storage.list_partitions(PURCHASES):
        return read_table(spark, storage, PURCHASES, spark_schema(Purchases))
    from datalake_platform.domains.transactions.seed import SAMPLE  # the raw CDNOW log, typed like universal

    lines = (
        spark.read.text(str(SAMPLE))
        .where(~F.trim("value").startswith("customer") & (F.trim("value") != ""))
        .select(F.split(F.trim("value"), r"\s+").alias("f"), "value")
    )
    return lines.select(
        F.substring(F.sha2("value", 256), 1, 32).alias("ID_TRANSACCION"),
        F.col("f")[0].alias("ID_PERSONA"),
        F.to_date(F.col("f")[1], "yyyyMMdd").alias("FECHA"),
        F.col("f")[2].cast("int").alias("CANTIDAD"),
        F.col("f")[3].cast("decimal(12,2)").alias("MONTO"),
    )


def main(argv: list[str] | None = None) -> int:
    from datalake_platform.lake.backends import storage_for_root
    from datalake_platform.settings import current
    from datalake_platform.spark.session import get_or_create_session

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None)
    parser.add_argument("--memory-budget-mib", type=float, default=POLICY.memory_budget_bytes / 2**20)
    parser.add_argument("--max-plan-nodes", type=int, default=POLICY.max_plan_nodes)
    parser.add_argument(
        "--pin", action="append", default=[], help="cut after this step whatever the estimates (repeatable)"
    )
    args = parser.parse_args(argv)
    pins = tuple(sorted(set(POLICY.pinned_after) | set(args.pin)))
    policy = CheckpointPolicy(int(args.memory_budget_mib * 2**20), args.max_plan_nodes, pins)
    segments(ENRICHMENT, pins)  # unknown step names fail here, before Spark starts
    spark = get_or_create_session()
    # Planning checkpoints stay in memory (localCheckpoint): the plan is what is kept, not the data.
    run = run_checkpointed(
        _source(spark, storage_for_root(args.root or current().lake_root)),
        ENRICHMENT,
        policy,
        lambda k, df: df.localCheckpoint(),
    )
    plan = {
        "policy": {"memory_budget_bytes": policy.memory_budget_bytes, "max_plan_nodes": policy.max_plan_nodes},
        "pinned_after": list(pins),
        "cuts": run.cuts,
        "reasons": run.reasons,
    }
    PIPELINE.plan_file.write_text(json.dumps(plan, indent=2) + "\n")
    print(json.dumps(plan, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
