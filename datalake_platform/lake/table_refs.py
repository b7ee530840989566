"""Zones and tables: where every table of the lake lives.

A table is identified by `(zone, domain, table)`; its asset key is the same triple and its
data lives at `{root}/{zone}/{domain}/{table}/`, partitions as Hive-style `dt=YYYY-MM-DD`
folders, so any SQL engine can read it as an external table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Zone(StrEnum):
    LANDING = "landing"  # files exactly as they arrived, never modified
    UNIVERSAL = "universal"  # typed, validated, parquet, partitioned
    SMART = "smart"  # business views: reports, features, models


class ServiceArea(StrEnum):
    """Areas of the lake that are not zones: no asset reads them as input."""

    QUARANTINE = "quarantine"  # rejected rows, with the reason
    MANIFEST = "manifest"  # which landing files were ingested, their content hash, duplicates
    WORK = "work"  # staging for atomic commits, checkpoints, scratch
    ONLINE = "online"  # the online store's copies of tables (serving): in Valkey, not in the lake's storage


PARTITION_COLUMN = "dt"


@dataclass(frozen=True)
class TableRef:
    zone: str
    domain: str
    table: str

    @property
    def key_path(self) -> list[str]:
        """The Dagster asset key path: [zone, domain, table]."""
        return [str(self.zone), self.domain, self.table]

    @property
    def group_name(self) -> str:
        """The Dagster asset group: the zone, as a plain string (Dagster serializes no enums)."""
        return str(self.zone)

    @property
    def relative_path(self) -> str:
        return f"{self.zone}/{self.domain}/{self.table}"

    def quarantine(self) -> TableRef:
        """Where the rows this table rejected are kept."""
        return TableRef(ServiceArea.QUARANTINE, self.domain, self.table)

    def manifest(self) -> TableRef:
        """Where the landing files ingested into this table are recorded."""
        return TableRef(ServiceArea.MANIFEST, self.domain, self.table)

    def __str__(self) -> str:
        return self.relative_path


def partition_folder(day: str) -> str:
    return f"{PARTITION_COLUMN}={day}"
