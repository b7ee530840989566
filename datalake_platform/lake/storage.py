"""Storage backends: where the lake's bytes live and how a partition is replaced atomically.

Asset code never builds a path or names a filesystem: it asks the storage for a table's URI
(to give to Spark), for the files in landing, and to commit what Spark wrote into a staging
area. The local backend is here; object stores (lake.object_store) sit behind the same methods.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datalake_platform.lake.table_refs import PARTITION_COLUMN, ServiceArea, TableRef, partition_folder

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
    """One lake root on one kind of store."""

    # Called as catalog(ref, spark_schema, days or None) after each committed table write, to
    # publish it to SQL engines (catalog.resource.Publisher); the lake resource sets it.
    catalog: Callable | None = None
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

    def staging_uri(self, ref: TableRef) -> str:
        """A fresh folder in the work area, invisible to readers, for one write of `ref`."""
        return self.uri(f"{ServiceArea.WORK}/_staging/{ref.relative_path}/{uuid.uuid4().hex}")

    def list_partitions(self, ref: TableRef) -> list[str]:
        """The days that have a `dt=` folder under the table, sorted."""
        return self.staged_days(self.table_uri(ref))

    def staged_days(self, folder: str) -> list[str]:
        """The days that have a `dt=` folder under `folder`, sorted."""
        prefix = f"{PARTITION_COLUMN}="
        if not self.fs.exists(folder):
            return []
        names = (Path(p.rstrip("/")).name for p in self.fs.ls(folder, detail=False))
        return sorted(n[len(prefix) :] for n in names if n.startswith(prefix))

    def stage_empty_partitions(self, staging: str, days: list[str], schema: pa.Schema) -> None:
        """An empty parquet file with `schema` for each of `days` that has nothing staged.

        Spark writes no file for an empty partition; an empty folder would leave the table's
        schema unknowable (a reader of only empty days fails to infer it).
        """
        for day in sorted(set(days) - set(self.staged_days(staging))):
            folder = f"{staging}/{partition_folder(day)}"
            self.fs.makedirs(folder, exist_ok=True)
            with self.fs.open(f"{folder}/part-empty-{uuid.uuid4().hex}.parquet", "wb") as fh:
                pq.write_table(schema.empty_table(), fh)

    def empty_partitions(self, ref: TableRef, days: list[str], schema: Callable[[], pa.Schema]) -> list[str]:
        """Make each of `days` an empty partition of `ref` where it is not one already (a partition
        holding rows is replaced, a missing one created, atomically as commits are); the days
        changed. `schema` (of the files) is asked for only if there are some."""
        present = set(self.list_partitions(ref))
        rows = self.parquet_row_counts(self.table_uri(ref), sorted(present.intersection(days)))
        changed = [d for d in days if rows.get(d, 1)]  # holding rows, or missing
        if changed:
            staging = self.staging_uri(ref)
            try:
                self.stage_empty_partitions(staging, changed, schema())
                self.commit_partitions(ref, staging, changed)
            finally:
                self.discard(staging)
        return changed

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

    def committed_files(self, folder: str) -> list[str] | None:
        """The files of a folder's committed version, where the store needs a list to tell them
        (see lake.object_store); None where the folder itself is the committed version."""
        return None

    def parquet_files(self, folder: str) -> list[str]:
        """The committed parquet data files of one folder (a partition or a table)."""
        committed = self.committed_files(folder)
        if committed is not None:
            return [f for f in committed if f.endswith(".parquet")]
        if not self.fs.exists(folder):
            return []
        return [
            self._full(name)
            for name in self.fs.ls(folder, detail=False)
            if name.endswith(".parquet") and is_data_file(Path(name).name)
        ]

    def partition_files(self, ref: TableRef, days: list[str]) -> list[str]:
        """The committed parquet files of the given partitions of `ref`."""
        return [f for day in days for f in self.parquet_files(self.partition_uri(ref, day))]

    def parquet_rows(self, folder: str) -> int:
        """Rows of the parquet files in one folder, read from their footers: no data scan."""
        total = 0
        for name in self.parquet_files(folder):
            with self.fs.open(name, "rb") as fh:
                total += pq.ParquetFile(fh).metadata.num_rows
        return total

    def parquet_column_sum(self, folder: str, column: str) -> Any:
        """SUM(`column`) over the parquet files of one folder, read a batch at a time on the driver:
        exact for decimals and integers, in constant memory; None when no row holds a value."""
        total = None
        for name in self.parquet_files(folder):
            with self.fs.open(name, "rb") as fh:
                for batch in pq.ParquetFile(fh).iter_batches(batch_size=1 << 20, columns=[column]):
                    part = pc.sum(batch.column(0)).as_py()
                    if part is not None:
                        total = part if total is None else total + part
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

    def table_rows(self, ref: TableRef) -> int:
        """Rows of a parquet table, all partitions, from the footers."""
        days = self.list_partitions(ref)
        if not days:
            return self.parquet_rows(self.table_uri(ref))
        return sum(self.parquet_row_counts(self.table_uri(ref), days).values())

    def parquet_row_counts(self, table_uri: str, days: list[str]) -> dict[str, int]:
        """Rows per partition of a partitioned parquet folder."""
        return {day: self.parquet_rows(f"{table_uri}/{partition_folder(day)}") for day in days}

    @abstractmethod
    def commit_partitions(self, ref: TableRef, staging: str, days: list[str]) -> None:
        """Make the staged `dt=` folders the table's partitions, each replaced atomically.

        A day with nothing staged becomes an empty partition: a re-run replaces, never appends.
        """

    @abstractmethod
    def commit_table(self, ref: TableRef, staging: str) -> None:
        """Make the staged folder the whole (unpartitioned) table, atomically."""

    @abstractmethod
    def write_bytes(self, uri: str, data: bytes) -> bool:
        """Write a whole file atomically (readers never see half of it); False if it already held `data`."""

    def discard(self, staging: str) -> None:
        if self.fs.exists(staging):
            self.fs.rm(staging, recursive=True)

    def _full(self, name: str) -> str:
        return name


class LocalLakeStorage(LakeStorage):
    """A lake in a local folder. Commits are directory renames, which POSIX makes atomic."""

    io_threads = 1  # a local file is read in microseconds: threads only contend for the GIL (2x slower)

    def __init__(self, root: str):
        super().__init__(str(Path(root).expanduser().resolve()))
        self._fs = fsspec.filesystem("file")

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs

    def commit_partitions(self, ref: TableRef, staging: str, days: list[str]) -> None:
        table = Path(self.table_uri(ref))
        table.mkdir(parents=True, exist_ok=True)
        for day in days:
            staged = Path(staging) / partition_folder(day)
            staged.mkdir(parents=True, exist_ok=True)
            _replace_dir(staged, table / partition_folder(day))
        shutil.rmtree(staging, ignore_errors=True)

    def write_bytes(self, uri: str, data: bytes) -> bool:
        path = Path(uri)
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"_tmp-{uuid.uuid4().hex}-{path.name}")  # skipped by landing readers
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return True

    def commit_table(self, ref: TableRef, staging: str) -> None:
        target = Path(self.table_uri(ref))
        target.parent.mkdir(parents=True, exist_ok=True)
        _replace_dir(Path(staging), target)
        shutil.rmtree(staging, ignore_errors=True)


def _version(info: dict) -> str:
    """What changes when a file is rewritten: the object's etag where the store has one, else its mtime."""
    for key in ("ETag", "etag", "md5Hash", "mtime", "LastModified", "last_modified", "updated"):
        if info.get(key) is not None:
            return str(info[key]).strip('"')
    return ""


def _replace_dir(new: Path, target: Path) -> None:
    """Put `new` at `target`; readers see the old folder or the new one, never a mix or none."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)  # `new` now holds the previous version
        return
    # No atomic exchange on this OS: two renames, with a window of microseconds in between.
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); Python has no wrapper."""
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0
