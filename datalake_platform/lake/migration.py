"""Converting a lake written before its tables were Iceberg tables, in place (`datalake migrate`).

Such a lake holds each table as parquet folders: `{zone}/{domain}/{table}/dt=<day>/part-*.parquet`
(the files lack `dt`: Spark's `partitionBy` keeps it only in the folder name) or the table's files
at its top. What each folder committed was, on a local disk, every data file in it; on an object
store, the files its `_commit.json` marker lists (anything else there was never visible).

Each such table becomes an Iceberg table with the same name as the platform gives it, in one
snapshot that registers the committed files where they are, nothing rewritten: a file's partition
is its folder's day, which Iceberg readers project into `dt` (the spec's rule for metadata-only
migrations of Hive tables; lake.iceberg.path_day). Files no commit listed, the old staging area
and the old catalog journal are left untouched and reported: maintenance removes a table's
unreferenced files after its grace period.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pyarrow as pa

from datalake_platform.lake.clouds import cloud_of
from datalake_platform.lake.iceberg import TableCommitError, file_arrow_schema, identifier
from datalake_platform.lake.storage import LakeStorage, is_data_file
from datalake_platform.lake.table_refs import PARTITION_COLUMN, ServiceArea, TableRef, Zone

LEGACY_MARKER = "_commit.json"  # an object-store folder's committed files, in the old protocol
LEGACY_POINTER = "current.json"  # a model's published version (ml.artifacts): a model, not a table
AREAS = (Zone.UNIVERSAL, Zone.SMART, ServiceArea.QUARANTINE, ServiceArea.MANIFEST, ServiceArea.WORK)
# Folders of the old protocol in the work area: uncommitted writes, the catalog journal.
LEGACY_WORK_FOLDERS = ("_staging", "catalog")
MIGRATED_SUMMARY = {"operation": "migration", "migrated-from": "parquet folders"}


@dataclass
class LegacyTable:
    """A table of the old layout: its committed data files (absolute) per day, None when unpartitioned."""

    ref: TableRef
    files: dict[str | None, list[str]] = field(default_factory=dict)
    uncommitted: int = 0  # data files no commit published: left where they are, never registered

    @property
    def partitioned(self) -> bool:
        return None not in self.files


@dataclass
class Migrated:
    ref: TableRef
    files: int
    rows: int
    days: int | None  # None in an unpartitioned table
    snapshot_id: int | None = None
    error: str | None = None  # why the table was left as it was


class MigrationError(ValueError):
    """A table that cannot be registered as it is (its folders or files are not what a table holds)."""


def migrate(storage: LakeStorage, dry_run: bool = False) -> list[Migrated]:
    """Register every legacy table of the lake in its catalog, one snapshot per table; with
    `dry_run`, only say what would be. Run it while no run writes the lake."""
    results = []
    pyiceberg_log = logging.getLogger("pyiceberg.io.pyarrow")
    pyiceberg_log.addFilter(_no_missing_statistics)
    try:
        for ref in table_folders(storage):
            try:
                legacy = _legacy_table(storage, ref)
                if legacy is not None:
                    results.append(_register(storage, legacy, dry_run))
            except (MigrationError, TableCommitError) as error:
                results.append(Migrated(ref, 0, 0, None, error=str(error)))
    finally:
        pyiceberg_log.removeFilter(_no_missing_statistics)
    return results


def _no_missing_statistics(record: logging.LogRecord) -> bool:
    """pyiceberg warns of each column a file has no statistics for: every INT96 column of Spark's
    legacy files (parquet-mr writes none for them). Their bounds are just not recorded."""
    return "statistics missing" not in record.getMessage()


def table_folders(storage: LakeStorage) -> list[TableRef]:
    """Every `{area}/{domain}/{table}` folder of the lake's table areas that its catalog does not know."""
    refs = []
    for area in AREAS:
        for domain in _subfolders(storage, storage.uri(str(area))):
            if area == ServiceArea.WORK and domain in LEGACY_WORK_FOLDERS:
                continue
            for table in _subfolders(storage, storage.uri(f"{area}/{domain}")):
                ref = TableRef(str(area), domain, table)
                if storage.tables.load(ref) is None:  # else an Iceberg table already
                    refs.append(ref)
    return refs


def legacy_leftovers(storage: LakeStorage) -> list[str]:
    """The old protocol's work folders still in the lake (uncommitted writes, the catalog journal):
    nothing reads them any more, and they may be deleted."""
    folders = [storage.uri(f"{ServiceArea.WORK}/_staging"), storage.uri(f"{ServiceArea.WORK}/catalog/journal")]
    return [f for f in folders if storage.fs.exists(f)]


