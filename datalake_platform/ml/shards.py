"""Training data streamed from a lake table's parquet shards, never loaded whole into memory.

Each parquet file of the table is a shard. An epoch visits the shards in a seeded order (each
DataLoader worker its own share), reads them in chunks of rows, shuffles inside a chunk and
yields ready minibatches: memory stays at one chunk per worker whatever the table's size.
Pixels stay uint8 until they reach the device (a quarter of the bytes to move).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import TableRef


def parquet_shards(storage: LakeStorage, ref: TableRef) -> list[str]:
    """The (unpartitioned) table's committed parquet files, sorted: the shards."""
    return sorted(storage.table_files(ref))


def fixed_size_bytes(column: pa.Array, shape: Sequence[int]) -> np.ndarray:
    """A binary column whose values all hold prod(shape) bytes, as one uint8 array [rows, *shape] (one copy)."""
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32, count=len(column) + 1, offset=column.offset * 4)
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    if data.size != len(column) * int(np.prod(shape)):
        raise ValueError(f"tensor column: values are not all {int(np.prod(shape))} bytes")
    return data.reshape(len(column), *shape).copy()


class ParquetShards(IterableDataset):
    """Minibatches {"x": uint8 [n, *shape], "y": int64 [n], "ids": [str]} from the shards, optionally one split."""

    def __init__(
        self,
        storage: LakeStorage,
        shards: list[str],
        shape: Sequence[int],
        batch_size: int,
        split: str | None = None,
        shuffle_seed: int | None = None,
        chunk_rows: int = 8192,
    ):
        self.storage, self.shards, self.shape = storage, shards, tuple(shape)
        self.batch_size, self.split, self.seed, self.chunk_rows = batch_size, split, shuffle_seed, chunk_rows
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _my_shards(self) -> list[str]:
        shards = list(self.shards)
        if self.seed is not None:
            random.Random(self.seed + self.epoch).shuffle(shards)
        worker = get_worker_info()
        return shards if worker is None else shards[worker.id :: worker.num_workers]

    def __iter__(self) -> Iterator[dict]:
        rng = np.random.default_rng(None if self.seed is None else (self.seed, self.epoch))
        for shard in self._my_shards():
            with self.storage.fs.open(shard, "rb") as fh:
                for chunk in pq.ParquetFile(fh).iter_batches(
                    self.chunk_rows, columns=["image_id", "tensor", "label", "split"]
                ):
                    if self.split is not None:
                        chunk = chunk.filter(pc.equal(chunk.column("split"), self.split))
                    if self.seed is not None:
                        chunk = chunk.take(rng.permutation(chunk.num_rows))
                    yield from self._batches(chunk)

    def _batches(self, chunk: pa.RecordBatch) -> Iterator[dict]:
        for start in range(0, chunk.num_rows, self.batch_size):
            part = chunk.slice(start, self.batch_size)
            yield {
                "x": torch.from_numpy(fixed_size_bytes(part.column("tensor"), self.shape)),
                "y": torch.from_numpy(part.column("label").to_numpy(zero_copy_only=False).astype(np.int64)),
                "ids": part.column("image_id").to_pylist(),
            }
