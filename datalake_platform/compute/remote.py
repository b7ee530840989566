"""Spark steps sent to a cluster through Dagster Pipes: the asset's key goes to the one job
entrypoint (compute.entrypoint), which runs the asset's own code there and reports back.

A compute resource per way of submitting, each the cloud's own Pipes client from its dagster
library; they share what is sent (the content-named package zip and entrypoint in the lake's
`work/_artifacts`, see compute.package) and what travels back (Pipes context and messages in the
lake's own store). `overrides` lets one table use other settings (e.g. the CNN on a GPU cluster).
Cancelling the Dagster run cancels the cloud job (each client's `forward_termination`).
"""

import shlex
import signal
import subprocess
import sys
from abc import abstractmethod
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from datalake_platform.compat.dagster import step_key
from datalake_platform.compute.entrypoint import CHECKS, LAKE_ROOT, PARTITION_KEYS
from datalake_platform.compute.package import ENTRYPOINT, package_zip, upload_artifacts
from datalake_platform.lake.clouds import azure_blob_client, cloud_of, gcs_client, s3_client
from datalake_platform.metadata import with_partition_row_counts
from datalake_platform.resources.lake import LakeResource
from datalake_platform.settings import child_environment

TERMINATION_TIMEOUT_S = 20  # a cancelled spark-submit's time to stop (PipesSubprocessClient's default)
PIPES_STORES = {"aws": "s3", "gcp": "gcs", "azure": "azure"}  # the cloud of the lake -> the Pipes channel
PIPES_FOLDER = "work/_pipes"  # Pipes context and message chunks, under the lake's root


class StoreChannel:
    """Pipes context and messages through the lake's object store, with the cloud library's own
    injector and reader (S3: dagster-aws, GCS: dagster-gcp, Azure Blob: dagster-azure)."""

    def __init__(self, root: str):
        self.root = root
        _, _, rest = root.partition("://")
        self.bucket, _, self.prefix = rest.partition("/")

    @property
    def store(self) -> str:
        return PIPES_STORES[cloud_of(self.root)]

    def injector_and_reader(self, interval: float = 2) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
        key_prefix = f"{self.prefix}/{PIPES_FOLDER}/".lstrip("/")
        if self.store == "s3":
            from dagster_aws.pipes import PipesS3ContextInjector, PipesS3MessageReader

            client = s3_client()
            return (
                PipesS3ContextInjector(bucket=self.bucket, client=client, key_prefix=key_prefix),
                PipesS3MessageReader(bucket=self.bucket, client=client, interval=interval),
            )
        if self.store == "gcs":
            from dagster_gcp.pipes import PipesGCSContextInjector, PipesGCSMessageReader

            client = gcs_client()
            return (
                PipesGCSContextInjector(bucket=self.bucket, client=client, key_prefix=key_prefix),
                PipesGCSMessageReader(bucket=self.bucket, client=client, interval=interval),
            )
        from dagster_azure.pipes import PipesAzureBlobStorageContextInjector, PipesAzureBlobStorageMessageReader

        container = self.bucket.split("@", 1)[0]
        client = azure_blob_client()
        return (
            PipesAzureBlobStorageContextInjector(container=container, client=client),
            PipesAzureBlobStorageMessageReader(container=container, client=client, interval=interval),
        )


def pipes_extras(context: dg.AssetExecutionContext, lake_root: str) -> dict[str, Any]:
    """What the entrypoint needs besides Pipes' own context: where the lake is, the run's days, its checks."""
    return {
        LAKE_ROOT: lake_root,
        PARTITION_KEYS: list(context.partition_keys)
        if context.has_partition_key_range or context.has_partition_key
        else [],
        CHECKS: sorted(k.name for k in context.selected_asset_check_keys),
    }


class RemoteCompute(dg.ConfigurableResource):
    """Where a Spark step runs when it is not in the run's process: submit, wait, report."""

    lake: LakeResource
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per asset key (a/b/c): settings that replace this compute's for that table."
    )

    def run(self, context: dg.AssetExecutionContext):
        """The job's results; if it fails, what it reported (a failed check) and then its own error."""
        key = context.asset_key.to_user_string()
        settings = self.model_copy(update=self.overrides.get(key, {})) if key in self.overrides else self
        artifacts = upload_artifacts(self.lake.storage)
        try:
            invocation = settings.submit(context, artifacts, pipes_extras(context, self.lake.root))
        except Exception as error:  # the client's "failed with code 1": the reason is the job's own exception
            yield from getattr(error, "reported", [])
            remote = remote_error(context)
            if remote is None:
                raise
            raise dg.Failure(description=f"{key}: the remote job failed ({error}): {remote}") from error
        yield from invocation.get_results()

    @abstractmethod
    def submit(
        self, context, artifacts: dict[str, str], extras: dict[str, Any]
    ) -> dg.PipesClientCompletedInvocation: ...


