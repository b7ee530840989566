"""The one Definitions: every domain's assets and checks, with the resources of DATALAKE_ENV."""

from __future__ import annotations

import os

import dagster as dg

from datalake_platform.domains.images import assets as images
from datalake_platform.domains.images.checks import checks as images_checks
from datalake_platform.domains.passengers import assets as passengers
from datalake_platform.domains.passengers.checks import checks as passengers_checks
from datalake_platform.domains.posts import assets as posts
from datalake_platform.domains.posts.checks import checks as posts_checks
from datalake_platform.domains.transactions import assets as transactions
from datalake_platform.domains.transactions import sensors as transactions_sensors
from datalake_platform.domains.transactions.checks import checks as transactions_checks
from datalake_platform.domains.transactions.enrichment_assets import enrichment_assets
from datalake_platform.ingestion.automation import automation
from datalake_platform.resources import LakeResource, SparkResource, default_lake_root

LANDING_TABLES = [transactions_sensors.LANDING]  # each is watched by a sensor; its days are partitions
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
    lake = LakeResource(root=dg.EnvVar("DATALAKE_ROOT") if os.environ.get("DATALAKE_ROOT") else root)
    return {"lake": lake, "spark": SparkResource(lake=lake)}


defs = dg.Definitions(
    assets=[
        transactions.landing_purchases,
        transactions.universal_purchases,
        transactions.daily_sales,
        transactions.report_by_person,
        transactions.misplaced_purchases,
        passengers.landing_passengers,
        passengers.universal_passengers,
        passengers.passenger_features,
        passengers.survival_model,
        passengers.survival_predictions,
        images.landing_images,
        images.image_tensors,
        images.cnn_model,
        images.image_predictions,
        posts.landing_posts,
        posts.landing_human_scores,
        posts.labelled_tweets,
        posts.sentiment_model,
        posts.posts_stream,
        *enrichment_assets,
    ],
    asset_checks=[*transactions_checks, *passengers_checks, *images_checks, *posts_checks],
    jobs=[posts.posts_realtime],
    sensors=[transactions_sensors.purchases_files, automation],
    resources=resources_for(os.environ.get("DATALAKE_ENV", "local")),
    # One run = one process = one Spark session, shared by every step of the run.
    executor=dg.in_process_executor,
)
