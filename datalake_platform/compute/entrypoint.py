"""The one Spark job of every remote materialization: `spark-submit entrypoint.py --pipes-store s3`.

Launched through Dagster Pipes (EMR, EMR Serverless, Dataproc, Databricks, or spark-submit here),
it runs the table's own asset, unchanged, on the cluster's Spark: same reads, same staged write
and commit protocol, same contract audit before publishing. The asset runs in an in-process
Dagster run with an ephemeral instance (nothing to configure on the cluster); its materialization
metadata and check results go back through Pipes, so the step in the orchestrating run reports
exactly what a local run would. A failure (a broken contract included) fails the job after its
check results are sent; nothing unpublished becomes visible, as locally.

Context and messages travel through the lake's own store (S3, GCS, Azure Blob) or DBFS, with
dagster-pipes' loaders and writers; `--pipes-store` names which, matching the submitting client.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_pipes import (
    PipesCliArgsParamsLoader,
    PipesContext,
    PipesContextLoader,
    PipesDefaultContextLoader,
    open_dagster_pipes,
)

from datalake_platform.compat.dagster import partition_range_tags, silence_pinned_previews
from datalake_platform.lake.clouds import azure_blob_client, gcs_client, s3_client

LAKE_ROOT = "lake_root"  # extras the submitting side sends (compute.remote)
PARTITION_KEYS = "partition_keys"
CHECKS = "selected_checks"


def pipes_io(store: str) -> dict[str, Any]:
    """dagster-pipes' context loader and message writer for the store the launcher uses."""
    import dagster_pipes as pipes

    if store == "s3":
        client = s3_client()
        return {
            "context_loader": pipes.PipesS3ContextLoader(client),
            "message_writer": pipes.PipesS3MessageWriter(client),
        }
    if store == "gcs":
        client = gcs_client()
        return {
            "context_loader": pipes.PipesGCSContextLoader(client=client),
            "message_writer": pipes.PipesGCSMessageWriter(client=client),
        }
    if store == "azure":
        client = azure_blob_client()
        return {
            "context_loader": pipes.PipesAzureBlobStorageContextLoader(client=client),
            "message_writer": pipes.PipesAzureBlobStorageMessageWriter(client=client),
        }
    if store == "dbfs":
        return {"context_loader": pipes.PipesDbfsContextLoader(), "message_writer": pipes.PipesDbfsMessageWriter()}
    if store == "default":  # files / environment: a launcher on the same machine
        return {}
    raise ValueError(f"--pipes-store {store!r}: choose s3, gcs, azure, dbfs or default")


def run_table(pipes: PipesContext) -> None:
    """Materialize the Pipes step's asset with its domain's own code, and report it.

    Only the table's domain is imported (through the registry, not the orchestrator's definitions),
    and the resources are built from what the submitting step sent, not from this environment."""
    from datalake_platform import registry
    from datalake_platform.metadata import ORCHESTRATOR_RUN_TAG, PARTITION_ROW_COUNT, ROWS_BY_PARTITION
    from datalake_platform.resources import LakeResource, ServingResource, SparkResource
    from datalake_platform.settings import current

    key = dg.AssetKey.from_user_string(pipes.asset_key)
    domain = registry.domain_of(key)
    asset = next(a for a in domain.assets if isinstance(a, dg.AssetsDefinition) and key in a.keys)
    checks = [dg.AssetCheckKey(key, name) for name in pipes.get_extra(CHECKS)]
    # The key of personal data's hashes is the cluster's own (its secret manager, in its environment),
    # never sent with the step.
    settings = current()
    pii_key = dg.EnvVar("DATALAKE_PII_KEY") if settings.pii_key else None
    lake = LakeResource(root=pipes.get_extra(LAKE_ROOT), pii_key=pii_key)
    # The online store likewise: the cluster's DATALAKE_SERVING_URL, or none (the stream then only
    # commits to the lake; the online assets sync the store); never a local store on a cluster's driver.
    url = dg.EnvVar("DATALAKE_SERVING_URL") if settings.serving_url else None
    serving = ServingResource(lake=lake, url=url, prefix=settings.serving_prefix, start_local=False)
    instance = dg.DagsterInstance.ephemeral()
    tags = _partition_tags(asset, pipes.extras.get(PARTITION_KEYS) or [], instance)
    pipes.log.info(f"materializing {key.to_user_string()} on this cluster's Spark {tags or ''}")
    result = dg.materialize(
        [*domain.assets, *domain.checks],
        # The asset and the checks it runs itself (its contract); the orchestrator selected them.
        selection=dg.AssetSelection.assets(key).without_checks() | dg.AssetSelection.checks(*checks),
        # master=None: spark-submit's master.
        resources={"lake": lake, "spark": SparkResource(lake=lake, master=None), "serving": serving},
        instance=instance,
        tags={**tags, ORCHESTRATOR_RUN_TAG: pipes.run_id or ""},
        raise_on_error=False,
    )
    for evaluation in result.get_asset_check_evaluations():
        pipes.report_asset_check(
            check_name=evaluation.check_name,
            passed=evaluation.passed,
            severity=evaluation.severity.value,
            metadata=to_pipes_metadata(evaluation.metadata),
            asset_key=key.to_user_string(),
        )
    if not result.success:
        raise RuntimeError(f"{key.to_user_string()} failed on the cluster: {_failure(result)}")
    # One materialization per partition: the run's metadata is reported once, as a local step's
    # MaterializeResult does. Pipes has no per-partition metadata, so each day's own row count
    # travels as one JSON entry, which the orchestrating step puts back on each day's event.
    events = [e.materialization for e in result.get_asset_materialization_events()]
    metadata = dict(events[0].metadata)
    if len(events) > 1 and PARTITION_ROW_COUNT in metadata:
        metadata.pop(PARTITION_ROW_COUNT)
        metadata[ROWS_BY_PARTITION] = dg.MetadataValue.json(
            {e.partition: e.metadata[PARTITION_ROW_COUNT].value for e in events}
        )
    pipes.report_asset_materialization(metadata=to_pipes_metadata(metadata), asset_key=key.to_user_string())


