"""The platform's environment, read in one place.

Every variable the platform reads (its own `DATALAKE_*`, and the cloud SDK settings it hands on
explicitly, such as an emulator's endpoint) is a typed field of `Settings`, parsed by
`Settings.from_environ`. The orchestrator's definitions, the CLI and a cluster's job each parse
it once where they start and pass what they need down as arguments; code deeper in the lake or
Spark layers that must reach a cloud's endpoint asks `current()`. What the platform exports for
the processes it starts (Spark's Python, the CLI's lake root) goes through `export` here too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("local", "aws", "gcp", "azure")
COMPUTES = (
    "local",
    "cluster",
    "spark-submit",
    "emr",
    "emr-cluster",
    "emr-serverless",
    "dataproc",
    "dataproc-serverless",
    "databricks",
)
CACHE = Path.home() / ".cache" / "datalake_platform"


class SettingsError(ValueError):
    """A variable is missing or malformed: the message names it and what it must be."""


def _var(*names: str, default: Any = None, parse: Any = str, secret: bool = False) -> Any:
    """A setting read from the first of `names` set; a `secret` is never printed (repr, errors)."""
    return field(default=default, repr=not secret, metadata={"env": names, "parse": parse, "secret": secret})


def _hex_key(text: str) -> str:
    """A key of 32 bytes or more, as hex (e.g. `openssl rand -hex 32`)."""
    key = bytes.fromhex(text.strip())
    if len(key) < 32:
        raise ValueError(f"a key of {len(key)} bytes; 32 or more are needed")
    return text.strip().lower()


def _api_keys(text: str) -> tuple[str, ...]:
    """Comma-separated API keys, each of 16 characters or more."""
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if any(len(k) < 16 for k in keys):
        raise ValueError("every key needs 16 characters or more (e.g. `openssl rand -hex 16`)")
    return keys


def _json_object(text: str) -> dict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


@dataclass(frozen=True)
class Settings:
    # Where the lake is and what runs it.
    env: str = _var("DATALAKE_ENV", default="local")
    compute: str = _var("DATALAKE_COMPUTE", default="local")
    root: str | None = _var("DATALAKE_ROOT")  # a folder, or s3:// gs:// abfss://; None: ./lake
    spark_master: str | None = _var("DATALAKE_SPARK_MASTER")
    spark_remote: str | None = _var("DATALAKE_SPARK_REMOTE")  # Spark Connect, sc://host:port
    spark_store: str = _var("DATALAKE_SPARK_STORE", default="mirror")  # "native": Spark has the ABFS driver
    sensor_interval_seconds: int = _var("DATALAKE_SENSOR_INTERVAL_SECONDS", default=30, parse=int)
    images_generated: int = _var("DATALAKE_IMAGES_GENERATED", default=1000, parse=int)
    # The SQL interface of the lake's tables.
    # The Iceberg catalog of the lake's tables (lake.iceberg): its kind (sql, glue, bigquery, rest;
    # by default the lake's cloud's own), its URI, its warehouse, and any other pyiceberg property.
    catalog: str | None = _var("DATALAKE_CATALOG")
    catalog_uri: str | None = _var("DATALAKE_CATALOG_URI")
    catalog_warehouse: str | None = _var("DATALAKE_CATALOG_WAREHOUSE")
    catalog_properties: dict | None = _var("DATALAKE_CATALOG_PROPERTIES", parse=_json_object)
    # Table maintenance (maintenance_assets): snapshots kept, orphan files' grace, what a small file is.
    snapshot_retention_days: int = _var("DATALAKE_SNAPSHOT_RETENTION_DAYS", default=7, parse=int)
    orphan_grace_hours: int = _var("DATALAKE_ORPHAN_GRACE_HOURS", default=72, parse=int)
    small_file_mb: int = _var("DATALAKE_SMALL_FILE_MB", default=32, parse=int)
    glue_catalog_id: str | None = _var("DATALAKE_GLUE_CATALOG_ID")
    # Remote compute (deployments/<cloud>/env.template says which a cloud needs).
    compute_overrides: dict = _var("DATALAKE_COMPUTE_OVERRIDES", default=None, parse=_json_object)
    emr_job_flow: dict | None = _var("DATALAKE_EMR_JOB_FLOW", parse=_json_object)
    emr_cluster_id: str | None = _var("DATALAKE_EMR_CLUSTER_ID")
    emr_serverless_app_id: str | None = _var("DATALAKE_EMR_SERVERLESS_APP_ID")
    emr_role_arn: str | None = _var("DATALAKE_EMR_ROLE_ARN")
    dataproc_region: str | None = _var("DATALAKE_DATAPROC_REGION")
    dataproc_cluster: str | None = _var("DATALAKE_DATAPROC_CLUSTER")
    dataproc_runtime: str = _var("DATALAKE_DATAPROC_RUNTIME", default="2.2")
    dataproc_image: str | None = _var("DATALAKE_DATAPROC_IMAGE")
    dataproc_service_account: str | None = _var("DATALAKE_DATAPROC_SERVICE_ACCOUNT")
    databricks_cluster: dict | None = _var("DATALAKE_DATABRICKS_CLUSTER", parse=_json_object)
    # Cloud SDK settings the lake passes on explicitly (emulators in tests).
    aws_endpoint_url: str | None = _var("AWS_ENDPOINT_URL")
    aws_region: str | None = _var("AWS_REGION", "AWS_DEFAULT_REGION")
    google_cloud_project: str | None = _var("GOOGLE_CLOUD_PROJECT")
    gcs_emulator: str | None = _var("STORAGE_EMULATOR_HOST")
    azure_connection_string: str | None = _var("AZURE_STORAGE_CONNECTION_STRING")
    azure_account_url: str | None = _var("AZURE_STORAGE_ACCOUNT_URL")
    azure_account_name: str | None = _var("AZURE_STORAGE_ACCOUNT_NAME")
    # This machine: caches and the Java Spark runs on.
    mirror_dir: Path = _var("DATALAKE_MIRROR_DIR", default=CACHE / "mirror", parse=Path)
    jars_dir: Path = _var("DATALAKE_JARS_DIR", default=CACHE / "jars", parse=Path)
    dist_dir: Path = _var("DATALAKE_DIST_DIR", default=CACHE / "dist", parse=Path)
    java_home: str | None = _var("JAVA_HOME")
    dagster_home: str | None = _var("DAGSTER_HOME")
    # The key of the keyed hashes (HMAC-SHA-256) of personal data; a lake in a folder makes its own.
    pii_key: str | None = _var("DATALAKE_PII_KEY", parse=_hex_key, secret=True)
    # Where the OpenLineage sensor sends its events (governance.openlineage): a catalog's URL (Marquez,
    # DataHub, OpenMetadata), its path there (OpenMetadata's is api/v1/openlineage/lineage) and API key,
    # the OpenLineage client's own names; no URL: a lake in a folder's own work/openlineage/events.jsonl.
    openlineage_url: str | None = _var("OPENLINEAGE_URL")
    openlineage_endpoint: str = _var("OPENLINEAGE_ENDPOINT", default="api/v1/lineage")
    openlineage_api_key: str | None = _var("OPENLINEAGE_API_KEY", secret=True)
    # The online store (serving): a Valkey/Redis URL (valkey://, valkeys:// with TLS, redis://, rediss://,
    # unix://); none: in `local`, the platform's own valkey-server on 127.0.0.1 (serving.local_store).
    # The prefix of its keys lets lakes share a store. API keys: required by `datalake serve` outside `local`.
    serving_url: str | None = _var("DATALAKE_SERVING_URL", secret=True)  # it may hold the store's password
    serving_prefix: str = _var("DATALAKE_SERVING_PREFIX", default="dl")
    serving_api_keys: tuple[str, ...] = _var("DATALAKE_SERVING_API_KEYS", default=(), parse=_api_keys, secret=True)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        values = {}
        for f in fields(cls):
            names, parse = f.metadata["env"], f.metadata["parse"]
            name, raw = next(((n, environ[n]) for n in names if environ.get(n)), (names[0], None))
            if raw is None:
                continue
            try:
                values[f.name] = parse(raw)
            except ValueError as error:
                shown = "<secret>" if f.metadata["secret"] else repr(raw[:80])
                raise SettingsError(f"{name}={shown} is not valid: {error}") from None
        settings = cls(**values)
        settings._validate()
        return settings

    def _validate(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"DATALAKE_ENV={self.env!r} is not available; choose one of {', '.join(ENVIRONMENTS)}.")
        if self.compute not in COMPUTES:
            raise SettingsError(f"DATALAKE_COMPUTE={self.compute!r}: choose one of {', '.join(COMPUTES)}.")

    def require(self, name: str) -> Any:
        """A field the chosen compute or catalog cannot do without; a clear error naming its variable."""
        value = getattr(self, name)
        if value in (None, ""):
            variable = next(f.metadata["env"][0] for f in fields(self) if f.name == name)
            raise SettingsError(f"DATALAKE_COMPUTE={self.compute} needs {variable}; see deployments/*/env.template.")
        return value

    @property
    def lake_root(self) -> str:
        return self.root or os.path.abspath("lake")


def current() -> Settings:
    """This process's settings as its environment says now (tests change it between cases)."""
    return Settings.from_environ(os.environ)


def export(**variables: str) -> None:
    """Set variables for this process and the ones it starts (the CLI's lake root and Dagster home)."""
    os.environ.update(variables)


def export_defaults(**variables: str) -> None:
    """Set variables the user has not set (Spark's bind address, the Python of its UDF workers)."""
    for name, value in variables.items():
        os.environ.setdefault(name, value)


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a process the platform starts: this one's, plus `extra`."""
    return {**os.environ, **extra}


def spark_process_defaults() -> None:
    """Spark binds to loopback unless told otherwise; its Python workers run this interpreter
    (the one the platform is installed in), not `python3` on PATH."""
    export_defaults(SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
