"""`datalake`: seed landing, materialize the whole lake, open the UI.

datalake seed    copy the bundled sample data into landing (idempotent)
datalake demo    seed, then materialize every asset over every partition
datalake ui      start the Dagster UI on the same lake and instance
datalake serve   the serving API (scores, metrics, reports) on 127.0.0.1:8000 (--rebuild: from the lake first)
datalake sql     query the lake's Iceberg tables with DuckDB (-e QUERY or a prompt; --as-of, --snapshot)
datalake catalog config    the pyiceberg properties of the lake's catalog, as JSON
datalake migrate    register a lake written before its tables were Iceberg tables (in place)
datalake governance report     per table: owner, classification, PII treatment, retention, freshness, checks
datalake governance retention  what retention removes today (--apply removes it)
datalake governance export     for catalogs: DataHub metadata (--datahub FILE), OpenLineage events (--openlineage FILE)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path

from datalake_platform.settings import Settings, SettingsError, current, export

DEFAULT_DAGSTER_HOME = ".dagster"  # beside ./lake: the runs the UI shows
REPO = Path(__file__).resolve().parent.parent
LOCAL_INSTANCE_CONFIG = REPO / "deployments" / "local" / "dagster.yaml"


def _environment() -> Settings:
    """The settings every subcommand shares; the lake root and Dagster home exported for child processes."""
    settings = current()
    home = Path(settings.dagster_home or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists() and LOCAL_INSTANCE_CONFIG.exists():
        shutil.copyfile(LOCAL_INSTANCE_CONFIG, instance_config)
    export(DATALAKE_ROOT=settings.lake_root, DAGSTER_HOME=str(home))
    return current()


def seed(settings: Settings) -> int:
    """Copy the sample data into landing, and register its days as partitions (as the sensors would)."""
    import dagster as dg

    from datalake_platform import registry
    from datalake_platform.ingestion.landing import register_landing
    from datalake_platform.lake.backends import storage_for_root

    storage = storage_for_root(settings.lake_root)
    for result in registry.seed_all(storage, settings):
        print(f"seeded {result}")
    with dg.DagsterInstance.get() as instance:
        for table, days in register_landing(instance, storage, registry.landing_tables()).items():
            print(f"partitions of {table}: {len(days)} new days registered")
    return 0


def demo(settings: Settings) -> int:
    import dagster as dg

    from datalake_platform.spark.java import JavaNotFoundError, require_java

    try:
        require_java()
    except JavaNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    seed(settings)
    from datalake_platform.definitions import build
    from datalake_platform.maintenance_assets import RETENTION
    from datalake_platform.runs import materialize_all

    defs = build(settings)
    # The demo lists what retention would remove; removing it is the schedule's (the demo's posts land
    # in a day already past landing's retention: applied, it would take them from landing at once).
    dry_retention = {dg.AssetKey(RETENTION.key_path): {"dry_run": True}}
    with dg.DagsterInstance.get() as instance:
        summaries = materialize_all(defs, instance, asset_config=dry_retention)
    ok = all(s.success for s in summaries)
    print()
    for s in summaries:
        state = "ok" if s.success else "FAILED"
        checks = f"; failed checks: {', '.join(s.failed_checks)}" if s.failed_checks else ""
        print(f"run {s.run_id[:8]} {state}: {s.name}{checks}")
    print()
    _print_tables(settings, defs)
    _stop_demo_store(settings)
    print(f"\nThe lake is at {settings.lake_root}")
    print(f"Dagster runs are recorded in {settings.dagster_home}")
    print("Open the UI with:  ./datalake ui   (then http://127.0.0.1:3000)")
    print("Serve scores and reports:  ./datalake serve   (then curl http://127.0.0.1:8000/v1/persons/00001/report)")
    return 0 if ok else 1


def _stop_demo_store(settings: Settings) -> None:
    """The local online store the demo's online assets started: stopped, its data kept on disk for
    `datalake serve` (which starts it again), so the demo leaves no server behind."""
    from datalake_platform.serving.local_store import stop_local_store

    if not settings.serving_url and stop_local_store(settings.lake_root):
        print("\nThe online store (valkey-server) is stopped; `./datalake serve` starts it again with its data")


def _print_tables(settings: Settings, defs) -> None:
    """Rows per materialized table (and its quarantine), from their Iceberg manifests."""
    from datalake_platform.lake.backends import storage_for_root
    from datalake_platform.lake.table_refs import ServiceArea, TableRef
    from datalake_platform.ml.artifacts import POINTER, ModelStore

    storage = storage_for_root(settings.lake_root)
    for key in sorted(defs.resolve_asset_graph().materializable_asset_keys):
        ref = TableRef(*key.path)
        if ref.zone == ServiceArea.ONLINE:
            continue  # not a lake table: the online store's views, printed after
        if storage.fs.exists(f"{storage.table_uri(ref)}/{POINTER}"):  # a model, not a table
            print(f"{key.to_user_string():<40} model version {ModelStore(storage, ref).current()}")
            continue
        line = f"{key.to_user_string():<40} {storage.table_rows(ref):>10,} rows"
        if ref.zone != "quarantine" and storage.tables.load(ref.quarantine()) is not None:
            line += f", {storage.table_rows(ref.quarantine()):,} in quarantine"
        print(line)
    _print_online_views(storage, settings)


def _print_online_views(storage, settings: Settings) -> None:
    """Each online view against its lake table (the store's rows, and whether they are the lake's)."""
    from datalake_platform import registry
    from datalake_platform.serving.connection import open_store
    from datalake_platform.serving.local_store import LocalStoreError
    from datalake_platform.serving.store import StoreUnavailable
    from datalake_platform.serving.sync import compare

    try:
        store = open_store(settings.serving_url, settings.serving_prefix, settings.lake_root, settings.env)
        for view in registry.online_views():
            print(f"online: {compare(store, storage, view).describe()}")
    except (SettingsError, StoreUnavailable, LocalStoreError) as error:
        print(f"online views not compared: {error}")


def ui(port: int) -> int:
    workspace = REPO / "workspace.yaml"
    args = ["dagster", "dev", "-h", "127.0.0.1", "-p", str(port)]
    if workspace.exists():
        args += ["-w", str(workspace)]
    else:
        args += ["-m", "datalake_platform.definitions"]
    bin_dir = Path(sys.executable).parent
    os.execv(str(bin_dir / "dagster"), args)
    return 0


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """The serving API over the online store; `--stop-store` stops a local lake's valkey-server instead."""
    from datalake_platform.compat.dagster import silence_pinned_previews

    silence_pinned_previews()
    from datalake_platform import registry
    from datalake_platform.serving.local_store import stop_local_store
    from datalake_platform.serving.server import ServeError, ServeOptions
    from datalake_platform.serving.server import serve as run_api

    if args.stop_store:
        stopped = stop_local_store(settings.lake_root)
        print("the lake's online store stopped" if stopped else "the lake's online store was not running")
        return 0
    try:
        return run_api(settings, registry.online_views(), ServeOptions(args.host, args.port, args.rebuild))
    except ServeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def sql(settings: Settings, args: argparse.Namespace) -> int:
    from datalake_platform.catalog import sql as lake_sql
    from datalake_platform.lake.backends import storage_for_root

    tables = storage_for_root(settings.lake_root).tables
    try:
        if args.e:
            return lake_sql.query(tables, args.e, args.as_of, args.snapshot)
        return lake_sql.shell(tables, args.as_of, args.snapshot)
    except lake_sql.SqlError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def catalog_config(settings: Settings) -> int:
    """The pyiceberg properties of the lake's catalog, as JSON (what pyiceberg's load_catalog takes)."""
    from datalake_platform.lake.backends import storage_for_root

    print(json.dumps(storage_for_root(settings.lake_root).tables.properties, indent=2, sort_keys=True))
    return 0


