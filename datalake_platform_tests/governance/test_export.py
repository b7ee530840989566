"""`datalake governance export` and the OpenLineage sensor on a real lake and Dagster instance.

The passengers domain (its real Titanic file) is materialized by the platform's assets into a Dagster
instance on disk, `universal/passengers/passengers` twice; the CLI exports it. DataHub's own CLI checks
the file and loads it into DataHub Lite (DuckDB), read back through Lite's API; the OpenLineage lines are
rebuilt with the library's classes; the sensor sends the same events to a file and to an HTTP server.
"""

from __future__ import annotations

import csv
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import dagster as dg
import pytest
from datahub.lite.lite_util import get_datahub_lite
from datahub.metadata import schema_classes as dh
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset, parent_run
from openlineage.client.serde import Serde

from datalake_platform import registry
from datalake_platform.cli import main
from datalake_platform.domains.passengers.seed import SAMPLE, seed
from datalake_platform.governance.export import owner_urn
from datalake_platform.governance.openlineage import EVENTS_FILE, openlineage_sensor
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.settings import Settings
from datalake_platform_tests.conftest import materialize

BIN = Path(sys.executable).parent
PASSENGERS = "urn:li:dataset:(urn:li:dataPlatform:iceberg,universal_passengers.passengers,PROD)"
LANDING = "urn:li:dataset:(urn:li:dataPlatform:iceberg,landing_passengers.passengers,PROD)"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, spark):
    """The lake, its instance's home, the Dagster materializations (the truth) and the exported files."""
    tmp = tmp_path_factory.mktemp("export")
    storage = LocalLakeStorage(str(tmp / "lake"))
    seed(storage)
    home = tmp / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        results = [
            materialize(storage, "*smart/passengers/features", instance=instance),
            materialize(storage, "universal/passengers/passengers", instance=instance),
        ]
    assert all(r.success for r in results)
    materialized = sorted(
        (r.run_id, e.asset_key.to_user_string(), e.partition)
        for r in results
        for e in r.get_asset_materialization_events()
    )
    files = {"datahub": tmp / "datahub.json", "openlineage": tmp / "openlineage.jsonl"}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATALAKE_ROOT", storage.root)
        env.setenv("DAGSTER_HOME", str(home))
        argv = ["governance", "export", "--datahub", str(files["datahub"]), "--openlineage", str(files["openlineage"])]
        assert main(argv) == 0
    return storage, home, materialized, files


