"""The manifest of a landing table: every file ingested, its content hash, and its duplicates.

Exactly once, by content: a landing file whose bytes equal those of a file already ingested
(under another name, in any day) is a duplicate, and its rows go to quarantine with reason
`duplicate_file` instead of into universal a second time. The file ingested first keeps its
rows; re-running either day keeps that verdict, because each entry remembers when its file was
first ingested. Hashing every file would read all of landing again, so only files whose size
equals another file's are hashed (bytes can only be equal if sizes are).

The manifest is an Iceberg table in the `manifest` service area (`manifest_<domain>.<table>`), a
small file per day, replaced with the universal partition it describes. No library keeps such a registry for
plain files on any store (Auto Loader's is Databricks-only), hence this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import pyarrow as pa
import pyarrow.parquet as pq

from datalake_platform.lake.iceberg import day_folder
from datalake_platform.lake.storage import LakeStorage, LandingFile
from datalake_platform.lake.table_refs import PARTITION_COLUMN, TableRef

DUPLICATE_FILE = "duplicate_file"


@dataclass(frozen=True)
class Entry:
    source_file: str  # dt=YYYY-MM-DD/name, relative to the landing table
    size: int
    version: str
    first_ingested: str  # ISO timestamp (UTC) of the first run that ingested these bytes under this name
    sha256: str | None = None  # computed only when another file has the same size
    duplicate_of: str | None = None  # the file ingested first with the same bytes
    records: int | None = None  # its data records, counted by the run that wrote this entry (see records.count_landing)

    @property
    def day(self) -> str:
        return self.source_file.split("/", 1)[0].split("=", 1)[1]


SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("size", pa.int64()),
        ("version", pa.string()),
        ("first_ingested", pa.string()),
        ("sha256", pa.string()),
        ("duplicate_of", pa.string()),
        ("records", pa.int64()),  # absent from manifests written before it was kept: read as null
    ]
)
TABLE_SCHEMA = SCHEMA.append(pa.field(PARTITION_COLUMN, pa.date32()))  # an Iceberg table's files hold its partition


def judge(
    storage: LakeStorage, landing: TableRef, days: list[str], files: list[LandingFile], now: dt.datetime | None = None
) -> list[Entry]:
    """The manifest entries of `files` (all of one run's `days`), each with its duplicate verdict."""
    now_text = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="microseconds")
    recorded = {e.source_file: e for e in read(storage, landing)}
    current = [_entry(f, recorded.get(f.relative_path), now_text) for f in files]
    rejudged = set(days)  # the run's days are judged again; the other days' entries stand
    others = [e for e in recorded.values() if e.day not in rejudged]
    everyone = _hash_same_sizes(storage, landing, [*others, *current], {e.source_file for e in current})
    first_by_hash: dict[str, Entry] = {}
    for e in sorted(everyone, key=lambda e: (e.first_ingested, e.source_file)):
        if e.sha256 is not None:
            first_by_hash.setdefault(e.sha256, e)
    judged = []
    for e in everyone[len(others) :]:
        first = first_by_hash.get(e.sha256) if e.sha256 else None
        judged.append(
            replace(e, duplicate_of=first.source_file if first and first.source_file != e.source_file else None)
        )
    return judged


def _entry(file: LandingFile, recorded: Entry | None, now: str) -> Entry:
    unchanged = recorded is not None and (recorded.size, recorded.version) == (file.size, file.version)
    if unchanged:
        return replace(recorded, duplicate_of=None)
    return Entry(file.relative_path, file.size, file.version, now)


def _hash_same_sizes(storage: LakeStorage, landing: TableRef, entries: list[Entry], current: set[str]) -> list[Entry]:
    """`entries` with a sha256 for every file that shares its size with a file of this run."""
    sizes: dict[int, int] = {}
    for e in entries:
        sizes[e.size] = sizes.get(e.size, 0) + 1
    current_sizes = {e.size for e in entries if e.source_file in current}
    out = []
    for e in entries:
        if e.sha256 is None and sizes[e.size] > 1 and e.size in current_sizes:
            e = replace(e, sha256=_sha256(storage, f"{storage.table_uri(landing)}/{e.source_file}"))
        out.append(e)
    return out


