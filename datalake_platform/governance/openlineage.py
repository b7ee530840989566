"""The lake's materializations as OpenLineage run events, for Marquez, DataHub and OpenMetadata.

One COMPLETE `RunEvent` per materialization of a governed table, read from the Dagster instance.
Its output dataset carries the table's schema, column lineage (its governance spec's), owner, tags
(classification, each PII column's treatment), the results of the checks its run evaluated, its
Iceberg snapshot and rows; its run is a child of the Dagster run (`parent` facet) and is named after
the materialization's storage id, so that the same materialization always gives the same event and
a catalog that receives it twice keeps one.

`datalake governance export --openlineage FILE` writes them all, one JSON event a line;
`openlineage_sensor` sends the new ones as they come: to `OPENLINEAGE_URL` over HTTP, or, on a lake in
a folder with no URL, into the lake's `work/openlineage/events.jsonl`. The readers of the specs and
the instance here are shared with the DataHub export (`governance.export`): both catalogs see one view.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import dagster as dg
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    job_type_job,
    nominal_time_run,
    output_statistics_output_dataset,
    ownership_dataset,
    ownership_job,
    parent_run,
    schema_dataset,
    tags_dataset,
    tags_run,
)
from openlineage.client.serde import Serde
from openlineage.client.transport import Transport
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import HttpConfig, HttpTransport

from datalake_platform import registry
from datalake_platform.compat.dagster import latest_check_evaluation
from datalake_platform.governance.spec import TableGovernance, Treatment
from datalake_platform.lake.iceberg import identifier
from datalake_platform.lake.table_refs import ServiceArea, TableRef
from datalake_platform.settings import Settings

JOB_NAMESPACE = "datalake_platform"  # the code location: each asset is a job of it
PII_TAGS = ("pii", "pii_category")  # the column tags `metadata.column_schema` gives personal data
EVENTS_PER_TICK = 500  # a sensor's first tick on a long history sends it in slices, oldest first
EVENTS_FILE = f"{ServiceArea.WORK}/openlineage/events.jsonl"
SOURCE = "datalake_platform"  # who set the tags: the governance specs
PAGE = 1000
MASKING = (Treatment.KEYED_HASH, Treatment.MASKED)  # the treatments whose output no longer shows its source


# What the specs and the instance say, as both exports read it.


def dataset_name(ref: TableRef) -> str:
    """What engines call the table: its Iceberg identifier, `{zone}_{domain}.{table}`."""
    return ".".join(identifier(ref))


def asset_key(ref: TableRef) -> dg.AssetKey:
    return dg.AssetKey(ref.key_path)


def lake_namespace(root: str) -> str:
    """The datasets' namespace: where the lake's warehouse is, as a URI (s3://bucket/lake, file:///...)."""
    return root if "://" in root else Path(root).resolve().as_uri()


def cited_columns(tables: Iterable[TableGovernance]) -> dict[TableRef, set[str]]:
    """Per table, the columns other tables' lineage names as their sources."""
    cited: dict[TableRef, set[str]] = defaultdict(set)
    for governance in tables:
        for sources in governance.lineage.values():
            for source in sources:
                cited[source.table].add(source.column)
    return cited


def columns(governance: TableGovernance, cited: Iterable[str] = ()) -> list[dg.TableColumn]:
    """The table's columns: its contract's (pandera model, PII tagged). A table with no contract
    (landing: files as they arrived) lists only the columns its spec and its readers' lineage name,
    type unknown: enough for catalogs to tag raw personal data and draw lineage from it."""
    from datalake_platform.metadata import column_schema  # pandera and Spark: only when a table has a model

    if governance.model is not None:
        return list(column_schema(governance.model, governance.pii).columns)
    names = sorted(set(governance.pii) | set(cited))
    return [dg.TableColumn(n, "unknown", tags=governance.pii[n].tags if n in governance.pii else {}) for n in names]


def check_specs() -> dict[dg.AssetKey, list[dg.AssetCheckSpec]]:
    """Every check of the lake by the table it checks, as the definitions have them: the assets' own
    (contracts), the domains' and the governance's (`pii_protected`)."""
    from datalake_platform.governance.checks import pii_checks  # Spark: only when checks are read

    specs: dict[dg.AssetKey, dict[str, dg.AssetCheckSpec]] = defaultdict(dict)
    for domain in registry.all_domains():
        for definition in [*domain.assets, *domain.checks, *pii_checks(domain.governance)]:
            for spec in getattr(definition, "check_specs", ()):  # an AssetSpec has none
                specs[spec.asset_key][spec.name] = spec
    return {key: list(by_name.values()) for key, by_name in specs.items()}


def latest_evaluations(
    instance: dg.DagsterInstance, specs: Iterable[dg.AssetCheckSpec]
) -> dict[dg.AssetCheckKey, dg.EventLogEntry]:
    """The event of each check's latest evaluation (a planned or never-run check has none)."""
    events = {spec.key: latest_check_evaluation(instance, spec.key) for spec in specs}
    return {key: event for key, event in events.items() if event is not None}


def materializations(
    instance: dg.DagsterInstance, tables: Iterable[TableGovernance], after: int | None = None, limit: int | None = None
) -> list[dg.EventLogRecord]:
    """The governed tables' materialization records after storage id `after`, oldest first, at most
    `limit`: each table's first `limit` are enough to know the first `limit` of all."""
    records = [r for g in tables for r in _records(instance, asset_key(g.table), after, limit)]
    records.sort(key=lambda r: r.storage_id)
    return records[:limit] if limit else records


def _records(instance: dg.DagsterInstance, key: dg.AssetKey, after: int | None, limit: int | None) -> list:
    found, cursor = [], None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=PAGE, cursor=cursor, ascending=True
        )
        found += page.records
        if not page.has_more or (limit and len(found) >= limit):
            return found
        cursor = page.cursor


