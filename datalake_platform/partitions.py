"""Which partitions a run or check covers, however it was launched (one day, a range, none)."""

from __future__ import annotations

import dagster as dg


def run_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[str]:
    """The days of a partitioned step: one key, or every key of a single-run backfill range."""
    return list(context.partition_keys)


def describe_days(days: list[str]) -> str:
    if not days:
        return "none"
    return days[0] if len(days) == 1 else f"{days[0]}...{days[-1]} ({len(days)} days)"
