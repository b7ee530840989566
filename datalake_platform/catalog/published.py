"""What a commit publishes to SQL engines, and the journal that records every publication.

The journal is append-only (one small JSON file per commit, no read-modify-write), so
concurrent runs never lose each other's partitions; any engine can be rebuilt from it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field

from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import PARTITION_COLUMN, ServiceArea, TableRef, Zone

CATALOGUED_ZONES = (Zone.UNIVERSAL, Zone.SMART)  # landing is raw files; quarantine and work are not tables to query
JOURNAL = f"{ServiceArea.WORK}/catalog/journal"


@dataclass(frozen=True)
class PublishedTable:
    """One table as SQL engines see it: `{zone}_{domain}.{table}` over its folder in the lake."""

    zone: str
    domain: str
    table: str
    location: str  # the table's folder as SQL engines name it (s3://, gs://, abfss://, a path)
    columns: tuple[tuple[str, str], ...]  # (name, Spark SQL type) of the data columns, `dt` excluded
    partitioned: bool
    days: tuple[str, ...] = field(default=())  # partitions published (by this commit, or all when merged)

    @property
    def database(self) -> str:
        return f"{self.zone}_{self.domain}"

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.table}"

    @property
    def partition_column(self) -> str | None:
        return PARTITION_COLUMN if self.partitioned else None

    def partition_location(self, day: str) -> str:
        return f"{self.location}/{PARTITION_COLUMN}={day}"


def published_table(storage: LakeStorage, ref: TableRef, schema, days: list[str] | None) -> PublishedTable | None:
    """The table a commit of `ref` with Spark `schema` publishes; None for tables SQL users don't query."""
    if ref.zone not in CATALOGUED_ZONES:
        return None
    columns = tuple((f.name, f.dataType.simpleString()) for f in schema.fields if f.name != PARTITION_COLUMN)
    return PublishedTable(
        str(ref.zone),
        ref.domain,
        ref.table,
        engine_uri(f"{storage.location}/{ref.relative_path}"),
        columns,
        partitioned=days is not None,
        days=tuple(sorted(days or ())),
    )


def engine_uri(uri: str) -> str:
    """SQL engines (Athena, Glue, EMR) name S3 `s3://`; `s3a://` is only Hadoop's connector's scheme."""
    return "s3://" + uri[len("s3a://") :] if uri.startswith("s3a://") else uri


def record(storage: LakeStorage, table: PublishedTable) -> str:
    """Append the publication to the journal; returns the entry's URI."""
    name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{time.time_ns() % 10**9:09d}-{uuid.uuid4().hex[:8]}.json"
    uri = storage.uri(f"{JOURNAL}/{table.zone}.{table.domain}.{table.table}/{name}")
    storage.write_bytes(uri, json.dumps(asdict(table)).encode())
    return uri


def journal_entries(storage: LakeStorage) -> list[str]:
    """Every journal entry's URI, oldest first within each table."""
    folder = storage.uri(JOURNAL)
    if not storage.fs.exists(folder):
        return []
    return sorted(storage._full(p) for p in storage.fs.find(folder) if p.endswith(".json"))


def read_entry(storage: LakeStorage, uri: str) -> PublishedTable:
    with storage.fs.open(uri, "rb") as fh:
        data = json.load(fh)
    return PublishedTable(**{**data, "columns": tuple(map(tuple, data["columns"])), "days": tuple(data["days"])})


def merged(tables: list[PublishedTable]) -> list[PublishedTable]:
    """One entry per table: its latest columns and location, every partition ever published."""
    out: dict[tuple[str, str, str], PublishedTable] = {}
    for table in tables:
        key = (table.zone, table.domain, table.table)
        before = out.get(key)
        days = tuple(sorted(set(table.days) | set(before.days if before else ())))
        out[key] = PublishedTable(**{**asdict(table), "columns": table.columns, "days": days})
    return [out[k] for k in sorted(out)]
