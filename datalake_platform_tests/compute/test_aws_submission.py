"""EMR and EMR Serverless submissions against moto's EMR and EMR Serverless APIs (on 127.0.0.1).

moto records and answers the calls but runs no Spark: these tests prove what is submitted (the
entrypoint and package uploaded to the lake's bucket, the Pipes context in the job's environment,
the messages' bucket) and that the clients follow the job to its end; the entrypoint itself runs
under a real spark-submit in test_pipes_spark_submit.py.
"""

import gzip
import threading
import time

import boto3
import dagster as dg
import pytest
from dagster_pipes import decode_param

from datalake_platform.compute.clouds import EMRClusterCompute, EMRCompute, EMRServerlessCompute, EMRStepFailed
from datalake_platform.compute.package import package_zip, upload_artifacts
from datalake_platform.compute.remote import RemoteCompute, pipes_extras
from datalake_platform.resources import LakeResource


def _submit_from_an_asset(compute: RemoteCompute):
    """Submit as a Spark asset's step would, from a real Dagster step context."""

    @dg.asset(key=["universal", "transactions", "purchases"])
    def probe(context: dg.AssetExecutionContext):
        compute.submit(context, upload_artifacts(compute.lake.storage), pipes_extras(context, compute.lake.root))
        return dg.MaterializeResult()  # nothing ran on moto to report one

    return dg.materialize([probe], raise_on_error=True)


def _play_the_emr_cluster(s3_lake, timeout: float = 60) -> None:
    """What EMR does and moto does not: once the step is submitted, write its logs where EMR puts them
    (LogUri/<cluster>/steps/<step>/, .../containers/) and end the cluster, which the spec asks to end with its step."""
    emr, s3 = boto3.client("emr"), boto3.client("s3")
    deadline = time.time() + timeout
    while time.time() < deadline and not emr.list_clusters()["Clusters"]:
        time.sleep(0.2)
    [cluster] = emr.list_clusters()["Clusters"]
    [step] = emr.list_steps(ClusterId=cluster["Id"])["Steps"]
    bucket, prefix = s3_lake.root.split("/", 3)[2:]
    logs = f"{prefix}/work/_logs/emr/{cluster['Id']}"
    # PipesEMRClient forwards the step's logs and the YARN containers' (it fails if there are none).
    for key in [
        f"{logs}/steps/{step['Id']}/stdout.gz",
        f"{logs}/steps/{step['Id']}/stderr.gz",
        f"{logs}/containers/application_1_0001/container_1_0001_01_000001/stdout.gz",
    ]:
        stream = key.rsplit("/", 1)[1].split(".")[0]
        s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(f"{stream} of the step\n".encode()))
    emr.terminate_job_flows(JobFlowIds=[cluster["Id"]])


def _uploaded(s3_lake) -> dict[str, bytes]:
    bucket = s3_lake.root.split("/")[2]
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="lake/work/_artifacts/")["Contents"]
    return {o["Key"].rsplit("/", 1)[1]: o["Size"] for o in listed}


def test_an_emr_serverless_job_runs_the_entrypoint_with_the_package_and_the_pipes_context(s3_lake):
    emr = boto3.client("emr-serverless")
    app = emr.create_application(name="lake", releaseLabel="emr-7.5.0", type="SPARK")["applicationId"]
    compute = EMRServerlessCompute(
        lake=LakeResource(root=s3_lake.location),
        application_id=app,
        execution_role_arn="arn:aws:iam::123456789012:role/lake-jobs",
        poll_interval=0.1,
    )
    result = _submit_from_an_asset(compute)
    assert result.success

    [run] = emr.list_job_runs(applicationId=app)["jobRuns"]
    job = emr.get_job_run(applicationId=app, jobRunId=run["id"])["jobRun"]
    build = package_zip().stem
    driver = job["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"] == f"{s3_lake.location}/work/_artifacts/{build}-entrypoint.py"
    assert driver["entryPointArguments"] == ["--pipes-store", "s3"]
    params = driver["sparkSubmitParameters"]
    assert f"--py-files {s3_lake.location}/work/_artifacts/{build}.zip" in params
    assert "spark.emr-serverless.driverEnv.DAGSTER_PIPES_CONTEXT=" in params  # injected by PipesEMRServerlessClient
    assert "spark.emr-serverless.driverEnv.DAGSTER_PIPES_MESSAGES=" in params
    assert job["executionTimeoutMinutes"] == 180
    assert job["tags"]["dagster/run-id"] == result.run_id
    assert set(_uploaded(s3_lake)) == {f"{build}.zip", f"{build}-entrypoint.py"}


