"""Machine-learning benchmarks: the passengers MLP's training time vs data size, the images CNN's throughput.

    .venv/bin/python benchmarks/ml/bench.py mlp --scale 1 10 100
    .venv/bin/python benchmarks/ml/bench.py cnn --images 5000 --epochs 1 --batch-size 64 256

mlp: the exact training function of smart/passengers/survival_model (MLlib MLP [9, 50, 50, 2],
     blockSize=128, seed=1234, scaled features, default maxIter=100) on the real features'
     train split repeated `scale` times (ids made unique), in this process's Spark session.
cnn: generates N labelled images into a lake under _data/ (kept across runs), materializes
     universal/images/tensors, then smart/images/cnn_model with each batch size, and reports
     the asset's own metadata: images/s, share of step time waiting for the loader, device.
     On a GPU machine: `cnn --images 500000 --epochs 1 --batch-size 256 --loader-workers 4`.
Results are printed as a markdown table and appended to _data/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

import dagster as dg
from pyspark.sql import functions as F

from datalake_platform.definitions import build
from datalake_platform.domains.images.seed import generate
from datalake_platform.domains.images.seed import seed as seed_images
from datalake_platform.domains.passengers import transforms
from datalake_platform.domains.passengers.schemas import Features
from datalake_platform.domains.passengers.seed import seed as seed_passengers
from datalake_platform.domains.passengers.tables import FEATURES
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.quality.validation import spark_schema
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.settings import Settings
from datalake_platform.spark.session import get_or_create_session
from datalake_platform.spark.table_io import read_table

DATA = Path(__file__).resolve().parent / "_data"


def _materialize(storage, selection: str, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*(defs := build(Settings())).assets, *defs.asset_checks],
        selection=dg.AssetSelection.assets(*[dg.AssetKey.from_user_string(k) for k in selection.split()]),
        resources={"lake": LakeResource(root=storage.root), "spark": SparkResource()},
        instance=dg.DagsterInstance.ephemeral(),
        run_config=run_config or {},
    )


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def bench_mlp(scales: list[int]) -> list[dict]:
    storage = LocalLakeStorage(str(DATA / "passengers_lake"))
    seed_passengers(storage)
    _materialize(storage, "universal/passengers/passengers smart/passengers/features")
    spark = get_or_create_session()
    features = read_table(spark, storage, FEATURES, spark_schema(Features))
    transforms.train_mlp(transforms.labelled(features, "train"))  # warm-up: JIT, first jobs
    rows = []
    for scale in scales:
        copies = spark.range(scale).withColumnRenamed("id", "copy")
        grown = (
            features.crossJoin(copies)
            .withColumn("PassengerId", (F.col("PassengerId") + F.col("copy") * 1000).cast("int"))
            .drop("copy")
        )
        train = transforms.labelled(grown, "train").cache()
        n = train.count()
        started = time.perf_counter()
        model = transforms.train_mlp(train)
        seconds = time.perf_counter() - started
        iterations = len(transforms.loss_history(model))
        train.unpersist()
        rows.append(
            {
                "bench": "mlp",
                "train_rows": n,
                "scale": scale,
                "seconds": round(seconds, 2),
                "iterations": iterations,
                "ms_per_iteration": round(1000 * seconds / max(iterations, 1), 1),
            }
        )
        print(rows[-1], flush=True)
    return rows


def bench_cnn(images: int, epochs: int, batch_sizes: list[int], loader_workers: int, device: str) -> list[dict]:
    storage = LocalLakeStorage(str(DATA / f"images_lake_{images}"))
    started = time.perf_counter()
    seed_images(storage, generated=0)
    generated = generate(storage, max(images - 20, 0), workers=os.cpu_count() or 1)
    generate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    tensors = _metadata(_materialize(storage, "universal/images/tensors"), "universal/images/tensors")
    tensor_seconds = time.perf_counter() - started
    print(
        f"landing: {generated} in {generate_seconds:.1f}s; tensors: {tensors['dagster/row_count']} rows, "
        f"{tensors['shards']} shards in {tensor_seconds:.1f}s",
        flush=True,
    )
    rows = []
    for batch_size in batch_sizes:
        config = {"epochs": epochs, "batch_size": batch_size, "loader_workers": loader_workers, "device": device}
        started = time.perf_counter()
        result = _materialize(
            storage, "smart/images/cnn_model", {"ops": {"smart__images__cnn_model": {"config": config}}}
        )
        meta = _metadata(result, "smart/images/cnn_model")
        rows.append(
            {
                "bench": "cnn",
                "images": tensors["dagster/row_count"],
                "epochs": epochs,
                "batch_size": batch_size,
                "loader_workers": loader_workers,
                "device": meta["device"],
                "images_per_second": meta["images_per_second"],
                "loader_wait_share": meta["loader_wait_share"],
                "training_seconds": meta["training_seconds"],
                "asset_seconds": round(time.perf_counter() - started, 1),
                "test_accuracy": round(meta["accuracy"], 4),
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    mlp = commands.add_parser("mlp")
    mlp.add_argument("--scale", type=int, nargs="+", default=[1, 10, 100])
    cnn = commands.add_parser("cnn")
    cnn.add_argument("--images", type=int, default=5000)
    cnn.add_argument("--epochs", type=int, default=1)
    cnn.add_argument("--batch-size", type=int, nargs="+", default=[64, 256])
    cnn.add_argument("--loader-workers", type=int, default=0)
    cnn.add_argument("--device", default="auto")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    if args.command == "mlp":
        rows = bench_mlp(args.scale)
    else:
        rows = bench_cnn(args.images, args.epochs, args.batch_size, args.loader_workers, args.device)
    machine = f"{platform.node()}, {os.cpu_count()} CPUs"
    with open(DATA / "results.jsonl", "a") as fh:
        for row in rows:
            fh.write(json.dumps({**row, "machine": machine, "at": time.strftime("%Y-%m-%d %H:%M")}) + "\n")
    print("\n| " + " | ".join(rows[0]) + " |\n" + "|---" * len(rows[0]) + "|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")


if __name__ == "__main__":
    main()
