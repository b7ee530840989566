"""Online views: how a lake table is served, declared by its domain (`domains/<d>/online.py`).

Three kinds, by how applications read them:
- `point`: one row per key (a post's score), upserted as the pipeline writes; a row's version is a
  timestamp column, so a replayed write never replaces a newer one; a row expires with its `dt`
  partition's retention;
- `series`: rows by time (metrics per minute), read by range; versioned by the table's snapshot;
- `snapshot`: a whole table (the report by person), loaded as a new version, then switched to at once.

A view's asset is `online/<domain>/<table>`, downstream of the lake table it serves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from datalake_platform.lake.table_refs import PARTITION_COLUMN, ServiceArea, TableRef

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ViewKind(StrEnum):
    POINT = "point"
    SERIES = "series"
    SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class OnlineView:
    """A lake table as the online store serves it: `key` (the column looked up, or the series' time),
    the `columns` a response holds besides it, and the HTTP `path` of one key (or of the range)."""

    table: TableRef
    kind: ViewKind
    key: str
    columns: tuple[str, ...]
    path: str
    description: str
    key_type: type = str
    key_pattern: str | None = None  # a key that does not match is malformed (422)
    version_column: str | None = None  # point views: the timestamp that orders writes of a key
    batch_path: str | None = None  # point views: POST many keys at once
    max_batch: int = 100
    max_range: dt.timedelta = dt.timedelta(days=7)  # series views: the longest range one request reads
    # series views: the rows of one time (e.g. one minute in two landing days) as one answer
    merge: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = field(default=None, compare=False)

    @property
    def ref(self) -> TableRef:
        """The view as a table of the online area: its asset key is `online/<domain>/<table>`."""
        return TableRef(ServiceArea.ONLINE, self.table.domain, self.table.table)

    @property
    def name(self) -> str:
        return f"{self.table.domain}/{self.table.table}"

    @property
    def partitioned(self) -> bool:
        return self.kind != ViewKind.SNAPSHOT

    @property
    def lake_columns(self) -> list[str]:
        """The columns read from the lake table."""
        extra = [PARTITION_COLUMN] if self.partitioned else []
        return list(dict.fromkeys([self.key, *self.columns, *extra]))

    def body(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row as a response holds it: the key, then the columns, in JSON's types."""
        names = [self.key, *self.columns]
        if self.kind == ViewKind.SERIES:
            names.append(PARTITION_COLUMN)  # one time may be in two partitions: each row says which
        return {name: json_value(row[name]) for name in names}

    def encode(self, row: Mapping[str, Any]) -> bytes:
        return dumps(self.body(row))


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def json_value(value: Any) -> Any:
    """Exact decimals as strings, times as ISO 8601 in UTC, days as ISO dates."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def utc(value: dt.datetime) -> dt.datetime:
    """A time in UTC. A naive one is the local time of this process: what Spark's `collect()` gives
    (Python's `astimezone` reads a naive time as local too). pyiceberg's times are already aware."""
    return value.astimezone(dt.UTC)


def epoch_micros(value: dt.datetime) -> int:
    delta = utc(value) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def epoch_seconds(value: dt.datetime) -> int:
    return epoch_micros(value) // 1_000_000


def day_end_ms(day: dt.date | str, retention_days: int) -> int:
    """The end (ms since the epoch) of the last day a partition is kept: retention removes day `d`
    once `d` is more than `retention_days` days before today (governance.retention)."""
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    last = dt.datetime.combine(day + dt.timedelta(days=retention_days + 1), dt.time(), dt.UTC)
    return int((last - EPOCH).total_seconds() * 1000)


def by_name(views: Iterable[OnlineView]) -> dict[str, OnlineView]:
    return {v.name: v for v in views}


def unservable_columns(view: OnlineView, pii: Mapping[str, Any]) -> list[str]:
    """The view's columns that hold personal data in a form it may not serve (`pii`: the table's governance
    spec, column -> Pii). Only keyed hashes and masked forms are served; the key itself may be a kept
    identifier, since the caller sends it (the answer reveals no personal data the caller lacks)."""
    from datalake_platform.governance.spec import Treatment

    protected = {Treatment.KEYED_HASH, Treatment.MASKED}
    wrong = [c for c in view.columns if c in pii and pii[c].treatment not in protected]
    if view.key in pii and pii[view.key].treatment not in {*protected, Treatment.KEPT}:
        wrong.append(view.key)
    return wrong
