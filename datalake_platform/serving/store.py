"""The online store: Valkey (or Redis) keys of the online views, their idempotent writes and reads.

Key layout, under a prefix (`DATALAKE_SERVING_PREFIX`, default `dl`) so lakes can share a store:
- point view: `dl:<domain>.<table>:k:<key>`, a hash {v: version, j: the row as JSON}; it expires with
  its partition's retention. A write replaces a row only if its version is not older (a Lua script:
  check and set in one step), so a replayed batch never overwrites a newer value.
- series view: `dl:{<domain>.<table>}:r:<dt>|<time>` {v, m} per row, and a sorted set of the rows'
  JSON by time (`...:idx`) that a range reads in one command. Versioned by the table's Iceberg
  sequence number. The braces keep a view's keys in one cluster slot (its scripts touch several).
- snapshot view: `dl:{<domain>.<table>}:v:<version>`, one hash of key -> JSON per version, loaded
  under a temporary name, then renamed and made current by one script (`...:current`); readers
  read one version whole; the previous one stays readable for a grace period, then expires.
Every view also has `...:status` {version, updated_ms, rows}: what `/readyz` and the data's age read.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import valkey

from datalake_platform.serving.views import (
    EPOCH,
    OnlineView,
    day_end_ms,
    epoch_micros,
    epoch_seconds,
    utc,
)

CHUNK = 1000  # rows per pipeline round trip (and fields per HSET of a snapshot load)
OLD_VERSION_GRACE_MS = 60_000  # a reader that started on the previous snapshot version still finds it
LOAD_TTL_MS = 3_600_000  # a load that died half-way is dropped after an hour

# KEYS[1] the row; ARGV version, JSON, expire-at (ms, 0: never). 1 written (an equal version: rewritten,
# the same row), 0 a newer one is there.
UPSERT_POINT = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'j', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1
"""

# KEYS[1] the row, KEYS[2] the view's index; ARGV version, JSON, time (s), expire-at (ms, 0: never),
# the oldest time kept (s): older entries leave the index (rows themselves expire by their TTL).
UPSERT_SERIES = """
local current = redis.call('HMGET', KEYS[1], 'v', 'm')
if current[1] and tonumber(current[1]) > tonumber(ARGV[1]) then return 0 end
if current[2] then redis.call('ZREM', KEYS[2], current[2]) end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'm', ARGV[2])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIREAT', KEYS[1], ARGV[4]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
return 1
"""

# KEYS: current, the loaded key, the version's key, status, the previous version's key (or a dummy).
# ARGV: version, the previous version as read before ('' none), rows, as-of (ms), now (ms), grace (ms).
# -1: another load switched meanwhile (retried by the caller); 0: a newer version is current.
SWITCH_SNAPSHOT = """
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[2] then return -1 end
if current and tonumber(current) > tonumber(ARGV[1]) then redis.call('DEL', KEYS[2]); return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  redis.call('PERSIST', KEYS[3])
else
  redis.call('DEL', KEYS[3])
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[4], 'version', ARGV[1], 'rows', ARGV[3], 'as_of_ms', ARGV[4], 'updated_ms', ARGV[5])
if current and current ~= ARGV[1] then redis.call('PEXPIRE', KEYS[5], ARGV[6]) end
return 1
"""


class StoreUnavailable(RuntimeError):
    """The online store does not answer: the message names it (never its password)."""


@dataclass
class WriteCount:
    written: int = 0
    kept_newer: int = 0  # the store held a newer version of the row
    expired: int = 0  # past its retention: not written

    def __iadd__(self, other: WriteCount) -> WriteCount:
        self.written += other.written
        self.kept_newer += other.kept_newer
        self.expired += other.expired
        return self


class Keys:
    """The key names of one view."""

    def __init__(self, prefix: str, view: OnlineView):
        table = f"{view.table.domain}.{view.table.table}"
        self.point_prefix = f"{prefix}:{table}:k:"
        slot = f"{prefix}:{{{table}}}"
        self.row_prefix = f"{slot}:r:"
        self.index = f"{slot}:idx"
        self.current = f"{slot}:current"
        self.status = f"{slot}:status"
        self.slot = slot

    def point(self, key: Any) -> str:
        return f"{self.point_prefix}{key}"

    def row(self, day: str, seconds: int) -> str:
        return f"{self.row_prefix}{day}|{seconds}"

    def version(self, version: int | str) -> str:
        return f"{self.slot}:v:{version}"

    def loading(self) -> str:
        return f"{self.slot}:load:{uuid.uuid4().hex}"


