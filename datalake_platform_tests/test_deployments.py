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
