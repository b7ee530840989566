"""EMR and EMR Serverless submissions against moto's EMR and EMR Serverless APIs (on 127.0.0.1).

moto records and answers the calls but runs no Spark: these tests prove what is submitted (the
entrypoint and package uploaded to the lake's bucket, the Pipes context in the job's environment,
the messages' bucket) and that the clients follow the job to its end; the entrypoint itself runs
under a real spark-submit in test_pipes_spark_submit.py.
"""

import boto3
import dagster as dg

from datalake_platform.compute.clouds import EMRCompute, EMRServerlessCompute
from datalake_platform.compute.package import package_zip
from datalake_platform.compute.remote import RemoteCompute, pipes_extras
from datalake_platform.compute.package import upload_artifacts
from datalake_platform.resources import LakeResource


def _submit_from_an_asset(compute: RemoteCompute):
    """Submit as a Spark asset's step would, from a real Dagster step context."""

    @dg.asset(key=["universal", "transactions", "purchases"])
    def probe(context: dg.AssetExecutionContext):
        compute.submit(context, upload_artifacts(compute.lake.storage), pipes_extras(context, compute.lake.root))
        return dg.MaterializeResult()  # nothing ran on moto to report one

    return dg.materialize([probe], raise_on_error=True)


def _uploaded(s3_lake) -> dict[str, bytes]:
    bucket = s3_lake.root.split("/")[2]
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="lake/work/_artifacts/")["Contents"]
    return {o["Key"].rsplit("/", 1)[1]: o["Size"] for o in listed}


def test_an_emr_serverless_job_runs_the_entrypoint_with_the_package_and_the_pipes_context(s3_lake):
    emr = boto3.client("emr-serverless")
    app = emr.create_application(name="lake", releaseLabel="emr-7.5.0", type="SPARK")["applicationId"]
    compute = EMRServerlessCompute(lake=LakeResource(root=s3_lake.location), application_id=app,
                                   execution_role_arn="arn:aws:iam::123456789012:role/lake-jobs", poll_interval=0.1)
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