def now_ms() -> int:
    return int(time.time() * 1000)


class OnlineStore:
    """Writes and reads of the online views in one Valkey/Redis database."""

    def __init__(self, client: valkey.Valkey, prefix: str = "dl", where: str = "the online store"):
        self.client = client
        self.prefix = prefix
        self.where = where  # how errors name the store: host and port, no password
        self._upsert_point = client.register_script(UPSERT_POINT)
        self._upsert_series = client.register_script(UPSERT_SERIES)
        self._switch = client.register_script(SWITCH_SNAPSHOT)

    @classmethod
    def from_url(cls, url: str, prefix: str = "dl") -> OnlineStore:
        client = valkey.Valkey.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
        kwargs = client.connection_pool.connection_kwargs
        where = f"the online store at {kwargs.get('host', kwargs.get('path'))}:{kwargs.get('port', '')}"
        return cls(client, prefix, where)

    def keys(self, view: OnlineView) -> Keys:
        return Keys(self.prefix, view)

    def ping(self) -> None:
        try:
            self.client.ping()
        except valkey.ValkeyError as error:
            raise StoreUnavailable(f"{self.where} does not answer: {error}") from None

    # -- writes ------------------------------------------------------------------------------------
    def upsert_points(
        self, view: OnlineView, rows: Iterable[Mapping[str, Any]], retention_days: int | None
    ) -> WriteCount:
        """Each row under its key, unless the store holds a newer version of it."""
        keys = self.keys(view)

        def send(pipe, row: Mapping[str, Any], expire: int) -> None:
            version = epoch_micros(row[view.version_column])
            self._upsert_point(keys=[keys.point(row[view.key])], args=[version, view.encode(row), expire], client=pipe)

        count = self._upsert(rows, retention_days, send)
        self._mark(keys, None, count.written)
        return count

    def upsert_series(
        self, view: OnlineView, rows: Iterable[Mapping[str, Any]], version: int, retention_days: int | None
    ) -> WriteCount:
        """Each row of the series at its time, unless the store holds it from a newer table version."""
        keys = self.keys(view)
        oldest = (now_ms() // 1000 - retention_days * 86_400 - 86_400) if retention_days is not None else 0

        def send(pipe, row: Mapping[str, Any], expire: int) -> None:
            seconds = epoch_seconds(row[view.key])
            args = [version, view.encode(row), seconds, expire, oldest]
            self._upsert_series(keys=[keys.row(str(row["dt"]), seconds), keys.index], args=args, client=pipe)

        count = self._upsert(rows, retention_days, send)
        self._mark(keys, version, count.written)
        return count

    def _upsert(self, rows: Iterable[Mapping[str, Any]], retention_days: int | None, send) -> WriteCount:
        """`send` (one script call queued on a pipeline) per row within retention, CHUNK rows a round trip."""
        count, now = WriteCount(), now_ms()
        for chunk in _chunks(rows):
            pipe = self.client.pipeline(transaction=False)
            sent = 0
            for row in chunk:
                expire = day_end_ms(row["dt"], retention_days) if retention_days is not None else 0
                if expire and expire <= now:
                    count.expired += 1
                    continue
                send(pipe, row, expire)
                sent += 1
            written = sum(self._run(pipe)) if sent else 0
            count.written += written
            count.kept_newer += sent - written
        return count

    def load_snapshot(
        self, view: OnlineView, rows: Iterable[Mapping[str, Any]], version: int, as_of: dt.datetime
    ) -> bool:
        """The table's rows as version `version`, made current in one step once all are loaded;
        False if the store already serves a newer version (the load is dropped)."""
        keys = self.keys(view)
        loading, loaded = keys.loading(), 0
        for chunk in _chunks(rows):
            mapping = {str(row[view.key]): view.encode(row) for row in chunk}
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(loading, mapping=mapping)
            pipe.pexpire(loading, LOAD_TTL_MS)
            self._run(pipe)
            loaded += len(mapping)
        as_of_ms = int((utc(as_of) - EPOCH).total_seconds() * 1000)
        for _ in range(10):  # another load may switch between the read of `current` and the script
            previous = self._call(self.client.get, keys.current)
            previous = previous.decode() if previous else ""
            switch_keys = [keys.current, loading, keys.version(version), keys.status, keys.version(previous or "none")]
            args = [version, previous, loaded, as_of_ms, now_ms(), OLD_VERSION_GRACE_MS]
            result = self._call(self._switch, keys=switch_keys, args=args)
            if result >= 0:
                return result == 1
        raise StoreUnavailable(f"{self.where}: {view.name} kept changing while version {version} was switched to")

    def delete_points(self, view: OnlineView, keys: Iterable[Any]) -> int:
        names = [self.keys(view).point(k) for k in keys]
        return sum(self._call(self.client.delete, *chunk) for chunk in _chunks(names)) if names else 0

    def delete_series_rows(self, view: OnlineView, row_keys: Iterable[str]) -> int:
        """Rows (`<dt>|<time>`) that the lake no longer holds, with their index entries."""
        keys, removed = self.keys(view), 0
        for chunk in _chunks(list(row_keys)):
            read = self.client.pipeline(transaction=False)
            for key in chunk:
                read.hget(keys.row_prefix + key, "m")
            members = self._run(read)
            pipe = self.client.pipeline(transaction=False)
            for key, member in zip(chunk, members):
                if member is not None:
                    pipe.zrem(keys.index, member)
                pipe.delete(keys.row_prefix + key)
            removed += len(chunk)
            self._run(pipe)
        return removed

    def mark(self, view: OnlineView) -> None:
        """The view loaded (as empty as the lake's table is absent)."""
        self._mark(self.keys(view), None, 0)

    def _mark(self, keys: Keys, version: int | None, written: int) -> None:
        fields = {"updated_ms": now_ms()}
        if version is not None:
            fields["version"] = version
        self._call(self.client.hset, keys.status, mapping=fields)

    # -- reads (checks, tests, the CLI; the API has its own async reader) ------------------------
    def point(self, view: OnlineView, key: Any) -> dict | None:
        raw = self._call(self.client.hget, self.keys(view).point(key), "j")
        return json.loads(raw) if raw is not None else None

    def point_keys(self, view: OnlineView) -> Iterator[str]:
        prefix = self.keys(view).point_prefix
        for name in self._call(lambda: list(self.client.scan_iter(match=f"{_glob(prefix)}*", count=1000))):
            yield name.decode()[len(prefix) :]

    def series_rows(self, view: OnlineView) -> dict[str, dict]:
        """Every row of a series view, by `<dt>|<time>`."""
        members = self._call(self.client.zrange, self.keys(view).index, 0, -1, withscores=True)
        rows = {}
        for member, seconds in members:
            row = json.loads(member)
            rows[f"{row['dt']}|{int(seconds)}"] = row
        return rows

    def series(self, view: OnlineView, start: dt.datetime, end: dt.datetime) -> list[dict]:
        members = self._call(self.client.zrangebyscore, self.keys(view).index, epoch_seconds(start), epoch_seconds(end))
        return [json.loads(m) for m in members]

    def snapshot_status(self, view: OnlineView) -> dict[str, int] | None:
        keys = self.keys(view)
        current = self._call(self.client.get, keys.current)
        if current is None:
            return None
        status = self._call(self.client.hgetall, keys.status)
        status = {k.decode(): int(v) for k, v in status.items()}
        status["version"] = int(current)
        status["stored"] = self._call(self.client.hlen, keys.version(int(current)))
        return status

    def snapshot_row(self, view: OnlineView, key: Any) -> dict | None:
        status = self.snapshot_status(view)
        if status is None:
            return None
        raw = self._call(self.client.hget, self.keys(view).version(status["version"]), str(key))
        return json.loads(raw) if raw is not None else None

    def status(self, view: OnlineView) -> dict[str, int]:
        raw = self._call(self.client.hgetall, self.keys(view).status)
        return {k.decode(): int(v) for k, v in raw.items()}

    # -- errors --------------------------------------------------------------------------------
    def _run(self, pipe) -> list:
        return self._call(pipe.execute)

    def _call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (valkey.ConnectionError, valkey.TimeoutError, valkey.AuthenticationError) as error:
            raise StoreUnavailable(f"{self.where} does not answer: {error}") from None


def _chunks(items: Iterable, size: int = CHUNK) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _glob(text: str) -> str:
    """`text` with SCAN's pattern characters escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
