"""The lake's tables into the online store, and the comparison that proves they agree.

`sync` makes a view equal to its table's current snapshot: every row within retention written (a point
view's rows only where the store's are older), rows the table no longer holds removed; a snapshot view
is loaded as a new version and switched to. `compare` counts rows on both sides and checks the values
of a sample of keys; the blocking check of each online asset and `datalake serve --rebuild` use them.
Tables are read with pyarrow from the files of one Iceberg snapshot: no Spark.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from datalake_platform import registry
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.serving.store import OnlineStore, WriteCount
from datalake_platform.serving.views import EPOCH, OnlineView, ViewKind, epoch_seconds

BATCH_ROWS = 65_536
SAMPLE = 100  # keys whose values a comparison checks


@dataclass(frozen=True)
class LakeSnapshot:
    """The table's snapshot a sync or comparison read: its id, sequence number and commit time."""

    snapshot_id: int
    sequence_number: int
    committed_at: dt.datetime


@dataclass
class SyncResult:
    view: str
    lake_rows: int = 0
    counts: WriteCount = field(default_factory=WriteCount)
    removed: int = 0
    version: int | None = None

    def describe(self) -> str:
        c = self.counts
        return (
            f"{self.view}: {self.lake_rows:,} rows in the lake; {c.written:,} written, {c.kept_newer:,} already "
            f"current, {c.expired:,} past retention, {self.removed:,} removed from the store"
        )


@dataclass
class Comparison:
    view: str
    lake_rows: int
    store_rows: int
    missing: int = 0  # in the lake, not in the store
    extra: int = 0  # in the store, not in the lake
    sampled: int = 0
    differing: list[str] = field(default_factory=list)  # sampled keys whose values differ
    note: str = ""

    @property
    def equal(self) -> bool:
        return self.lake_rows == self.store_rows and not (self.missing or self.extra or self.differing)

    def describe(self) -> str:
        verdict = "equal to the lake" if self.equal else "DIFFERS from the lake"
        detail = f"{self.store_rows:,} rows in the store, {self.lake_rows:,} in the lake, {self.sampled} keys sampled"
        if self.differing:
            detail += f", differing: {', '.join(self.differing[:5])}"
        return f"{self.view}: {verdict} ({detail}){' ' + self.note if self.note else ''}"

    def metadata(self) -> dict[str, Any]:
        return {
            "lake_rows": self.lake_rows,
            "store_rows": self.store_rows,
            "missing_in_store": self.missing,
            "not_in_lake": self.extra,
            "sampled_keys": self.sampled,
            "differing_keys": ", ".join(self.differing[:10]) or "none",
            **({"note": self.note} if self.note else {}),
        }


def retention_days(view: OnlineView) -> int | None:
    """The retention of the view's lake table, from its governance spec."""
    spec = registry.table_governance(view.table)
    return spec.retention_days if spec is not None else None


def lake_snapshot(storage: LakeStorage, view: OnlineView) -> LakeSnapshot | None:
    table = storage.tables.load(view.table)
    snapshot = table.current_snapshot() if table is not None else None
    if snapshot is None:
        return None
    committed = dt.datetime.fromtimestamp(snapshot.timestamp_ms / 1000, dt.UTC)
    return LakeSnapshot(snapshot.snapshot_id, snapshot.sequence_number or 0, committed)


def lake_rows(storage: LakeStorage, view: OnlineView, snapshot: LakeSnapshot) -> Iterator[dict[str, Any]]:
    """The view's columns of every row within retention, from the files of `snapshot`."""
    cutoff = _cutoff(view)
    files = [f.file_path for f in storage.tables.data_files(view.table, snapshot_id=snapshot.snapshot_id)]
    for name in storage.readable_paths(files):
        with storage.fs.open(name, "rb") as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=BATCH_ROWS, columns=view.lake_columns):
                for row in batch.to_pylist():
                    if cutoff is None or row["dt"] >= cutoff:
                        yield row


