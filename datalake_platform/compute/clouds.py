"""The clouds' managed Spark as compute resources, each through its own dagster library's Pipes client:
EMR (dagster-aws PipesEMRClient; on an existing cluster a hand-written one, EMRClusterCompute), EMR Serverless (PipesEMRServerlessClient), Dataproc
(dagster-gcp PipesDataprocJobClient; Dataproc Serverless batches a hand-written one), Azure Databricks (dagster-databricks PipesDatabricksClient).

Each builds the job spec that runs compute.entrypoint with the content-named package zip (both in
the lake's store, see compute.package) and hands it to its client, which injects the Pipes context,
waits, reads messages from the lake's store (or DBFS), and cancels the job if the Dagster run is
cancelled (`forward_termination`). `job_spec` is what is submitted, kept apart so tests and
operators can read it. The cloud's own Spark has its store's connector and identity.
"""

import json
from typing import Any

import dagster as dg
from pydantic import Field

from datalake_platform.compute.remote import RemoteCompute, SparkSubmitCompute, StoreChannel, spark_submit_parameters
from datalake_platform.resources.lake import LakeResource
from datalake_platform.settings import Settings

# Settings the entrypoint's Spark needs on any cluster: the lake's conventions (see spark.session).
JOB_CONF = {"spark.sql.session.timeZone": "UTC", "spark.sql.sources.partitionOverwriteMode": "static"}


def _job_name(context: dg.AssetExecutionContext) -> str:
    return f"datalake-{context.asset_key.to_user_string().replace('/', '-')}-{context.run_id[:8]}"


class EMRServerlessCompute(RemoteCompute):
    """A job run on an EMR Serverless application; logs under the lake's work/_logs/emr-serverless."""

    application_id: str
    execution_role_arn: str
    spark_conf: dict[str, str] = Field(default_factory=dict)
    timeout_minutes: int = Field(
        default=180, description="EMR Serverless stops the job past this (executionTimeoutMinutes)."
    )
    poll_interval: float = 5.0

    def job_spec(self, name: str, artifacts: dict[str, str]) -> dict[str, Any]:
        return {
            "applicationId": self.application_id,
            "executionRoleArn": self.execution_role_arn,
            "name": name,
            "executionTimeoutMinutes": self.timeout_minutes,
            "jobDriver": {
                "sparkSubmit": {
                    "entryPoint": artifacts["entrypoint"],
                    "entryPointArguments": ["--pipes-store", "s3"],
                    "sparkSubmitParameters": spark_submit_parameters(artifacts, {**JOB_CONF, **self.spark_conf}),
                }
            },
            "configurationOverrides": {
                "monitoringConfiguration": {
                    "s3MonitoringConfiguration": {"logUri": self.lake.storage.uri("work/_logs/emr-serverless/")}
                }
            },
        }

    def submit(self, context, artifacts, extras):
        import boto3
        from dagster_aws.pipes import PipesEMRServerlessClient

        _, reader = StoreChannel(self.lake.root).injector_and_reader()  # the context goes in the driver's environment
        client = PipesEMRServerlessClient(
            client=boto3.client("emr-serverless"),
            message_reader=reader,
            forward_termination=True,
            poll_interval=self.poll_interval,
        )
        return client.run(
            context=context, start_job_run_params=self.job_spec(_job_name(context), artifacts), extras=extras
        )