def _partition_tags(asset: dg.AssetsDefinition, keys: list[str], instance: dg.DagsterInstance) -> dict[str, str]:
    """The run's days as a single-run range, registered in the ephemeral instance first."""
    if not keys:
        return {}
    partitions = asset.partitions_def
    if isinstance(partitions, dg.DynamicPartitionsDefinition):
        instance.add_dynamic_partitions(partitions.name, keys)
    return partition_range_tags(keys[0], keys[-1])


def _failure(result: dg.ExecuteInProcessResult) -> str:
    errors = [e.step_failure_data.error for e in result.all_events if e.is_step_failure and e.step_failure_data.error]
    return "; ".join(e.message.strip() for e in errors) or "the run failed"


def to_pipes_metadata(metadata: Mapping[str, dg.MetadataValue]) -> dict[str, dict[str, Any]]:
    """Dagster metadata values in Pipes' wire format ({"type", "raw_value"}), types kept.

    Written by hand: dagster-pipes converts raw values, not dagster's MetadataValue objects.
    Pipes' table_schema carries columns (with their constraints) but not table-level constraints.
    """
    out = {}
    for name, value in metadata.items():
        if isinstance(value, dg.TableSchemaMetadataValue):
            columns = [_column(c) for c in value.schema.columns]
            out[name] = {"type": "table_schema", "raw_value": {"columns": columns}}
        elif isinstance(value, dg.JsonMetadataValue):
            out[name] = {"type": "json", "raw_value": value.data}
        elif isinstance(value, dg.NullMetadataValue):
            out[name] = {"type": "null", "raw_value": None}
        else:
            wire = {
                dg.TextMetadataValue: "text",
                dg.IntMetadataValue: "int",
                dg.FloatMetadataValue: "float",
                dg.BoolMetadataValue: "bool",
                dg.PathMetadataValue: "path",
                dg.UrlMetadataValue: "url",
                dg.MarkdownMetadataValue: "md",
                dg.TimestampMetadataValue: "timestamp",
            }.get(type(value))
            out[name] = (
                {"type": wire, "raw_value": value.value}
                if wire
                else {"type": "__infer__", "raw_value": str(value.value)}
            )
    return out


def _column(column: dg.TableColumn) -> dict[str, Any]:
    constraints = column.constraints
    return {
        "name": column.name,
        "type": column.type,
        "description": column.description,
        "tags": dict(column.tags or {}),
        "constraints": {
            "nullable": constraints.nullable,
            "unique": constraints.unique,
            "other": list(constraints.other),
        },
    }


class _EitherContextLoader(PipesContextLoader):
    """The context from the store (S3/GCS/Blob/DBFS injectors), or inline in the parameters (the EMR,
    EMR Serverless and Dataproc clients inject it in the job's environment or arguments).

    Written by hand: dagster-pipes pairs one loader with one injector; the store is fixed per cloud,
    the injector per client.
    """

    def __init__(self, store_loader: PipesContextLoader | None):
        self._store, self._inline = store_loader, PipesDefaultContextLoader()

    def load_context(self, params):
        inline = (
            self._store is None
            or PipesDefaultContextLoader.DIRECT_KEY in params
            or PipesDefaultContextLoader.FILE_PATH_KEY in params
        )
        return (self._inline if inline else self._store).load_context(params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pipes-store",
        default="default",
        help="where Pipes context and messages travel: s3, gcs, azure, dbfs, default",
    )
    parser.add_argument(
        "--package", help="the platform's zip, for launchers without --py-files (a Databricks Python task)"
    )
    args, _ = parser.parse_known_args(argv)  # Dataproc's client appends its own --dagster-pipes-* arguments
    silence_pinned_previews()
    if args.package:
        from pyspark.sql import SparkSession

        SparkSession.builder.getOrCreate().sparkContext.addPyFile(args.package)  # on the driver's sys.path too
    io = pipes_io(args.pipes_store)
    cli = PipesCliArgsParamsLoader()
    with open_dagster_pipes(
        context_loader=_EitherContextLoader(io.get("context_loader")),
        message_writer=io.get("message_writer"),
        params_loader=cli if cli.is_dagster_pipes_process() else None,
    ) as pipes:
        run_table(pipes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
