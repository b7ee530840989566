"""The governance specs on the assets: what the Dagster UI shows of each table's governance.

`governed` maps every asset spec that has a `TableGovernance` (Dagster's `map_asset_specs`, so
multi-assets and the remote-compute wrappers keep theirs): owners, tags to filter the catalog by,
definition metadata (classification, readers, retention, PII treatment, column schema with tags,
`dagster/column_lineage`) and the freshness policy the daemon evaluates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg

from datalake_platform.governance.spec import Pii, TableGovernance

FRESHNESS_WARN_SHARE = 0.75  # warn once three quarters of the window have passed


def governed(assets: Iterable, specs: Iterable[TableGovernance]) -> list:
    """`assets` with each table's governance applied to its spec."""
    by_key = {dg.AssetKey(g.table.key_path): g for g in specs}

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        governance = by_key.get(spec.key)
        if governance is None:
            return spec
        return spec.replace_attributes(
            owners=[governance.owner],
            tags={**spec.tags, **governance_tags(governance)},
            metadata={**spec.metadata, **governance_metadata(governance)},
            freshness_policy=freshness_policy(governance) or spec.freshness_policy,
        )

    return list(dg.map_asset_specs(apply, assets))


def governance_tags(governance: TableGovernance) -> dict[str, str]:
    """Tags to filter the asset catalog by (values are Dagster tag values: short, no spaces)."""
    return {
        "classification": str(governance.classification),
        "contains_pii": "true" if governance.pii else "false",
        "retention": str(governance.retention_days) if governance.retention_days is not None else "kept",
    }


def governance_metadata(governance: TableGovernance) -> dict[str, object]:
    from datalake_platform.metadata import column_schema

    meta: dict[str, object] = {
        "governance/owner": governance.owner,
        "governance/classification": str(governance.classification),
        "governance/readers": ", ".join(governance.readers),
        "governance/retention": governance.retention,
        "governance/pii": dg.MetadataValue.json(pii_json(governance.pii)),
    }
    if governance.quarantine_retention_days is not None:
        meta["governance/quarantine_retention"] = f"{governance.quarantine_retention_days} days"
    if governance.freshness is not None:
        meta["governance/freshness"] = f"materialized at least every {governance.freshness}"
    if governance.model is not None:
        meta["dagster/column_schema"] = column_schema(governance.model, governance.pii)
    if governance.lineage:
        meta["dagster/column_lineage"] = column_lineage(governance)
    return meta


def pii_json(pii: Mapping[str, Pii]) -> dict[str, dict[str, str]]:
    """Each PII column's category, treatment, landing source and reason, as JSON."""
    return {
        column: {
            "category": str(p.category),
            "treatment": str(p.treatment),
            **({"source": p.source} if p.source else {}),
            **({"reason": p.reason} if p.reason else {}),
        }
        for column, p in pii.items()
    }


def column_lineage(governance: TableGovernance) -> dg.TableColumnLineage:
    return dg.TableColumnLineage(
        deps_by_column={
            column: [dg.TableColumnDep(asset_key=dg.AssetKey(s.table.key_path), column_name=s.column) for s in sources]
            for column, sources in governance.lineage.items()
        }
    )


def freshness_policy(governance: TableGovernance) -> dg.FreshnessPolicy | None:
    if governance.freshness is None:
        return None
    return dg.FreshnessPolicy.time_window(
        fail_window=governance.freshness, warn_window=governance.freshness * FRESHNESS_WARN_SHARE
    )
