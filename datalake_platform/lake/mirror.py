"""A lake on an object store that Spark cannot reach, worked on through a local mirror.

Local Spark needs a Hadoop driver for each store; for Azure none can be had here (no
hadoop-azure jar on PyPI). Such a lake is a local lake in a mirror folder that Spark reads and
writes as usual, kept in step with the bucket, which stays the source of truth:

- landing is listed on the bucket (the sensor sees what producers drop there); the files a run
  reads are downloaded into the mirror first, again only when their etag changed;
- a table's files are written in the mirror, uploaded to the same place under the bucket, then
  committed to the lake's Iceberg catalog with their bucket URIs (lake.iceberg); `write_bytes`
  writes both;
- reading a table plans its files from the catalog and reads the mirror's copies, fetching those
  it lacks (a table's files have unique names and never change once written).

On Azure Databricks the ABFS driver is built in: there the lake is `AzureLakeStorage` itself and
no mirror is used (`DATALAKE_SPARK_STORE=native`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from datalake_platform.lake.object_store import ObjectStoreLakeStorage
from datalake_platform.lake.storage import LandingFile, LocalLakeStorage
from datalake_platform.lake.table_refs import TableRef
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
        return {
            folder: [self._mirrored(f, ref) for f in files]
            for folder, files in self.remote.landing_folders(ref).items()
        }

    def landing_days(self, ref: TableRef) -> list[str]:
        return self.remote.landing_days(ref)

    def list_landing_files(self, ref: TableRef, days: list[str]) -> list[LandingFile]:
        remote = self.remote.list_landing_files(ref, days)
        files = [self._mirrored(f, ref) for f in remote]
        for local, source in zip(files, remote):
            self._download(source.path, local.path, source.version)
        return files

    def _mirrored(self, file: LandingFile, ref: TableRef) -> LandingFile:
        return LandingFile(
            f"{self.table_uri(ref)}/{file.relative_path}", file.relative_path, file.day, file.size, file.version
        )

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

    # -- tables: written in the mirror, uploaded, then committed on the bucket's catalog -------
    def table_location(self, ref: TableRef) -> str:
        return self.remote.table_location(ref)

    def commit_partitions(self, ref, staging, days, schema, summary: Mapping[str, str] = {}, files=None):
        self._upload(staging)
        return super().commit_partitions(ref, staging, days, schema, summary, files)

    def append_partitions(self, ref, staging, days, schema, summary, files=None):
        self._upload(staging)
        return super().append_partitions(ref, staging, days, schema, summary, files)

    def commit_table(self, ref, staging, schema, summary: Mapping[str, str] = {}, files=None):
        self._upload(staging)
        return super().commit_table(ref, staging, schema, summary, files)

    def _upload(self, staging: str) -> None:
        local = self.parquet_files(staging)
        if local:
            self.remote.fs.put(local, [self._remote(f) for f in local])

    def published_path(self, staged: str) -> str:
        return self._remote(staged)

    def readable_paths(self, paths: list[str]) -> list[str]:
        """The mirror's copies of the bucket's files, fetched where missing: a table's data files
        never change once written (unique names), so a copy once fetched stays good."""
        local = []
        for remote in paths:
            path = Path(self.uri(self.remote.relative_path(remote)))
            if not path.exists():
                self._fetch(remote, path)
            local.append(str(path))
        return local

    def write_bytes(self, uri: str, data: bytes) -> bool:
        written = super().write_bytes(uri, data)
        return self.remote.write_bytes(self._remote(uri), data) or written


def mirror_folder(remote: ObjectStoreLakeStorage) -> str:
    """Where the mirror of a bucket lake lives on this machine (`DATALAKE_MIRROR_DIR` to choose)."""
    base = current().mirror_dir
    return str(base / remote.root.split("://", 1)[1].replace("@", "/").replace(":", "_"))
