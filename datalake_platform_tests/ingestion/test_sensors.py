"""The landing sensor, evaluated for real on files in a temporary lake and a real Dagster instance.

`tick` applies the sensor's partition requests to the instance as the daemon does; the daemon
itself is exercised in test_daemon.py.
"""

import json
import os
import time

import dagster as dg
import pytest

from datalake_platform.compat.dagster import partition_range_tags
from datalake_platform.domains.transactions.tables import LANDING
from datalake_platform.ingestion.landing import LandingTable, scan_landing
from datalake_platform.ingestion.sensors import MAX_DAYS_PER_RUN, Cursor, landing_sensor, plan_tick
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.resources import LakeResource
from datalake_platform_tests.conftest import land, materialize

purchases_files = landing_sensor(LANDING)

CSV = "customer_id,date,number_of_cds,dollar_value\n00001,{compact},1,1.00\n"
TARGETS = {"universal/transactions/purchases", "smart/transactions/daily_sales"}


def _land_day(lake: LakeStorage, day: str, name: str = "a.csv") -> str:
    return land(lake, day, name, CSV.format(compact=day.replace("-", "")))


def tick(
    lake: LakeStorage, instance: dg.DagsterInstance, cursor: str | None, sensor=purchases_files
) -> dg.SensorResult:
    resources = {"lake": LakeResource(root=lake.location)}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:  # nested resources
        result = sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def _requested(result: dg.SensorResult) -> list[tuple[str, str]]:
    """(first day, last day) of each requested run, checking each targets the ingestion assets."""
    spans = []
    for request in result.run_requests:
        assert {k.to_user_string() for k in request.asset_selection} == TARGETS
        if request.partition_key:
            spans.append((request.partition_key, request.partition_key))
        else:
            span = request.partition_key_range
            spans.append((span.start, span.end))
    return spans


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_new_days_become_partitions_and_are_requested_once(lake, instance):
    for day in ["1997-01-01", "1997-01-02", "2026-11-24"]:  # a day far beyond the sample's range too
        _land_day(lake, day)
    first = tick(lake, instance, None)
    assert LANDING.partitions.get_partition_keys(dynamic_partitions_store=instance) == [
        "1997-01-01",
        "1997-01-02",
        "2026-11-24",
    ]
    assert _requested(first) == [("1997-01-01", "2026-11-24")]  # consecutive partitions: one run
    again = tick(lake, instance, first.cursor)
    assert again.run_requests == [] and again.dynamic_partitions_requests == []
    assert "no new or changed files" in again.skip_reason.skip_message


def test_days_a_run_outside_the_sensor_ingested_are_not_requested_again(lake, instance):
    """`datalake demo` (or a backfill) ingests without the sensor: its first tick must not ingest again."""
    for day in ["1997-01-01", "1997-01-02", "1997-01-03"]:
        _land_day(lake, day)
    ingested = materialize(
        lake,
        "universal/transactions/purchases",
        instance=instance,
        tags=partition_range_tags("1997-01-01", "1997-01-02"),
    )
    assert ingested.success
    first = tick(lake, instance, None)
    assert _requested(first) == [("1997-01-03", "1997-01-03")]  # the day no run ingested yet
    _land_day(lake, "1997-01-01", "late.csv")  # a file arrives after the demo: that day changed
    assert _requested(tick(lake, instance, first.cursor)) == [("1997-01-01", "1997-01-01")]


def test_only_the_changed_day_is_requested_and_in_progress_files_change_nothing(lake, instance):
    for day in ["1997-01-01", "1997-01-02", "1997-01-03"]:
        _land_day(lake, day)
    cursor = tick(lake, instance, None).cursor
    for name in ["_tmp-b.csv", ".b.csv", "b.csv.part", "b.csv.tmp"]:
        _land_day(lake, "1997-01-02", name)
    quiet = tick(lake, instance, cursor)
    assert quiet.run_requests == []
    _land_day(lake, "1997-01-02", "b.csv")
    assert _requested(tick(lake, instance, quiet.cursor)) == [("1997-01-02", "1997-01-02")]


