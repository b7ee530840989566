"""Dataproc (jobs and Serverless batches) and Azure Databricks submissions, with their SDK clients
replaced at the client boundary only: none has an emulator. The Pipes clients (dagster-gcp's PipesDataprocJobClient,
dagster-databricks' PipesDatabricksClient), the uploads and the Pipes context and messages on the
lake's store (fake-gcs-server, Azurite) are real; only `JobControllerClient` and `WorkspaceClient`
(and `BatchControllerClient`) are stand-ins that record the submitted job and answer with its state. The tests assert the job
specs, the failure a remote error gives the step (with the cloud's job id), and that cancelling the
Dagster step cancels the cloud job.
"""

import types

import dagster as dg
import pytest
from databricks.sdk.service import jobs
from google.cloud.dataproc_v1 import Batch, Job, JobStatus, RuntimeInfo

from datalake_platform.compute.clouds import DatabricksCompute, DataprocCompute, DataprocServerlessCompute
from datalake_platform.compute.package import package_zip, upload_artifacts
from datalake_platform.compute.remote import pipes_extras
from datalake_platform.resources import LakeResource


def _submit(compute, client) -> dg.ExecuteInProcessResult:
    @dg.asset(key=["universal", "transactions", "purchases"])
    def probe(context: dg.AssetExecutionContext):
        compute.submit(
            context, upload_artifacts(compute.lake.storage), pipes_extras(context, compute.lake.root), client=client
        )
        return dg.MaterializeResult()  # nothing ran behind the stand-in to report one

    return dg.materialize([probe], raise_on_error=False)


def _error(result: dg.ExecuteInProcessResult) -> str:
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.error.to_string()


class FakeJobController:
    """google.cloud.dataproc_v1.JobControllerClient's three calls: records them, answers `states` in turn."""

    def __init__(self, *states: JobStatus.State, details: str = "", interrupt: bool = False):
        self.states, self.details, self.interrupt = list(states), details, interrupt
        self.submitted, self.cancelled = [], []

    def _job(self, state) -> Job:
        return Job(
            job_uuid="job-uuid-1",
            status=JobStatus(state=state, details=self.details),
            done=state in (JobStatus.State.DONE, JobStatus.State.ERROR, JobStatus.State.CANCELLED),
        )

    def submit_job(self, **params):
        self.submitted.append(params)
        return self._job(JobStatus.State.PENDING)

    def get_job(self, job_id, project_id, region):
        if self.interrupt:  # what Dagster raises in a step when its run is cancelled
            raise dg.DagsterExecutionInterruptedError()
        return self._job(self.states.pop(0))

    def cancel_job(self, job_id, project_id, region):
        self.cancelled.append((job_id, project_id, region))


@pytest.fixture
def dataproc(gcs_lake):
    return DataprocCompute(
        lake=LakeResource(root=gcs_lake.location),
        project_id="lake-prod",
        region="europe-west1",
        cluster_name="lake-spark",
        poll_interval=0.05,
    )


def test_a_dataproc_job_runs_the_entrypoint_with_the_package_and_pipes_arguments(dataproc, gcs_lake):
    client = FakeJobController(JobStatus.State.RUNNING, JobStatus.State.DONE)
    assert _submit(dataproc, client).success
    [params] = client.submitted
    build = package_zip().stem
    job = params["job"]
    assert params["project_id"] == "lake-prod" and params["region"] == "europe-west1"
    assert job.placement.cluster_name == "lake-spark"
    assert job.pyspark_job.main_python_file_uri == f"{gcs_lake.location}/work/_artifacts/{build}-entrypoint.py"
    assert list(job.pyspark_job.python_file_uris) == [f"{gcs_lake.location}/work/_artifacts/{build}.zip"]
    args = list(job.pyspark_job.args)
    assert args[:2] == ["--pipes-store", "gcs"]
    assert "--dagster-pipes-context" in args and "--dagster-pipes-messages" in args  # the client's injection
    assert (
        job.labels["app"] == "datalake-platform" and job.pyspark_job.properties["spark.sql.session.timeZone"] == "UTC"
    )


