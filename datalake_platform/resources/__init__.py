"""Dagster resources wrapping the lake (storage) and Spark (compute), chosen by environment."""

from datalake_platform.resources.lake import LakeResource
from datalake_platform.resources.spark import SparkResource

__all__ = ["LakeResource", "SparkResource"]
