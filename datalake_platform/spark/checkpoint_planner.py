"""The checkpoint pattern: a long chain of Spark steps, cut into materialized checkpoints.

A pipeline is written once as a list of plain steps `DataFrame -> DataFrame`. Run unbroken, its
lineage grows with every step: the driver analyzes and optimizes an ever deeper plan (time and
memory superlinear in depth, exponential where a step joins the frame with an aggregate of
itself), and executors recompute everything on a failure. A checkpoint writes the frame to the
lake's `work` area and reads it back: lineage truncated, the plan starts fresh, memory is freed.

Where to cut (the policy, `CheckpointPolicy`), checked after every step of the current segment:

1. a pinned cut: the user named the step (`pinned_after`): always cut there;
2. memory: the optimizer's size estimate of each intermediate result of the segment
   (`optimizedPlan.stats.sizeInBytes`), summed over the segment, reaches `memory_budget_bytes`:
   "when the RAM is about to fill, create a checkpoint";
3. lineage: the segment's logical plan has grown by `max_plan_nodes` nodes since its start.

Spark offers `Dataset.checkpoint` / `localCheckpoint` but no policy for when to call them, and
their data lives outside the lake (not reusable by a re-run): the policy is written here by hand.
`run_checkpointed` applies it while running (the cuts it made are returned); `segments` turns a
list of cuts into the steps of each segment, which `datalake_platform.checkpoint_assets` makes
into one Dagster asset per segment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame

from datalake_platform.compat.spark import estimated_bytes, plan_nodes

StepFn = Callable[[DataFrame], DataFrame]


@dataclass(frozen=True)
class Step:
    name: str
    fn: StepFn

    def __call__(self, df: DataFrame) -> DataFrame:
        return self.fn(df)


@dataclass(frozen=True)
class CheckpointPolicy:
    memory_budget_bytes: int = 256 * 2**20
    max_plan_nodes: int = 400
    pinned_after: tuple[str, ...] = ()  # step names after which a checkpoint is always made


@dataclass(frozen=True)
class Estimate:
    step: str
    size_bytes: int  # the optimizer's estimate of the step's result
    plan_nodes: int  # nodes of the analyzed logical plan (the lineage's size)
    seconds: float  # time to analyze and optimize the plan up to this step


@dataclass
class CheckpointRun:
    result: DataFrame
    cuts: list[str] = field(default_factory=list)  # names of the steps after which a checkpoint was made
    reasons: dict[str, str] = field(default_factory=dict)
    estimates: list[Estimate] = field(default_factory=list)
    plan_seconds: float = 0.0
    checkpoint_seconds: float = 0.0


def estimate(df: DataFrame, step: str) -> Estimate:
    started = time.perf_counter()
    size = estimated_bytes(df)
    nodes = plan_nodes(df)
    return Estimate(step, size, nodes, time.perf_counter() - started)


def cut_reason(policy: CheckpointPolicy, step: str, segment_bytes: int, grown_nodes: int) -> str | None:
    """Why to checkpoint after `step`, or None: the policy, as one pure function."""
    if step in policy.pinned_after:
        return "pinned"
    if segment_bytes >= policy.memory_budget_bytes:
        return f"memory: {segment_bytes:,} estimated bytes in the segment >= budget {policy.memory_budget_bytes:,}"
    if grown_nodes >= policy.max_plan_nodes:
        return f"lineage: plan grew by {grown_nodes} nodes >= {policy.max_plan_nodes}"
    return None


def run_checkpointed(
    source: DataFrame,
    steps: Sequence[Step],
    policy: CheckpointPolicy | None,
    checkpoint: Callable[[int, DataFrame], DataFrame],
) -> CheckpointRun:
    """Apply `steps` to `source`, cutting where the policy says (`None`: never, the unbroken lineage).

    `checkpoint(k, df)` materializes `df` as the k-th checkpoint and returns it read back.
    The last step's result is returned lazily, unmaterialized.
    """
    run = CheckpointRun(source)
    df, segment_bytes, base_nodes = source, 0, plan_nodes(source)
    for i, step in enumerate(steps):
        df = step(df)
        if policy is None:
            continue
        est = estimate(df, step.name)
        run.estimates.append(est)
        run.plan_seconds += est.seconds
        segment_bytes += est.size_bytes
        reason = cut_reason(policy, step.name, segment_bytes, est.plan_nodes - base_nodes)
        if reason and i < len(steps) - 1:
            started = time.perf_counter()
            df = checkpoint(len(run.cuts), df)
            run.checkpoint_seconds += time.perf_counter() - started
            run.cuts.append(step.name)
            run.reasons[step.name] = reason
            segment_bytes, base_nodes = 0, plan_nodes(df)
    run.result = df
    return run


def segments(steps: Sequence[Step], cuts: Sequence[str]) -> list[list[Step]]:
    """The steps of each segment, for checkpoints after the named steps."""
    names = [s.name for s in steps]
    unknown = set(cuts) - set(names)
    if unknown:
        raise ValueError(f"cuts after unknown steps {sorted(unknown)}")
    out, current = [], []
    for step in steps:
        current.append(step)
        if step.name in cuts:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def apply(df: DataFrame, steps: Sequence[Step]) -> DataFrame:
    for step in steps:
        df = step(df)
    return df