def test_a_rewritten_file_is_requested_again(lake, instance):
    path = _land_day(lake, "1997-01-01")
    cursor = tick(lake, instance, None).cursor
    os.utime(path, (time.time() + 5, time.time() + 5))  # same name and size, written again
    assert _requested(tick(lake, instance, cursor)) == [("1997-01-01", "1997-01-01")]


def test_the_cursor_survives_a_restart_of_the_daemon(lake, instance):
    """A cursor is all the state: a new sensor process given the stored cursor requests nothing."""
    _land_day(lake, "1997-01-01")
    cursor = tick(lake, instance, None).cursor
    restarted = landing_sensor(LANDING)  # a fresh definition, as a restarted daemon loads it
    assert tick(lake, instance, json.dumps(json.loads(cursor)), sensor=restarted).run_requests == []


def test_a_folder_with_a_completion_marker_waits_for_it(lake, instance):
    marked = landing_sensor(
        LandingTable(LANDING.ref, LANDING.partitions, LANDING.targets, completion_marker="_SUCCESS")
    )
    _land_day(lake, "1997-01-01")
    waiting = tick(lake, instance, None, sensor=marked)
    assert waiting.run_requests == [] and LANDING.partitions.get_partition_keys(dynamic_partitions_store=instance) == []
    land(lake, "1997-01-01", "_SUCCESS", "")
    assert _requested(tick(lake, instance, waiting.cursor, sensor=marked)) == [("1997-01-01", "1997-01-01")]


def test_a_folder_being_written_by_spark_waits(lake, instance):
    _land_day(lake, "1997-01-01")
    land(lake, "1997-01-01", "_temporary/0/_temporary/attempt_1/part-0.csv", CSV.format(compact="19970101"))
    assert tick(lake, instance, None).run_requests == []
    assert scan_landing(lake, LANDING).waiting == ["1997-01-01"]


def test_a_malformed_day_folder_is_not_a_partition_and_its_files_are_quarantined(lake, instance):
    _land_day(lake, "1997-01-01")
    for bad in ["1997-13-01", "19970102", "yesterday"]:
        land(lake, bad, "a.csv", CSV.format(compact="19970102"))
    result = tick(lake, instance, None)
    *days, misplaced = result.run_requests
    assert _requested(dg.SensorResult(run_requests=days)) == [("1997-01-01", "1997-01-01")]
    assert misplaced.asset_selection == [dg.AssetKey(["quarantine", "transactions", "purchases_misplaced"])]
    assert LANDING.partitions.get_partition_keys(dynamic_partitions_store=instance) == ["1997-01-01"]
    assert sorted(scan_landing(lake, LANDING).malformed) == ["dt=1997-13-01", "dt=19970102", "dt=yesterday"]
    assert tick(lake, instance, result.cursor).run_requests == []  # quarantined once
    land(lake, "yesterday", "b.csv", CSV.format(compact="19970102"))
    [again] = tick(lake, instance, result.cursor).run_requests  # a new file there: quarantined again
    assert again.asset_selection == misplaced.asset_selection and again.run_key != misplaced.run_key


def test_a_day_folder_with_no_data_file_yet_is_not_a_partition(lake, instance):
    land(lake, "1997-01-01", "_tmp-a.csv", CSV.format(compact="19970101"))
    assert tick(lake, instance, None).run_requests == []
    assert LANDING.partitions.get_partition_keys(dynamic_partitions_store=instance) == []


def test_many_changed_days_are_batched_into_ranges_of_consecutive_partitions():
    """Pure planning: consecutive changed partitions share a run, at most MAX_DAYS_PER_RUN days each."""
    known = [f"d{i:04d}" for i in range(1000)]
    cursor = Cursor(digests=dict.fromkeys(known, "old"))
    changed = dict.fromkeys(known[:500] + known[600:601], "new")
    scan_digests = {**cursor.digests, **changed, "new-day": "x"}
    from datalake_platform.ingestion.landing import LandingScan

    new_days, runs, following = plan_tick(LandingScan(digests=scan_digests), cursor, known)
    assert new_days == ["new-day"]
    assert [len(r) for r in runs] == [MAX_DAYS_PER_RUN, 500 - MAX_DAYS_PER_RUN, 1, 1]
    assert runs[2] == ["d0600"] and runs[3] == ["new-day"]
    assert following.digests == scan_digests and following.requests == 1
