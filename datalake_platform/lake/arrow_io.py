"""Partitions read and written with pyarrow, committed through the catalog like Spark's writes.

For rows that fit in memory and where a Spark job's fixed cost would be most of the work: a
compaction's rewrite (lake.maintenance), a micro-batch's update of a day's metrics (posts stream).
pyiceberg's own `Table.overwrite` writes its files where readers of this lake would take the
folder for a migrated partition (`dt=<day>/`, lake.iceberg.path_day), so the files are staged the
way Spark's writes are and committed by `LakeStorage.commit_partitions`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datalake_platform.lake.iceberg import day_folder
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import PARTITION_COLUMN, TableRef


def read_file(storage: LakeStorage, path: str, day: str | None, schema: pa.Schema) -> pa.Table:
    """A data file's rows in the table's schema: a column the file lacks is null, but a migrated
    file's `dt`, which is its partition (lake.migration); legacy INT96 times are UTC instants."""
    [readable] = storage.readable_paths([path])
    with storage.fs.open(readable, "rb") as fh:
        rows = pq.read_table(fh, coerce_int96_timestamp_unit="us")
    columns = []
    for field in schema:
        if field.name in rows.column_names:
            columns.append(rows.column(field.name).cast(field.type))
        elif field.name == PARTITION_COLUMN and day is not None:
            columns.append(pa.array([dt.date.fromisoformat(day)] * rows.num_rows, field.type))
        else:
            columns.append(pa.nulls(rows.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def read_partitions(storage: LakeStorage, ref: TableRef, days: list[str], schema: pa.Schema) -> pa.Table:
    """The rows of `days` in the table's current snapshot (none if the table is new), in `schema`."""
    tables = storage.tables
    parts = [read_file(storage, f.file_path, tables.day_of(f), schema) for f in tables.data_files(ref, days)]
    return pa.concat_tables(parts) if parts else schema.empty_table()


def write_staged(storage: LakeStorage, staging: str, day: str | None, rows: pa.Table) -> None:
    """One parquet file of `rows` in a write's staging folder (in its day's folder, for a partition)."""
    folder = f"{staging}/{day_folder(day)}" if day is not None else staging
    storage.fs.makedirs(folder, exist_ok=True)
    with storage.fs.open(f"{folder}/part-{uuid.uuid4().hex}.parquet", "wb") as fh:
        pq.write_table(rows, fh)


def replace_partitions(
    storage: LakeStorage, ref: TableRef, rows: pa.Table, days: list[str], summary: Mapping[str, str]
) -> int | None:
    """Make `rows` (which hold `dt`) the partitions `days` of `ref`, in one snapshot; its id."""
    staging = storage.staging_uri(ref)
    try:
        for day in days:
            of_day = rows.filter(pc.equal(rows[PARTITION_COLUMN], pa.scalar(dt.date.fromisoformat(day))))
            if of_day.num_rows:
                write_staged(storage, staging, day, of_day)
        return storage.commit_partitions(ref, staging, days, rows.schema, summary)
    except BaseException:
        storage.discard(staging)
        raise