def migrate(settings: Settings, dry_run: bool) -> int:
    """Register the lake's parquet-folder tables in its Iceberg catalog, files left where they are."""
    from datalake_platform.lake.backends import storage_for_root
    from datalake_platform.lake.migration import legacy_leftovers, migrate

    storage = storage_for_root(settings.lake_root)
    storage = getattr(storage, "remote", storage)  # a mirrored lake's tables are in its container
    results = migrate(storage, dry_run)
    for r in results:
        if r.error:
            print(f"{str(r.ref):<48} NOT MIGRATED: {r.error}")
            continue
        where = "unpartitioned" if r.days is None else f"{r.days:,} days"
        done = "would register" if dry_run else f"snapshot {r.snapshot_id}:"
        print(f"{str(r.ref):<48} {done} {r.files:,} files, {r.rows:,} rows ({where})")
    if not results:
        print("nothing to migrate: every table folder of the lake is in its catalog")
    for folder in legacy_leftovers(storage):
        print(f"left in place (no longer read; may be deleted): {folder}")
    return 1 if any(r.error for r in results) else 0


def governance_report(settings: Settings) -> int:
    """Per governed table: its spec and how it stands in the Dagster instance."""
    import dagster as dg

    from datalake_platform import registry
    from datalake_platform.definitions import build
    from datalake_platform.governance.report import render, statuses

    graph = build(settings).resolve_asset_graph()
    with dg.DagsterInstance.get() as instance:
        print(render([s.row() for s in statuses(instance, registry.governed_tables(), graph.asset_check_keys)]))
    return 0


def governance_retention(settings: Settings, apply: bool) -> int:
    """What retention removes today; removed with `apply` (the scheduled asset does the same)."""
    from datalake_platform.compat.dagster import silence_pinned_previews

    silence_pinned_previews()
    from datalake_platform import registry
    from datalake_platform.governance import retention
    from datalake_platform.lake.backends import storage_for_root

    storage = storage_for_root(settings.lake_root)
    planned = retention.plan(storage, registry.governed_tables())
    for removal in retention.apply(storage, planned) if apply else planned:
        print(("removed " if apply else "would remove ") + removal.describe())
    if not planned:
        print("nothing past its retention")
    return 0


