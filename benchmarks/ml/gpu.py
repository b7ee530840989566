"""The CNN at the reference's scale (500,000 images) on a GPU machine that has no Java and no Dagster.

    python3 benchmarks/ml/gpu.py --images 500000 --batch-size 256 512 --loader-workers 4 8

The GPU machines lent here hold PyTorch, pyarrow and Pillow but no JVM, no PySpark and no Dagster,
and reach no package index. So this runner imports only the package's Spark-free modules (the
generator, the image decoder, the shard reader and the CNN, the very code the assets call) and does
by hand the two steps Spark does in the asset graph: decoding the landing PNGs into the tensor table
(here in a process pool, one 50,000-image parquet shard per process, the table's own layout) and
the train/test split (a hash of image_id, 20 % test, as SPLIT_SQL, but with Python's blake2b
instead of Spark's xxhash64). The training and test loops are the asset's: `ParquetShards` streamed
through a DataLoader with pinned memory, `cnn.train`, `cnn.predict`.

Reports per (batch size, loader workers): training images/s, the share of the training loop spent
waiting for the next minibatch, test accuracy; plus the loader alone (no model) and the CPU of the
same machine on a slice, for ratios within one session. Results go to stdout and --out (JSON lines).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
import time
import types
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
# The package's __init__ loads the Dagster definitions; register it bare so only the
# Spark-free submodules below are imported.
_package = types.ModuleType("datalake_platform")
_package.__path__ = [str(ROOT / "datalake_platform")]
sys.modules.setdefault("datalake_platform", _package)

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from datalake_platform.domains.images import cnn  # noqa: E402
from datalake_platform.domains.images.decoding import decode_image  # noqa: E402
from datalake_platform.domains.images.seed import variation  # noqa: E402
from datalake_platform.domains.images.tables import CLASSES, SHARD_ROWS, TEST_SHARE  # noqa: E402
from datalake_platform.lake.storage import LocalLakeStorage  # noqa: E402
from datalake_platform.ml.shards import ParquetShards  # noqa: E402

SHAPE = (32, 32, 3)


def _write_shard(folder: str, seed: int, start: int, stop: int) -> tuple[str, int]:
    """Generate images start..stop as the landing generator does, decode each, write one shard."""
    ids, tensors, labels, splits = [], [], [], []
    for index in range(start, stop):
        label, png = variation(seed, index)
        decoded = decode_image(png)
        if decoded["reason"] is not None:
            raise RuntimeError(f"generated image {index} did not decode: {decoded}")
        image_id = hashlib.sha256(f"{CLASSES[label]}/gen-{seed}-{index:07d}.png".encode()).hexdigest()[:32]
        bucket = int.from_bytes(hashlib.blake2b(image_id.encode(), digest_size=8).digest(), "big") % 100
        ids.append(image_id), tensors.append(decoded["tensor"]), labels.append(label)
        splits.append("test" if bucket < TEST_SHARE else "train")
    table = pa.table(
        {
            "image_id": ids,
            "tensor": pa.array(tensors, pa.binary()),
            "label": pa.array(labels, pa.int32()),
            "split": splits,
        }
    )
    path = f"{folder}/part-{start:07d}.parquet"
    pq.write_table(table, path)
    return path, table.num_rows


def build_table(folder: Path, images: int, shard_rows: int, workers: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    ranges = [(s, min(s + shard_rows, images)) for s in range(0, images, shard_rows)]
    with ProcessPoolExecutor(workers) as pool:
        done = list(pool.map(_write_shard, *zip(*[(str(folder), 0, a, b) for a, b in ranges])))
    return sorted(path for path, _ in done)


def loader(storage, shards, batch_size: int, workers: int, split: str | None, device, shuffle: bool):
    dataset = ParquetShards(storage, shards, SHAPE, batch_size, split, shuffle_seed=1234 if shuffle else None)
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )


def loader_only(storage, shards, batch_size: int, workers: int, device) -> float:
    """Images/s the loader delivers into pinned memory with no model: the ceiling it sets."""
    started, seen = time.perf_counter(), 0
    for batch in loader(storage, shards, batch_size, workers, "train", device, shuffle=True):
        seen += len(batch["y"])
    return seen / (time.perf_counter() - started)


def train_once(storage, shards, batch_size: int, workers: int, device, limit: int | None = None) -> dict:
    batches = loader(storage, shards, batch_size, workers, "train", device, shuffle=True)
    epoch = batches if limit is None else itertools.islice(batches, limit // batch_size)
    trained = cnn.train([epoch], device, learning_rate=1e-3, seed=1234)
    row = {
        "device": str(device),
        "batch_size": batch_size,
        "loader_workers": workers,
        "train_images": trained.images,
        "training_seconds": round(trained.seconds, 2),
        "images_per_second": round(trained.images_per_second),
        "loader_wait_share": round(trained.loader_wait_share, 4),
        "loader_startup_seconds": round(trained.loader_startup_seconds, 2),
        "loss": round(trained.loss_per_epoch[0], 4),
    }
    if limit is None:
        scored = cnn.predict(trained.model, loader(storage, shards, 1024, workers, "test", device, False), device)
        hits = sum(a == b for a, b in zip(scored["label"], scored["prediction"]))
        row.update(test_images=len(scored["label"]), test_accuracy=round(hits / len(scored["label"]), 4))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=500_000)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--loader-workers", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--shard-rows", type=int, nargs="+", default=[SHARD_ROWS], help="one tensor table per value")
    parser.add_argument("--cpu-images", type=int, default=20_000, help="CPU baseline on this many images (0: none)")
    parser.add_argument("--data", default="/tmp/cnn_tensors")
    parser.add_argument("--out", default=os.environ.get("OUT", "/tmp") + "/gpu_results.jsonl")
    args = parser.parse_args()

    def report(row: dict) -> None:
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as fh:
            fh.write(json.dumps(row) + "\n")

    device = cnn.pick_device("auto")
    report(
        {
            "step": "machine",
            "device": str(device),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        }
    )
    storage = LocalLakeStorage(args.data)
    for shard_rows in args.shard_rows:
        started = time.perf_counter()
        shards = build_table(Path(args.data) / f"rows_{shard_rows}", args.images, shard_rows, os.cpu_count() or 1)
        report(
            {
                "step": "tensor_table",
                "images": args.images,
                "shards": len(shards),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        for workers in args.loader_workers:
            report(
                {
                    "step": "loader_only",
                    "shards": len(shards),
                    "batch_size": args.batch_size[0],
                    "loader_workers": workers,
                    "images_per_second": round(loader_only(storage, shards, args.batch_size[0], workers, device)),
                }
            )
        for batch_size, workers in itertools.product(args.batch_size, args.loader_workers):
            report({"step": "train", "shards": len(shards), **train_once(storage, shards, batch_size, workers, device)})
    if args.cpu_images and device.type == "cuda":
        cpu = torch.device("cpu")
        report({"step": "train_cpu_slice", **train_once(storage, shards, args.batch_size[0], 2, cpu, args.cpu_images)})


if __name__ == "__main__":
    main()
