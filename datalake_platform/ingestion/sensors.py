"""One sensor per landing table: new or changed day folders become runs of their partitions.

Each tick lists the landing table once through the lake's storage (the same code lists a local
folder or a bucket), fingerprints every ready day folder from the listing alone, and compares
with the cursor, which Dagster keeps in the instance across daemon restarts. Days never seen
become partitions; days whose fingerprint changed are requested, as few runs as possible: one
per contiguous range of partitions (a single-run backfill), at most MAX_DAYS_PER_RUN days each.
A day whose files did not change is never requested again, however many ticks see it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import dagster as dg

from datalake_platform.compat.dagster import partition_range_tags
from datalake_platform.ingestion import manifest
from datalake_platform.ingestion.landing import LandingScan, LandingTable, fingerprint, scan_landing
from datalake_platform.lake.storage import LakeStorage, LandingFile
from datalake_platform.resources import LakeResource

MAX_DAYS_PER_RUN = 366  # one Spark run per range; a year of days keeps a run's plan small
INTERVAL_SECONDS = 30  # DATALAKE_SENSOR_INTERVAL_SECONDS: settings.sensor_interval_seconds


@dataclass
class Cursor:
    """What the sensor has requested so far: a fingerprint per day, and a tick counter."""

    digests: dict[str, str] = field(default_factory=dict)
    requests: int = 0  # ticks that requested runs: part of each run key
    malformed: dict[str, str] = field(default_factory=dict)  # fingerprints of the misplaced folders quarantined

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        state = json.loads(text)
        if isinstance(state.get("malformed"), list):  # a cursor from before misplaced files were quarantined
            state["malformed"] = {}
        return cls(**state)

    def dump(self) -> str:
        return json.dumps(
            {"digests": self.digests, "requests": self.requests, "malformed": self.malformed}, sort_keys=True
        )


def plan_tick(
    scan: LandingScan, cursor: Cursor, known_days: list[str], ingested: dict[str, str] | None = None
) -> tuple[list[str], list[list[str]], Cursor]:
    """(days to register, runs to request as lists of consecutive partition keys, the next cursor).

    `ingested` fingerprints the files that a run outside this sensor already ingested, per day
    (`datalake demo`, a backfill, `dagster asset materialize`): such a day is not requested
    again while its files are those. Days the cursor knows are judged by the cursor alone.

    When the malformed `dt=` folders changed, the next cursor's `malformed` differs from the
    given one: their records are to be quarantined again (see `landing_sensor`).
    """
    new_days = sorted(set(scan.digests) - set(known_days))
    order = [*known_days, *new_days]  # dynamic partitions keep the order they were added in
    known = {**(ingested or {}), **cursor.digests}
    changed = {d for d, digest in scan.digests.items() if known.get(d) != digest}
    runs: list[list[str]] = []
    for i, day in enumerate(order):
        if day not in changed:
            continue
        consecutive = runs and order[i - 1] == runs[-1][-1] and len(runs[-1]) < MAX_DAYS_PER_RUN
        if consecutive:
            runs[-1].append(day)
        else:
            runs.append([day])
    misplaced_changed = scan.malformed != cursor.malformed
    following = Cursor(
        digests=dict(scan.digests),
        requests=cursor.requests + (1 if runs or misplaced_changed else 0),
        malformed=dict(scan.malformed),
    )
    return new_days, runs, following


def ingested_digests(storage: LakeStorage, landing: LandingTable, days: list[str]) -> dict[str, str]:
    """Per day, the fingerprint of the files the manifest says were ingested (read only for the
    days the cursor has not seen: on a first tick, every day)."""
    by_day: dict[str, list] = {}
    for entry in manifest.read(storage, landing.ref, days) if days else []:
        # An entry keeps the listing of the file it ingested: its name, size and version.
        by_day.setdefault(entry.day, []).append(
            LandingFile("", entry.source_file, entry.day, entry.size, entry.version)
        )
    return {day: fingerprint(files) for day, files in by_day.items()}


def run_request(landing: LandingTable, days: list[str], tick: int) -> dg.RunRequest:
    # The run key makes a request idempotent if the tick is evaluated again before its cursor is saved.
    key = f"{tick}:{days[0]}...{days[-1]}"
    if len(days) == 1:
        return dg.RunRequest(run_key=key, asset_selection=list(landing.targets), partition_key=days[0])
    tags = partition_range_tags(days[0], days[-1])
    return dg.RunRequest(run_key=key, asset_selection=list(landing.targets), tags=tags)


def misplaced_request(landing: LandingTable, tick: int) -> dg.RunRequest:
    """Quarantine again the records of every malformed `dt=` folder (the set or their files changed)."""
    return dg.RunRequest(run_key=f"{tick}:misplaced", asset_selection=[dg.AssetKey(landing.misplaced.key_path)])


def landing_sensor(landing: LandingTable, interval_seconds: int = INTERVAL_SECONDS) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{landing.name}_files",
        description=f"Requests runs of {', '.join(k.to_user_string() for k in landing.targets)} for the days whose "
        f"files in {landing.ref} are new or changed; registers new days as partitions.",
        asset_selection=[*landing.targets, dg.AssetKey(landing.misplaced.key_path)],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
        cursor = Cursor.parse(context.cursor)
        storage = lake.storage
        scan = scan_landing(storage, landing)
        known = landing.partitions.get_partition_keys(dynamic_partitions_store=context.instance)
        unseen = sorted(set(scan.digests) - set(cursor.digests))
        new_days, runs, following = plan_tick(scan, cursor, known, ingested_digests(storage, landing, unseen))
        requests = [run_request(landing, days, following.requests) for days in runs]
        if following.malformed != cursor.malformed:
            requests.append(misplaced_request(landing, following.requests))
        for folder in sorted(set(scan.malformed) - set(cursor.malformed)):
            context.log.warning(
                f"{landing.ref}/{folder}: not a dt=YYYY-MM-DD folder, so not a partition; its records go to {landing.misplaced}"
            )
        if scan.waiting:
            context.log.info(f"still being written (no completion marker yet): {', '.join(scan.waiting[:20])}")
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[landing.partitions.build_add_request(new_days)] if new_days else [],
            cursor=following.dump(),
            skip_reason=None if requests else f"no new or changed files in {landing.ref} ({len(scan.digests)} days)",
        )

    return _sensor