def datahub(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """DataHub's CLI, its home (~/.datahub) in the test's folder and no telemetry."""
    env = {**os.environ, "HOME": str(cwd), "DATAHUB_TELEMETRY_ENABLED": "false"}
    return subprocess.run([BIN / "datahub", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_datahub_accepts_the_file_and_refuses_a_broken_one(exported, tmp_path):
    _, _, _, files = exported
    ok = datahub("check", "metadata-file", str(files["datahub"]), cwd=tmp_path)
    assert ok.returncode == 0 and "all valid" in ok.stdout, ok.stdout + ok.stderr
    # The same check on a copy whose owner has a type DataHub does not know: the check has teeth.
    proposals = json.loads(files["datahub"].read_text())
    [ownership] = [p for p in proposals if p["entityUrn"] == PASSENGERS and p["aspectName"] == "ownership"]
    ownership["aspect"]["json"]["owners"][0]["type"] = "NOT_AN_OWNERSHIP_TYPE"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(proposals))
    assert datahub("check", "metadata-file", str(broken), cwd=tmp_path).returncode != 0


@pytest.fixture(scope="module")
def lite(exported, tmp_path_factory):
    """The file ingested into DataHub Lite (DuckDB) by `datahub ingest`, opened with Lite's API."""
    _, _, _, files = exported
    folder = tmp_path_factory.mktemp("lite")
    recipe = {
        "source": {"type": "file", "config": {"path": str(files["datahub"])}},
        "sink": {"type": "datahub-lite", "config": {"type": "duckdb", "config": {"file": str(folder / "lite.duckdb")}}},
    }
    (folder / "recipe.yml").write_text(json.dumps(recipe))  # YAML is a superset of JSON
    out = datahub("ingest", "-c", str(folder / "recipe.yml"), cwd=folder)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    catalog = get_datahub_lite(config_dict={"type": "duckdb", "config": {"file": str(folder / "lite.duckdb")}})
    yield catalog
    catalog.close()


def test_datahub_lite_reads_back_owners_pii_tags_classification_and_column_lineage(lite):
    passengers = lite.get(PASSENGERS, aspects=None, typed=True)
    assert [(o.owner, o.type) for o in passengers["ownership"].owners] == [("urn:li:corpGroup:passengers", "DATAOWNER")]
    properties = passengers["datasetProperties"]
    assert properties.qualifiedName == "universal_passengers.passengers"
    assert properties.customProperties["classification"] == "confidential"
    assert properties.customProperties["readers"] == "role:data-scientist, role:analyst"
    assert properties.customProperties["retention"] == "kept"
    tags = {
        f.fieldPath: sorted(t.tag for t in f.globalTags.tags)
        for f in passengers["schemaMetadata"].fields
        if f.globalTags
    }
    assert tags == {
        "NameHash": ["urn:li:tag:pii:keyed_hash", "urn:li:tag:pii_category:person_name"],
        "NameMasked": ["urn:li:tag:pii:masked", "urn:li:tag:pii_category:person_name"],
        "TicketHash": ["urn:li:tag:pii:keyed_hash", "urn:li:tag:pii_category:document_number"],
    }
    lineage = passengers["upstreamLineage"]
    assert [u.dataset for u in lineage.upstreams] == [LANDING]
    by_column = {tuple(f.downstreams): f for f in lineage.fineGrainedLineages}
    name_hash = by_column[(f"urn:li:schemaField:({PASSENGERS},NameHash)",)]
    assert name_hash.upstreams == [f"urn:li:schemaField:({LANDING},Name)"]
    assert name_hash.transformOperation == "keyed_hash"
    # Landing has no contract: its schema names the columns its spec and its readers' lineage cite,
    # with the raw personal data tagged.
    landing = lite.get(LANDING, aspects=None, typed=True)
    landing_tags = {
        f.fieldPath: [t.tag for t in f.globalTags.tags] for f in landing["schemaMetadata"].fields if f.globalTags
    }
    assert landing_tags["Name"] == ["urn:li:tag:pii:raw", "urn:li:tag:pii_category:person_name"]
    assert landing["datasetProperties"].customProperties["classification"] == "restricted"
    # Every governed table is a dataset of the catalog.
    governed = {
        f"{g.table.zone}_{g.table.domain}.{g.table.table}" for d in registry.all_domains() for g in d.governance
    }
    datasets = {urn.split(",")[1] for urn in lite.list_ids() if urn.startswith("urn:li:dataset:")}
    assert datasets == governed


def test_checks_are_assertions_with_their_latest_results(lite):
    assertions = [lite.get(u, aspects=None, typed=True) for u in lite.list_ids() if u.startswith("urn:li:assertion:")]
    on_passengers = {
        a["assertionInfo"].customProperties["dagster_check"]: a
        for a in assertions
        if a["assertionInfo"].customAssertion.entity == PASSENGERS
    }
    assert set(on_passengers) == {
        "universal/passengers/passengers:contract",
        "universal/passengers/passengers:nothing_lost",
        "universal/passengers/passengers:pii_protected",
    }
    run = on_passengers["universal/passengers/passengers:nothing_lost"]["assertionRunEvent"]
    assert isinstance(run, dh.AssertionRunEventClass) and run.result.type == "SUCCESS"
    with SAMPLE.open(newline="", encoding="utf-8") as f:
        titanic_rows = sum(1 for _ in csv.DictReader(f))
    assert run.result.nativeResults["landing_rows"] == str(titanic_rows) == "891"
    # A table no run has checked yet has its assertions, with no result.
    predictions = [a for a in assertions if "survival_predictions" in a["assertionInfo"].customAssertion.entity]
    assert predictions and all("assertionRunEvent" not in a for a in predictions)


def parse(line: str) -> RunEvent:
    """An event rebuilt with the library's classes (unknown or missing fields raise, and so do a run id
    that is not a UUID and a time that is not ISO 8601), with its column lineage, if any."""
    event = json.loads(line)

    def plain(data: dict) -> dict:
        return {k: v for k, v in data.items() if not k.startswith("_")}

    def lineage(facet: dict) -> column_lineage_dataset.ColumnLineageDatasetFacet:
        fields = {
            column: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        **{
                            **f,
                            "transformations": [
                                column_lineage_dataset.Transformation(**t) for t in f["transformations"]
                            ],
                        }
                    )
                    for f in spec["inputFields"]
                ]
            )
            for column, spec in facet["fields"].items()
        }
        return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields, dataset=facet["dataset"])

    parent = event["run"]["facets"]["parent"]
    [output] = event["outputs"]
    facets = (
        {"columnLineage": lineage(output["facets"]["columnLineage"])} if "columnLineage" in output["facets"] else {}
    )
    rebuilt = RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=Run(
            runId=event["run"]["runId"],
            facets={
                "parent": parent_run.ParentRunFacet(
                    run=parent_run.Run(**plain(parent["run"])), job=parent_run.Job(**plain(parent["job"]))
                )
            },
        ),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"]),
        inputs=[InputDataset(namespace=i["namespace"], name=i["name"]) for i in event["inputs"]],
        outputs=[OutputDataset(namespace=output["namespace"], name=output["name"], facets=facets)],
        producer=event["producer"],
    )
    assert rebuilt.schemaURL == event["schemaURL"]  # a RunEvent of the spec the library writes
    return rebuilt


