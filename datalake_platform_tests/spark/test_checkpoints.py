"""The checkpoint pattern: the policy's cuts, pins, equality with the unbroken lineage, and the assets."""

import dagster as dg
import pandas as pd
import pytest
from pyspark.sql import functions as F

from datalake_platform.domains.transactions.enrichment import enrichment_steps
from datalake_platform.domains.transactions.enrichment_assets import PIPELINE, PURCHASE_FEATURES
from datalake_platform.domains.transactions.schemas import Purchases
from datalake_platform.domains.transactions.tables import PURCHASES
from datalake_platform.lake.table_refs import ServiceArea, TableRef
from datalake_platform.quality.validation import spark_schema
from datalake_platform.spark.checkpoint_planner import CheckpointPolicy, apply, cut_reason, run_checkpointed, segments
from datalake_platform.spark.table_io import read_table, write_table
from datalake_platform_tests.conftest import land_cdnow_day, materialize, table_frame

HUGE = 1 << 60


def test_the_policy_cuts_on_pins_then_memory_then_lineage():
    policy = CheckpointPolicy(memory_budget_bytes=1000, max_plan_nodes=50, pinned_after=("s03",))
    assert cut_reason(policy, "s03", 0, 0) == "pinned"
    assert cut_reason(policy, "s04", 999, 49) is None
    assert cut_reason(policy, "s04", 1000, 0).startswith("memory")
    assert cut_reason(policy, "s04", 0, 50).startswith("lineage")


def test_segments_follow_the_cuts():
    steps = enrichment_steps(8)
    parts = segments(steps, ["s02_running_sum", "s05_rank"])
    assert [[s.name for s in p] for p in parts] == [
        ["s00_base", "s01_scale", "s02_running_sum"],
        ["s03_lag", "s04_minus_person_mean", "s05_rank"],
        ["s06_log", "s07_collect"],
    ]
    with pytest.raises(ValueError):
        segments(steps, ["nope"])


def _purchases(spark, n=600):
    i = F.col("id")
    return spark.range(n).select(
        F.substring(F.sha2(i.cast("string"), 256), 1, 32).alias("ID_TRANSACCION"),
        (i % 40).cast("string").alias("ID_PERSONA"),
        F.date_add(F.lit("1997-01-01").cast("date"), (i % 200).cast("int")).alias("FECHA"),
        (i % 3 + 1).cast("int").alias("CANTIDAD"),
        (i % 97 + 0.5).cast("decimal(12,2)").alias("MONTO"),
    )


def _sorted(df) -> pd.DataFrame:
    return df.toPandas().sort_values("ID_TRANSACCION").reset_index(drop=True)


def test_checkpointed_run_cuts_where_the_policy_says_and_equals_the_unbroken_lineage(spark, lake):
    steps = enrichment_steps(30)
    source = _purchases(spark)
    written = []

    def checkpoint(k, df):  # into the lake's work area, read back: lineage truncated
        ref = TableRef(ServiceArea.WORK, "test", f"checkpoint_{k}")
        write_table(df, lake, ref)
        written.append(lake.table_rows(ref))
        return read_table(spark, lake, ref, None)

    policy = CheckpointPolicy(memory_budget_bytes=HUGE, max_plan_nodes=60, pinned_after=("s02_running_sum",))
    run = run_checkpointed(source, steps, policy, checkpoint)
    assert run.cuts[0] == "s02_running_sum" and run.reasons["s02_running_sum"] == "pinned"
    assert all(run.reasons[c].startswith("lineage") for c in run.cuts[1:]) and len(run.cuts) >= 3
    assert written == [600] * len(run.cuts)
    # No segment's plan grew past the limit before its cut; and every cut was needed (or pinned).
    by_step = {e.step: e for e in run.estimates}
    names = [s.name for s in steps]
    for prev, cut in zip(["s02_running_sum", *run.cuts[1:]], run.cuts[1:]):
        before_cut = names[names.index(cut) - 1]
        assert by_step[before_cut].plan_nodes - by_step[names[names.index(prev) + 1]].plan_nodes < 60
    got = _sorted(run.result)
    unbroken = _sorted(apply(_purchases(spark), steps))
    assert len(got) == 600 and (got["ID_TRANSACCION"] == unbroken["ID_TRANSACCION"]).all()
    assert all(pytest.approx(a, rel=1e-9, abs=1e-9) == b for a, b in zip(got["features"], unbroken["features"]))
    # A memory budget alone cuts too, as soon as the estimates of a segment's intermediates reach it.
    small = run_checkpointed(
        _purchases(spark),
        enrichment_steps(8),
        CheckpointPolicy(memory_budget_bytes=40_000, max_plan_nodes=10**6),
        lambda k, df: df.localCheckpoint(),
    )
    assert small.cuts and all(small.reasons[c].startswith("memory") for c in small.cuts)


DAYS = ["1997-01-01", "1997-01-02", "1997-01-03"]


def test_the_checkpoint_assets_materialize_and_equal_the_unbroken_pipeline(spark, lake, cdnow):
    for day in DAYS:
        land_cdnow_day(lake, cdnow, day)
        assert materialize(lake, "universal/transactions/purchases", partition_key=day).success
    refs = PIPELINE.refs()
    assert len(refs) == len(PIPELINE.cuts()) + 1 >= 4 and refs[-1] == PURCHASE_FEATURES
    assert all(r.zone == "work" for r in refs[:-1])
    result = materialize(lake, dg.AssetSelection.assets(*[dg.AssetKey(r.key_path) for r in refs]))
    assert result.success
    for ref in refs:  # each checkpoint is a parquet table in the work area, one row per purchase
        assert lake.table_rows(ref) == sum(len(cdnow[d]) for d in DAYS)
    expected = _sorted(apply(read_table(spark, lake, PURCHASES, spark_schema(Purchases)), PIPELINE.steps))
    got = table_frame(lake, PURCHASE_FEATURES).sort_values("ID_TRANSACCION").reset_index(drop=True)
    assert (got["ID_TRANSACCION"] == expected["ID_TRANSACCION"]).all() and len(got["features"][0]) == 34
    assert all(
        pytest.approx(list(a), rel=1e-9, abs=1e-9) == list(b) for a, b in zip(got["features"], expected["features"])
    )
    # Re-run from the last checkpoint only: the output is rebuilt from it, the same.
    again = materialize(lake, dg.AssetSelection.assets(dg.AssetKey(PURCHASE_FEATURES.key_path)))
    assert again.success
    rerun = table_frame(lake, PURCHASE_FEATURES).sort_values("ID_TRANSACCION").reset_index(drop=True)
    assert all(
        pytest.approx(list(a), rel=1e-9, abs=1e-9) == list(b) for a, b in zip(rerun["features"], got["features"])
    )


def test_the_recorded_plan_names_real_steps_and_the_graph_follows_it():
    import json

    plan = json.loads(PIPELINE.plan_file.read_text())
    names = [s.name for s in PIPELINE.steps]
    assert len(names) == 36 and set(plan["cuts"]) <= set(names[:-1])
    assert PIPELINE.cuts() == [n for n in names if n in set(plan["cuts"]) | set(plan.get("pinned_after", []))]
    assert all(r.startswith(("memory", "lineage", "pinned")) for r in plan["reasons"].values())
