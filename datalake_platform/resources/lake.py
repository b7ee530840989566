"""The lake as a Dagster resource: where the root is and which storage backend serves it (lake.storage_for_root)."""

from __future__ import annotations

from typing import Optional

import dagster as dg
from pydantic import Field

from datalake_platform.catalog.resource import CatalogResource
from datalake_platform.lake.backends import storage_for_root
from datalake_platform.lake.storage import LakeStorage


class LakeResource(dg.ConfigurableResource):
    """The datalake root (`DATALAKE_ROOT`, default `./lake`): a folder, or `s3://`, `gs://`, `abfss://` URI."""

    root: str
    catalog: Optional[CatalogResource] = Field(default=None, description="Where committed tables are published for SQL.")

    @property
    def storage(self) -> LakeStorage:
        storage = storage_for_root(self.root)
        if self.catalog is not None:
            storage.catalog = self.catalog.publisher(storage)
        return storage