def _sha256(storage: LakeStorage, uri: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with storage.fs.open(uri, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except FileNotFoundError:
        return None  # an ingested file since removed from landing: its bytes can no longer be compared
    return digest.hexdigest()


def recorded_records(storage: LakeStorage, landing: TableRef, files: list[LandingFile]) -> dict[str, int]:
    """The data records of those `files` whose manifest entry was counted from the same version."""
    recorded = {e.source_file: e for e in read(storage, landing, sorted({f.day for f in files}))}
    counted = {}
    for f in files:
        e = recorded.get(f.relative_path)
        if e is not None and e.records is not None and (e.size, e.version) == (f.size, f.version):
            counted[f.relative_path] = e.records
    return counted


def read(storage: LakeStorage, landing: TableRef, days: list[str] | None = None) -> list[Entry]:
    """The manifest's entries of `days` (of all days by default), a small file per day, read by
    a few threads. A day's entries are those of its landing files."""
    ref = landing.manifest()
    present = storage.list_partitions(ref)
    chosen = present if days is None else sorted(set(present).intersection(days))

    def read_file(name: str) -> pa.Table:
        with storage.fs.open(name, "rb") as fh:
            return pq.ParquetFile(fh).read()  # 2x quicker than pq.read_table

    with ThreadPoolExecutor(max_workers=storage.io_threads) as pool:
        tables = list(pool.map(read_file, storage.partition_files(ref, chosen)))
    return [Entry(**row) for row in _conformed(tables).to_pylist()] if tables else []


def _conformed(tables: list[pa.Table]) -> pa.Table:
    """The manifest's files as one table in today's `SCHEMA`: a column older files lack is null."""
    table = pa.concat_tables([SCHEMA.empty_table(), *tables], promote_options="permissive")
    return table.select(SCHEMA.names).cast(SCHEMA)


@contextmanager
def staged_meanwhile(
    storage: LakeStorage,
    landing: TableRef,
    days: list[str],
    entries: list[Entry],
    after: Callable[[], None] = lambda: None,
) -> Iterator[Callable[[], None]]:
    """Replace the manifest partitions of `days` with `entries` (a day with none becomes empty): the
    files are written by a driver thread while the caller works (Spark writing the rows they
    describe), and committed when the caller calls what this yields; discarded if it does not.
    The thread calls `after` first (e.g. to wait until the caller's Spark job runs)."""

    def staged() -> str:
        after()
        return stage(storage, landing, days, entries)

    committed = []

    def commit() -> None:
        storage.commit_partitions(landing.manifest(), staging.result(), days, TABLE_SCHEMA)
        committed.append(True)

    with ThreadPoolExecutor(max_workers=1) as driver:
        staging = driver.submit(staged)
        try:
            yield commit
        finally:
            if not committed:
                storage.discard(staging.result())


def stage(storage: LakeStorage, landing: TableRef, days: list[str], entries: list[Entry]) -> str:
    """The manifest partitions of `days` written into a fresh staging folder; its URI."""
    ref = landing.manifest()
    staging = storage.staging_uri(ref)
    by_day: dict[str, list[dict]] = {day: [] for day in days}
    for e in entries:
        if e.day in by_day:
            by_day[e.day].append(asdict(e))

    def write_day(day: str) -> None:
        folder = f"{staging}/{day_folder(day)}"
        storage.fs.makedirs(folder, exist_ok=True)
        rows = [{**row, PARTITION_COLUMN: dt.date.fromisoformat(day)} for row in by_day[day]]
        with storage.fs.open(f"{folder}/files.parquet", "wb") as fh:
            pq.write_table(pa.Table.from_pylist(rows, schema=TABLE_SCHEMA), fh)

    try:
        with ThreadPoolExecutor(max_workers=storage.io_threads) as pool:
            list(pool.map(write_day, days))
    except BaseException:
        storage.discard(staging)
        raise
    return staging
