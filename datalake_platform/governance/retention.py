"""Retention: the days a table's governance spec no longer allows it to keep are removed.

- a universal or smart table (and its quarantine) loses its partitions older than its retention,
  in one Iceberg snapshot per table: readers of the current table stop seeing them at once; their
  files leave storage when table maintenance expires the snapshots that still hold them
  (`DATALAKE_SNAPSHOT_RETENTION_DAYS`) and removes the files no snapshot references;
- a landing table loses its `dt=` folders older than its retention, only once the day has been
  ingested (the universal table fed by it, or its quarantine, holds rows of that day): a file is
  never removed before its records are accounted for.

`plan` lists what would go (the dry run); `apply` removes it. A day's age is counted from its
partition day (`dt`), against today in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from datalake_platform.governance.spec import TableGovernance
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import TableRef, Zone


@dataclass(frozen=True)
class Removal:
    """Days of one table (or landing folder set) past its retention, and what they hold."""

    table: TableRef
    retention_days: int
    days: tuple[str, ...]
    held: int  # rows of a table, files of a landing table
    unit: str  # "rows" | "files"

    def describe(self) -> str:
        span = self.days[0] if len(self.days) == 1 else f"{self.days[0]}...{self.days[-1]}"
        return f"{self.table}: {len(self.days)} days ({span}), {self.held:,} {self.unit}, older than {self.retention_days} days"


def plan(storage: LakeStorage, specs: Iterable[TableGovernance], today: dt.date | None = None) -> list[Removal]:
    """What retention removes today from the tables of `specs`; nothing is changed."""
    today = today or dt.datetime.now(dt.UTC).date()
    specs = list(specs)
    removals = []
    for spec in specs:
        for ref, days in _retained(spec):
            cutoff = (today - dt.timedelta(days=days)).isoformat()
            removal = (
                _landing_removal(storage, spec, specs, cutoff)
                if ref.zone == Zone.LANDING
                else _table_removal(storage, ref, days, cutoff)
            )
            if removal is not None:
                removals.append(removal)
    return removals


def apply(storage: LakeStorage, removals: Iterable[Removal]) -> list[Removal]:
    """Remove what `plan` listed; the removals done."""
    done = []
    for removal in removals:
        if removal.table.zone == Zone.LANDING:
            for day in removal.days:
                storage.fs.rm(storage.partition_uri(removal.table, day), recursive=True)
        else:
            table = storage.tables.load(removal.table)  # exists: plan found its days
            storage.empty_partitions(removal.table, list(removal.days), table.schema().as_arrow)
        done.append(removal)
    return done


def _retained(spec: TableGovernance) -> list[tuple[TableRef, int]]:
    """The tables a spec sets a retention for: the table itself, and its quarantine."""
    found = []
    if spec.retention_days is not None:
        found.append((spec.table, spec.retention_days))
    if spec.quarantine_retention_days is not None:
        found.append((spec.table.quarantine(), spec.quarantine_retention_days))
    return found


def _table_removal(storage: LakeStorage, ref: TableRef, retention: int, cutoff: str) -> Removal | None:
    if storage.tables.load(ref) is None:
        return None
    expired = {d: n for d, n in storage.tables.rows_by_day(ref).items() if d != "all" and d < cutoff and n}
    if not expired:
        return None
    return Removal(ref, retention, tuple(sorted(expired)), sum(expired.values()), "rows")


def _landing_removal(
    storage: LakeStorage, spec: TableGovernance, specs: list[TableGovernance], cutoff: str
) -> Removal | None:
    old = [d for d in storage.landing_days(spec.table) if d < cutoff]
    ingested = _ingested_days(storage, spec.table, specs, old)
    days = [d for d in old if d in ingested]
    if not days:
        return None
    files = len(storage.list_landing_files(spec.table, days))
    return Removal(spec.table, spec.retention_days, tuple(days), files, "files")


def _ingested_days(storage: LakeStorage, landing: TableRef, specs: list[TableGovernance], days: list[str]) -> set[str]:
    """Of `days`, those for which a universal table fed by `landing` (by its column lineage), or
    its quarantine, holds rows."""
    if not days:
        return set()
    fed = [
        s.table
        for s in specs
        if s.table.zone == Zone.UNIVERSAL and any(c.table == landing for cols in s.lineage.values() for c in cols)
    ]
    found: set[str] = set()
    for ref in fed:
        for table in (ref, ref.quarantine()):
            if storage.tables.load(table) is not None:
                found |= {d for d, n in storage.tables.rows_by_day(table, days).items() if n}
    return found
