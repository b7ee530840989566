"""The online views as assets: `online/<domain>/<table>`, downstream of the lake table each serves.

Materializing one makes the store equal to the table's current snapshot (serving.sync); its blocking
check `matches_lake` compares them (row counts, and the values of a sample of keys). The stream keeps
the posts views fresh between runs; these assets refresh after their table does (declarative
automation), rebuild a store that was emptied or replaced, and prove the two agree.
"""

import time

import dagster as dg

from datalake_platform import registry
from datalake_platform.ingestion.automation import refresh_when_upstream_lands
from datalake_platform.lake.table_refs import ServiceArea
from datalake_platform.resources import LakeResource, ServingResource
from datalake_platform.serving.sync import compare, sync
from datalake_platform.serving.views import OnlineView

MATCHES_LAKE = "matches_lake"


def online_asset(view: OnlineView) -> dg.AssetsDefinition:
    spec = registry.table_governance(view.table)
    key = dg.AssetKey(view.ref.key_path)

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(view.table.key_path)],
        group_name=str(ServiceArea.ONLINE),
        kinds={"valkey"},
        owners=[spec.owner] if spec is not None else [],
        tags={"classification": str(spec.classification)} if spec is not None else {},
        automation_condition=refresh_when_upstream_lands(),
        description=f"{view.description} Served at {view.path} by `datalake serve`; a {view.kind} view of "
        f"{view.table} in the online store (Valkey).",
        metadata={"serving/path": view.path, "serving/kind": str(view.kind), "serving/key": view.key},
    )
    def online_table(context: dg.AssetExecutionContext, lake: LakeResource, serving: ServingResource):
        started = time.perf_counter()
        result = sync(serving.store(), lake.storage, view)
        context.log.info(result.describe())
        metadata = {
            "dagster/row_count": result.lake_rows - result.counts.expired,
            "written": result.counts.written,
            "already_current": result.counts.kept_newer,
            "past_retention": result.counts.expired,
            "removed": result.removed,
            "seconds": round(time.perf_counter() - started, 3),
        }
        if result.version is not None:
            metadata["version"] = result.version
        return dg.MaterializeResult(metadata=metadata)

    return online_table


def matches_lake_check(view: OnlineView) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(view.ref.key_path),
        name=MATCHES_LAKE,
        blocking=True,
        description="The store holds the lake table's rows (within retention), no others, and the sampled "
        "keys' values are the table's.",
    )
    def matches_lake(lake: LakeResource, serving: ServingResource) -> dg.AssetCheckResult:
        comparison = compare(serving.store(), lake.storage, view)
        return dg.AssetCheckResult(passed=comparison.equal, metadata=comparison.metadata())

    return matches_lake


def online_definitions() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    views = registry.online_views()
    return [online_asset(v) for v in views], [matches_lake_check(v) for v in views]