def sync(store: OnlineStore, storage: LakeStorage, view: OnlineView) -> SyncResult:
    """Make the view in the store equal to the table's current snapshot."""
    result = SyncResult(view.name)
    snapshot = lake_snapshot(storage, view)
    if snapshot is None:  # no table yet: the view is empty, and loaded as such (the API is ready, answers 404)
        _clear(store, view)
        return result
    rows = _counted(lake_rows(storage, view, snapshot), result)
    retention = retention_days(view)
    if view.kind == ViewKind.SNAPSHOT:
        result.version = snapshot.sequence_number
        switched = store.load_snapshot(view, rows, snapshot.sequence_number, snapshot.committed_at)
        result.counts.written = result.lake_rows if switched else 0
        result.counts.kept_newer = 0 if switched else result.lake_rows
        return result
    keys: set[str] = set()
    if view.kind == ViewKind.POINT:
        result.counts = store.upsert_points(view, _keyed(rows, keys, lambda r: str(r[view.key])), retention)
        result.removed = store.delete_points(view, set(store.point_keys(view)) - keys)
    else:
        result.version = snapshot.sequence_number
        keyed = _keyed(rows, keys, lambda r: f"{r['dt']}|{epoch_seconds(r[view.key])}")
        result.counts = store.upsert_series(view, keyed, snapshot.sequence_number, retention)
        result.removed = store.delete_series_rows(view, set(store.series_rows(view)) - keys)
    return result


def compare(store: OnlineStore, storage: LakeStorage, view: OnlineView, sample: int = SAMPLE) -> Comparison:
    """Rows on both sides, and the values of `sample` keys (chosen at random, seeded by the snapshot)."""
    snapshot = lake_snapshot(storage, view)
    lake = {} if snapshot is None else {_key_of(view, r): r for r in lake_rows(storage, view, snapshot)}
    if view.kind == ViewKind.SNAPSHOT:
        return _compare_snapshot(store, view, lake, snapshot, sample)
    stored = set(store.point_keys(view)) if view.kind == ViewKind.POINT else set(store.series_rows(view))
    comparison = Comparison(view.name, len(lake), len(stored), len(lake.keys() - stored), len(stored - lake.keys()))
    series = store.series_rows(view) if view.kind == ViewKind.SERIES else {}
    chosen = _sample(lake, sample, snapshot)
    for key in chosen:
        held = store.point(view, lake[key][view.key]) if view.kind == ViewKind.POINT else series.get(key)
        if held != json.loads(view.encode(lake[key])):
            comparison.differing.append(key)
    comparison.sampled = len(chosen)
    return comparison


def publish(store: OnlineStore, storage: LakeStorage, view: OnlineView, rows: Iterable[Mapping[str, Any]]) -> int:
    """Rows a pipeline has just committed to the view's table, into the store (a point view's by their
    own version, a series' by the table's snapshot); the rows written."""
    retention = retention_days(view)
    if view.kind == ViewKind.POINT:
        return store.upsert_points(view, rows, retention).written
    if view.kind == ViewKind.SERIES:
        snapshot = lake_snapshot(storage, view)
        return store.upsert_series(view, rows, snapshot.sequence_number, retention).written
    raise ValueError(f"{view.name} is a snapshot view: it is loaded whole (sync), not row by row")


def _clear(store: OnlineStore, view: OnlineView) -> None:
    if view.kind == ViewKind.SNAPSHOT:
        store.load_snapshot(view, [], version=0, as_of=EPOCH)
    elif view.kind == ViewKind.POINT:
        store.delete_points(view, list(store.point_keys(view)))
    else:
        store.delete_series_rows(view, list(store.series_rows(view)))
    store.mark(view)


def _compare_snapshot(store, view, lake, snapshot, sample) -> Comparison:
    status = store.snapshot_status(view) or {}
    comparison = Comparison(view.name, len(lake), status.get("stored", 0))
    if snapshot is not None and status.get("version") != snapshot.sequence_number:
        comparison.note = f"the store serves version {status.get('version')}, the lake is at {snapshot.sequence_number}"
        comparison.differing.append("version")
    chosen = _sample(lake, sample, snapshot)
    for key in chosen:
        if store.snapshot_row(view, key) != json.loads(view.encode(lake[key])):
            comparison.differing.append(key)
    comparison.sampled = len(chosen)
    return comparison


def _key_of(view: OnlineView, row: dict[str, Any]) -> str:
    return f"{row['dt']}|{epoch_seconds(row[view.key])}" if view.kind == ViewKind.SERIES else str(row[view.key])


def _sample(lake: dict[str, Any], size: int, snapshot: LakeSnapshot | None) -> list[str]:
    keys = sorted(lake)
    return random.Random(snapshot.snapshot_id if snapshot else 0).sample(keys, min(size, len(keys)))


def _cutoff(view: OnlineView) -> dt.date | None:
    retention = retention_days(view)
    if retention is None or not view.partitioned:
        return None
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=retention)


def _counted(rows: Iterator[dict], result: SyncResult) -> Iterator[dict]:
    for row in rows:
        result.lake_rows += 1
        yield row


def _keyed(rows: Iterator[dict], keys: set[str], key_of) -> Iterator[dict]:
    for row in rows:
        keys.add(key_of(row))
        yield row
