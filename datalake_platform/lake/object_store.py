"""Object-store backends (S3, GCS, Azure Blob): the lake in a bucket, committed without renames.

An object store has no atomic rename of a folder, so a partition cannot be swapped into place
as on a local disk. The commit protocol instead:

1. Spark writes the new version into a private staging prefix (`work/_staging/...`);
2. each staged file is copied (server side) into the partition's prefix, under the unique name
   Spark gave it (`part-NNNNN-<write uuid>...`), beside the current version's files;
3. the partition's marker `_commit.json` is overwritten in one PUT (atomic on every store): it
   lists the files of the new version. This is the commit point;
4. every other file under the prefix (the previous version, leftovers of a killed write) is
   deleted.

The platform's readers honour the marker: they read exactly the files it lists, so a write
killed at any step leaves the previous version whole, and a folder with no marker holds no
committed data. Engines that read the prefix without the marker (Athena, BigQuery external
tables) skip `_`-prefixed files and see the new version once step 4 is done: during that
moment, and after a write killed between steps 2 and 3 until the partition's next commit,
they can see extra files. The SQL catalog is the place to close that gap.
"""

from __future__ import annotations

import json
from pathlib import Path

import fsspec

from datalake_platform.lake.storage import LakeStorage, is_data_file
from datalake_platform.lake.table_refs import PARTITION_COLUMN, ServiceArea
from datalake_platform.settings import current, export_defaults

COMMIT_MARKER = "_commit.json"


class ObjectStoreLakeStorage(LakeStorage):
    """A lake under `scheme://bucket/prefix` on an fsspec filesystem."""

    scheme = ""  # how both fsspec and Spark name the store in URIs

    def __init__(self, root: str, fs: fsspec.AbstractFileSystem):
        super().__init__(root)
        self._fs = fs

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs

    def _full(self, name: str) -> str:
        return name if "://" in name else f"{self.scheme}://{name}"

    # -- the commit protocol ----------------------------------------------------------------
    # Each step is one batch of concurrent requests over all the partitions of a write: an
    # object store is latency-bound, and a year of days is hundreds of folders.
    def commit_partitions(self, ref, staging, days) -> None:
        self.commit_folders(staging, self.table_uri(ref), [f"{PARTITION_COLUMN}={d}" for d in days])
        self.discard(staging)

    def commit_table(self, ref, staging) -> None:
        self.commit_folders(staging, self.table_uri(ref), None)
        self.discard(staging)

    def commit_folders(self, staged: str, target: str, folders: list[str] | None, local: bool = False) -> None:
        """Steps 2-4 for `folders` of `staged` (each `dt=` partition) or, with None, the whole folder.

        `local`: `staged` is on this machine's disk, and its files are uploaded instead of copied.
        """
        listing = _local_files(staged) if local else self._files_under(staged)
        new = _by_folder(listing, folders)
        pairs = [(_join(staged, f, r), _join(target, f, r)) for f, files in new.items() for r in files]
        if pairs:
            sources, targets = (list(x) for x in zip(*pairs))
            (self.fs.put if local else self.fs.copy)(sources, targets)
        self._publish({_join(target, f): files for f, files in new.items()})
        current = _by_folder(self._files_under(target, everything=True), folders)
        stale = [
            _join(target, f, r)
            for f, files in current.items()
            if f in new
            for r in files
            if r not in new[f] and r != COMMIT_MARKER and not (folders is None and r.startswith(f"{PARTITION_COLUMN}="))
        ]
        if stale:
            self.fs.rm(stale)

    def _publish(self, markers: dict[str, list[str]]) -> None:
        """The commit point of each folder: one PUT of the marker that lists its new version's files."""
        if markers:
            self.fs.pipe({f"{f}/{COMMIT_MARKER}": json.dumps({"files": files}, indent=0).encode() for f, files in markers.items()})

    def _files_under(self, folder: str, everything: bool = False) -> list[str]:
        """Files under `folder`, relative to it; data files only (no `_SUCCESS`, `.crc`) unless `everything`."""
        if not self.fs.exists(folder):
            return []
        base = self.fs._strip_protocol(folder).rstrip("/")
        # A store may keep a placeholder object for a "folder" itself (GCS does): not a file of it.
        found = [p[len(base) + 1 :] for p in self.fs.find(folder) if len(p) > len(base) + 1 and not p.endswith("/")]
        return sorted(r for r in found if everything or all(is_data_file(part) for part in r.split("/")))

    def list_landing_files(self, ref, days) -> list:
        """As on a local disk, from one listing of the table instead of a request per day."""
        wanted = {f"{PARTITION_COLUMN}={d}" for d in days}
        folders = self.landing_folders(ref)
        files = [f for folder in wanted & set(folders) for f in folders[folder] if _top_level_data(f.relative_path)]
        return sorted(files, key=lambda f: f.relative_path)

    # -- readers honour the marker ----------------------------------------------------------
    def committed_files(self, folder: str) -> list[str] | None:
        if self._is_staging(folder):
            return None  # a private write in progress: everything in it is the write
        marker = f"{folder}/{COMMIT_MARKER}"
        try:
            listed = json.loads(self.fs.cat_file(marker))["files"]
        except FileNotFoundError:
            return []  # nothing committed here (perhaps the leftovers of a killed first write)
        return [self._full(f"{self.fs._strip_protocol(folder).rstrip('/')}/{f}") for f in listed]

    def partition_files(self, ref, days) -> list[str]:
        """All the partitions' markers read in one batch of concurrent requests."""
        if not days:
            return []  # fsspec's cat of no paths raises
        folders = [self.partition_uri(ref, d) for d in days]
        markers = self.fs.cat([f"{folder}/{COMMIT_MARKER}" for folder in folders], on_error="omit")
        files = []
        for folder in folders:
            listed = markers.get(self.fs._strip_protocol(f"{folder}/{COMMIT_MARKER}"))
            base = self.fs._strip_protocol(folder).rstrip("/")
            files += [self._full(f"{base}/{f}") for f in json.loads(listed)["files"] if f.endswith(".parquet")] if listed else []
        return files

    def list_partitions(self, ref) -> list[str]:
        """The days whose `dt=` folder has a commit marker: one listing, no request per day."""
        table = self.table_uri(ref)
        if not self.fs.exists(table):
            return []
        base = self.fs._strip_protocol(table).rstrip("/")
        prefix = f"{PARTITION_COLUMN}="
        days = set()
        for path in self.fs.find(table):
            parts = path[len(base) + 1 :].split("/")
            if len(parts) == 2 and parts[0].startswith(prefix) and parts[1] == COMMIT_MARKER:
                days.add(parts[0][len(prefix) :])
        return sorted(days)

    def _is_staging(self, folder: str) -> bool:
        return self.fs._strip_protocol(folder).startswith(
            self.fs._strip_protocol(self.uri(f"{ServiceArea.WORK}/_staging")).rstrip("/")
        )

    def write_bytes(self, uri: str, data: bytes) -> bool:
        # One PUT is atomic on an object store: readers see the old object or the new one.
        try:
            if self.fs.size(uri) == len(data) and self.fs.cat_file(uri) == data:
                return False
        except FileNotFoundError:
            pass
        self.fs.pipe_file(uri, data)
        return True

    def discard(self, staging: str) -> None:
        if self.fs.exists(staging):
            self.fs.rm(staging, recursive=True)


