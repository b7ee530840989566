"""Which online store a process talks to: `DATALAKE_SERVING_URL`, or in `local` the lake's own."""

from __future__ import annotations

from datalake_platform.serving.local_store import local_store_url
from datalake_platform.serving.store import OnlineStore
from datalake_platform.settings import SettingsError

CLOUD_STORES = {
    "aws": "ElastiCache or MemoryDB for Valkey (valkeys://:TOKEN@ENDPOINT:6379)",
    "gcp": "Memorystore for Valkey (valkeys://ENDPOINT:6379, or valkey:// inside the VPC)",
    "azure": "Azure Managed Redis (rediss://:ACCESS_KEY@NAME.REGION.redis.azure.net:10000)",
}


def store_url(url: str | None, lake_root: str, env: str) -> str:
    """`url`; without one, a local lake's own valkey-server's (started if it is not running)."""
    if url:
        return url
    if env != "local":
        raise SettingsError(f"DATALAKE_ENV={env} needs DATALAKE_SERVING_URL: the URL of {CLOUD_STORES[env]}.")
    return local_store_url(lake_root)


def open_store(url: str | None, prefix: str, lake_root: str, env: str) -> OnlineStore:
    """The store at `store_url(url, lake_root, env)`, its keys under `prefix`."""
    return OnlineStore.from_url(store_url(url, lake_root, env), prefix)
