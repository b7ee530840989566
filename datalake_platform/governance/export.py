"""The lake's governance as DataHub metadata, made with DataHub's own classes and file writer.

`datalake governance export --datahub FILE` writes, for every table with a governance spec, the
metadata change proposals that `datahub ingest` loads with its `file` source (README: Export to
catalogs): the dataset's properties (classification, owner, readers, retention, freshness as custom
properties), its columns with each PII column tagged with its treatment and category, its owner
(`team:x`: the group x; an email: that user), its table and column lineage, and its Dagster checks
as external assertions, with their latest results when a Dagster instance is given.

`acryl-datahub` is a dev extra (its Lite pins an old uvicorn): only this command imports this module.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from datahub.emitter.mce_builder import (
    datahub_guid,
    make_assertion_urn,
    make_data_platform_urn,
    make_dataset_urn,
    make_group_urn,
    make_schema_field_urn,
    make_tag_urn,
    make_user_urn,
)
from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.ingestion.sink.file import write_metadata_file
from datahub.metadata import schema_classes as dh

from datalake_platform import registry
from datalake_platform.governance.assets import pii_json
from datalake_platform.governance.openlineage import (
    PII_TAGS,
    asset_key,
    check_specs,
    cited_columns,
    columns,
    dataset_name,
    latest_evaluations,
)
from datalake_platform.governance.spec import TableGovernance
from datalake_platform.lake.table_refs import TableRef

CHECKS_PLATFORM = "dagster"  # where the assertions run: DataHub shows them as Dagster's
NUMBERS = {"tinyint", "smallint", "int", "bigint", "float", "double", "decimal", "long", "integer"}
TYPES = {
    "string": dh.StringTypeClass,
    "boolean": dh.BooleanTypeClass,
    "date": dh.DateTypeClass,
    "timestamp": dh.TimeTypeClass,
    "timestamp_ntz": dh.TimeTypeClass,
    "binary": dh.BytesTypeClass,
    "array": dh.ArrayTypeClass,
    "map": dh.MapTypeClass,
    "struct": dh.RecordTypeClass,
}


def write_datahub(
    path: str | Path, instance: dg.DagsterInstance | None = None, platform: str = "iceberg", env: str = "PROD"
) -> int:
    """Every governed table's proposals into `path` (DataHub's file format); how many were written."""
    proposals = datahub_proposals(registry.governed_tables(), instance, platform, env)
    write_metadata_file(Path(path), proposals)
    return len(proposals)


def datahub_proposals(
    tables: Iterable[TableGovernance], instance: dg.DagsterInstance | None, platform: str, env: str
) -> list[MetadataChangeProposalWrapper]:
    tables = list(tables)
    cited, checks, descriptions = cited_columns(tables), check_specs(), asset_descriptions()
    proposals = []
    for governance in tables:
        urn = dataset_urn(governance.table, platform, env)
        key = asset_key(governance.table)
        aspects = dataset_aspects(governance, cited.get(governance.table, set()), descriptions.get(key), platform, env)
        proposals += MetadataChangeProposalWrapper.construct_many(urn, aspects)
        proposals += assertion_proposals(urn, checks.get(key, []), instance)
    return proposals


def dataset_urn(ref: TableRef, platform: str, env: str) -> str:
    return make_dataset_urn(platform, dataset_name(ref), env)


def owner_urn(owner: str) -> str:
    return make_group_urn(owner.removeprefix("team:")) if owner.startswith("team:") else make_user_urn(owner)


def asset_descriptions() -> dict[dg.AssetKey, str]:
    return {
        spec.key: spec.description
        for d in registry.all_domains()
        for a in d.assets
        for spec in getattr(a, "specs", [a])  # an AssetSpec is its own spec
        if spec.description
    }


def dataset_aspects(
    governance: TableGovernance, cited: Iterable[str], description: str | None, platform: str, env: str
) -> list:
    ref = governance.table
    dataset_tags = [f"classification:{governance.classification}", *(["pii"] if governance.pii else [])]
    aspects = [
        dh.StatusClass(removed=False),
        dh.DatasetPropertiesClass(
            name=ref.table,
            qualifiedName=dataset_name(ref),
            description=description,
            customProperties=custom_properties(governance),
        ),
        dh.GlobalTagsClass(tags=[dh.TagAssociationClass(make_tag_urn(t)) for t in dataset_tags]),
        dh.OwnershipClass(owners=[dh.OwnerClass(owner_urn(governance.owner), dh.OwnershipTypeClass.DATAOWNER)]),
    ]
    if not governance.is_model:
        aspects.append(dh.SubTypesClass(typeNames=["Table"]))
    table_columns = columns(governance, cited)
    if table_columns:
        aspects.append(schema_metadata(ref, table_columns, platform))
    if governance.lineage:
        aspects.append(upstream_lineage(governance, platform, env))
    return aspects


def custom_properties(governance: TableGovernance) -> dict[str, str]:
    """The spec's facts as DataHub custom properties (strings): what a catalog filters and audits by."""
    properties = {
        "classification": str(governance.classification),
        "owner": governance.owner,
        "readers": ", ".join(governance.readers),
        "retention": governance.retention,
        "dagster_asset_key": asset_key(governance.table).to_user_string(),
    }
    if governance.retention_days is not None:
        properties["retention_days"] = str(governance.retention_days)
    if governance.quarantine_retention_days is not None:
        properties["quarantine_retention_days"] = str(governance.quarantine_retention_days)
    if governance.freshness is not None:
        properties["freshness"] = iso_duration(governance.freshness)
    if governance.pii:
        properties["pii"] = json.dumps(pii_json(governance.pii), sort_keys=True)
    return properties


