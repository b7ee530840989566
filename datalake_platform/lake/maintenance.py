"""Keeping Iceberg tables lean: old snapshots expired, orphan files removed, small files compacted.

pyiceberg 0.12 expires snapshots; it has no orphan-file removal and no data compaction (Spark's
Iceberg procedures do both, and no Iceberg runtime for Spark 4 can be had here), so those two are
written here, with pyarrow and the lake's filesystem. A compaction is an ordinary commit of the
same rows in fewer files: it loses to a run that commits the same day meanwhile, and is retried
by the next maintenance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.table import Table

from datalake_platform.lake.arrow_io import read_file, write_staged
from datalake_platform.lake.iceberg import TableCommitError
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import TableRef


@dataclass(frozen=True)
class MaintenancePolicy:
    snapshot_retention: dt.timedelta  # snapshots older than this (but the current one) are expired
    orphan_grace: dt.timedelta  # files no snapshot references are removed once this old (a run may be writing them)
    small_file_bytes: int  # a partition whose files average below this, in two files or more, is compacted


@dataclass
class MaintenanceResult:
    snapshots_expired: int = 0
    orphans_removed: int = 0
    files_compacted: int = 0
    partitions_compacted: int = 0
    skipped: str = ""  # why a compaction was left for the next maintenance


def maintain(storage: LakeStorage, ref: TableRef, policy: MaintenancePolicy, now: dt.datetime) -> MaintenanceResult:
    """Compact, then expire, then remove what no snapshot left references."""
    result = MaintenanceResult()
    compact(storage, ref, policy.small_file_bytes, result)
    table = storage.tables.load(ref)
    if table is None:
        return result
    result.snapshots_expired = expire_snapshots(table, now - policy.snapshot_retention)
    result.orphans_removed = remove_orphans(storage, storage.tables.load(ref), now - policy.orphan_grace)
    return result


def expire_snapshots(table: Table, before: dt.datetime) -> int:
    current = table.current_snapshot()
    old = [
        s.snapshot_id
        for s in table.snapshots()
        if s.timestamp_ms < before.timestamp() * 1000 and (current is None or s.snapshot_id != current.snapshot_id)
    ]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    return len(old)


def referenced_files(table: Table) -> set[str]:
    """Every file a snapshot still needs: data files, manifests, manifest lists, metadata."""
    files = set(table.inspect.all_files().column("file_path").to_pylist()) if table.snapshots() else set()
    files |= set(table.inspect.all_manifests().column("path").to_pylist()) if table.snapshots() else set()
    files |= {s.manifest_list for s in table.snapshots()}
    files |= {table.metadata_location, *(entry.metadata_file for entry in table.metadata.metadata_log)}
    return files


def remove_orphans(storage: LakeStorage, table: Table, before: dt.datetime) -> int:
    """Delete the files under the table's location that no snapshot references and that are older
    than `before` (a file younger may belong to a run still writing)."""
    store = getattr(storage, "remote", storage)  # a mirrored lake's files live in its container
    fs = store.fs
    keep = {fs._strip_protocol(path) for path in referenced_files(table)}
    location = table.location()
    if not fs.exists(location):
        return 0
    orphans = [
        name
        for name, info in fs.find(location, detail=True).items()
        if info.get("type") == "file" and name not in keep and _older(info, before)
    ]
    if orphans:
        fs.rm(orphans)
    return len(orphans)


def compact(storage: LakeStorage, ref: TableRef, small_file_bytes: int, result: MaintenanceResult) -> None:
    """Rewrite each partition held in many small files as one file, in one commit of the same rows."""
    files = storage.tables.data_files(ref)
    groups: dict[str | None, list] = {}
    for data_file in files:
        day = storage.tables.day_of(data_file)
        groups.setdefault(day, []).append(data_file)
    small = {
        day: group
        for day, group in groups.items()
        if len(group) > 1 and sum(f.file_size_in_bytes for f in group) / len(group) < small_file_bytes
    }
    if not small:
        return
    schema = storage.tables.load(ref).schema().as_arrow()
    staging = storage.staging_uri(ref)
    try:
        for day, group in small.items():
            write_staged(
                storage, staging, day, pa.concat_tables([read_file(storage, f.file_path, day, schema) for f in group])
            )
        days = sorted(d for d in small if d is not None)
        if days:
            storage.commit_partitions(ref, staging, days, schema, {"operation": "compaction"})
        else:
            storage.commit_table(ref, staging, schema, {"operation": "compaction"})
    except TableCommitError as error:
        storage.discard(staging)
        result.skipped = str(error)
        return
    except BaseException:
        storage.discard(staging)
        raise
    result.files_compacted += sum(len(g) for g in small.values())
    result.partitions_compacted += len(small)


def _older(info: dict, before: dt.datetime) -> bool:
    """Whether the store says the file was last written before `before`; unknown is not old."""
    for key in ("mtime", "LastModified", "last_modified", "updated"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, int | float):
            value = dt.datetime.fromtimestamp(value, dt.UTC)
        elif isinstance(value, str):
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value < before
    return False