# The events.


def run_events(
    instance: dg.DagsterInstance,
    records: Iterable[dg.EventLogRecord],
    tables: Iterable[TableGovernance],
    namespace: str,
) -> Iterator[RunEvent]:
    """One COMPLETE event per materialization record of a governed table."""
    tables = list(tables)
    by_key = {asset_key(g.table): g for g in tables}
    cited = cited_columns(tables)

    @functools.cache  # one read of a run's check results for all the days it materialized
    def checks_of(run_id: str) -> dict[dg.AssetKey, list[dg.AssetCheckEvaluation]]:
        found = defaultdict(list)
        for r in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
            evaluation = r.event_log_entry.asset_check_evaluation
            found[evaluation.asset_key].append(evaluation)
        return found

    for record in records:
        governance = by_key[record.asset_key]
        checks = checks_of(record.run_id).get(record.asset_key, [])
        yield run_event(record, governance, cited.get(governance.table, set()), checks, namespace)


def run_event(
    record: dg.EventLogRecord,
    governance: TableGovernance,
    cited: Iterable[str],
    checks: list[dg.AssetCheckEvaluation],
    namespace: str,
) -> RunEvent:
    entry = record.event_log_entry
    materialization = entry.asset_materialization
    sources = sorted({s.table for ss in governance.lineage.values() for s in ss}, key=str)
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=dt.datetime.fromtimestamp(record.timestamp, dt.UTC).isoformat(),
        run=Run(runId=event_run_id(record), facets=run_facets(entry, materialization.partition)),
        job=Job(
            namespace=JOB_NAMESPACE, name=asset_key(governance.table).to_user_string(), facets=job_facets(governance)
        ),
        inputs=[InputDataset(namespace=namespace, name=dataset_name(t)) for t in sources],
        outputs=[output_dataset(governance, materialization.metadata, cited, checks, namespace)],
    )


def event_run_id(record: dg.EventLogRecord) -> str:
    """A UUID per materialization, the same on every export (a Dagster run materializes many tables
    and days: its own id names the parent run)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dagster:{record.run_id}:{record.storage_id}"))


def run_facets(entry: dg.EventLogEntry, partition: str | None) -> dict:
    facets: dict = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=entry.run_id), job=parent_run.Job(namespace=JOB_NAMESPACE, name=entry.job_name)
        ),
        "tags": tags_run.TagsRunFacet(
            tags=[
                tags_run.TagsRunFacetFields(key="dagster/run_id", value=entry.run_id, source="DAGSTER"),
                *([tags_run.TagsRunFacetFields("dagster/partition", partition, "DAGSTER")] if partition else []),
            ]
        ),
    }
    day = _day(partition)
    if day is not None:  # the lake's partitions are days: the run's data interval
        start = dt.datetime.combine(day, dt.time(), dt.UTC)
        facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=start.isoformat(), nominalEndTime=(start + dt.timedelta(days=1)).isoformat()
        )
    return facets


def _day(partition: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(partition) if partition else None
    except ValueError:
        return None


def job_facets(governance: TableGovernance) -> dict:
    return {
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="DAGSTER", jobType="ASSET"),
        "ownership": ownership_job.OwnershipJobFacet(owners=[ownership_job.Owner(governance.owner, "DATAOWNER")]),
    }


def output_dataset(
    governance: TableGovernance,
    metadata: Mapping[str, dg.MetadataValue],
    cited: Iterable[str],
    checks: list[dg.AssetCheckEvaluation],
    namespace: str,
) -> OutputDataset:
    """The table as this materialization left it: the schema it reported (else its contract's)."""
    reported = metadata.get("dagster/column_schema")
    table_columns = list(reported.value.columns) if reported is not None else columns(governance, cited)
    facets: dict = {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(c.name, c.type, c.description) for c in table_columns]
        ),
        "ownership": ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(governance.owner, "DATAOWNER")]
        ),
        "tags": tags_dataset.TagsDatasetFacet(tags=dataset_tags(governance, table_columns)),
    }
    if governance.lineage:
        facets["columnLineage"] = column_lineage(governance, namespace)
    if checks:
        # OpenLineage defines assertions as an input facet (a test reads the table); here the run that
        # wrote the table checked it, so they describe its output.
        facets["dataQualityAssertions"] = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
            assertions=[
                data_quality_assertions_dataset.Assertion(
                    assertion=c.check_name, success=c.passed, severity=str(c.severity.value).lower(), name=c.check_name
                )
                for c in checks
            ]
        )
    if "iceberg/snapshot_id" in metadata:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(metadata["iceberg/snapshot_id"].value)
        )
    rows = metadata.get("dagster/partition_row_count") or metadata.get("dagster/row_count")
    statistics = {}
    if rows is not None:
        statistics["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=int(rows.value)
        )
    return OutputDataset(
        namespace=namespace, name=dataset_name(governance.table), facets=facets, outputFacets=statistics
    )


