"""The checkpoint pattern in the asset graph: one asset per segment of a long step pipeline.

Segment k reads the checkpoint k-1 (a parquet table in the lake's `work` area: lineage truncated
there), applies its steps and writes checkpoint k; the last segment writes the pipeline's output
table. Every checkpoint is an asset, so the graph shows the cuts and a run can start from any of
them (select a segment and what is downstream). The cuts come from a plan recorded by the planner
(`spark.checkpoint_planner.run_checkpointed`, policy in `CheckpointPolicy`), with the user's pins.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandera.pyspark as pa

from datalake_platform.compat.spark import plan_nodes
from datalake_platform.lake.table_refs import ServiceArea, TableRef
from datalake_platform.metadata import table_metadata
from datalake_platform.quality.validation import spark_schema
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.spark.checkpoint_planner import CheckpointPolicy, Step, apply, segments
from datalake_platform.spark.table_io import read_table, write_table


@dataclass(frozen=True)
class CheckpointedPipeline:
    name: str
    source: TableRef
    source_model: type[pa.DataFrameModel]
    steps: Sequence[Step]
    output: TableRef
    output_model: type[pa.DataFrameModel]
    policy: CheckpointPolicy
    plan_file: Path  # the cuts the planner chose, as JSON {"cuts": [...], ...}

    def cuts(self) -> list[str]:
        """The recorded plan's cuts and the user's pins, in step order."""
        plan = json.loads(self.plan_file.read_text()) if self.plan_file.exists() else {}
        wanted = set(plan.get("cuts", [])) | set(plan.get("pinned_after", [])) | set(self.policy.pinned_after)
        return [s.name for s in self.steps[:-1] if s.name in wanted]

    def checkpoint_ref(self, k: int) -> TableRef:
        return TableRef(ServiceArea.WORK, self.output.domain, f"{self.name}_checkpoint_{k:02d}")

    def refs(self) -> list[TableRef]:
        n = len(segments(self.steps, self.cuts()))
        return [self.checkpoint_ref(k + 1) for k in range(n - 1)] + [self.output]


def _bytes(storage, ref: TableRef) -> int:
    return sum(storage.fs.size(f) for f in storage.table_files(ref))


def checkpoint_assets(pipeline: CheckpointedPipeline, owners: list[str]) -> list[dg.AssetsDefinition]:
    parts = segments(pipeline.steps, pipeline.cuts())
    refs = pipeline.refs()
    assets = []
    for k, (steps, ref) in enumerate(zip(parts, refs)):
        upstream = pipeline.source if k == 0 else refs[k - 1]
        assets.append(_segment_asset(pipeline, k, steps, upstream, ref, owners))
    return assets


def _segment_asset(
    pipeline: CheckpointedPipeline, k: int, steps: list[Step], upstream: TableRef, ref: TableRef, owners
):
    last = ref == pipeline.output
    names = [s.name for s in steps]

    @dg.asset(
        key=ref.key_path,
        deps=[dg.AssetKey(upstream.key_path)],
        group_name=ref.group_name,
        kinds={"spark", "iceberg"},
        owners=owners,
        description=f"Segment {k + 1} of the checkpointed pipeline `{pipeline.name}`: steps {names[0]} .. {names[-1]} "
        f"({len(names)} steps) applied to {upstream}"
        + ("." if last else ", materialized as a checkpoint in the work area."),
        metadata={"steps": dg.MetadataValue.json(names)},
    )
    def _segment(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource) -> dg.MaterializeResult:
        storage = lake.storage
        schema = spark_schema(pipeline.source_model) if k == 0 else None
        df = apply(read_table(spark.session(), storage, upstream, schema), steps)
        nodes = plan_nodes(df)
        started = time.perf_counter()
        rows = write_table(df, storage, ref)
        seconds = time.perf_counter() - started
        context.log.info(f"{ref}: {rows} rows, plan of {nodes} nodes, written in {seconds:.2f} s")
        extra = {
            "steps": dg.MetadataValue.json(names),
            "plan_nodes": nodes,
            "write_seconds": round(seconds, 3),
            "bytes_written": _bytes(storage, ref),
        }
        if last:
            return dg.MaterializeResult(
                metadata=table_metadata(storage, ref, pipeline.output_model, rows=rows, **extra)
            )
        return dg.MaterializeResult(
            metadata={"dagster/uri": storage.table_uri(ref), "dagster/row_count": rows, **extra}
        )

    return _segment
