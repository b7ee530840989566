"""The lake's maintenance as assets on schedules: every Iceberg table of the catalog expired,
cleaned of orphan files and compacted (lake.maintenance); and retention, the days each table's
governance spec no longer allows it to keep removed (governance.retention)."""

import datetime as dt

import dagster as dg

from datalake_platform.governance import retention
from datalake_platform.governance.spec import TableGovernance
from datalake_platform.lake.maintenance import MaintenancePolicy, maintain
from datalake_platform.lake.table_refs import ServiceArea, TableRef
from datalake_platform.resources import LakeResource
from datalake_platform.settings import Settings

MAINTENANCE = TableRef(ServiceArea.WORK, "platform", "table_maintenance")
RETENTION = TableRef(ServiceArea.WORK, "platform", "retention")


def maintenance_definitions(settings: Settings) -> tuple[dg.AssetsDefinition, dg.ScheduleDefinition]:
    policy = MaintenancePolicy(
        snapshot_retention=dt.timedelta(days=settings.snapshot_retention_days),
        orphan_grace=dt.timedelta(hours=settings.orphan_grace_hours),
        small_file_bytes=settings.small_file_mb << 20,
    )

    @dg.asset(
        key=MAINTENANCE.key_path,
        group_name=MAINTENANCE.group_name,
        kinds={"iceberg"},
        owners=["team:data-platform"],
        description="Every table of the lake's Iceberg catalog: snapshots past retention expired, files no "
        "snapshot references removed after a grace period, partitions of many small files compacted.",
    )
    def table_maintenance(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        storage = lake.storage
        catalog = storage.tables.catalog
        now, done = dt.datetime.now(dt.UTC), {}
        for namespace in sorted(catalog.list_namespaces()):
            zone, domain = namespace[0].split("_", 1)
            for _, name in sorted(catalog.list_tables(namespace)):
                result = maintain(storage, TableRef(zone, domain, name), policy, now)
                done[f"{namespace[0]}.{name}"] = vars(result)
                if result.skipped:
                    context.log.warning(f"{namespace[0]}.{name}: compaction left for the next run: {result.skipped}")
        totals = {
            k: sum(r[k] for r in done.values()) for k in ("snapshots_expired", "orphans_removed", "files_compacted")
        }
        return dg.MaterializeResult(metadata={"tables": len(done), **totals, "per_table": dg.MetadataValue.json(done)})

    schedule = dg.ScheduleDefinition(
        name="table_maintenance_daily",
        target=dg.AssetSelection.assets(table_maintenance),
        cron_schedule="0 3 * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return table_maintenance, schedule


class RetentionConfig(dg.Config):
    dry_run: bool = False  # True: list what would be removed, remove nothing


def retention_definitions(specs: list[TableGovernance]) -> tuple[dg.AssetsDefinition, dg.ScheduleDefinition]:
    @dg.asset(
        key=RETENTION.key_path,
        group_name=RETENTION.group_name,
        kinds={"iceberg"},
        owners=["team:data-platform"],
        description="Retention of every governed table: partitions older than the table's retention removed "
        "(quarantine by its own), landing days past theirs removed once ingested. Materialize with "
        "`dry_run: true` to list what would go.",
    )
    def retention_by_policy(
        context: dg.AssetExecutionContext, config: RetentionConfig, lake: LakeResource
    ) -> dg.MaterializeResult:
        planned = retention.plan(lake.storage, specs)
        done = [] if config.dry_run else retention.apply(lake.storage, planned)
        for removal in planned:
            context.log.info(("would remove " if config.dry_run else "removed ") + removal.describe())
        return dg.MaterializeResult(
            metadata={
                "dry_run": config.dry_run,
                "tables": len(planned),
                "days_removed": sum(len(r.days) for r in done),
                "removals": dg.MetadataValue.json(
                    {str(r.table): {"days": list(r.days), r.unit: r.held} for r in planned}
                ),
            }
        )

    schedule = dg.ScheduleDefinition(
        name="retention_daily",
        target=dg.AssetSelection.assets(retention_by_policy),
        cron_schedule="30 3 * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return retention_by_policy, schedule
