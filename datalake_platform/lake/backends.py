"""The storage backend of a lake root: a folder, S3, GCS, or ADLS (mirrored locally for Spark)."""

from __future__ import annotations

from datalake_platform.lake.clouds import cloud_of
from datalake_platform.lake.mirror import MirroredLakeStorage, mirror_folder
from datalake_platform.lake.object_store import AzureLakeStorage, GCSLakeStorage, S3LakeStorage
from datalake_platform.lake.storage import LakeStorage, LocalLakeStorage
from datalake_platform.settings import current


def storage_for_root(root: str) -> LakeStorage:
    """A path or `file://` URI is local; `s3://` (or `s3a://`) is S3; `gs://` is GCS;
    `abfss://container@account.dfs.core.windows.net/prefix` is Azure."""
    cloud = cloud_of(root)
    if cloud == "local":
        return LocalLakeStorage(root.removeprefix("file://"))
    if cloud == "aws":
        return S3LakeStorage(root)
    if cloud == "gcp":
        return GCSLakeStorage(root)
    azure = AzureLakeStorage(root)
    if current().spark_store == "native":  # Spark with the ABFS driver (Databricks) reads the store itself
        return azure
    return MirroredLakeStorage(azure, mirror_folder(azure))
