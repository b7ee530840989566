"""`datalake serve`: the serving API on uvicorn, after the checks that keep it from serving what it must not.

It refuses to start when a view would serve personal data other than hashed or masked, when API keys
are missing outside `local` (or on a non-loopback address), or when the store does not answer. With
`rebuild`, every view is first made equal to its lake table (a store restarted empty, or replaced).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from datalake_platform.serving.connection import store_url
from datalake_platform.serving.local_store import LocalStoreError
from datalake_platform.serving.store import OnlineStore, StoreUnavailable
from datalake_platform.serving.views import OnlineView, unservable_columns
from datalake_platform.settings import Settings, SettingsError


class ServeError(RuntimeError):
    """Why the API does not start, said to the user."""


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    rebuild: bool = False


def refuse_unsafe(settings: Settings, views: Sequence[OnlineView], host: str) -> None:
    """Raise ServeError when the API would leak personal data or answer anyone without a key."""
    from datalake_platform import registry

    for view in views:
        spec = registry.table_governance(view.table)
        wrong = unservable_columns(view, spec.pii if spec is not None else {})
        if wrong:
            raise ServeError(
                f"{view.name} would serve personal data that is neither hashed nor masked: {', '.join(wrong)}"
            )
    if settings.serving_api_keys:
        return
    if settings.env != "local":
        raise ServeError(f"DATALAKE_ENV={settings.env} needs DATALAKE_SERVING_API_KEYS (comma-separated keys)")
    if not _loopback(host):
        raise ServeError(f"serving on {host} (not loopback) needs DATALAKE_SERVING_API_KEYS")


def rebuild(store: OnlineStore, views: Sequence[OnlineView], lake_root: str) -> bool:
    """Every view made equal to its table, then compared; True when all agree."""
    from datalake_platform.lake.backends import storage_for_root
    from datalake_platform.serving.sync import compare, sync

    storage = storage_for_root(lake_root)
    equal = True
    for view in views:
        print(sync(store, storage, view).describe(), flush=True)
        comparison = compare(store, storage, view)
        equal &= comparison.equal
        print(f"  {comparison.describe()}", flush=True)
    return equal


def serve(settings: Settings, views: Sequence[OnlineView], options: ServeOptions) -> int:
    """Check, optionally rebuild, then serve until interrupted; the exit code."""
    import uvicorn

    from datalake_platform.serving.api import create_app

    try:
        refuse_unsafe(settings, views, options.host)
        url = store_url(settings.serving_url, settings.lake_root, settings.env)
        store = OnlineStore.from_url(url, settings.serving_prefix)
        store.ping()
        if options.rebuild and not rebuild(store, views, settings.lake_root):
            raise ServeError("after the rebuild the store still differs from the lake (see above)")
    except (ServeError, SettingsError, StoreUnavailable, LocalStoreError) as error:
        raise ServeError(str(error)) from error
    app = create_app(url, settings.serving_prefix, views, settings.serving_api_keys)
    print(f"serving {len(views)} online views on http://{options.host}:{options.port} (OpenAPI at /docs)", flush=True)
    # One worker: the routes are async and a read is one store round trip; more processes than cores
    # only add context switches on a small machine (scale out behind a load balancer instead).
    # No proxy headers: the API does not use the client's address, and reading them costs every request.
    uvicorn.run(
        app, host=options.host, port=options.port, access_log=False, log_level="warning", workers=1, proxy_headers=False
    )
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
