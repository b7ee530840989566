"""The Spark conf each storage backend needs, and the connector jars local Spark lacks.

On a cloud's own Spark (EMR, Dataproc, Databricks) the store's connector is on the classpath
and credentials come from the cluster's identity: nothing here is needed. Local Spark needs
the connector jars (see spark.connectors) and, for an emulator, its endpoint.
"""

from __future__ import annotations

from datalake_platform.lake.object_store import GCSLakeStorage, S3LakeStorage
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.settings import current

# hadoop-aws 3.3.1 parses these as plain numbers; Hadoop 3.4+ (inside Spark 4) defaults them
# to duration strings such as "60s", which it cannot read.
_S3A_NUMERIC_DEFAULTS = {
    "fs.s3a.threads.keepalivetime": "60",
    "fs.s3a.connection.establish.timeout": "30000",
    "fs.s3a.connection.timeout": "200000",
    "fs.s3a.connection.ttl": "300000",
    "fs.s3a.multipart.purge.age": "86400",
    "fs.s3a.assumed.role.session.duration": "1800",
    "fs.s3a.retry.interval": "500",
    "fs.s3a.retry.throttle.interval": "100",
}


# gcs-connector 2.2 reads these as plain byte counts; Hadoop 3.4+ defaults some to "64m"-style sizes.
_GCS_NUMERIC_DEFAULTS = {
    "fs.gs.block.size": str(64 * 2**20),
    "fs.gs.rewrite.max.chunk.size": str(512 * 2**20),
    "fs.gs.outputstream.buffer.size": str(8 * 2**20),
    "fs.gs.inputstream.inplace.seek.limit": str(8 * 2**20),
    "fs.gs.inputstream.min.range.request.size": str(2 * 2**20),
}


def connector(storage: LakeStorage) -> str | None:
    """Which connector (spark.connectors) local Spark needs for this storage; None for a local lake."""
    if isinstance(storage, S3LakeStorage):
        return "s3"
    if isinstance(storage, GCSLakeStorage):
        return "gcs"
    return None


def hadoop_conf(storage: LakeStorage) -> dict[str, str]:
    """Hadoop filesystem settings for the store, set on the session (they apply to every read and write)."""
    if isinstance(storage, GCSLakeStorage):
        return _gcs_conf(storage)
    if not isinstance(storage, S3LakeStorage):
        return {}
    conf = {
        **_S3A_NUMERIC_DEFAULTS,
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        # The standard chain: environment variables, then the instance's or container's role.
        "fs.s3a.aws.credentials.provider": "com.amazonaws.auth.DefaultAWSCredentialsProviderChain",
    }
    region = current().aws_region
    if region:
        conf["fs.s3a.endpoint.region"] = region
    endpoint = storage.endpoint_url
    if endpoint:  # an S3-compatible endpoint (moto, MinIO): path-style addressing, TLS as the URL says
        conf.update(
            {
                "fs.s3a.endpoint": endpoint,
                "fs.s3a.path.style.access": "true",
                "fs.s3a.connection.ssl.enabled": str(endpoint.startswith("https")).lower(),
                "fs.s3a.change.detection.mode": "none",
            }
        )
    return conf


def _gcs_conf(storage: GCSLakeStorage) -> dict[str, str]:
    conf = {
        **_GCS_NUMERIC_DEFAULTS,
        "fs.gs.impl": "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem",
        "fs.AbstractFileSystem.gs.impl": "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFS",
    }
    if storage.emulator:  # fake-gcs-server: its URL, no credentials
        conf.update(
            {
                "fs.gs.storage.root.url": storage.emulator.rstrip("/") + "/",
                "fs.gs.project.id": current().google_cloud_project or "test",
                "fs.gs.auth.service.account.enable": "false",
                "fs.gs.auth.null.enable": "true",
            }
        )
    return conf
