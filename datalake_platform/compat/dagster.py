"""What the platform needs from Dagster 1.13 beyond its public API, pinned by `compat/test_dagster.py`."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG


def silence_pinned_previews() -> None:
    """We use beta/preview Dagster APIs deliberately and pin the release (single-run backfill
    policies, partitioned checks): their warnings would only bury the real output."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover the partitions `first`...`last` (a single-run backfill):
    Dagster's RunRequest and `materialize` take no range argument, only these tags."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def step_key(context: dg.AssetExecutionContext) -> str:
    """The key of the step running `context` (the run's event log is filtered by it); no public property has it."""
    return context.op_execution_context.get_step_execution_context().step.key


def add_partition_metadata(context: dg.AssetExecutionContext, metadata_by_day: Mapping[str, Mapping]) -> None:
    """Each day's metadata on that day's own materialization event.

    Written by hand: the public `add_asset_metadata(partition_key=)` reads the run's dynamic
    partitions again on every call to check its key (3 storage queries per day). The days are
    checked here once, against the run's keys, then added to the step's accumulator as that call
    adds them. Where the private accumulator is gone, the public call is made, one day at a time.
    """
    stray = sorted(set(metadata_by_day) - set(context.partition_keys))
    if stray:
        raise dg.DagsterInvariantViolationError(f"metadata for days this run does not target: {stray[:5]}")
    step = getattr(context.op_execution_context, "_step_execution_context", None)
    accumulator = getattr(step, "_metadata_accumulator", None)
    if accumulator is None:
        for day, metadata in metadata_by_day.items():
            context.add_asset_metadata(dict(metadata), partition_key=day)
        return
    for day, metadata in metadata_by_day.items():
        accumulator = accumulator.with_additional_asset_metadata(
            asset_key=context.asset_key, partition_key=day, metadata=dict(metadata)
        )
    step._metadata_accumulator = accumulator


def latest_check_outcome(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> str:
    """How the latest execution of check `key` ended: `passed`, `failed`, `not run`, or its state
    (`planned`: running or skipped, `execution failed`: the check raised). No public API gives
    the status of a check's latest execution."""
    record = instance.get_latest_asset_check_evaluation_record(key)
    if record is None:
        return "not run"
    if record.status == AssetCheckExecutionRecordStatus.SUCCEEDED:
        return "passed"
    return record.status.value.lower().replace("_", " ")


def latest_check_evaluation(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> dg.EventLogEntry | None:
    """The event of check `key`'s latest evaluation; None if it never ran, or its latest run is
    planned or failed before evaluating (same record as `latest_check_outcome`)."""
    record = instance.get_latest_asset_check_evaluation_record(key)
    if record is None or record.event is None or record.event.asset_check_evaluation is None:
        return None
    return record.event
