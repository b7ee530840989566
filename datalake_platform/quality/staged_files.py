"""A write's staged parquet files, read on the driver with pyarrow: for proofs quicker there than
a Spark job, where Spark runs in the same process anyway (see `ContractAudit`)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datalake_platform.lake.tables import PARTITION_COLUMN

THREADS = 4  # pyarrow decodes outside the GIL: a few partitions at once
# A partition with more keys than this (a whole table's) has them counted in buckets, in parallel.
BUCKETED_KEYS = 1_000_000


def _key_memory_pool() -> pa.MemoryPool:
    """The pool the keys are hashed in: jemalloc, else the system's allocator. With Arrow's default
    (mimalloc), a report's 2.5M keys took 0.8 s to count inside a run (0.3 s in a fresh process),
    with jemalloc 0.33 s; the growing hash table's memory seems to be faulted in again each time."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


@dataclass(frozen=True)
class StagedFiles:
    """A write's staged parquet files per partition (a day, or "all"), which the driver can read."""

    fs: fsspec.AbstractFileSystem
    by_partition: Mapping[str, list[str]]

    def as_one(self) -> StagedFiles:
        """All the files as one partition, "all"."""
        return StagedFiles(self.fs, {"all": [f for files in self.by_partition.values() for f in files]})

    def distinct_keys(self, columns: list[str]) -> dict[str, int]:
        """Per partition, exactly how many distinct values of `columns` its files hold (null is one
        value). The partition column, which is in the folder's name, is one value per partition."""
        in_files = [c for c in columns if c != PARTITION_COLUMN]
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            counted = pool.map(lambda files: self._distinct(files, in_files), self.by_partition.values())
            return dict(zip(self.by_partition, counted))

    def _distinct(self, files: list[str], columns: list[str]) -> int:
        tables = []
        for name in files:
            with self.fs.open(name, "rb") as fh:
                tables.append(pq.ParquetFile(fh).read(columns=columns))
        keys = pa.concat_tables(tables) if tables else None
        if keys is None or not columns:
            return min(keys.num_rows if keys is not None else 0, 1)
        if len(columns) == 1:
            return _count_distinct(keys.column(0))
        return keys.group_by(columns).aggregate([]).num_rows


def _count_distinct(values: pa.ChunkedArray) -> int:
    """Distinct values, null being one. Many strings are split into buckets by their last character,
    which equal strings share, and the buckets are counted in parallel: both cores, and hash tables
    a quarter the size (a report's 2.5M keys: 0.25 s instead of 0.42 s)."""
    if len(values) <= BUCKETED_KEYS or not pa.types.is_string(values.type):
        return len(pc.unique(values, memory_pool=_key_memory_pool()))
    values = values.combine_chunks()
    bucket = pc.bit_wise_and(pc.dictionary_encode(pc.utf8_slice_codeunits(values, -1)).indices, THREADS - 1)
    parts = [pc.filter(values, pc.equal(bucket, b)) for b in range(THREADS)]  # a null value is in none
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        counted = pool.map(lambda part: len(pc.unique(part, memory_pool=_key_memory_pool())), parts)
        return sum(counted) + (values.null_count > 0)