def iso_duration(delta: dt.timedelta) -> str:
    """ISO 8601 (P7D, PT6H): what other tools parse, unlike Python's `7 days, 0:00:00`."""
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    date = f"{delta.days}D" if delta.days else ""
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return f"P{date}{'T' + time if time else ''}" if date or time else "PT0S"


def schema_metadata(ref: TableRef, table_columns: list[dg.TableColumn], platform: str) -> dh.SchemaMetadataClass:
    return dh.SchemaMetadataClass(
        schemaName=dataset_name(ref),
        platform=make_data_platform_urn(platform),
        version=0,
        hash="",
        platformSchema=dh.OtherSchemaClass(rawSchema=""),
        fields=[schema_field(c) for c in table_columns],
    )


def schema_field(column: dg.TableColumn) -> dh.SchemaFieldClass:
    """A column; personal data tagged `pii:<treatment>` and `pii_category:<category>`."""
    tags = [make_tag_urn(f"{k}:{v}") for k, v in sorted(column.tags.items()) if k in PII_TAGS]
    return dh.SchemaFieldClass(
        fieldPath=column.name,
        type=dh.SchemaFieldDataTypeClass(type=field_type(column.type)),
        nativeDataType=column.type,
        nullable=column.constraints.nullable,
        description=column.description,
        globalTags=dh.GlobalTagsClass(tags=[dh.TagAssociationClass(t) for t in tags]) if tags else None,
    )


def field_type(native: str):
    """DataHub's type of a Spark type (`array<float>`, `decimal(10,2)`: by their first word)."""
    base = native.split("<")[0].split("(")[0].strip().lower()
    if base in NUMBERS:
        return dh.NumberTypeClass()
    return TYPES.get(base, dh.NullTypeClass)()


def upstream_lineage(governance: TableGovernance, platform: str, env: str) -> dh.UpstreamLineageClass:
    """The tables it is made from, and each column's sources (with the PII treatment applied, if any)."""
    urn = dataset_urn(governance.table, platform, env)
    sources = sorted({s.table for ss in governance.lineage.values() for s in ss}, key=str)
    return dh.UpstreamLineageClass(
        upstreams=[
            dh.UpstreamClass(dataset=dataset_urn(t, platform, env), type=dh.DatasetLineageTypeClass.TRANSFORMED)
            for t in sources
        ],
        fineGrainedLineages=[
            dh.FineGrainedLineageClass(
                upstreamType=dh.FineGrainedLineageUpstreamTypeClass.FIELD_SET,
                upstreams=[make_schema_field_urn(dataset_urn(s.table, platform, env), s.column) for s in ss],
                downstreamType=dh.FineGrainedLineageDownstreamTypeClass.FIELD,
                downstreams=[make_schema_field_urn(urn, column)],
                transformOperation=str(governance.pii[column].treatment) if column in governance.pii else None,
            )
            for column, ss in governance.lineage.items()
        ],
    )


def assertion_proposals(
    dataset: str, specs: list[dg.AssetCheckSpec], instance: dg.DagsterInstance | None
) -> list[MetadataChangeProposalWrapper]:
    """Each check as an external assertion on the dataset, and its latest result from the instance."""
    latest = latest_evaluations(instance, specs) if instance is not None else {}
    proposals = []
    for spec in specs:
        urn = make_assertion_urn(datahub_guid({"platform": CHECKS_PLATFORM, "check": spec.key.to_user_string()}))
        proposals += MetadataChangeProposalWrapper.construct_many(
            urn,
            [assertion_info(spec, dataset), dh.DataPlatformInstanceClass(make_data_platform_urn(CHECKS_PLATFORM))],
        )
        if spec.key in latest:
            proposals.append(
                MetadataChangeProposalWrapper(entityUrn=urn, aspect=run_event(latest[spec.key], urn, dataset))
            )
    return proposals


def assertion_info(spec: dg.AssetCheckSpec, dataset: str) -> dh.AssertionInfoClass:
    return dh.AssertionInfoClass(
        type=dh.AssertionTypeClass.CUSTOM,
        customAssertion=dh.CustomAssertionInfoClass(type="Dagster asset check", entity=dataset, logic=spec.description),
        description=spec.description or spec.name,
        source=dh.AssertionSourceClass(type=dh.AssertionSourceTypeClass.EXTERNAL),
        customProperties={"dagster_check": spec.key.to_user_string(), "blocking": str(spec.blocking).lower()},
    )


def run_event(entry: dg.EventLogEntry, assertion: str, dataset: str) -> dh.AssertionRunEventClass:
    evaluation = entry.asset_check_evaluation
    result = dh.AssertionResultTypeClass.SUCCESS if evaluation.passed else dh.AssertionResultTypeClass.FAILURE
    return dh.AssertionRunEventClass(
        timestampMillis=int(entry.timestamp * 1000),
        runId=entry.run_id,
        asserteeUrn=dataset,
        assertionUrn=assertion,
        status=dh.AssertionRunStatusClass.COMPLETE,
        result=dh.AssertionResultClass(
            type=result, nativeResults={k: _text(v.value) for k, v in evaluation.metadata.items()}
        ),
        partitionSpec=dh.PartitionSpecClass(partition=evaluation.partition) if evaluation.partition else None,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