def dataset_tags(governance: TableGovernance, table_columns: Iterable[dg.TableColumn]) -> list:
    tags = [tags_dataset.TagsDatasetFacetFields("classification", str(governance.classification), SOURCE)]
    for column in table_columns:
        tags += [
            tags_dataset.TagsDatasetFacetFields(key, value, SOURCE, column.name)
            for key, value in sorted(column.tags.items())
            if key in PII_TAGS
        ]
    return tags


def column_lineage(governance: TableGovernance, namespace: str) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Each column's sources; a hashed or masked PII column's transformation says it masks its source."""

    def transformations(column: str) -> list:
        pii = governance.pii.get(column)
        if pii is None or pii.treatment not in MASKING:
            return []
        return [column_lineage_dataset.Transformation("DIRECT", "TRANSFORMATION", str(pii.treatment), masking=True)]

    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            column: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace, dataset_name(s.table), s.column, transformations(column)
                    )
                    for s in sources
                ]
            )
            for column, sources in governance.lineage.items()
        }
    )


def write_events(path: str | Path, events: Iterable[RunEvent]) -> int:
    """The events as JSON lines (the library's serializer, as its file transport writes them)."""
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for event in events:
            out.write(Serde.to_json(event) + "\n")
            count += 1
    return count


def export_events(path: str | Path, instance: dg.DagsterInstance, namespace: str) -> int:
    tables = registry.governed_tables()
    return write_events(path, run_events(instance, materializations(instance, tables), tables, namespace))


# Live: the sensor.


def transport_for(settings: Settings) -> tuple[Transport, str] | None:
    """Where the events go and its name: the catalog at OPENLINEAGE_URL, else a lake in a folder's own
    file; a lake on a bucket has no file to append to (objects are written whole): None."""
    if settings.openlineage_url:
        url, endpoint = settings.openlineage_url, settings.openlineage_endpoint
        auth = {"type": "api_key", "apiKey": settings.openlineage_api_key} if settings.openlineage_api_key else {}
        config = HttpConfig.from_dict({"url": url, "endpoint": endpoint, "auth": auth})
        return HttpTransport(config), f"{url.rstrip('/')}/{endpoint}"
    if "://" in settings.lake_root:
        return None
    path = Path(settings.lake_root) / EVENTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileTransport(FileConfig(log_file_path=str(path), append=True)), str(path)


def openlineage_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(
        name="openlineage_events",
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Sends an OpenLineage COMPLETE event for each new materialization of a governed table "
        "(schema, column lineage, owner, PII tags, check results): to OPENLINEAGE_URL (Marquez, DataHub, "
        "OpenMetadata), else into the lake's work/openlineage/events.jsonl. Stopped by default: started, its "
        "first ticks send the instance's whole history.",
    )
    def openlineage_events(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        target = transport_for(settings)
        if target is None:
            return dg.SkipReason("a lake on a bucket has no local events file: set OPENLINEAGE_URL")
        transport, where = target
        tables = registry.governed_tables()
        after = int(context.cursor) if context.cursor else None
        records = materializations(context.instance, tables, after, EVENTS_PER_TICK)
        if not records:
            return dg.SkipReason("no new materialization of a governed table")
        client = OpenLineageClient(transport=transport)
        for event in run_events(context.instance, records, tables, lake_namespace(settings.lake_root)):
            # A refused event raises: the cursor stays and the next tick sends this slice again (the
            # events' run ids are stable, so a catalog that had some of them keeps one of each).
            client.emit(event)
        return dg.SensorResult(
            cursor=str(records[-1].storage_id), skip_reason=f"{len(records)} OpenLineage events sent to {where}"
        )

    return openlineage_events
