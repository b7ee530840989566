"""Spark compute as a Dagster resource: one local session per run process."""

from __future__ import annotations

import dagster as dg
from pydantic import Field
from pyspark.sql import SparkSession

from datalake_platform.spark.session import get_or_create_session


class SparkResource(dg.ConfigurableResource):
    """Local Spark inside the run process, bound to 127.0.0.1."""

    master: str = Field(default="local[*]", description="Spark master URL.")
    app_name: str = "datalake_platform"
    ui_enabled: bool = Field(default=False, description="Start the Spark UI (port 4040).")
    log_level: str = "WARN"
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark conf.")

    def session(self) -> SparkSession:
        return get_or_create_session(
            master=self.master,
            app_name=self.app_name,
            conf=self.spark_conf,
            ui_enabled=self.ui_enabled,
            log_level=self.log_level,
        )
