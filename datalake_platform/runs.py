"""Materializing the whole lake: every asset over every partition, in as few runs as the graph allows.

Partitioned assets run as one single-run backfill over their whole range (one process, one
Spark session), then the unpartitioned assets that summarize them. Blocking checks run with
their assets; a failure stops what is downstream and fails the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from datalake_platform.compat.dagster import partition_range_tags


@dataclass
class RunSummary:
    name: str
    run_id: str
    success: bool
    failed_checks: list[str]


def whole_range_tags(partitions_def: dg.PartitionsDefinition, instance: dg.DagsterInstance) -> dict[str, str]:
    """Run tags that make one run cover every partition (a single-run backfill)."""
    keys = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
    return partition_range_tags(keys[0], keys[-1])


def materialize_all(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    resources: dict | None = None,
    log_level: str = "INFO",
    asset_config: Mapping[dg.AssetKey, dict] | None = None,
) -> list[RunSummary]:
    """Every asset over every partition, one run per partitioning; `asset_config`: the config of
    assets that take one (by key), in whichever run materializes them."""
    graph = defs.resolve_asset_graph()
    materializable = graph.materializable_asset_keys
    by_partitions: dict[str, list[dg.AssetKey]] = {}
    partitions_of: dict[str, dg.PartitionsDefinition | None] = {}
    for key in materializable:
        pdef = graph.get(key).partitions_def
        by_partitions.setdefault(repr(pdef), []).append(key)
        partitions_of[repr(pdef)] = pdef
    # partitioned groups first: the unpartitioned summaries read them
    order = sorted(by_partitions, key=lambda p: partitions_of[p] is None)
    summaries = []
    for group in order:
        pdef, keys = partitions_of[group], by_partitions[group]
        tags = whole_range_tags(pdef, instance) if pdef is not None else {}
        result = dg.materialize(
            [*defs.assets, *(defs.asset_checks or [])],
            selection=dg.AssetSelection.assets(*keys),
            resources=resources or defs.resources,
            instance=instance,
            tags=tags,
            run_config={
                "loggers": {"console": {"config": {"log_level": log_level}}},
                "ops": {k.to_python_identifier(): {"config": c} for k, c in (asset_config or {}).items() if k in keys},
            },
            raise_on_error=False,
        )
        failed = [e.asset_check_key.to_user_string() for e in result.get_asset_check_evaluations() if not e.passed]
        summaries.append(RunSummary(", ".join(k.to_user_string() for k in keys), result.run_id, result.success, failed))
        if not result.success:
            break
    return summaries
