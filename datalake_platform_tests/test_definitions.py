"""The wiring, without Spark: the definitions of every environment x compute, the registry, the
settings, and the import graph. Fast: nothing here starts Spark or touches a store."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from datalake_platform import registry
from datalake_platform.definitions import build, runs_remotely
from datalake_platform.settings import COMPUTES, ENVIRONMENTS, Settings, SettingsError

PACKAGE = Path(__file__).resolve().parent.parent / "datalake_platform"
SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")
ROOTS = {
    "local": "/tmp/lake",
    "aws": "s3://bucket/lake",
    "gcp": "gs://bucket/lake",
    "azure": "abfss://c@acct.dfs.core.windows.net/lake",
}
# What each remote compute cannot do without (deployments/<cloud>/env.template).
COMPUTE_SETTINGS = {
    "emr": {"emr_job_flow": {"Name": "lake"}},
    "emr-cluster": {"emr_cluster_id": "j-1"},
    "emr-serverless": {"emr_serverless_app_id": "app", "emr_role_arn": "arn:aws:iam::1:role/r"},
    "dataproc": {"google_cloud_project": "p", "dataproc_region": "europe-west1", "dataproc_cluster": "c"},
    "dataproc-serverless": {"google_cloud_project": "p", "dataproc_region": "europe-west1"},
    "databricks": {"databricks_cluster": {"spark_version": "15.4.x-scala2.12"}},
}


def _shape(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for asset in defs.assets:
        for spec in getattr(asset, "specs", [asset]):  # an AssetSpec is its own spec
            assets[spec.key.to_user_string()] = {
                "kinds": sorted(spec.kinds),
                "group": spec.group_name,
                "owners": list(spec.owners),
                "partitioned": graph.get(spec.key).partitions_def is not None,
            }
    checks = sorted(k.to_user_string() for k in graph.asset_check_keys)
    sensors = sorted(s.name for s in defs.sensors)
    jobs = sorted(j.name for j in defs.jobs)
    remote = sorted(
        spec.key.to_user_string()
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and "compute" in a.required_resource_keys
        for spec in a.specs
    )
    return {
        "assets": dict(sorted(assets.items())),
        "checks": checks,
        "sensors": sensors,
        "jobs": jobs,
        "remote_steps": remote,
    }


def _combinations():
    for env in ENVIRONMENTS:
        for compute in COMPUTES:
            yield Settings(env=env, compute=compute, root=ROOTS[env], **COMPUTE_SETTINGS.get(compute, {}))


def test_every_environment_and_compute_loads_the_same_tables_and_checks():
    shapes = {(s.env, s.compute): _shape(build(s)) for s in _combinations()}
    local = shapes[("local", "local")]
    expected_remote = sorted(
        spec.key.to_user_string()
        for d in registry.all_domains()
        for a in d.assets
        if runs_remotely(a)
        for spec in a.specs
    )
    for (env, compute), shape in shapes.items():
        assert {k: v for k, v in shape.items() if k != "remote_steps"} == {
            k: v for k, v in local.items() if k != "remote_steps"
        }, (env, compute)
        assert shape["remote_steps"] == ([] if compute in ("local", "cluster") else expected_remote), (env, compute)
    snapshot = {**local, "remote_steps": expected_remote}
    if os.environ.get("DATALAKE_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    assert snapshot == json.loads(SNAPSHOT.read_text()), (
        "the definitions changed: review the difference, then rerun with DATALAKE_UPDATE_SNAPSHOT=1 to accept it"
    )


def test_every_registered_domain_is_loaded_with_its_owners():
    defs = build(Settings())
    keys = {spec.key for a in defs.assets for spec in getattr(a, "specs", [a])}
    for domain in registry.all_domains():
        assert domain.assets, domain.name
        for asset in domain.assets:
            for spec in getattr(asset, "specs", [asset]):
                assert spec.key in keys and spec.key.path[1] == domain.name, spec.key
                assert list(spec.owners) == domain.owners, spec.key
    assert [t.ref.domain for t in registry.landing_tables()] == ["transactions"]


def test_a_root_on_another_store_than_the_environment_is_refused_with_the_variable_named():
    with pytest.raises(SettingsError, match=r"DATALAKE_ENV=aws needs DATALAKE_ROOT to be s3://"):
        build(Settings(env="aws", root="gs://bucket/lake"))


def test_settings_are_parsed_once_with_errors_that_name_the_variable():
    settings = Settings.from_environ(
        {
            "DATALAKE_ENV": "gcp",
            "DATALAKE_ROOT": "gs://b/l",
            "DATALAKE_SENSOR_INTERVAL_SECONDS": "5",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert (settings.env, settings.root, settings.sensor_interval_seconds, settings.aws_region) == (
        "gcp",
        "gs://b/l",
        5,
        "eu-west-1",
    )
    assert Settings.from_environ({}) == Settings()
    with pytest.raises(SettingsError, match="DATALAKE_SENSOR_INTERVAL_SECONDS='soon' is not valid"):
        Settings.from_environ({"DATALAKE_SENSOR_INTERVAL_SECONDS": "soon"})
    with pytest.raises(SettingsError, match="DATALAKE_EMR_JOB_FLOW=.* is not valid"):
        Settings.from_environ({"DATALAKE_EMR_JOB_FLOW": "[1, 2]"})
    with pytest.raises(SettingsError, match="DATALAKE_ENV='mars'"):
        Settings.from_environ({"DATALAKE_ENV": "mars"})
    with pytest.raises(SettingsError, match="DATALAKE_COMPUTE=emr-cluster needs DATALAKE_EMR_CLUSTER_ID"):
        build(Settings(env="aws", compute="emr-cluster", root="s3://b/l"))


def test_the_sensor_interval_comes_from_the_settings():
    defs = build(Settings(sensor_interval_seconds=7))
    assert {s.name: s.minimum_interval_seconds for s in defs.sensors} == {
        "landing_transactions_purchases_files": 7,
        "lake_automation": 7,
        "openlineage_events": 7,
    }


def test_importing_the_package_and_its_domains_reads_nothing_and_builds_nothing():
    code = (
        "import os, sys\n"
        "class Watched(dict):\n"
        "    def get(self, k, d=None):\n"
        "        if k.startswith('DATALAKE_'): raise SystemExit(f'read {k} at import')\n"
        "        return super().get(k, d)\n"
        "    def __getitem__(self, k):\n"
        "        if k.startswith('DATALAKE_'): raise SystemExit(f'read {k} at import')\n"
        "        return super().__getitem__(k)\n"
        "os.environ = Watched(os.environ)\n"
        "import datalake_platform, datalake_platform.definitions, datalake_platform.registry as r\n"
        "r.all_domains()\n"
        "assert not any(m.startswith('pyspark.sql.session') and False for m in sys.modules)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stdout + out.stderr


def _imports(path: Path) -> set[str]:
    """Every datalake_platform module `path` imports, at the top or inside a function."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("datalake_platform") and m != module}


def _graph() -> dict[str, set[str]]:
    modules = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in PACKAGE.rglob("*.py")
    }
    return {m: {i for i in _imports(p) if i in modules} for m, p in modules.items()}


def test_no_import_cycles_not_even_through_imports_inside_functions():
    graph, state, cycles = _graph(), {}, []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_lake_layer_imports_neither_spark_nor_dagster():
    for path in (PACKAGE / "lake").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {n for n in names if n.split(".")[0] in ("pyspark", "dagster")}, path.name


def test_private_apis_of_dagster_and_pyspark_only_in_the_compat_room():
    private = ("._jdf", "._jvm", "._jsparkSession", "._jsc", "dagster._core", "_step_execution_context", "dagster._")
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "compat" not in p.parts and any(s in p.read_text() for s in private)
    ]
    assert not offenders


def test_the_environment_is_read_only_by_the_settings_module():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "settings.py" and ("os.environ" in p.read_text() or "os.getenv" in p.read_text())
    ]
    assert not offenders
