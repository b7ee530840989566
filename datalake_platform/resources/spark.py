"""Spark compute as a Dagster resource: one local session per run process, set up for the lake's store."""

from __future__ import annotations

from typing import Optional

import dagster as dg
from pydantic import Field
from pyspark.sql import SparkSession

from datalake_platform.resources.lake import LakeResource
from datalake_platform.spark import stores
from datalake_platform.spark.connectors import connector_jars
from datalake_platform.spark.session import get_or_create_session


class SparkResource(dg.ConfigurableResource):
    """Local Spark inside the run process, bound to 127.0.0.1, able to read and write the lake's store."""

    master: str = Field(default="local[*]", description="Spark master URL.")
    app_name: str = "datalake_platform"
    ui_enabled: bool = Field(default=False, description="Start the Spark UI (port 4040).")
    log_level: str = "WARN"
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark conf.")
    lake: Optional[LakeResource] = Field(default=None, description="The lake whose store Spark must reach.")

    def session(self) -> SparkSession:
        storage = self.lake.storage if self.lake is not None else None
        conf = dict(self.spark_conf)
        needed = stores.connector(storage) if storage is not None else None
        if needed and self.master.startswith("local"):  # a cluster has its store's connector already
            conf["spark.jars"] = ",".join(filter(None, [conf.get("spark.jars"), *connector_jars(needed)]))
        session = get_or_create_session(
            master=self.master, app_name=self.app_name, conf=conf, ui_enabled=self.ui_enabled, log_level=self.log_level
        )
        # Filesystem settings are session conf: they reach every read and write, and follow the
        # lake if a process's session serves another one (tests).
        for key, value in (stores.hadoop_conf(storage) if storage is not None else {}).items():
            session.conf.set(key, value)
        return session
