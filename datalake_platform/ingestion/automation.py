"""Keeping the tables that summarize ingested partitions fresh, without a schedule.

The landing sensor requests the partitions whose files changed; a table over all partitions
(a report) is refreshed by Dagster's declarative automation once those runs have finished.
"""

import dagster as dg

from datalake_platform.ingestion.sensors import INTERVAL_SECONDS


def refresh_when_upstream_lands() -> dg.AutomationCondition:
    """Run after any upstream partition is materialized, once nothing upstream is still running.

    Unlike `eager()`, a table whose upstream has no partition yet (an empty lake) is not run,
    and a partition that failed upstream does not hold the others' refresh back.
    """
    return (
        dg.AutomationCondition.any_deps_updated().since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("refresh_when_upstream_lands")


def automation_sensor(interval_seconds: int = INTERVAL_SECONDS) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset that has an automation condition; on by default, like the landing sensors."""
    return dg.AutomationConditionSensorDefinition(
        "lake_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=interval_seconds,
        description="Refreshes tables over all partitions (reports) after the landing sensors' runs.",
    )
