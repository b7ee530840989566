"""The governance spec of a table: who owns it, how sensitive it is, which of its columns hold
personal data and how each is protected, how long it is kept, who reads it, how fresh it must be,
and where each of its columns comes from.

A domain declares one `TableGovernance` per table in its `governance.py`, beside its schemas;
`governance.assets.governed` puts them on the assets (owners, tags, definition metadata, column
schema with tags, freshness policy, `dagster/column_lineage`), the PII check enforces them, the
retention asset applies them and the export hands them to catalogs. Nothing here reads the
environment or the lake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from datalake_platform.lake.table_refs import TableRef, Zone

if TYPE_CHECKING:
    import pandera.pyspark as pa
    from pyspark.sql import DataFrame, SparkSession

    from datalake_platform.lake.storage import LakeStorage


class Classification(StrEnum):
    """How much harm a leak of the table does, the usual four levels of a data policy."""

    PUBLIC = "public"  # published data sets, aggregates with no person in them
    INTERNAL = "internal"  # business data, no person identifiable without other tables
    CONFIDENTIAL = "confidential"  # pseudonymised personal data, or business secrets
    RESTRICTED = "restricted"  # personal data in clear: landing only, few readers


class PiiCategory(StrEnum):
    """What kind of personal data a column holds (or was derived from)."""

    PERSON_NAME = "person_name"
    DOCUMENT_NUMBER = "document_number"  # a ticket, a passport, an invoice number naming a person
    ONLINE_HANDLE = "online_handle"  # a social-network user name
    CUSTOMER_ID = "customer_id"  # an identifier issued by the business to a person
    FREE_TEXT = "free_text"  # text written by a person, which may name others


class Treatment(StrEnum):
    """How a column's personal data is protected where the table keeps it."""

    RAW = "raw"  # as it arrived: landing only
    KEYED_HASH = "keyed_hash"  # HMAC-SHA-256 under the lake's key (governance.pii)
    MASKED = "masked"  # a lossy form for display (first letters)
    DROPPED = "dropped"  # not kept at all: listed so the report says where it went
    KEPT = "kept"  # kept in clear, with the reason stated in the spec


@dataclass(frozen=True)
class Pii:
    """One column's personal data. `source` is the landing column it protects (for the check
    that no raw value reaches universal or smart); `reason` is required when it is kept."""

    category: PiiCategory
    treatment: Treatment
    source: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.treatment == Treatment.KEPT and not self.reason:
            raise ValueError(f"personal data ({self.category}) kept in clear needs a stated reason")

    @property
    def tags(self) -> dict[str, str]:
        """The column's tags in a column schema (`dagster/column_schema`) and in catalogs."""
        return {"pii": str(self.treatment), "pii_category": str(self.category)}


@dataclass(frozen=True)
class ColumnSource:
    """A column of another table that an output column is computed from."""

    table: TableRef
    column: str


@dataclass(frozen=True, eq=False)  # one spec per table: compared by identity
class TableGovernance:
    """The governance of one table. `retention_days`: partitions (days) older than this are removed;
    None: kept as long as the lake is (a model, a table with no days, a system of record).
    `freshness` None: no expectation (a table rebuilt by hand)."""

    table: TableRef
    owner: str
    classification: Classification
    readers: tuple[str, ...]
    retention_days: int | None = None
    quarantine_retention_days: int | None = None  # of the rows it rejected, `quarantine/<domain>/<table>`
    freshness: timedelta | None = None
    pii: Mapping[str, Pii] = field(default_factory=dict)
    lineage: Mapping[str, tuple[ColumnSource, ...]] = field(default_factory=dict)
    model: type[pa.DataFrameModel] | None = None  # the table's contract: its column schema before any run
    # A landing table's raw PII columns, read by its domain's own parser (for the pii_protected check).
    landing_values: Callable[[SparkSession, LakeStorage], DataFrame] | None = None
    is_model: bool = False  # a model artifact, not a table of rows: no PII scan

    def __post_init__(self) -> None:
        if self.table.zone != Zone.LANDING and any(p.treatment == Treatment.RAW for p in self.pii.values()):
            raise ValueError(f"{self.table}: raw personal data belongs in landing only")
        if not (self.owner.startswith("team:") or "@" in self.owner):
            raise ValueError(f"{self.table}: owner {self.owner!r} is neither `team:<name>` nor an email address")

    @property
    def retention(self) -> str:
        return f"{self.retention_days} days" if self.retention_days is not None else "kept"

    @property
    def protected_sources(self) -> dict[str, Pii]:
        """Columns whose landing source must never appear in clear here: every PII column but the kept ones."""
        return {c: p for c, p in self.pii.items() if p.treatment != Treatment.KEPT and p.source}


def columns_from(table: TableRef, *columns: str) -> tuple[ColumnSource, ...]:
    """`ColumnSource`s of several columns of one table, for a `lineage` entry."""
    return tuple(ColumnSource(table, c) for c in columns)


def same_columns(table: TableRef, *columns: str) -> dict[str, tuple[ColumnSource, ...]]:
    """Lineage of columns passed through unchanged from `table` under the same name."""
    return {c: (ColumnSource(table, c),) for c in columns}
