"""Seed landing with the bundled CDNOW purchase log, one CSV per day, as an upstream system would drop it."""

from __future__ import annotations

from collections import defaultdict
from importlib.resources import files

from datalake_platform.domains.transactions.tables import LANDING_COLUMNS, LANDING_PURCHASES
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.registry import SeedResult
from datalake_platform.settings import Settings

SAMPLE = files("datalake_platform.domains.transactions") / "sample_data" / "CDNOW_master.txt"


def cdnow_by_day() -> dict[str, list[str]]:
    """The CDNOW log (whitespace separated, YYYYMMDD dates) as CSV lines grouped by day."""
    by_day: dict[str, list[str]] = defaultdict(list)
    with SAMPLE.open("r", encoding="ascii") as fh:
        next(fh)  # header
        for line in fh:
            if line.strip():
                customer_id, date, cds, dollars = line.split()
                by_day[f"{date[:4]}-{date[4:6]}-{date[6:]}"].append(f"{customer_id},{date},{cds},{dollars}")
    return dict(sorted(by_day.items()))


def seed(storage: LakeStorage, settings: Settings | None = None) -> list[SeedResult]:
    result = SeedResult(table=str(LANDING_PURCHASES))
    header = ",".join(LANDING_COLUMNS)
    for day, lines in cdnow_by_day().items():
        uri = f"{storage.partition_uri(LANDING_PURCHASES, day)}/cdnow_{day.replace('-', '')}.csv"
        written = storage.write_bytes(uri, ("\n".join([header, *lines]) + "\n").encode("ascii"))
        result.add(written, len(lines))
    return [result]