class S3LakeStorage(ObjectStoreLakeStorage):
    """S3 (`s3://bucket/prefix`). URIs use `s3a://`, which s3fs and Hadoop's S3A connector both read.

    Credentials come from boto's standard chain (environment, profile, instance role);
    `AWS_ENDPOINT_URL` points it at another endpoint (moto, MinIO).
    """

    scheme = "s3a"

    def __init__(self, root: str):
        bucket_path = root.split("://", 1)[1]
        # No listings cache: other processes (runs, the sensor daemon) change the bucket under it.
        fs = fsspec.filesystem("s3", endpoint_url=self.endpoint_url, use_listings_cache=False)
        super().__init__(f"{self.scheme}://{bucket_path}", fs)

    @property
    def endpoint_url(self) -> str | None:
        return current().aws_endpoint_url


class GCSLakeStorage(ObjectStoreLakeStorage):
    """Google Cloud Storage (`gs://bucket/prefix`), through gcsfs and, for Spark, the GCS connector.

    Credentials come from Application Default Credentials; `STORAGE_EMULATOR_HOST` points both
    at an emulator (fake-gcs-server), anonymously.
    """

    scheme = "gs"

    def __init__(self, root: str):
        options = {"token": "anon"} if self.emulator else {}
        # gcsfs would otherwise probe each bucket for hierarchical namespace, which emulators never answer.
        export_defaults(GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT="false")
        fs = fsspec.filesystem("gs", use_listings_cache=False, **options)
        super().__init__(f"{self.scheme}://{root.split('://', 1)[1]}", fs)

    @property
    def emulator(self) -> str | None:
        return current().gcs_emulator


class AzureLakeStorage(ObjectStoreLakeStorage):
    """Azure Data Lake Storage Gen2 / Blob (`abfss://container@account.dfs.core.windows.net/prefix`), through adlfs.

    Credentials: `AZURE_STORAGE_CONNECTION_STRING` where set (Azurite's well-known account in
    tests), else adlfs's default chain (`DefaultAzureCredential`: managed identity, CLI login).
    URIs stay in the `abfss://` form, which Azure Databricks' Spark reads natively.
    """

    scheme = "abfss"

    def __init__(self, root: str):
        container_at, _, path = root.split("://", 1)[1].partition("/")
        self.container, _, host = container_at.partition("@")
        settings = current()
        self.account = host.split(".", 1)[0] if host else settings.azure_account_name or ""
        connection = settings.azure_connection_string
        options = {"connection_string": connection} if connection else {"account_name": self.account, "anon": False}
        fs = fsspec.filesystem("abfs", use_listings_cache=False, **options)
        super().__init__(f"{self.scheme}://{self.container}@{self.account}.dfs.core.windows.net/{path}".rstrip("/"), fs)

    def _full(self, name: str) -> str:
        if "://" in name:
            return name
        container, _, path = name.partition("/")
        return f"{self.scheme}://{container}@{self.account}.dfs.core.windows.net/{path}"


def _local_files(folder: str) -> list[str]:
    base = Path(folder)
    if not base.exists():
        return []
    found = (p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
    return sorted(r for r in found if all(is_data_file(part) for part in r.split("/")))


def _top_level_data(relative_path: str) -> bool:
    """`dt=.../name` with a data file's name (no subfolder, no marker, no in-progress name)."""
    parts = relative_path.split("/")
    return len(parts) == 2 and is_data_file(parts[1])


def _by_folder(relative_paths: list[str], folders: list[str] | None) -> dict[str, list[str]]:
    """Paths grouped by their first folder among `folders` (relative to it); with None, all under ""."""
    if folders is None:
        return {"": relative_paths}
    grouped: dict[str, list[str]] = {f: [] for f in folders}
    for path in relative_paths:
        first, _, rest = path.partition("/")
        if first in grouped and rest:
            grouped[first].append(rest)
    return grouped


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p)
