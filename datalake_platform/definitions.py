"""The one Definitions: every domain's assets and checks, with the resources of DATALAKE_ENV."""

from __future__ import annotations

import os

import dagster as dg

from datalake_platform import registry
from datalake_platform.catalog.resource import DEFAULT_ENGINE, CatalogResource
from datalake_platform.ingestion.automation import automation
from datalake_platform.resources import LakeResource, SparkResource, default_lake_root
from datalake_platform.resources.spark import master_from_environment

DOMAINS = registry.all_domains()

LANDING_TABLES = [t for d in DOMAINS for t in d.landing_tables]  # each is watched by a sensor; its days are partitions
ENVIRONMENTS = {
    "local": "a folder",
    "aws": "s3://bucket/prefix",
    "gcp": "gs://bucket/prefix",
    "azure": "abfss://container@account.dfs.core.windows.net/prefix",
}


def resources_for(env: str) -> dict[str, dg.ConfigurableResource]:
    """The lake and Spark of an environment; DATALAKE_ROOT says where the lake is (a URI on a cloud)."""
    if env not in ENVIRONMENTS:
        raise ValueError(f"DATALAKE_ENV={env!r} is not available; choose one of {sorted(ENVIRONMENTS)}.")
    root = os.environ.get("DATALAKE_ROOT") or default_lake_root()
    scheme = root.split("://", 1)[0] if "://" in root else ""
    schemes = {"local": ("", "file"), "aws": ("s3", "s3a"), "gcp": ("gs", "gcs"), "azure": ("abfss", "abfs")}[env]
    if scheme not in schemes:
        raise ValueError(f"DATALAKE_ENV={env} needs DATALAKE_ROOT to be {ENVIRONMENTS[env]}, not {root!r}.")
    lake = LakeResource(root=dg.EnvVar("DATALAKE_ROOT") if os.environ.get("DATALAKE_ROOT") else root, catalog=catalog_for(env))
    # Spark inside the run, or on a cluster: DATALAKE_SPARK_MASTER / DATALAKE_SPARK_REMOTE (Spark Connect).
    spark = SparkResource(lake=lake, master=master_from_environment(), remote=os.environ.get("DATALAKE_SPARK_REMOTE") or None)
    return {"lake": lake, "spark": spark}


def catalog_for(env: str) -> CatalogResource:
    """The SQL interface of an environment (`DATALAKE_SQL` overrides it: databricks_sql on Azure, none)."""
    optional = {
        "bigquery_project": "DATALAKE_BIGQUERY_PROJECT",
        "databricks_warehouse_id": "DATABRICKS_WAREHOUSE_ID",
        "databricks_catalog": "DATABRICKS_CATALOG",
        "glue_catalog_id": "DATALAKE_GLUE_CATALOG_ID",
    }
    return CatalogResource(
        engine=os.environ.get("DATALAKE_SQL") or DEFAULT_ENGINE[env],
        **{field: dg.EnvVar(var) for field, var in optional.items() if os.environ.get(var)},
    )


ASSETS = [a for d in DOMAINS for a in d.assets]
ASSET_CHECKS = [c for d in DOMAINS for c in d.checks]


def assets_for(compute: str) -> list:
    """The assets as written (Spark in the run), or with their Spark steps sent to a cloud's Spark
    through Pipes (compute.remote): the same code runs there, by asset key."""
    if compute in ("local", "cluster"):
        return ASSETS
    from datalake_platform.compute.remote import on_remote_compute

    return [on_remote_compute(a) if _runs_on_compute(a) else a for a in ASSETS]


def _runs_on_compute(asset) -> bool:
    """Spark steps, and the CNN's training and scoring (a GPU cluster by a table override)."""
    return isinstance(asset, dg.AssetsDefinition) and any(spec.kinds & {"spark", "pytorch"} for spec in asset.specs)


def _definitions() -> dg.Definitions:
    env = os.environ.get("DATALAKE_ENV", "local")
    resources = resources_for(env)
    compute = os.environ.get("DATALAKE_COMPUTE", "local")
    if compute not in ("local", "cluster"):
        from datalake_platform.compute.remote import compute_for

        resources["compute"] = compute_for(compute, resources["lake"])
    return dg.Definitions(
        assets=assets_for(compute),
        asset_checks=ASSET_CHECKS,
        jobs=[j for d in DOMAINS for j in d.jobs],
        sensors=[*(s for d in DOMAINS for s in d.sensors), automation],
        resources=resources,
        # One run = one process = one Spark session, shared by every step of the run.
        executor=dg.in_process_executor,
    )


defs = _definitions()