def test_a_failed_dataproc_job_fails_the_step_with_the_remote_error(dataproc):
    client = FakeJobController(
        JobStatus.State.ERROR, details="Job failed with message [OOM]. Driver output: gs://logs/job-uuid-1"
    )
    result = _submit(dataproc, client)
    assert not result.success
    assert "Job failed with message [OOM]" in _error(result) and "gs://logs/job-uuid-1" in _error(result)


def test_cancelling_the_step_cancels_the_dataproc_job(dataproc):
    client = FakeJobController(interrupt=True)
    result = _submit(dataproc, client)
    assert not result.success
    assert client.cancelled == [("job-uuid-1", "lake-prod", "europe-west1")]


class FakeBatchController:
    """google.cloud.dataproc_v1.BatchControllerClient's calls: records them, answers `states` in turn."""

    def __init__(self, *states: Batch.State, message: str = "", interrupt: bool = False):
        self.states, self.message, self.interrupt = list(states), message, interrupt
        self.created, self.cancelled = [], []

    def create_batch(self, parent, batch, batch_id):
        self.created.append({"parent": parent, "batch": batch, "batch_id": batch_id})

    def get_batch(self, name):
        if self.interrupt and not self.cancelled and len(self.states) == 0:
            raise dg.DagsterExecutionInterruptedError()  # what Dagster raises in a step when its run is cancelled
        state = self.states.pop(0) if self.states else Batch.State.RUNNING
        return Batch(
            name=name,
            state=state,
            state_message=self.message,
            operation=f"{name}/operations/op-1",
            runtime_info=RuntimeInfo(output_uri="gs://dataproc-logs/driveroutput"),
        )

    def cancel_operation(self, request):
        self.cancelled.append(request["name"])


@pytest.fixture
def dataproc_serverless(gcs_lake):
    return DataprocServerlessCompute(
        lake=LakeResource(root=gcs_lake.location),
        project_id="lake-prod",
        region="europe-west1",
        runtime_version="3.0",
        container_image="europe-docker.pkg.dev/lake-prod/spark/runtime:1",
        poll_interval=0.05,
    )


def test_a_dataproc_serverless_batch_runs_the_entrypoint_on_the_chosen_runtime(dataproc_serverless, gcs_lake):
    client = FakeBatchController(Batch.State.PENDING, Batch.State.RUNNING, Batch.State.SUCCEEDED)
    assert _submit(dataproc_serverless, client).success
    [created] = client.created
    build = package_zip().stem
    batch = created["batch"]
    assert created["parent"] == "projects/lake-prod/locations/europe-west1"
    assert (
        created["batch_id"].startswith("datalake-universal-transactions-purchases-") and len(created["batch_id"]) <= 63
    )
    assert set(created["batch_id"]) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert batch.pyspark_batch.main_python_file_uri == f"{gcs_lake.location}/work/_artifacts/{build}-entrypoint.py"
    assert list(batch.pyspark_batch.python_file_uris) == [f"{gcs_lake.location}/work/_artifacts/{build}.zip"]
    args = list(batch.pyspark_batch.args)
    assert args[:2] == ["--pipes-store", "gcs"]
    assert "--dagster-pipes-context" in args and "--dagster-pipes-messages" in args  # read by the entrypoint
    assert batch.runtime_config.version == "3.0" and batch.runtime_config.container_image.endswith("runtime:1")
    assert batch.runtime_config.properties["spark.sql.session.timeZone"] == "UTC"
    assert batch.environment_config.execution_config.ttl.seconds == 4 * 3600


def test_a_failed_dataproc_serverless_batch_fails_the_step_with_the_remote_error(dataproc_serverless):
    client = FakeBatchController(Batch.State.RUNNING, Batch.State.FAILED, message="Job failed with message [OOM]")
    result = _submit(dataproc_serverless, client)
    assert not result.success
    assert "ended FAILED: Job failed with message [OOM]" in _error(
        result
    ) and "gs://dataproc-logs/driveroutput" in _error(result)


