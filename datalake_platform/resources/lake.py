"""The lake as a Dagster resource: where the root is and which storage backend serves it (lake.storage_for_root)."""

from __future__ import annotations

import os

import dagster as dg

from datalake_platform.lake.storage import LakeStorage, storage_for_root

DEFAULT_ROOT = "lake"  # relative to the working directory


def default_lake_root() -> str:
    return os.environ.get("DATALAKE_ROOT") or os.path.abspath(DEFAULT_ROOT)


class LakeResource(dg.ConfigurableResource):
    """The datalake root (`DATALAKE_ROOT`, default `./lake`): a folder, or `s3://`, `gs://`, `abfss://` URI."""

    root: str

    @property
    def storage(self) -> LakeStorage:
        return storage_for_root(self.root)
