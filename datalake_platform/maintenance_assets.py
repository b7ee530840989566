"""The lake's table maintenance as an asset on a schedule: every Iceberg table of the catalog
expired, cleaned of orphan files and compacted (lake.maintenance), with what was done per table."""

import datetime as dt

import dagster as dg

from datalake_platform.lake.maintenance import MaintenancePolicy, maintain
from datalake_platform.lake.table_refs import ServiceArea, TableRef
from datalake_platform.resources import LakeResource
from datalake_platform.settings import Settings

MAINTENANCE = TableRef(ServiceArea.WORK, "platform", "table_maintenance")


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