def governance_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write what catalogs ingest: DataHub's metadata file and/or OpenLineage run events (JSON lines)."""
    import dagster as dg

    from datalake_platform.compat.dagster import silence_pinned_previews

    silence_pinned_previews()
    from datalake_platform.governance import openlineage

    if not (args.datahub or args.openlineage):
        print("error: say what to write: --datahub FILE and/or --openlineage FILE", file=sys.stderr)
        return 2
    with dg.DagsterInstance.get() as instance:
        if args.datahub:
            try:
                from datalake_platform.governance.export import write_datahub
            except ImportError as err:  # acryl-datahub is a dev extra
                print(f"error: the DataHub export needs acryl-datahub ({err}): pip install '.[dev]'", file=sys.stderr)
                return 2
            count = write_datahub(args.datahub, instance, platform=args.platform, env=args.env)
            print(f"{count} DataHub metadata change proposals written to {args.datahub}")
        if args.openlineage:
            namespace = args.namespace or openlineage.lake_namespace(settings.lake_root)
            count = openlineage.export_events(args.openlineage, instance, namespace)
            print(f"{count} OpenLineage run events written to {args.openlineage}")
    return 0


def _timestamp(text: str) -> dt.datetime:
    """An ISO time; without a zone, UTC."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="datalake", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed", help="copy the bundled sample data into landing")
    commands.add_parser("demo", help="seed, then materialize every asset over every partition")
    ui_parser = commands.add_parser("ui", help="start the Dagster UI (dagster dev) on 127.0.0.1")
    ui_parser.add_argument("--port", type=int, default=3000)
    serve_parser = commands.add_parser("serve", help="the serving API over the online store (FastAPI on uvicorn)")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to bind (outside loopback: API keys)")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--rebuild", action="store_true", help="first make every online view equal to the lake")
    serve_parser.add_argument("--stop-store", action="store_true", help="stop the local lake's valkey-server, and exit")
    sql_parser = commands.add_parser("sql", help="SQL (DuckDB) on the lake's Iceberg tables, named zone_domain.table")
    sql_parser.add_argument("-e", metavar="QUERY", help="run the ;-separated statements and print their results")
    past = sql_parser.add_mutually_exclusive_group()
    past.add_argument("--as-of", type=_timestamp, metavar="TIME", help="read every table as it was at TIME (ISO)")
    past.add_argument("--snapshot", type=int, metavar="ID", help="read the table that has snapshot ID at it")
    catalog_parser = commands.add_parser("catalog", help="the lake's Iceberg catalog")
    catalog_parser.add_argument("action", choices=["config"], help="config: its pyiceberg properties, as JSON")
    migrate_parser = commands.add_parser(
        "migrate", help="register a lake of parquet folders in its Iceberg catalog, in place (while no run writes)"
    )
    migrate_parser.add_argument("--dry-run", action="store_true", help="only say what would be registered")
    governance = commands.add_parser("governance", help="the tables' governance: report, retention, export")
    governance_commands = governance.add_subparsers(dest="governance_command", required=True)
    governance_commands.add_parser("report", help="per table: owner, classification, PII, retention, freshness, checks")
    retention_parser = governance_commands.add_parser("retention", help="what retention removes today (a dry run)")
    retention_parser.add_argument("--apply", action="store_true", help="remove it")
    export_parser = governance_commands.add_parser(
        "export", help="DataHub metadata change proposals and/or OpenLineage run events (from the instance), to files"
    )
    export_parser.add_argument("--datahub", metavar="FILE", help="DataHub's metadata file (for `datahub ingest`)")
    export_parser.add_argument("--openlineage", metavar="FILE", help="a RunEvent per materialization, one a line")
    export_parser.add_argument("--platform", default="iceberg", help="DataHub's platform of the datasets (iceberg)")
    export_parser.add_argument("--env", default="PROD", help="DataHub's environment of the datasets (PROD)")
    export_parser.add_argument("--namespace", help="OpenLineage's namespace of the datasets (the lake's root as a URI)")
    args = parser.parse_args(argv)
    try:
        settings = _environment()
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "sql":
        return sql(settings, args)
    if args.command == "serve":
        return serve(settings, args)
    if args.command == "catalog":
        return catalog_config(settings)
    if args.command == "migrate":
        return migrate(settings, args.dry_run)
    if args.command == "governance":
        if args.governance_command == "export":
            return governance_export(settings, args)
        if args.governance_command == "report":
            return governance_report(settings)
        return governance_retention(settings, args.apply)
    if args.command == "seed":
        return seed(settings)
    if args.command == "demo":
        return demo(settings)
    return ui(args.port)


if __name__ == "__main__":
    sys.exit(main())