class SparkSubmitCompute(RemoteCompute):
    """`spark-submit` on this machine against any master (local[N], spark://, yarn), Pipes through
    the lake's store: the same path as a cloud job, runnable anywhere."""

    master: str = "local[2]"
    spark_submit: str = Field(default="", description="spark-submit to run; default: pyspark's own.")
    spark_conf: dict[str, str] = Field(default_factory=dict)
    jars: list[str] = Field(default_factory=list, description="e.g. the store's connector jars (spark.connectors).")

    def submit(self, context, artifacts, extras):
        """dagster's PipesSubprocessClient.run, but a failed job's reported results are kept (the
        client drops them with its "failed with code N"): a failed contract check is reported."""
        channel = StoreChannel(self.lake.root)
        injector, reader = channel.injector_and_reader()
        env = {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
        with dg.open_pipes_session(
            context=context, context_injector=injector, message_reader=reader, extras=extras
        ) as session:
            process = subprocess.Popen(
                self.command(channel.store), env=child_environment({**env, **session.get_bootstrap_env_vars()})
            )
            try:
                process.wait()
            except dg.DagsterExecutionInterruptedError:  # the run was cancelled: cancel the job (forward_termination)
                context.log.info("[pipes] execution interrupted, sending SIGINT to spark-submit.")
                process.send_signal(signal.SIGINT)
                process.wait(timeout=TERMINATION_TIMEOUT_S)
                raise
        if process.returncode != 0:
            raise RemoteJobFailed(
                f"spark-submit exited with code {process.returncode}",
                session.get_results(implicit_materializations=False),
            )
        return dg.PipesClientCompletedInvocation(session)

    def command(self, store: str) -> list[str]:
        import pyspark

        spark_submit = self.spark_submit or str(Path(pyspark.__file__).parent / "bin" / "spark-submit")
        conf = [arg for k, v in self.spark_conf.items() for arg in ("--conf", f"{k}={v}")]
        jars = ["--jars", ",".join(self.jars)] if self.jars else []
        # The local zip and entrypoint: the same content-named build upload_artifacts put in the lake.
        return [
            spark_submit,
            "--master",
            self.master,
            "--py-files",
            str(package_zip()),
            *jars,
            *conf,
            str(ENTRYPOINT),
            "--pipes-store",
            store,
        ]


class RemoteJobFailed(Exception):
    """A job that ended in failure, with what it reported through Pipes before it did."""

    def __init__(self, message: str, reported):
        super().__init__(message)
        self.reported = list(reported)


def remote_error(context: dg.AssetExecutionContext) -> str | None:
    """The exception the job's Pipes context closed with (the entrypoint's error, e.g. a broken
    contract), as the message handler logged it for this step; None if the job sent none."""
    records = context.instance.all_logs(context.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    step = step_key(context)
    errors = [
        r.dagster_event.engine_event_data.error
        for r in records
        if r.step_key == step
        and r.dagster_event.engine_event_data
        and r.dagster_event.engine_event_data.error
        and "pipes closed with exception" in (r.dagster_event.message or "")
    ]
    if not errors:
        return None
    error = errors[-1]
    return f"{error.cls_name}: {error.message.strip()}"


def spark_submit_parameters(artifacts: dict[str, str], spark_conf: dict[str, str]) -> str:
    """`--py-files` and `--conf` as one string, the form EMR Serverless takes."""
    return " ".join(
        ["--py-files", artifacts["package"], *(f"--conf {shlex.quote(f'{k}={v}')}" for k, v in spark_conf.items())]
    )


def on_remote_compute(asset: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The same asset (keys, partitions, checks, deps, metadata) whose step runs on the `compute` resource."""

    @dg.multi_asset(
        name=asset.op.name,
        specs=list(asset.specs),
        check_specs=list(asset.check_specs),
        partitions_def=asset.partitions_def,
        backfill_policy=asset.backfill_policy,
        can_subset=False,
    )
    def _remote(context: dg.AssetExecutionContext, compute: RemoteCompute):
        for result in compute.run(context):
            yield with_partition_row_counts(context, result)

    return _remote
