"""Landing tables as the platform sees them: which day folders are ready, which are new, which changed.

A landing table's partitions are the days that have a `dt=YYYY-MM-DD` folder in landing: they
are registered as Dagster dynamic partitions when they appear (by the landing sensor, and by
`datalake seed`), so a day beyond any range known in advance is a partition like the others.
Files are judged by their listing only (name, size, etag or mtime): nothing is read to decide
whether a folder changed, and landing is never modified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

import dagster as dg

from datalake_platform.lake.storage import LakeStorage, LandingFile, is_data_file
from datalake_platform.lake.table_refs import ServiceArea, TableRef

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IN_PROGRESS_FOLDERS = ("_temporary",)  # Hadoop/Spark writers stage files here until they commit


def is_day(key: str) -> bool:
    """`YYYY-MM-DD` and a real date (no 1997-02-30, no other formats)."""
    if not _DAY.match(key):
        return False
    try:
        dt.date.fromisoformat(key)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class LandingTable:
    """A landing table, the partitions its days become, and the assets that ingest it."""

    ref: TableRef
    partitions: dg.DynamicPartitionsDefinition
    targets: tuple[dg.AssetKey, ...]
    # The file a producer writes last (e.g. `_SUCCESS`); a folder without it is still being written.
    completion_marker: str | None = None

    @property
    def name(self) -> str:
        return "_".join(self.ref.key_path)

    @property
    def misplaced(self) -> TableRef:
        """Where the records of files in `dt=` folders that are not days are quarantined."""
        return TableRef(ServiceArea.QUARANTINE, self.ref.domain, f"{self.ref.table}_misplaced")


@dataclass
class LandingScan:
    """One listing of a landing table, judged."""

    digests: dict[str, str] = field(default_factory=dict)  # ready day -> fingerprint of its data files
    files: dict[str, int] = field(default_factory=dict)  # ready day -> number of data files
    waiting: list[str] = field(default_factory=list)  # days with no data file yet, or still being written
    malformed: dict[str, str] = field(default_factory=dict)  # `dt=` folder whose name is not a day -> fingerprint


def scan_landing(storage: LakeStorage, landing: LandingTable) -> LandingScan:
    scan = LandingScan()
    for folder, entries in sorted(storage.landing_folders(landing.ref).items()):
        day = folder.split("=", 1)[1]
        data = [f for f in entries if _is_data(f)]
        if not is_day(day):
            scan.malformed[folder] = fingerprint(data)
            continue
        if not data or not _complete(entries, landing.completion_marker):
            scan.waiting.append(day)  # nothing to ingest yet, or still being written
        else:
            scan.digests[day] = fingerprint(data)
            scan.files[day] = len(data)
    return scan


def malformed_files(storage: LakeStorage, landing: LandingTable) -> list[LandingFile]:
    """The data files of the `dt=` folders whose name is not a day: no partition will read them."""
    return misplaced_files(storage, landing.ref)


def misplaced_files(storage: LakeStorage, ref: TableRef) -> list[LandingFile]:
    """`malformed_files` of the landing table `ref`."""
    folders = [folder.split("=", 1)[1] for folder in storage.landing_folders(ref)]
    return storage.list_landing_files(ref, [day for day in folders if not is_day(day)])


def _is_data(file: LandingFile) -> bool:
    return "/" not in file.relative_path.split("/", 1)[1] and is_data_file(file.name)


def _complete(entries: list[LandingFile], marker: str | None) -> bool:
    nested = {f.relative_path.split("/")[1] for f in entries if f.relative_path.count("/") > 1}
    if nested & set(IN_PROGRESS_FOLDERS):
        return False
    return marker is None or any(f.name == marker and f.relative_path.count("/") == 1 for f in entries)


def fingerprint(files: list[LandingFile]) -> str:
    """Changes when a data file is added, removed, renamed or rewritten (size, etag or mtime)."""
    digest = hashlib.sha1()
    for f in sorted(files, key=lambda f: f.relative_path):
        digest.update(f"{f.relative_path}\0{f.size}\0{f.version}\n".encode())
    return digest.hexdigest()[:16]


def register_days(instance: dg.DagsterInstance, landing: LandingTable, days: list[str]) -> list[str]:
    """Add the days that are not partitions yet, in date order; returns them."""
    known = set(instance.get_dynamic_partitions(landing.partitions.name))
    new = sorted(set(days) - known)
    if new:
        instance.add_dynamic_partitions(landing.partitions.name, new)
    return new


def register_landing(
    instance: dg.DagsterInstance, storage: LakeStorage, landings: list[LandingTable]
) -> dict[str, list[str]]:
    """Register every ready day folder of each landing table as a partition; the new days per table."""
    return {str(t.ref): register_days(instance, t, list(scan_landing(storage, t).digests)) for t in landings}
