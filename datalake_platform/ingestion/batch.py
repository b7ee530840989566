"""One run's landing days, ingested: the files counted and judged, read as records, the manifest kept with the write.

`read_landing` lists the files of the run's days and sets the unreadable ones aside. Landing's
records are then counted by other readers than ingestion's (`records.count_landing`, kept in
the manifest for `nothing_lost`), which also finds the delimited files with quotes, while a
driver thread has the manifest judge the files (duplicates by content): the count is mostly
Spark's or numpy's, so the two overlap.

`LandingBatch.records` reads them as records (`records.read_records`) for a domain to
transform. `LandingBatch.manifest_alongside_write` stages the manifest partitions of the days
on a driver thread once the caller's Spark write is running (planning the write is Python too,
and before then the two would share the GIL), and commits them when the caller says the write
was published; never if it was not, so a failed run leaves the manifest as it was.
`LandingBatch.short_of` names the files of the days that kept fewer rows than they have
records: only those are read again for quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace

from pyspark.sql import Column, DataFrame, SparkSession

from datalake_platform.ingestion import manifest
from datalake_platform.ingestion.records import LandingCount, count_landing, per_day, read_records, unreadable_files
from datalake_platform.lake.storage import LakeStorage, LandingFile
from datalake_platform.lake.table_refs import TableRef
from datalake_platform.spark.session import wait_until_running


@dataclass(frozen=True)
class LandingBatch:
    """The landing files of one run's days: counted, judged by the manifest, ready to be read."""

    spark: SparkSession
    storage: LakeStorage
    landing: TableRef
    days: list[str]
    files: list[LandingFile]
    unreadable: Mapping[str, str]  # relative path -> why it cannot be read (see `records.unreadable_files`)
    counted: LandingCount
    entries: list[manifest.Entry]  # the days' manifest, with each file's records
    columns: Sequence[str] = ()
    per_file: Mapping[str, Column] | None = None

    @property
    def duplicates(self) -> dict[str, str]:
        """Files whose bytes repeat a file ingested before: relative path -> that file."""
        return {e.source_file: e.duplicate_of for e in self.entries if e.duplicate_of}

    @property
    def records_per_day(self) -> dict[str, int]:
        return per_day(self.files, self.counted.records)

    def records(self, files: list[LandingFile] | None = None) -> DataFrame:
        """The records of `files` (all the batch's by default), see `records.read_records`."""
        return read_records(
            self.spark,
            self.files if files is None else files,
            self.columns,
            duplicates=self.duplicates,
            unreadable=self.unreadable,
            quoted=self.counted.quoted,
            per_file=self.per_file,
        )

    def short_of(self, kept: Mapping[str, int]) -> list[LandingFile]:
        """The files of the days that kept fewer rows (`kept`, per day) than they have records."""
        records = self.records_per_day
        return [f for f in self.files if kept[f.day] < records.get(f.day, 0)]

    @contextmanager
    def manifest_alongside_write(self) -> Iterator[Callable[[], None]]:
        """Stages the days' manifest on a driver thread once the caller's Spark job runs; yields
        what commits it, to be called once the write it describes is published."""
        running = lambda: wait_until_running(self.spark)  # noqa: E731
        with manifest.staged_meanwhile(self.storage, self.landing, self.days, self.entries, after=running) as commit:
            yield commit


def read_landing(
    spark: SparkSession,
    storage: LakeStorage,
    landing: TableRef,
    days: list[str],
    columns: Sequence[str] = (),
    per_file: Mapping[str, Column] | None = None,
) -> LandingBatch:
    """The landing files of `days`: unreadable ones set aside, records counted while the manifest judges them."""
    files = storage.list_landing_files(landing, days)
    unreadable = unreadable_files(spark, files)
    with ThreadPoolExecutor(max_workers=1) as driver:
        judged = driver.submit(manifest.judge, storage, landing, days, files)
        counted = count_landing(spark, files, unreadable)
        entries = [replace(e, records=counted.records[e.source_file]) for e in judged.result()]
    return LandingBatch(spark, storage, landing, days, files, unreadable, counted, entries, columns, per_file)