class EMRCompute(RemoteCompute):
    """A step on an EMR cluster that PipesEMRClient starts for the step and that ends with it
    (`run_job_flow`): `cluster_spec` is the run_job_flow request without its Steps."""

    cluster_spec: dict[str, Any]
    spark_conf: dict[str, str] = Field(default_factory=dict)
    wait_for_logs_seconds: int = 10

    def job_spec(self, name: str, artifacts: dict[str, str]) -> dict[str, Any]:
        conf = [arg for k, v in {**JOB_CONF, **self.spark_conf}.items() for arg in ("--conf", f"{k}={v}")]
        spark_submit = [
            "spark-submit",
            "--deploy-mode",
            "cluster",
            "--py-files",
            artifacts["package"],
            *conf,
            artifacts["entrypoint"],
            "--pipes-store",
            "s3",
        ]
        spec = json.loads(json.dumps(self.cluster_spec))  # a copy the client may enrich
        spec.setdefault("Name", name)
        spec.setdefault("LogUri", self.lake.storage.uri("work/_logs/emr/"))
        spec.setdefault("Instances", {})["KeepJobFlowAliveWhenNoSteps"] = False  # the cluster ends with the step
        spec["Steps"] = [
            {
                "Name": name,
                "ActionOnFailure": "TERMINATE_CLUSTER",
                "HadoopJarStep": {"Jar": "command-runner.jar", "Args": spark_submit},
            }
        ]
        return spec

    def submit(self, context, artifacts, extras):
        import boto3
        from dagster_aws.pipes import PipesEMRClient

        _, reader = StoreChannel(self.lake.root).injector_and_reader()
        client = PipesEMRClient(
            client=boto3.client("emr"),
            message_reader=reader,
            forward_termination=True,
            wait_for_s3_logs_seconds=self.wait_for_logs_seconds,
        )
        return client.run(
            context=context, run_job_flow_params=self.job_spec(_job_name(context), artifacts), extras=extras
        )


class DataprocCompute(RemoteCompute):
    """A PySpark job on an existing Dataproc cluster. Dataproc jobs have no timeout of their own: the
    run's `dagster/max_runtime` tag cancels the run, and with it the job (forward_termination)."""

    project_id: str
    region: str
    cluster_name: str
    spark_conf: dict[str, str] = Field(default_factory=dict)

    def job_spec(self, name: str, artifacts: dict[str, str]) -> dict[str, Any]:
        from google.cloud import dataproc_v1

        job: dict[str, Any] = {
            "reference": {"job_id": name},
            "placement": {"cluster_name": self.cluster_name},
            "pyspark_job": {
                "main_python_file_uri": artifacts["entrypoint"],
                "python_file_uris": [artifacts["package"]],
                "args": ["--pipes-store", "gcs"],
                "properties": {**JOB_CONF, **self.spark_conf},
            },
            "labels": {"app": "datalake-platform"},
        }
        return {"project_id": self.project_id, "region": self.region, "job": dataproc_v1.Job(job)}

    poll_interval: float = 5.0

    def submit(self, context, artifacts, extras, client=None):
        from dagster_gcp.pipes import PipesDataprocJobClient
        from google.cloud import dataproc_v1

        _, reader = StoreChannel(self.lake.root).injector_and_reader()  # context goes in the job's arguments
        endpoint = {"api_endpoint": f"{self.region}-dataproc.googleapis.com:443"}
        pipes = PipesDataprocJobClient(
            message_reader=reader,
            client=client or dataproc_v1.JobControllerClient(client_options=endpoint),
            forward_termination=True,
            poll_interval=self.poll_interval,
        )
        return pipes.run(context=context, submit_job_params=self.job_spec(_job_name(context), artifacts), extras=extras)


# Batches Dataproc reports as ended; SUCCEEDED is the only success.
BATCH_ENDED = {"SUCCEEDED", "FAILED", "CANCELLED"}


class DataprocBatchFailed(Exception):
    """A Dataproc Serverless batch that ended other than SUCCEEDED, with what users need to find its logs."""