def test_openlineage_has_one_complete_event_per_materialization_with_column_lineage(exported):
    storage, _, materialized, files = exported
    lines = files["openlineage"].read_text().splitlines()
    events = [parse(line) for line in lines]
    assert all(e.eventType == RunState.COMPLETE for e in events)
    # One per materialization: the Dagster run (the parent), the table (the job) and the partition
    # (a run tag; the passengers tables have none).
    partitions = [
        {t["key"]: t["value"] for t in json.loads(line)["run"]["facets"]["tags"]["tags"]}.get("dagster/partition")
        for line in lines
    ]
    assert sorted((e.run.facets["parent"].run.runId, e.job.name, p) for e, p in zip(events, partitions)) == materialized
    assert [m[1] for m in materialized].count("universal/passengers/passengers") == 2
    assert len({e.run.runId for e in events}) == len(events)  # each materialization a run of its own
    namespace = Path(storage.root).resolve().as_uri()
    passengers = [e for e in events if e.job.name == "universal/passengers/passengers"]
    for event in passengers:
        [output] = event.outputs
        assert (output.namespace, output.name) == (namespace, "universal_passengers.passengers")
        assert [(i.namespace, i.name) for i in event.inputs] == [(namespace, "landing_passengers.passengers")]
        [source] = output.facets["columnLineage"].fields["NameHash"].inputFields
        assert (source.namespace, source.name, source.field) == (namespace, "landing_passengers.passengers", "Name")
        assert source.transformations[0].masking is True and source.transformations[0].description == "keyed_hash"
    # The rebuilt lineage serializes back to the line's own: the file is the library's serialization.
    line = json.loads(lines[[e.job.name for e in events].index("universal/passengers/passengers")])
    facet = passengers[0].outputs[0].facets["columnLineage"]
    assert Serde.to_dict(facet) == line["outputs"][0]["facets"]["columnLineage"]
    # The other facets a catalog shows: schema with PII tags, owner, check results, rows.
    facets = line["outputs"][0]["facets"]
    assert {f["name"] for f in facets["schema"]["fields"]} >= {"PassengerId", "NameHash", "TicketHash"}
    assert {"key": "pii", "value": "keyed_hash", "field": "NameHash", "source": "datalake_platform"} in facets["tags"][
        "tags"
    ]
    assert facets["ownership"]["owners"] == [{"name": "team:passengers", "type": "DATAOWNER"}]
    assert {a["assertion"]: a["success"] for a in facets["dataQualityAssertions"]["assertions"]} == {
        "contract": True,
        "nothing_lost": True,
        "pii_protected": True,
    }
    assert line["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 891


class Collector(http.server.BaseHTTPRequestHandler):
    """An OpenLineage endpoint: every POST's path, authorization and JSON body."""

    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_sensor_sends_each_new_materialization_once(exported, tmp_path):
    storage, home, materialized, files = exported
    sensor = openlineage_sensor(Settings(root=storage.root))
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    with dg.DagsterInstance.local_temp(str(home)) as instance:  # the instance the runs were recorded in
        first = sensor(dg.build_sensor_context(instance=instance))
        events_file = Path(storage.root) / EVENTS_FILE
        sent = events_file.read_text().splitlines()
        # The same events as the export: their run ids are stable.
        assert sorted(json.loads(line)["run"]["runId"] for line in sent) == sorted(
            json.loads(line)["run"]["runId"] for line in files["openlineage"].read_text().splitlines()
        )
        assert len(sent) == len(materialized)
        again = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert isinstance(again, dg.SkipReason) and events_file.read_text().splitlines() == sent

        # With OPENLINEAGE_URL: over HTTP to its endpoint (OpenMetadata's here), the API key a bearer token.
        server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_port}"
            remote = openlineage_sensor(
                Settings(
                    root=storage.root,
                    openlineage_url=url,
                    openlineage_endpoint="api/v1/openlineage/lineage",
                    openlineage_api_key="k3y",
                )
            )
            remote(dg.build_sensor_context(instance=instance))
        finally:
            server.shutdown()
        assert {(path, auth) for path, auth, _ in Collector.received} == {("/api/v1/openlineage/lineage", "Bearer k3y")}
        assert sorted(body["run"]["runId"] for _, _, body in Collector.received) == sorted(
            json.loads(line)["run"]["runId"] for line in sent
        )
        assert events_file.read_text().splitlines() == sent  # nothing more in the lake's file

        # A lake on a bucket has no events file to append to: without a URL, the sensor says so.
        bucket = openlineage_sensor(Settings(env="aws", root="s3://bucket/lake"))
        assert "OPENLINEAGE_URL" in str(bucket(dg.build_sensor_context(instance=instance)).skip_message)


def test_owners_are_datahub_groups_or_users():
    assert owner_urn("team:passengers") == "urn:li:corpGroup:passengers"
    assert owner_urn("ana@example.com") == "urn:li:corpuser:ana@example.com"


def test_the_export_needs_something_to_write(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["governance", "export"]) == 2