def _register(storage: LakeStorage, legacy: LegacyTable, dry_run: bool) -> Migrated:
    """One table: created with its files' schema, its non-empty files registered in one snapshot."""
    named = [(path, path, day) for day, paths in legacy.files.items() for path in paths]
    footers = storage.footers(named, day_in_path=legacy.partitioned)
    files = [f for f in footers if f.metadata.num_rows]  # an empty file was written for an empty day
    days = len({f.day for f in files}) if legacy.partitioned else None
    result = Migrated(legacy.ref, len(files), sum(f.metadata.num_rows for f in files), days)
    if dry_run:
        return result
    schema = _table_schema(legacy.ref, [file_arrow_schema(f.metadata) for f in footers], legacy.partitioned)
    summary = {**MIGRATED_SUMMARY, "uncommitted-files-left": str(legacy.uncommitted)}
    result.snapshot_id = storage.tables.register(legacy.ref, schema, files, legacy.partitioned, summary)
    return result


def _table_schema(ref: TableRef, schemas: list[pa.Schema], partitioned: bool) -> pa.Schema:
    """The union of the files' schemas (a column added on a later day is null before it), with `dt`."""
    try:
        schema = pa.unify_schemas([s.remove_metadata() for s in schemas], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise MigrationError(f"{'.'.join(identifier(ref))}: its files disagree on a column's type: {error}") from None
    if partitioned and PARTITION_COLUMN not in schema.names:
        schema = schema.append(pa.field(PARTITION_COLUMN, pa.date32()))
    return schema


def _legacy_table(storage: LakeStorage, ref: TableRef) -> LegacyTable | None:
    """The committed files of one table folder; None for a folder that is not a table (a model's)."""
    table_uri = storage.table_uri(ref)
    relative = sorted(storage._relative_to(name, table_uri) for name in storage.fs.find(table_uri))
    if LEGACY_POINTER in relative or "metadata" in {r.split("/", 1)[0] for r in relative}:
        return None  # a model's versions, or an Iceberg table's folder another catalog holds
    folders: dict[str, list[str]] = {}
    for path in relative:
        folder, _, name = path.rpartition("/")
        folders.setdefault(folder, []).append(name)
    partition_folders = {f for f in folders if f.startswith(f"{PARTITION_COLUMN}=") and "/" not in f}
    markers = _markers(storage, table_uri, [f for f, names in folders.items() if LEGACY_MARKER in names])
    legacy = LegacyTable(ref)
    if partition_folders:
        for folder in sorted(partition_folders):
            day = _day(ref, folder)
            legacy.files[day] = _committed(storage, table_uri, folder, folders[folder], markers, legacy)
    elif "" in folders:
        legacy.files[None] = _committed(storage, table_uri, "", folders[""], markers, legacy)
    if not any(legacy.files.values()):
        return None
    return legacy


def _markers(storage: LakeStorage, table_uri: str, folders: list[str]) -> dict[str, list[str]]:
    """The files each folder's marker lists (relative to the folder), read in one batch of requests."""
    if not folders:
        return {}
    paths = {_join(table_uri, f, LEGACY_MARKER): f for f in folders}
    contents = storage.fs.cat(list(paths), on_error="omit")
    stripped = {storage.fs._strip_protocol(p): f for p, f in paths.items()}
    return {stripped[storage.fs._strip_protocol(p)]: json.loads(body)["files"] for p, body in contents.items()}


def _committed(
    storage: LakeStorage,
    table_uri: str,
    folder: str,
    names: list[str],
    markers: dict[str, list[str]],
    legacy: LegacyTable,
) -> list[str]:
    """A folder's committed parquet files: those its marker lists, where it has one; else (on a
    local disk, where the folder itself was the committed version) its data files."""
    data = sorted(n for n in names if n.endswith(".parquet") and is_data_file(n))
    if folder in markers:
        committed = sorted(n for n in markers[folder] if n.endswith(".parquet"))
    elif cloud_of(storage.root) == "local":
        committed = data
    else:
        committed = []  # a folder no commit reached on an object store
    legacy.uncommitted += len(set(data) - set(committed))
    return [storage._full(_join(storage.fs._strip_protocol(table_uri), folder, n)) for n in committed]


def _day(ref: TableRef, folder: str) -> str:
    day = folder[len(PARTITION_COLUMN) + 1 :]
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        raise MigrationError(f"{ref}: folder {folder!r} does not name a day (YYYY-MM-DD)") from None
    return day


def _subfolders(storage: LakeStorage, uri: str) -> list[str]:
    if not storage.fs.exists(uri):
        return []
    return sorted(
        PurePosixPath(info["name"].rstrip("/")).name
        for info in storage.fs.ls(uri, detail=True)
        if info["type"] == "directory"
    )


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p)