class DataprocServerlessCompute(RemoteCompute):
    """A Dataproc Serverless batch per step: no cluster to keep, Spark 3.5 (runtime 2.2) or 4.0 (3.0).

    Written by hand, a small Pipes client: dagster-gcp 0.29.27's PipesDataprocJobClient submits jobs
    to a running cluster only. The Pipes context rides in the batch's arguments, as with that client
    (the entrypoint reads them); messages come back through the lake's bucket. The runtime's Python
    libraries are the cluster requirements, baked into `container_image` (deployments/gcp/).
    """

    project_id: str
    region: str
    runtime_version: str = Field(
        default="2.2", description="2.2: Spark 3.5.x, Python 3.12; 3.0: Spark 4.0, Python 3.12."
    )
    container_image: str | None = Field(
        default=None, description="The runtime's custom image with the cluster requirements."
    )
    service_account: str | None = None
    subnetwork_uri: str | None = None
    spark_conf: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: int = Field(default=4 * 3600, description="Dataproc ends the batch past this (its ttl).")
    poll_interval: float = 10.0

    def batch_spec(self, name: str, artifacts: dict[str, str], pipes_args: list[str]) -> dict[str, Any]:
        runtime: dict[str, Any] = {"version": self.runtime_version, "properties": {**JOB_CONF, **self.spark_conf}}
        if self.container_image:
            runtime["container_image"] = self.container_image
        execution = {"ttl": {"seconds": self.timeout_seconds}}
        execution.update(
            {k: v for k, v in (("service_account", self.service_account), ("subnetwork_uri", self.subnetwork_uri)) if v}
        )
        return {
            "pyspark_batch": {
                "main_python_file_uri": artifacts["entrypoint"],
                "python_file_uris": [artifacts["package"]],
                "args": ["--pipes-store", "gcs", *pipes_args],
            },
            "runtime_config": runtime,
            "environment_config": {"execution_config": execution},
            "labels": {"app": "datalake-platform"},
        }

    def submit(self, context, artifacts, extras, client=None):
        from google.cloud import dataproc_v1

        endpoint = {"api_endpoint": f"{self.region}-dataproc.googleapis.com:443"}
        batches = client or dataproc_v1.BatchControllerClient(client_options=endpoint)
        injector, reader = StoreChannel(self.lake.root).injector_and_reader()
        with dg.open_pipes_session(
            context=context, context_injector=injector, message_reader=reader, extras=extras
        ) as session:
            pipes_args = [part for pair in session.get_bootstrap_cli_arguments().items() for part in pair]
            batch_id = _batch_id(_job_name(context))
            batches.create_batch(
                parent=f"projects/{self.project_id}/locations/{self.region}",
                batch=dataproc_v1.Batch(self.batch_spec(batch_id, artifacts, pipes_args)),
                batch_id=batch_id,
            )
            name = f"projects/{self.project_id}/locations/{self.region}/batches/{batch_id}"
            context.log.info(f"Dataproc Serverless batch {name} created")
            seen: list = []  # the batch as last polled: its operation is what a cancel names
            try:
                self._wait(batches, name, seen)
            except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
                context.log.warning(f"cancelling Dataproc Serverless batch {name}: the Dagster run was terminated")
                operation = seen[-1].operation if seen else batches.get_batch(name=name).operation
                batches.cancel_operation(request={"name": operation})
                raise
        return dg.PipesClientCompletedInvocation(session)

    def _wait(self, batches, name: str, seen: list) -> None:
        import time

        while True:
            batch = batches.get_batch(name=name)
            seen[:] = [batch]
            state = batch.state.name
            if state == "SUCCEEDED":
                return
            if state in BATCH_ENDED:
                raise DataprocBatchFailed(
                    f"Dataproc Serverless batch {name} ended {state}: {batch.state_message or 'no message'}"
                    f"; driver output: {batch.runtime_info.output_uri or 'see the batch in the console'}"
                )
            time.sleep(self.poll_interval)


