"""Each deployment's Dagster instance config is valid for this Dagster, and names classes that exist."""

import importlib

import pytest
from dagster._core.instance.config import dagster_instance_config

from datalake_platform_tests.conftest import REPO

TARGETS = ["local", "aws", "gcp", "azure"]


@pytest.mark.parametrize("target", TARGETS)
def test_the_instance_config_validates_and_its_classes_import(target):
    config, _ = dagster_instance_config(str(REPO / "deployments" / target))
    for section in ("compute_logs", "run_coordinator", "run_launcher"):
        if section in config:
            module, name = config[section]["module"], config[section]["class"]
            assert hasattr(importlib.import_module(module), name), f"{target}: {module}.{name}"
    if target != "local":
        assert "postgres" in config["storage"]  # the cloud instance is shared: not SQLite on one pod


@pytest.mark.parametrize("target", TARGETS[1:])
def test_the_environment_template_names_the_lake_and_no_secret(target):
    template = (REPO / "deployments" / target / "env.template").read_text()
    values = dict(line.split("=", 1) for line in template.splitlines() if line and not line.startswith("#"))
    assert values["DATALAKE_ENV"] == target
    assert values["DATALAKE_ROOT"].startswith({"aws": "s3://", "gcp": "gs://", "azure": "abfss://"}[target])
    assert values["DAGSTER_PG_PASSWORD"].split("#")[0].strip() == ""  # secrets are injected, never written here


def test_the_cluster_requirements_are_generated_from_pyproject_and_never_name_spark():
    from datalake_platform.compute.requirements import render

    assert (REPO / "deployments" / "cluster" / "requirements.txt").read_text() == render()  # regenerate if this fails


def test_no_cluster_requirement_pulls_a_second_pyspark():
    """The dependency graph of the cluster requirements, as installed here (markers and extras
    followed), reaches neither pyspark nor py4j: the cluster's own stay the only ones."""
    from importlib import metadata

    from packaging.requirements import Requirement

    from datalake_platform.compute.requirements import cluster_requirements

    seen, todo = set(), [(Requirement(line), "") for line in cluster_requirements()]
    while todo:
        requirement, extra = todo.pop()
        name = requirement.name.lower().replace("_", "-")
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        assert name not in {"pyspark", "py4j"}, f"{name} is pulled in (last step: {requirement})"
        for wanted in [""] + sorted(requirement.extras):
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            todo += [(Requirement(r), wanted) for r in metadata.requires(name) or []]
    assert ("dagster", "") in seen and ("pandera", "") in seen


DEPLOYMENT_INSTALLS = {
    "aws/bootstrap-emr.sh": "python3.11 -m pip install -r",
    "aws/Dockerfile.emr-serverless": "COPY deployments/cluster/requirements.txt",
    "gcp/init-dataproc.sh": "pip install -r",
    "gcp/Dockerfile.dataproc-serverless": "COPY deployments/cluster/requirements.txt",
    "azure/init-databricks.sh": "pip install -r /Workspace/Shared/datalake/requirements.txt",
}


@pytest.mark.parametrize("path", sorted(DEPLOYMENT_INSTALLS))
def test_every_deployment_installs_the_cluster_requirements_and_nothing_of_spark(path):
    text = (REPO / "deployments" / path).read_text()
    assert DEPLOYMENT_INSTALLS[path] in text
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert installs and not any("pyspark" in line or "pandera[" in line for line in installs), installs


def test_emr_runs_spark_on_the_python_the_bootstrap_installs():
    import json

    flow = json.loads((REPO / "deployments" / "aws" / "emr-job-flow.json").read_text())
    conf = {c["Classification"]: c for c in flow["Configurations"]}
    assert conf["spark-defaults"]["Properties"]["spark.pyspark.python"] == "/usr/bin/python3.11"
    assert conf["spark-env"]["Configurations"][0]["Properties"]["PYSPARK_PYTHON"] == "/usr/bin/python3.11"
    [bootstrap] = flow["BootstrapActions"]
    assert bootstrap["ScriptBootstrapAction"]["Args"][0].endswith("/requirements.txt")
