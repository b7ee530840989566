"""Object-store backends (S3, GCS, Azure Blob): the lake in a bucket.

Tables commit as on a local disk, through their Iceberg catalog (lake.iceberg): Spark writes a
run's files under the table's location, and one catalog commit makes them the table's. Nothing
is copied or renamed, which an object store cannot do atomically.
"""

from __future__ import annotations

import fsspec

from datalake_platform.lake.storage import LakeStorage, is_data_file
from datalake_platform.lake.table_refs import PARTITION_COLUMN
from datalake_platform.settings import current, export_defaults


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

    def list_landing_files(self, ref, days) -> list:
        """As on a local disk, from one listing of the table instead of a request per day."""
        wanted = {f"{PARTITION_COLUMN}={d}" for d in days}
        folders = self.landing_folders(ref)
        files = [f for folder in wanted & set(folders) for f in folders[folder] if _top_level_data(f.relative_path)]
        return sorted(files, key=lambda f: f.relative_path)

    def write_bytes(self, uri: str, data: bytes) -> bool:
        # One PUT is atomic on an object store: readers see the old object or the new one.
        try:
            if self.fs.size(uri) == len(data) and self.fs.cat_file(uri) == data:
                return False
        except FileNotFoundError:
            pass
        self.fs.pipe_file(uri, data)
        return True


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


def _top_level_data(relative_path: str) -> bool:
    """`dt=.../name` with a data file's name (no subfolder, no marker, no in-progress name)."""
    parts = relative_path.split("/")
    return len(parts) == 2 and is_data_file(parts[1])
