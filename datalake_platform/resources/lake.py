"""The lake as a Dagster resource: where the root is and which storage backend serves it (lake.backends)."""

from __future__ import annotations

from typing import Optional

import dagster as dg
from pydantic import Field

from datalake_platform.lake.backends import storage_for_root
from datalake_platform.lake.storage import LakeStorage


class LakeResource(dg.ConfigurableResource):
    """The datalake root (`DATALAKE_ROOT`, default `./lake`): a folder, or `s3://`, `gs://`, `abfss://` URI.
    Its tables are Iceberg tables in the environment's catalog (`DATALAKE_CATALOG`, lake.iceberg)."""

    root: str
    pii_key: Optional[str] = Field(
        default=None,
        description="hex key of the keyed hashes of personal data (`dg.EnvVar('DATALAKE_PII_KEY')`); "
        "none: a lake in a folder makes its own in work/secrets/",
    )

    @property
    def storage(self) -> LakeStorage:
        return storage_for_root(self.root)

    def hash_key(self) -> bytes:
        """The key personal data is hashed with (governance.pii)."""
        from datalake_platform.governance.pii import lake_key

        return lake_key(self.storage, self.pii_key)