def test_an_emr_step_runs_the_entrypoint_on_a_cluster_that_ends_with_it(s3_lake):
    spec = {
        "ReleaseLabel": "emr-7.5.0",
        "Applications": [{"Name": "Spark"}],
        "JobFlowRole": "EMR_EC2_DefaultRole",
        "ServiceRole": "EMR_DefaultRole",
        "Instances": {"MasterInstanceType": "m7g.xlarge", "InstanceCount": 1},
    }
    compute = EMRCompute(lake=LakeResource(root=s3_lake.location), cluster_spec=spec, wait_for_logs_seconds=0)
    cluster_part = threading.Thread(target=_play_the_emr_cluster, args=(s3_lake,), daemon=True)
    cluster_part.start()
    result = _submit_from_an_asset(compute)  # PipesEMRClient's waiter polls every 30 s: this test takes that long
    cluster_part.join(timeout=60)
    assert result.success

    emr = boto3.client("emr")
    [cluster] = emr.list_clusters()["Clusters"]
    described = emr.describe_cluster(ClusterId=cluster["Id"])["Cluster"]
    assert described["Status"]["State"] == "TERMINATED"  # PipesEMRClient followed it to its end
    assert described["LogUri"] == f"{s3_lake.location}/work/_logs/emr/"
    assert {"Key": "dagster/run-id", "Value": result.run_id} in described["Tags"]
    env = next(c for c in described["Configurations"] if c["Classification"] == "spark-env")
    exported = next(c for c in env["Configurations"] if c["Classification"] == "export")["Properties"]
    assert {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} <= set(exported)  # the context rides in the environment
    [step] = emr.list_steps(ClusterId=cluster["Id"])["Steps"]
    args = step["Config"]["Args"]
    build = package_zip().stem
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    assert args[args.index("--py-files") + 1] == f"{s3_lake.location}/work/_artifacts/{build}.zip"
    assert args[-3:] == [f"{s3_lake.location}/work/_artifacts/{build}-entrypoint.py", "--pipes-store", "s3"]
    assert step["ActionOnFailure"] == "TERMINATE_CLUSTER"


# The running cluster's tests use a region of their own on the moto server: its clusters stay up
# (that is the point) and must not show in the region the run_job_flow test lists.
CLUSTER_REGION = "eu-west-3"


class _EMRAtItsBoundary:
    """moto's EMR client, with what moto cannot do played here: moto leaves a step RUNNING for ever
    (no API moves it) and has no cancel_steps. `describe_step` answers moto's own step with the state
    (and failure details) scripted per call; `cancel_steps` is recorded. Everything else is moto's."""

    def __init__(self, states: list[dict | BaseException] | None = None):
        self.moto = boto3.client("emr", region_name=CLUSTER_REGION)
        self.states, self.cancelled = list(states or []), []

    def __getattr__(self, name):
        return getattr(self.moto, name)

    def describe_step(self, **kwargs):
        answer = self.moto.describe_step(**kwargs)
        scripted = self.states.pop(0) if self.states else None
        if isinstance(scripted, BaseException):
            raise scripted
        answer["Step"]["Status"].update(scripted or {})
        return answer

    def cancel_steps(self, **kwargs):
        self.cancelled.append(kwargs)
        return {"CancelStepsInfoList": [{"StepId": s, "Status": "SUBMITTED"} for s in kwargs["StepIds"]]}


