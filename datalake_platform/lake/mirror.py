"""A lake on an object store that Spark cannot reach, worked on through a local mirror.

Local Spark needs a Hadoop driver for each store; for Azure none can be had here (no
hadoop-azure jar on PyPI). Such a lake is a local lake in a mirror folder that Spark reads and
writes as usual, kept in step with the bucket, which stays the source of truth:

- landing is listed on the bucket (the sensor sees what producers drop there); the files a run
  reads are downloaded into the mirror first, again only when their etag changed;
- every commit is published to the bucket from the staging folder with the object-store
  protocol (upload, `_commit.json`: the commit point, delete the rest), then committed locally
  (atomic folder exchange); `write_bytes` writes both;
- reading a table lists its committed partitions on the bucket and makes each mirror folder the
  bucket's committed version: files it lacks are downloaded (Spark's part files have unique
  names, so a file once downloaded never changes), files the marker does not list are removed.

On Azure Databricks the ABFS driver is built in: there the lake is `AzureLakeStorage` itself and
no mirror is used (`DATALAKE_SPARK_STORE=native`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from datalake_platform.lake.object_store import COMMIT_MARKER, ObjectStoreLakeStorage
from datalake_platform.lake.storage import LandingFile, LocalLakeStorage
from datalake_platform.lake.table_refs import ServiceArea, TableRef, partition_folder
from datalake_platform.settings import current


class MirroredLakeStorage(LocalLakeStorage):
    """A local lake (the mirror) that Spark works on, kept in step with `remote`, the source of truth."""

    def __init__(self, remote: ObjectStoreLakeStorage, mirror: str):
        super().__init__(mirror)
        self.remote = remote

    @property
    def location(self) -> str:
        return self.remote.root

    def _remote(self, local_uri: str) -> str:
        return self.remote.uri(os.path.relpath(local_uri, self.root))

    # -- landing: listed on the bucket, downloaded when read --------------------------------
    def landing_folders(self, ref: TableRef) -> dict[str, list[LandingFile]]:
        return {folder: [self._mirrored(f, ref) for f in files] for folder, files in self.remote.landing_folders(ref).items()}

    def list_landing_files(self, ref: TableRef, days: list[str]) -> list[LandingFile]:
        remote = self.remote.list_landing_files(ref, days)
        files = [self._mirrored(f, ref) for f in remote]
        for local, source in zip(files, remote):
            self._download(source.path, local.path, source.version)
        return files

    def _mirrored(self, file: LandingFile, ref: TableRef) -> LandingFile:
        return LandingFile(f"{self.table_uri(ref)}/{file.relative_path}", file.relative_path, file.day, file.size, file.version)

    def _download(self, remote: str, local: str, version: str) -> None:
        """Fetch `remote` into `local` unless the mirror already has this version of it."""
        stamp = Path(local).with_name(f".{Path(local).name}.version")
        if Path(local).exists() and stamp.exists() and stamp.read_text() == version:
            return
        self._fetch(remote, Path(local))
        stamp.write_text(version)

    def _fetch(self, remote: str, local: Path) -> None:
        """Download under a hidden name, then rename: a half-downloaded file is never read."""
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(f".{local.name}.download")
        self.remote.fs.get_file(remote, str(partial))
        partial.replace(local)

    # -- commits: published to the bucket (the commit point), then to the mirror ---------------
    def commit_partitions(self, ref: TableRef, staging: str, days: list[str]) -> None:
        folders = [partition_folder(d) for d in days]
        self.remote.commit_folders(staging, self._remote(self.table_uri(ref)), folders, local=True)
        super().commit_partitions(ref, staging, days)

    def commit_table(self, ref: TableRef, staging: str) -> None:
        self.remote.commit_folders(staging, self._remote(self.table_uri(ref)), None, local=True)
        super().commit_table(ref, staging)

    def write_bytes(self, uri: str, data: bytes) -> bool:
        written = super().write_bytes(uri, data)
        return self.remote.write_bytes(self._remote(uri), data) or written

    # -- tables: committed partitions on the bucket, files fetched into the mirror -------------
    def list_partitions(self, ref: TableRef) -> list[str]:
        days = self.remote.list_partitions(ref)
        for day in days:
            self._sync_down(self.partition_uri(ref, day))
        return days

    def parquet_files(self, folder: str) -> list[str]:
        if not Path(folder).is_relative_to(self.uri(f"{ServiceArea.WORK}/_staging")):  # staging is this run's own
            self._sync_down(folder)  # the mirror may lag the bucket (another machine) or lead it (a killed commit)
        return super().parquet_files(folder)

    def _sync_down(self, folder: str) -> None:
        """Make the mirror's folder the bucket's committed version of it."""
        remote = self._remote(folder)
        try:
            listed = json.loads(self.remote.fs.cat_file(f"{remote}/{COMMIT_MARKER}"))["files"]
        except FileNotFoundError:
            return
        for relative in listed:
            if not (Path(folder) / relative).exists():
                self._fetch(f"{remote}/{relative}", Path(folder) / relative)
        for path in Path(folder).rglob("*"):
            if path.is_file() and path.relative_to(folder).as_posix() not in listed and not path.name.startswith("."):
                path.unlink()


def mirror_folder(remote: ObjectStoreLakeStorage) -> str:
    """Where the mirror of a bucket lake lives on this machine (`DATALAKE_MIRROR_DIR` to choose)."""
    base = current().mirror_dir
    return str(base / remote.root.split("://", 1)[1].replace("@", "/").replace(":", "_"))
