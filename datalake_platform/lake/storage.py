"""Storage backends: where the lake's bytes live, and its tables' commits (lake.iceberg).

Asset code never builds a path or names a filesystem: it asks the storage for a table's URI,
for the files in landing, for a staging folder to write into and to commit what was written
there, and for the files a table's current snapshot holds (to give to Spark). The local backend
is here; object stores (lake.object_store) sit behind the same methods.
"""

from __future__ import annotations

import functools
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datalake_platform.lake.iceberg import (
    DAY_FOLDER_COLUMN,
    LakeTables,
    StagedFile,
    catalog_properties,
    catalog_uri,
)
from datalake_platform.lake.table_refs import PARTITION_COLUMN, TableRef, Zone, partition_folder
from datalake_platform.settings import current

# Names that producers use for files still being written, and Spark/Hadoop bookkeeping files.
_IN_PROGRESS_PREFIXES = ("_", ".")
_IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crc")


@dataclass(frozen=True)
class LandingFile:
    path: str  # absolute path or URI, as Spark reads it
    relative_path: str  # relative to the table's folder: `dt=YYYY-MM-DD/name.csv`
    day: str  # what follows `dt=` in the folder name (not necessarily a valid day)
    size: int
    version: str = ""  # the store's etag or modification time: changes when the content may have

    @property
    def name(self) -> str:
        return self.relative_path.rsplit("/", 1)[-1]


def is_data_file(name: str) -> bool:
    """False for hidden files, temporary names and Spark/Hadoop markers (`_SUCCESS`, `.crc`)."""
    return not name.startswith(_IN_PROGRESS_PREFIXES) and not name.endswith(_IN_PROGRESS_SUFFIXES)