def test_cancelling_the_step_cancels_the_dataproc_serverless_batch(dataproc_serverless):
    client = FakeBatchController(Batch.State.PENDING, interrupt=True)
    result = _submit(dataproc_serverless, client)
    assert not result.success
    [batch_id] = [c["batch_id"] for c in client.created]
    assert client.cancelled == [f"projects/lake-prod/locations/europe-west1/batches/{batch_id}/operations/op-1"]


class FakeWorkspace:
    """databricks.sdk.WorkspaceClient's jobs API as PipesDatabricksClient uses it."""

    def __init__(self, *states: tuple[str, str | None, str]):
        self.states, self.submitted, self.cancelled = list(states), [], []
        self.jobs = types.SimpleNamespace(submit=self._submit, get_run=self._get_run, cancel_run=self.cancelled.append)

    def _submit(self, **kwargs):
        self.submitted.append(kwargs)
        return types.SimpleNamespace(bind=lambda: {"run_id": 42})

    def _get_run(self, run_id):
        life, result, message = self.states[0] if len(self.states) == 1 else self.states.pop(0)
        state = jobs.RunState(
            life_cycle_state=jobs.RunLifeCycleState(life),
            result_state=jobs.RunResultState(result) if result else None,
            state_message=message,
        )
        return jobs.Run(
            run_id=run_id, state=state, run_page_url=f"https://adb-1.azuredatabricks.net/#job/runs/{run_id}"
        )


GPU_CLUSTER = {
    "spark_version": "15.4.x-gpu-ml-scala2.12",
    "node_type_id": "Standard_NC4as_T4_v3",
    "num_workers": 1,
    "spark_env_vars": {"AZURE_STORAGE_ACCOUNT_URL": "https://lake.blob.core.windows.net"},
}


@pytest.fixture
def databricks(azure_lake):
    cpu = {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "Standard_D4ds_v5",
        "num_workers": 2,
        "spark_env_vars": {"AZURE_STORAGE_ACCOUNT_URL": "https://lake.blob.core.windows.net"},
    }
    return DatabricksCompute(
        lake=LakeResource(root=azure_lake.location),
        cluster_spec=cpu,
        poll_interval=0.05,
        overrides={"smart/images/cnn_model": {"cluster_spec": GPU_CLUSTER}},
    )


def test_a_databricks_run_runs_the_entrypoint_on_a_new_job_cluster(databricks, azure_lake):
    client = FakeWorkspace(("RUNNING", None, ""), ("TERMINATED", "SUCCESS", ""))
    assert _submit(databricks, client).success
    [submitted] = client.submitted
    [task] = submitted["tasks"]
    build = package_zip().stem
    remote = getattr(azure_lake, "remote", azure_lake)
    assert task.spark_python_task.python_file == f"{remote.location}/work/_artifacts/{build}-entrypoint.py"
    assert task.spark_python_task.parameters == [
        "--pipes-store",
        "azure",
        "--package",
        f"{remote.location}/work/_artifacts/{build}.zip",
    ]
    env = task.new_cluster.spark_env_vars
    assert {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} <= set(env)  # merged in by PipesDatabricksClient
    assert env["AZURE_STORAGE_ACCOUNT_URL"] == "https://lake.blob.core.windows.net"
    assert (
        task.new_cluster.node_type_id == "Standard_D4ds_v5"
        and task.new_cluster.spark_conf["spark.sql.session.timeZone"] == "UTC"
    )
    assert submitted["timeout_seconds"] == 3 * 3600


def test_a_table_can_go_to_another_cluster(databricks):
    gpu = databricks.model_copy(update=databricks.overrides["smart/images/cnn_model"])
    task = gpu.task("cnn", {"entrypoint": "e.py", "package": "p.zip"})
    assert task.new_cluster.node_type_id == "Standard_NC4as_T4_v3" and "gpu" in task.new_cluster.spark_version


def test_a_failed_databricks_run_fails_the_step_with_the_remote_error(databricks):
    client = FakeWorkspace(("TERMINATED", "FAILED", "Task failed: ValueError: broken contract"))
    result = _submit(databricks, client)
    assert not result.success and "Task failed: ValueError: broken contract" in _error(result)
