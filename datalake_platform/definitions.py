"""The one Definitions of the platform: every registered domain, with the resources of its settings.

`dagster dev` (workspace.yaml), `dagster asset materialize -m datalake_platform.definitions` and
`[tool.dagster]` load `defs`, which parses the environment once (`settings.current()`) when Dagster
loads it, never at import. `build(settings)` is the same for code that has its settings already.
"""

from __future__ import annotations

import dagster as dg

from datalake_platform import registry
from datalake_platform.compat.dagster import silence_pinned_previews
from datalake_platform.governance.assets import governed
from datalake_platform.governance.checks import pii_checks
from datalake_platform.governance.openlineage import openlineage_sensor
from datalake_platform.ingestion.automation import automation_sensor
from datalake_platform.ingestion.sensors import landing_sensor
from datalake_platform.lake.clouds import LAKE_SCHEMES
from datalake_platform.maintenance_assets import maintenance_definitions, retention_definitions
from datalake_platform.resources import LakeResource, ServingResource, SparkResource
from datalake_platform.resources.spark import LOCAL_MASTER
from datalake_platform.serving.assets import online_definitions
from datalake_platform.settings import Settings, SettingsError, current

silence_pinned_previews()

LOCAL_COMPUTES = ("local", "cluster")  # Spark inside the run's process, or the master it names
REMOTE_KINDS = {"spark", "pytorch"}  # steps sent to remote compute: Spark's, and the CNN's (a GPU cluster)


def resources_for(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The lake and Spark of the settings' environment; its root must be on that environment's store."""
    root = settings.lake_root
    scheme = root.split("://", 1)[0] if "://" in root else ""
    if LAKE_SCHEMES.get(scheme, "local") != settings.env:
        where = {
            "local": "a folder",
            "aws": "s3://bucket/prefix",
            "gcp": "gs://bucket/prefix",
            "azure": "abfss://container@account.dfs.core.windows.net/prefix",
        }[settings.env]
        raise SettingsError(f"DATALAKE_ENV={settings.env} needs DATALAKE_ROOT to be {where}, not {root!r}.")
    lake = LakeResource(
        root=dg.EnvVar("DATALAKE_ROOT") if settings.root else root,
        pii_key=dg.EnvVar("DATALAKE_PII_KEY") if settings.pii_key else None,  # the UI shows the variable only
    )
    spark = SparkResource(lake=lake, master=settings.spark_master or LOCAL_MASTER, remote=settings.spark_remote)
    serving = ServingResource(
        lake=lake,
        url=dg.EnvVar("DATALAKE_SERVING_URL") if settings.serving_url else None,
        prefix=settings.serving_prefix,
        env=settings.env,
    )
    return {"lake": lake, "spark": spark, "serving": serving}


def runs_remotely(asset) -> bool:
    """Whether a remote compute gets this asset's step: Spark's steps and the CNN's, by their kinds."""
    return isinstance(asset, dg.AssetsDefinition) and any(spec.kinds & REMOTE_KINDS for spec in asset.specs)


def build(settings: Settings) -> dg.Definitions:
    domains = registry.all_domains()
    resources = resources_for(settings)
    # Each domain's governance on its own assets (owners, classification, PII, lineage, freshness).
    assets = [a for d in domains for a in governed(d.assets, d.governance)]
    if settings.compute not in LOCAL_COMPUTES:
        from datalake_platform.compute.clouds import compute_for
        from datalake_platform.compute.remote import on_remote_compute

        resources["compute"] = compute_for(settings, resources["lake"])
        assets = [on_remote_compute(a) if runs_remotely(a) else a for a in assets]
    landing_sensors = [landing_sensor(t, settings.sensor_interval_seconds) for d in domains for t in d.landing_tables]
    maintenance, maintenance_schedule = maintenance_definitions(settings)
    retention, retention_schedule = retention_definitions(registry.governed_tables())
    online_assets, online_checks = online_definitions()
    return dg.Definitions(
        assets=[*assets, *online_assets, maintenance, retention],
        schedules=[maintenance_schedule, retention_schedule],
        asset_checks=[*(c for d in domains for c in (*d.checks, *pii_checks(d.governance))), *online_checks],
        jobs=[j for d in domains for j in d.jobs],
        sensors=[
            *landing_sensors,
            *(s for d in domains for s in d.sensors),
            automation_sensor(settings.sensor_interval_seconds),
            openlineage_sensor(settings),  # default stopped: lineage events to OPENLINEAGE_URL or the lake
        ],
        resources=resources,
        # One run = one process = one Spark session, shared by every step of the run.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build(current())