class LakeStorage(ABC):
    """One lake root on one kind of store: its files (landing, service areas) and its Iceberg tables."""

    # Threads for many small reads or writes (a manifest's file per day): on an object store
    # each is a round trip, and they overlap.
    io_threads = 8

    def __init__(self, root: str):
        self.root = root.rstrip("/")

    @property
    @abstractmethod
    def fs(self) -> fsspec.AbstractFileSystem: ...

    @property
    def location(self) -> str:
        """The lake's root as users name it (`DATALAKE_ROOT`): what a LakeResource is configured with."""
        return self.root

    def uri(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def table_uri(self, ref: TableRef) -> str:
        return self.uri(ref.relative_path)

    def partition_uri(self, ref: TableRef, day: str) -> str:
        return f"{self.table_uri(ref)}/{partition_folder(day)}"

    # -- tables: Iceberg ----------------------------------------------------------------------
    @functools.cached_property
    def tables(self) -> LakeTables:
        return LakeTables(catalog_properties(current(), self.location), self.table_location)

    def table_location(self, ref: TableRef) -> str:
        """Where the catalog records the table: its folder as every engine names it."""
        return self.catalog_path(self.table_uri(ref))

    def catalog_path(self, uri: str) -> str:
        """A file of this store as the catalog records it."""
        return catalog_uri(uri)

    def readable_paths(self, paths: list[str]) -> list[str]:
        """Files the catalog lists, as Spark and this storage's filesystem read them."""
        return ["s3a://" + p[len("s3://") :] if p.startswith("s3://") else p for p in paths]

    def staging_uri(self, ref: TableRef) -> str:
        """A fresh folder under the table's location for one write: no reader looks there until a
        commit references its files."""
        return f"{self.table_uri(ref)}/data/{uuid.uuid4().hex}"

    def list_partitions(self, ref: TableRef) -> list[str]:
        """The days that hold rows: a table's from its snapshot; landing's, its `dt=` folders."""
        if ref.zone == Zone.LANDING:
            return self.landing_days(ref)
        return sorted(d for d in self.tables.rows_by_day(ref) if d != "all")

    def partition_files(self, ref: TableRef, days: list[str]) -> list[str]:
        """The data files of the given partitions of table `ref`, in its current snapshot."""
        if not days:
            return []
        return self.readable_paths([f.file_path for f in self.tables.data_files(ref, days)])

    def table_files(self, ref: TableRef) -> list[str]:
        """Every data file of table `ref`, in its current snapshot."""
        return self.readable_paths([f.file_path for f in self.tables.data_files(ref)])

    def row_counts(self, ref: TableRef, days: list[str]) -> dict[str, int]:
        """Rows of each of `days` in table `ref` (0 for a day without rows), from its manifests."""
        counted = self.tables.rows_by_day(ref, days) if days else {}
        return {day: counted.get(day, 0) for day in days}

    def table_rows(self, ref: TableRef) -> int:
        """Rows of table `ref`, all partitions, from its manifests."""
        return sum(self.tables.rows_by_day(ref).values())

    def column_sum(self, ref: TableRef, column: str) -> Any:
        """SUM(`column`) over table `ref`, read a batch at a time on the driver: exact for decimals
        and integers, in constant memory; None when no row holds a value."""
        total = None
        for name in self.table_files(ref):
            with self.fs.open(name, "rb") as fh:
                for batch in pq.ParquetFile(fh).iter_batches(batch_size=1 << 20, columns=[column]):
                    part = pc.sum(batch.column(0)).as_py()
                    if part is not None:
                        total = part if total is None else total + part
        return total

    def commit_partitions(
        self,
        ref: TableRef,
        staging: str,
        days: list[str],
        schema: pa.Schema,
        summary: Mapping[str, str] = {},
        files: list[StagedFile] | None = None,
    ) -> int | None:
        """Make the files staged under `staging/day=<day>/` (`files`, if the caller read them already)
        the partitions `days` of table `ref`, in one snapshot; its id. A day with nothing staged ends
        with no rows: a re-run replaces, never appends."""
        if not days:
            return None
        files = self.staged_files(staging, days) if files is None else files
        return self.tables.replace(ref, schema, files, sorted(days), dict(summary))

    def append_partitions(
        self,
        ref: TableRef,
        staging: str,
        days: list[str],
        schema: pa.Schema,
        summary: Mapping[str, str],
        files: list[StagedFile] | None = None,
    ) -> int | None:
        """Add the files staged under `staging/day=<day>/` to table `ref`, replacing nothing, in one snapshot."""
        files = self.staged_files(staging, days) if files is None else files
        return self.tables.append(ref, schema, files, dict(summary))

    def commit_table(
        self,
        ref: TableRef,
        staging: str,
        schema: pa.Schema,
        summary: Mapping[str, str] = {},
        files: list[StagedFile] | None = None,
    ) -> int | None:
        """Make the files staged under `staging` the whole (unpartitioned) table `ref`, in one snapshot."""
        files = self.staged_files(staging, None) if files is None else files
        return self.tables.replace(ref, schema, files, None, dict(summary))

    def empty_partitions(self, ref: TableRef, days: list[str], schema: Callable[[], pa.Schema]) -> list[str]:
        """Make each of `days` hold no rows of table `ref`, in one snapshot; the days that held some.
        `schema` (of the table) is asked for only if the table does not exist yet."""
        counts = self.row_counts(ref, days) if self.tables.load(ref) is not None else None
        changed = [d for d in days if counts is None or counts[d]]
        if changed:
            self.tables.replace(ref, schema(), [], sorted(changed), {})
        return [d for d in changed if counts is not None]

    def staged_files(self, staging: str, days: list[str] | None, every_day: bool = False) -> list[StagedFile]:
        """The parquet files of one write (of `days` only in a partitioned one, or of each day it
        staged with `every_day`), from one listing, with their footers."""
        files = self.parquet_files(staging)
        if days is None and not every_day:
            named = [(path, None) for path in files]
        else:
            wanted, base = set(days or ()), self.fs._strip_protocol(staging).rstrip("/")
            folders = [self.fs._strip_protocol(path)[len(base) + 1 :].split("/", 1)[0] for path in files]
            prefix = f"{DAY_FOLDER_COLUMN}="
            named = [
                (path, folder[len(prefix) :])
                for path, folder in zip(files, folders)
                if folder.startswith(prefix) and (every_day or folder[len(prefix) :] in wanted)
            ]
        return self.footers([(self.published_path(path), path, day) for path, day in named])

    def footers(self, named: list[tuple[str, str, str | None]], day_in_path: bool = False) -> list[StagedFile]:
        """(path as published, path to read, day) as files a commit takes, with their footers read
        by a few threads (on an object store, each is a round trip)."""

        def staged(item: tuple[str, str, str | None]) -> StagedFile:
            published, path, day = item
            with self.fs.open(path, "rb") as fh:
                metadata = pq.ParquetFile(fh).metadata
            return StagedFile(self.catalog_path(published), self.fs.size(path), metadata, day, day_in_path, path)

        with ThreadPoolExecutor(max_workers=self.io_threads) as pool:
            return list(pool.map(staged, named))

    def published_path(self, staged: str) -> str:
        """Where a staged file is when the table references it (it is already there, but on a mirror)."""
        return staged

    # -- plain folders: landing, staging, service areas ----------------------------------------
    def landing_days(self, ref: TableRef) -> list[str]:
        """The days that have a `dt=` folder under landing table `ref`, sorted."""
        prefix, folder = f"{PARTITION_COLUMN}=", self.table_uri(ref)
        if not self.fs.exists(folder):
            return []
        names = (Path(p.rstrip("/")).name for p in self.fs.ls(folder, detail=False))
        return sorted(n[len(prefix) :] for n in names if n.startswith(prefix))

    def list_landing_files(self, ref: TableRef, days: list[str]) -> list[LandingFile]:
        """The complete data files of the given days, skipping in-progress and hidden files."""
        files = []
        for day in days:
            folder = self.partition_uri(ref, day)
            if not self.fs.exists(folder):
                continue
            for info in self.fs.ls(folder, detail=True):
                if info["type"] == "file" and is_data_file(Path(info["name"].rstrip("/")).name):
                    files.append(self._landing_file(info, partition_folder(day)))
        return sorted(files, key=lambda f: f.relative_path)

    def landing_folders(self, ref: TableRef) -> dict[str, list[LandingFile]]:
        """Every `dt=` folder of a landing table and all the files under it, in one listing.

        Unlike `list_landing_files`, nothing is skipped: markers (`_SUCCESS`), in-progress names
        and files in subfolders (`_temporary/...`) are listed too, for the caller to judge.
        """
        table = self.table_uri(ref)
        if not self.fs.exists(table):
            return {}
        folders: dict[str, list[LandingFile]] = {}
        for info in self.fs.find(table, detail=True).values():
            relative = self._relative_to(info["name"], table)
            folder = relative.split("/", 1)[0]
            if folder.startswith(f"{PARTITION_COLUMN}=") and "/" in relative:
                folders.setdefault(folder, []).append(self._landing_file(info, folder, relative))
        return folders

    def _landing_file(self, info: dict, folder: str, relative: str | None = None) -> LandingFile:
        name = Path(info["name"].rstrip("/")).name
        return LandingFile(
            path=self._full(info["name"]),
            relative_path=relative or f"{folder}/{name}",
            day=folder[len(PARTITION_COLUMN) + 1 :],
            size=int(info["size"]),
            version=_version(info),
        )

    def _relative_to(self, name: str, table: str) -> str:
        return name[len(self.fs._strip_protocol(table).rstrip("/")) + 1 :]

    def relative_path(self, uri: str) -> str:
        """A file of the lake, relative to its root."""
        return self._relative_to(self.fs._strip_protocol(uri), self.root)

    def parquet_files(self, folder: str) -> list[str]:
        """The parquet data files under one folder (a write's staging, a day of it), at any depth."""
        if not self.fs.exists(folder):
            return []
        base = self.fs._strip_protocol(folder).rstrip("/")
        return sorted(
            self._full(name)
            for name in self.fs.find(folder)
            if name.endswith(".parquet") and all(is_data_file(part) for part in name[len(base) + 1 :].split("/"))
        )

    def parquet_rows(self, folder: str) -> int:
        """Rows of the parquet files under one folder, read from their footers: no data scan."""
        total = 0
        for name in self.parquet_files(folder):
            with self.fs.open(name, "rb") as fh:
                total += pq.ParquetFile(fh).metadata.num_rows
        return total

    def files_with_values(self, files: list[str], column: str) -> list[str]:
        """Those parquet `files` whose footers do not say that `column` is null in every row."""

        def has_values(name: str) -> bool:
            with self.fs.open(name, "rb") as fh:
                meta = pq.ParquetFile(fh).metadata
            names = meta.schema.names
            if column not in names:
                return False
            i = names.index(column)
            for g in range(meta.num_row_groups):
                stats = meta.row_group(g).column(i).statistics
                if stats is None or not stats.has_null_count or stats.null_count < meta.row_group(g).num_rows:
                    return True
            return False

        with ThreadPoolExecutor(max_workers=self.io_threads) as pool:
            return [f for f, keep in zip(files, pool.map(has_values, files)) if keep]

    @abstractmethod
    def write_bytes(self, uri: str, data: bytes) -> bool:
        """Write a whole file atomically (readers never see half of it); False if it already held `data`."""

    def discard(self, staging: str) -> None:
        """Remove a write that was not committed."""
        if self.fs.exists(staging):
            self.fs.rm(staging, recursive=True)

    def _full(self, name: str) -> str:
        return name


class LocalLakeStorage(LakeStorage):
    """A lake in a local folder."""

    io_threads = 1  # a local file is read in microseconds: threads only contend for the GIL (2x slower)

    def __init__(self, root: str):
        super().__init__(str(Path(root).expanduser().resolve()))
        self._fs = fsspec.filesystem("file")

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs

    def write_bytes(self, uri: str, data: bytes) -> bool:
        path = Path(uri)
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"_tmp-{uuid.uuid4().hex}-{path.name}")  # skipped by landing readers
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return True


def _version(info: dict) -> str:
    """What changes when a file is rewritten: the object's etag where the store has one, else its mtime."""
    for key in ("ETag", "etag", "md5Hash", "mtime", "LastModified", "last_modified", "updated"):
        if info.get(key) is not None:
            return str(info[key]).strip('"')
    return ""
