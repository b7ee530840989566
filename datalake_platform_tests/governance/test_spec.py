"""Every table has a governance spec that agrees with its schema, and the Dagster definitions
carry it: owners, tags, definition metadata, column lineage, freshness and the PII check."""

from __future__ import annotations

import dagster as dg
import pytest

from datalake_platform import registry
from datalake_platform.definitions import build
from datalake_platform.governance.spec import Classification, Pii, PiiCategory, TableGovernance, Treatment
from datalake_platform.lake.table_refs import TableRef, Zone
from datalake_platform.settings import Settings

SPECS = registry.governed_tables()
BY_TABLE = {g.table: g for g in SPECS}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    settings = Settings.from_environ({"DATALAKE_ROOT": str(tmp_path_factory.mktemp("lake"))})
    return build(settings).resolve_asset_graph()


def test_every_zone_table_has_one_spec_and_every_spec_a_table(graph):
    tables = {
        TableRef(*k.path) for k in graph.get_all_asset_keys() if k.path[0] in (Zone.LANDING, Zone.UNIVERSAL, Zone.SMART)
    }
    assert tables == set(BY_TABLE) and len(SPECS) == len(BY_TABLE)


@pytest.mark.parametrize("spec", [g for g in SPECS if g.model is not None], ids=lambda g: str(g.table))
def test_spec_columns_are_the_tables_columns(spec: TableGovernance):
    columns = set(spec.model.to_schema().columns)
    assert set(spec.pii) <= columns and set(spec.lineage) <= columns
    for sources in spec.lineage.values():
        for source in sources:
            upstream = BY_TABLE[source.table]
            known = set(upstream.model.to_schema().columns) if upstream.model is not None else None
            assert known is None or source.column in known, f"{source.table}.{source.column}"
    for pii in spec.pii.values():  # a protected column names a raw landing column of its domain
        raw = {c for g in SPECS if g.table.zone == Zone.LANDING and g.table.domain == spec.table.domain for c in g.pii}
        assert pii.source is None or pii.source in raw


def test_raw_personal_data_is_landing_only_and_restricted():
    for spec in SPECS:
        raw = [c for c, p in spec.pii.items() if p.treatment == Treatment.RAW]
        if spec.table.zone != Zone.LANDING:
            assert not raw
        elif raw and any(spec.pii[c].category != PiiCategory.CUSTOMER_ID for c in raw):
            assert spec.classification == Classification.RESTRICTED and spec.landing_values is not None
    with pytest.raises(ValueError, match="landing only"):
        TableGovernance(
            TableRef(Zone.UNIVERSAL, "d", "t"),
            owner="team:d",
            classification=Classification.CONFIDENTIAL,
            readers=(),
            pii={"name": Pii(PiiCategory.PERSON_NAME, Treatment.RAW)},
        )
    with pytest.raises(ValueError, match="stated reason"):
        Pii(PiiCategory.PERSON_NAME, Treatment.KEPT)
    with pytest.raises(ValueError, match="email"):
        TableGovernance(TableRef(Zone.SMART, "d", "t"), owner="bob", classification=Classification.PUBLIC, readers=())


def test_the_definitions_carry_the_governance(graph):
    node = graph.get(dg.AssetKey(["universal", "passengers", "passengers"]))
    assert node.owners == ["team:passengers"]
    assert {k: node.tags[k] for k in ("classification", "contains_pii", "retention")} == {
        "classification": "confidential",
        "contains_pii": "true",
        "retention": "kept",
    }
    pii = node.metadata["governance/pii"].value
    assert pii["NameHash"] == {"category": "person_name", "treatment": "keyed_hash", "source": "Name"}
    lineage = node.metadata["dagster/column_lineage"].deps_by_column
    assert [(d.asset_key.path, d.column_name) for d in lineage["NameHash"]] == [
        (["landing", "passengers", "passengers"], "Name")
    ]
    schema = node.metadata["dagster/column_schema"]
    assert {c.name: c.tags.get("pii") for c in schema.columns if c.tags} == {
        "NameHash": "keyed_hash",
        "NameMasked": "masked",
        "TicketHash": "keyed_hash",
    }
    scored = graph.get(dg.AssetKey(["smart", "posts", "scored_posts"]))  # a multi-asset's spec
    assert scored.owners == ["team:posts"] and scored.tags["retention"] == "365"
    assert scored.freshness_policy.fail_window.to_timedelta().total_seconds() == 3600


def test_every_universal_and_smart_table_has_a_blocking_pii_check(graph):
    tables = [g for g in SPECS if g.table.zone in (Zone.UNIVERSAL, Zone.SMART) and not g.is_model]
    for spec in tables:
        key = dg.AssetCheckKey(dg.AssetKey(spec.table.key_path), "pii_protected")
        assert graph.get_check_spec(key).blocking, key


def test_retention_is_set_only_where_there_are_days_to_remove():
    for spec in SPECS:
        if spec.retention_days is None and spec.quarantine_retention_days is None:
            continue
        if spec.table.zone == Zone.LANDING:
            continue  # landing days are its dt= folders
        assert spec.model is not None and "dt" in spec.model.to_schema().columns, spec.table
