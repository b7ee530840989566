"""Spark compute as a Dagster resource: one session per run process, local or on a cluster, set up
for the lake's store."""

from __future__ import annotations

import sys
from typing import Optional

import dagster as dg
from pydantic import Field
from pyspark.sql import SparkSession

from datalake_platform.resources.lake import LakeResource
from datalake_platform.spark import store_conf as stores
from datalake_platform.spark.connectors import connector_jars
from datalake_platform.spark.session import get_or_create_connect_session, get_or_create_session

LOCAL_MASTER = "local[*]"


class SparkResource(dg.ConfigurableResource):
    """Spark for a run: local inside the run process (the default), a cluster's master, or a Spark
    Connect server; able to read and write the lake's store."""

    master: Optional[str] = Field(
        default=LOCAL_MASTER, description="Spark master URL; None takes the one spark-submit set (remote jobs)."
    )
    remote: Optional[str] = Field(default=None, description="Spark Connect URL (sc://host:port); wins over master.")
    app_name: str = "datalake_platform"
    ui_enabled: bool = Field(default=False, description="Start the Spark UI (port 4040).")
    log_level: str = "WARN"
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark conf.")
    lake: Optional[LakeResource] = Field(default=None, description="The lake whose store Spark must reach.")

    @property
    def on_cluster(self) -> bool:
        """A master whose executors are other processes, which must be given the platform's code."""
        return bool(self.master) and not self.master.startswith("local")

    def session(self) -> SparkSession:
        storage = self.lake.storage if self.lake is not None else None
        if self.remote:
            session = get_or_create_connect_session(self.remote, self.app_name)
        else:
            session = self._classic_session(storage)
        # Filesystem settings are session conf: they reach every read and write, and follow the
        # lake if a process's session serves another one (tests).
        for key, value in (stores.hadoop_conf(storage) if storage is not None else {}).items():
            session.conf.set(key, value)
        return session

    def _classic_session(self, storage) -> SparkSession:
        conf = dict(self.spark_conf)
        needed = stores.connector(storage) if storage is not None else None
        # pyspark's own Spark (local, or a standalone cluster started from it) has no store
        # connector; a cloud's Spark (yarn on EMR/Dataproc, Databricks) has its own.
        if needed and (self.master or "").startswith(("local", "spark://")):
            conf["spark.jars"] = ",".join(filter(None, [conf.get("spark.jars"), *connector_jars(needed)]))
        if self.on_cluster:
            # Executors run Python UDFs with this interpreter's libraries (same machine image) ...
            conf.setdefault("spark.pyspark.python", sys.executable)
        session = get_or_create_session(
            master=self.master, app_name=self.app_name, conf=conf, ui_enabled=self.ui_enabled, log_level=self.log_level
        )
        if self.on_cluster:
            _ship_package(session)  # ... and this process's platform code, exactly
        return session


def _ship_package(session: SparkSession) -> None:
    """Put the platform's zip on every executor's sys.path (once per session)."""
    from datalake_platform.compute.package import package_zip

    zipped = package_zip()
    context = session.sparkContext
    if zipped.name not in getattr(context, "_python_includes", []):
        context.addPyFile(str(zipped))
