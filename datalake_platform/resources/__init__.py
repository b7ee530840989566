"""Dagster resources wrapping the lake (storage), Spark (compute) and the online store, chosen by environment."""

from datalake_platform.resources.lake import LakeResource
from datalake_platform.resources.serving import ServingResource
from datalake_platform.resources.spark import SparkResource

__all__ = ["LakeResource", "ServingResource", "SparkResource"]
