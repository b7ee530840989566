"""The lake as a Dagster resource: where the root is and which storage backend serves it (lake.backends)."""

from __future__ import annotations

import dagster as dg

from datalake_platform.lake.backends import storage_for_root
from datalake_platform.lake.storage import LakeStorage


class LakeResource(dg.ConfigurableResource):
    """The datalake root (`DATALAKE_ROOT`, default `./lake`): a folder, or `s3://`, `gs://`, `abfss://` URI.
    Its tables are Iceberg tables in the environment's catalog (`DATALAKE_CATALOG`, lake.iceberg)."""

    root: str

    @property
    def storage(self) -> LakeStorage:
        return storage_for_root(self.root)