def _running_cluster(emr) -> str:
    return emr.run_job_flow(
        Name="shared-lake-cluster",
        ReleaseLabel="emr-7.5.0",
        Applications=[{"Name": "Spark"}],
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Instances={"MasterInstanceType": "m7g.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]


def _submit_on_the_cluster(compute: EMRClusterCompute, emr: _EMRAtItsBoundary, **materialize):
    @dg.asset(key=["universal", "transactions", "purchases"])
    def probe(context: dg.AssetExecutionContext):
        compute.submit(
            context, upload_artifacts(compute.lake.storage), pipes_extras(context, compute.lake.root), client=emr
        )
        return dg.MaterializeResult()

    return dg.materialize([probe], **materialize)


def test_an_emr_step_runs_the_entrypoint_on_a_running_cluster_that_stays_up(s3_lake):
    emr = _EMRAtItsBoundary(states=[{}, {"State": "COMPLETED"}])  # moto's RUNNING, then the cluster's part
    cluster_id = _running_cluster(emr)
    compute = EMRClusterCompute(lake=LakeResource(root=s3_lake.location), cluster_id=cluster_id, poll_interval=0.05)
    assert _submit_on_the_cluster(compute, emr).success

    [step] = emr.list_steps(ClusterId=cluster_id)["Steps"]
    args = step["Config"]["Args"]
    build = package_zip().stem
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    assert args[args.index("--py-files") + 1] == f"{s3_lake.location}/work/_artifacts/{build}.zip"
    assert args[-3:] == [f"{s3_lake.location}/work/_artifacts/{build}-entrypoint.py", "--pipes-store", "s3"]
    assert set(_uploaded(s3_lake)) == {f"{build}.zip", f"{build}-entrypoint.py"}
    conf = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--conf")
    bucket = s3_lake.root.split("/")[2]
    # The Pipes bootstrap in the driver's environment: the context and the messages in the lake's bucket.
    assert decode_param(conf["spark.yarn.appMasterEnv.DAGSTER_PIPES_CONTEXT"])["bucket"] == bucket
    assert decode_param(conf["spark.yarn.appMasterEnv.DAGSTER_PIPES_MESSAGES"])["bucket"] == bucket
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert step["ActionOnFailure"] == "CONTINUE"
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] in {"RUNNING", "WAITING"}
    assert emr.cancelled == []


def test_a_failed_emr_step_fails_with_its_failure_details_and_ids(s3_lake):
    failed = {
        "State": "FAILED",
        "FailureDetails": {
            "Reason": "Unknown Error",
            "Message": "Exception in thread main",
            "LogFile": "s3://logs/j-X/steps/s-X/stderr.gz",
        },
    }
    emr = _EMRAtItsBoundary(states=[{}, failed])
    cluster_id = _running_cluster(emr)
    compute = EMRClusterCompute(lake=LakeResource(root=s3_lake.location), cluster_id=cluster_id, poll_interval=0.05)
    with pytest.raises(EMRStepFailed) as failure:
        _submit_on_the_cluster(compute, emr)
    [step] = emr.list_steps(ClusterId=cluster_id)["Steps"]
    for shown in [
        step["Id"],
        cluster_id,
        "FAILED",
        "Unknown Error",
        "Exception in thread main",
        "s3://logs/j-X/steps/s-X/stderr.gz",
    ]:
        assert shown in str(failure.value)
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] in {"RUNNING", "WAITING"}


def test_an_emr_step_past_its_timeout_is_cancelled(s3_lake):
    emr = _EMRAtItsBoundary()  # moto's own answer: RUNNING for ever
    cluster_id = _running_cluster(emr)
    compute = EMRClusterCompute(
        lake=LakeResource(root=s3_lake.location), cluster_id=cluster_id, poll_interval=0.05, timeout_seconds=0.3
    )
    with pytest.raises(EMRStepFailed, match="ran past 0.3 s"):
        _submit_on_the_cluster(compute, emr)
    [step] = emr.list_steps(ClusterId=cluster_id)["Steps"]
    assert emr.cancelled == [
        {"ClusterId": cluster_id, "StepIds": [step["Id"]], "StepCancellationOption": "SEND_INTERRUPT"}
    ]


def test_terminating_the_run_cancels_the_emr_step(s3_lake):
    # Dagster delivers a run's termination to the step as DagsterExecutionInterruptedError, here during a poll.
    emr = _EMRAtItsBoundary(states=[{}, dg.DagsterExecutionInterruptedError()])
    cluster_id = _running_cluster(emr)
    compute = EMRClusterCompute(lake=LakeResource(root=s3_lake.location), cluster_id=cluster_id, poll_interval=0.05)
    result = _submit_on_the_cluster(compute, emr, raise_on_error=False)
    assert not result.success
    [step] = emr.list_steps(ClusterId=cluster_id)["Steps"]
    assert emr.cancelled == [
        {"ClusterId": cluster_id, "StepIds": [step["Id"]], "StepCancellationOption": "SEND_INTERRUPT"}
    ]


def test_emr_cluster_is_chosen_by_name_with_the_cluster_id_from_the_environment(s3_lake, monkeypatch):
    from datalake_platform.compute.clouds import compute_for
    from datalake_platform.settings import current

    monkeypatch.setenv("DATALAKE_COMPUTE", "emr-cluster")
    monkeypatch.setenv("DATALAKE_EMR_CLUSTER_ID", "j-EXISTING")
    compute = compute_for(current(), LakeResource(root=s3_lake.location))
    assert isinstance(compute, EMRClusterCompute) and compute.cluster_id == "j-EXISTING"