def _batch_id(job_name: str) -> str:
    """A batch id Dataproc accepts: 4-63 of [a-z0-9-], starting with a letter, not ending in '-'."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in job_name.lower())
    return cleaned[:63].rstrip("-")


class DatabricksCompute(RemoteCompute):
    """A one-time run on a new job cluster of Azure Databricks; Pipes through the lake's container.

    `cluster_spec` is the job cluster (deployments/azure/databricks-job-cluster*.json, with a GPU
    variant the CNN's override points at); host and token come from DATABRICKS_HOST/DATABRICKS_TOKEN
    or the workspace's identity (databricks-sdk's own chain)."""

    cluster_spec: dict[str, Any]
    timeout_seconds: int = 3 * 3600
    poll_interval: float = 5.0

    def task(self, name: str, artifacts: dict[str, str]):
        from databricks.sdk.service import compute, jobs

        cluster = compute.ClusterSpec.from_dict(
            {**self.cluster_spec, "spark_conf": {**JOB_CONF, **self.cluster_spec.get("spark_conf", {})}}
        )
        return jobs.SubmitTask(
            task_key=name[:100],
            new_cluster=cluster,
            # A Python task has no --py-files: the entrypoint adds the package zip itself (--package).
            spark_python_task=jobs.SparkPythonTask(
                python_file=artifacts["entrypoint"],
                parameters=["--pipes-store", "azure", "--package", artifacts["package"]],
            ),
            timeout_seconds=self.timeout_seconds,
        )

    def submit(self, context, artifacts, extras, client=None):
        from dagster_databricks import PipesDatabricksClient
        from databricks.sdk import WorkspaceClient

        # Pipes through the lake's container (as on the other clouds), not DBFS: the cluster reaches it with
        # its identity (AZURE_STORAGE_ACCOUNT_URL in the spec's spark_env_vars; deployments/azure/).
        injector, reader = StoreChannel(self.lake.root).injector_and_reader()
        pipes = PipesDatabricksClient(
            client=client or WorkspaceClient(),
            context_injector=injector,
            message_reader=reader,
            forward_termination=True,
            poll_interval_seconds=self.poll_interval,
        )
        return pipes.run(
            context=context,
            task=self.task(_job_name(context), artifacts),
            extras=extras,
            submit_args={"run_name": _job_name(context), "timeout_seconds": self.timeout_seconds},
        )


# Steps EMR reports as ended; COMPLETED is the only success.
EMR_STEP_ENDED = {"COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"}


class EMRStepFailed(Exception):
    """An EMR step that ended other than COMPLETED, with what users need to find its logs."""


class EMRClusterCompute(RemoteCompute):
    """A step on an EMR cluster that is already running (`add_job_flow_steps`), left running after it.

    Written by hand, a small Pipes client: dagster-aws 0.29.27's PipesEMRClient only starts a new
    cluster per step (`run_job_flow`), and the only `add_job_flow_steps` caller in dagster-aws is
    the older step launcher (not Pipes). Cluster configurations cannot be changed on a running
    cluster, so the Pipes bootstrap variables ride on the step as the driver's YARN environment
    (`spark.yarn.appMasterEnv.*`, the driver is the application master in cluster mode); the context
    itself goes through the lake's S3 (the variable only says where), which keeps the step's args short.
    """

    cluster_id: str
    spark_conf: dict[str, str] = Field(default_factory=dict)
    poll_interval: float = 10.0
    timeout_seconds: float | None = Field(default=None, description="Cancel the step and fail past this; None: wait.")
    action_on_failure: str = Field(
        default="CONTINUE", description="CONTINUE keeps the shared cluster and its next steps going."
    )

    def step_spec(self, name: str, artifacts: dict[str, str], pipes_env: dict[str, str]) -> dict[str, Any]:
        conf = {**JOB_CONF, **self.spark_conf, **{f"spark.yarn.appMasterEnv.{k}": v for k, v in pipes_env.items()}}
        spark_submit = [
            "spark-submit",
            "--deploy-mode",
            "cluster",
            "--py-files",
            artifacts["package"],
            *(arg for k, v in conf.items() for arg in ("--conf", f"{k}={v}")),
            artifacts["entrypoint"],
            "--pipes-store",
            "s3",
        ]
        return {
            "Name": name,
            "ActionOnFailure": self.action_on_failure,
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": spark_submit},
        }

    def submit(self, context, artifacts, extras, client=None):
        import boto3

        emr = client or boto3.client("emr")
        injector, reader = StoreChannel(self.lake.root).injector_and_reader()
        with dg.open_pipes_session(
            context=context, context_injector=injector, message_reader=reader, extras=extras
        ) as session:
            step = self.step_spec(_job_name(context), artifacts, session.get_bootstrap_env_vars())
            [step_id] = emr.add_job_flow_steps(JobFlowId=self.cluster_id, Steps=[step])["StepIds"]
            context.log.info(f"EMR step {step_id} added to cluster {self.cluster_id}")
            try:
                self._wait(emr, step_id, context)
            except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
                self._cancel(emr, step_id, context, "the Dagster run was terminated")
                raise
        return dg.PipesClientCompletedInvocation(session)

    def _wait(self, emr, step_id: str, context) -> None:
        import time

        deadline = time.monotonic() + self.timeout_seconds if self.timeout_seconds is not None else None
        while True:
            step = emr.describe_step(ClusterId=self.cluster_id, StepId=step_id)["Step"]
            state = step["Status"]["State"]
            if state == "COMPLETED":
                return
            if state in EMR_STEP_ENDED:
                raise EMRStepFailed(self._failure(step_id, state, step["Status"]))
            if deadline is not None and time.monotonic() > deadline:
                self._cancel(emr, step_id, context, f"it ran past timeout_seconds={self.timeout_seconds}")
                raise EMRStepFailed(
                    f"EMR step {step_id} on cluster {self.cluster_id} cancelled: ran past {self.timeout_seconds} s"
                )
            time.sleep(self.poll_interval)

    def _failure(self, step_id: str, state: str, status: dict[str, Any]) -> str:
        details = status.get("FailureDetails") or {}
        return (
            f"EMR step {step_id} on cluster {self.cluster_id} ended {state}: {details.get('Reason', 'no reason given')}"
            f" ({details.get('Message', '')}); log: {details.get('LogFile', 'see the cluster LogUri, steps/' + step_id)}"
        )

    def _cancel(self, emr, step_id: str, context, why: str) -> None:
        context.log.warning(f"cancelling EMR step {step_id} on cluster {self.cluster_id}: {why}")
        emr.cancel_steps(ClusterId=self.cluster_id, StepIds=[step_id], StepCancellationOption="SEND_INTERRUPT")


def compute_for(settings: Settings, lake: LakeResource) -> RemoteCompute:
    """The compute `DATALAKE_COMPUTE` names, configured from the settings (deployments/<cloud>/env.template
    lists the variables each needs); a clear error names a variable that is missing."""
    compute = _compute_named(settings, lake)
    # e.g. {"smart/images/cnn_model": {"cluster_spec": <databricks-job-cluster-gpu.json>}}
    overrides = settings.compute_overrides or {}
    return compute.model_copy(update={"overrides": overrides}) if overrides else compute


def _compute_named(s: Settings, lake: LakeResource) -> RemoteCompute:
    name = s.compute
    if name == "spark-submit":
        return SparkSubmitCompute(lake=lake, master=s.spark_master or "local[2]")
    if name == "emr":
        return EMRCompute(lake=lake, cluster_spec=s.require("emr_job_flow"))
    if name == "emr-cluster":
        return EMRClusterCompute(lake=lake, cluster_id=s.require("emr_cluster_id"))
    if name == "emr-serverless":
        return EMRServerlessCompute(
            lake=lake, application_id=s.require("emr_serverless_app_id"), execution_role_arn=s.require("emr_role_arn")
        )
    if name == "dataproc":
        return DataprocCompute(
            lake=lake,
            project_id=s.require("google_cloud_project"),
            region=s.require("dataproc_region"),
            cluster_name=s.require("dataproc_cluster"),
        )
    if name == "dataproc-serverless":
        return DataprocServerlessCompute(
            lake=lake,
            project_id=s.require("google_cloud_project"),
            region=s.require("dataproc_region"),
            runtime_version=s.dataproc_runtime,
            container_image=s.dataproc_image,
            service_account=s.dataproc_service_account,
        )
    if name == "databricks":
        return DatabricksCompute(lake=lake, cluster_spec=s.require("databricks_cluster"))
    raise ValueError(f"DATALAKE_COMPUTE={name!r} is not a remote compute")
