"""The Dagster internals compat.dagster relies on, pinned: each test fails when the pinned release changes one."""

import warnings

import dagster as dg

from datalake_platform.compat.dagster import (
    add_partition_metadata,
    latest_check_evaluation,
    latest_check_outcome,
    partition_range_tags,
    silence_pinned_previews,
    step_key,
)

DAYS = dg.DynamicPartitionsDefinition(name="compat_days")


def test_partition_range_tags_are_the_ones_dagster_reads_as_a_range():
    request = dg.RunRequest(asset_selection=[dg.AssetKey("a")], tags=partition_range_tags("2024-01-01", "2024-01-03"))
    assert request.partition_key_range == dg.PartitionKeyRange("2024-01-01", "2024-01-03")


def _run(body) -> dg.ExecuteInProcessResult:
    @dg.asset(partitions_def=DAYS)
    def table(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        body(context)
        return dg.MaterializeResult()

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(DAYS.name, ["d1", "d2", "d3"])
    return dg.materialize([table], instance=instance, tags=partition_range_tags("d1", "d3"))


def test_each_days_metadata_lands_on_that_days_event_through_the_steps_accumulator():
    seen = {}

    def body(context):
        step = context.op_execution_context._step_execution_context  # what the shim writes: must exist
        seen["accumulator"] = type(step._metadata_accumulator).__name__
        add_partition_metadata(context, {"d1": {"rows": 1}, "d2": {"rows": 2}, "d3": {"rows": 3}})

    result = _run(body)
    assert result.success and seen["accumulator"]
    events = result.asset_materializations_for_node("table")
    assert {e.partition: e.metadata["rows"].value for e in events} == {"d1": 1, "d2": 2, "d3": 3}


def test_metadata_for_a_day_the_run_does_not_target_is_refused():
    def body(context):
        add_partition_metadata(context, {"d1": {"rows": 1}, "d9": {"rows": 9}})

    outcome = _run_raising(body)
    assert "metadata for days this run does not target: ['d9']" in outcome


def _run_raising(body) -> str:
    try:
        _run(body)
    except dg.DagsterInvariantViolationError as error:
        return str(error)
    return ""


def test_step_key_is_the_key_events_are_logged_under():
    keys = []
    result = _run(lambda context: keys.append(step_key(context)))
    assert keys == [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START]


def test_the_preview_warnings_silenced_exist():
    silence_pinned_previews()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        silence_pinned_previews()
        warnings.warn("beta", dg.BetaWarning, stacklevel=1)
        warnings.warn("preview", dg.PreviewWarning, stacklevel=1)
    assert not caught


def test_latest_check_outcome_reads_each_ending_of_a_check():
    @dg.asset
    def table():
        return 1

    outcomes = iter([True, False])

    @dg.asset_check(asset=table)
    def judged() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=next(outcomes))

    @dg.asset_check(asset=table)
    def broken() -> dg.AssetCheckResult:
        raise RuntimeError("the check itself failed")

    instance = dg.DagsterInstance.ephemeral()
    key, broken_key = dg.AssetCheckKey(table.key, "judged"), dg.AssetCheckKey(table.key, "broken")
    assert latest_check_outcome(instance, key) == "not run"
    dg.materialize([table, judged, broken], instance=instance, raise_on_error=False)
    assert latest_check_outcome(instance, key) == "passed"
    assert latest_check_outcome(instance, broken_key) in ("execution failed", "planned")
    dg.materialize([table, judged], instance=instance, raise_on_error=False)
    assert latest_check_outcome(instance, key) == "failed"
    assert latest_check_evaluation(instance, key).asset_check_evaluation.passed is False
    assert latest_check_evaluation(instance, broken_key) is None
