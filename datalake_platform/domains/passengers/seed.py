"""Seed landing with the bundled Titanic passenger list, as an upstream system would drop it."""

from __future__ import annotations

from importlib.resources import files

from datalake_platform.domains.passengers.tables import LANDING_PASSENGERS
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.registry import SeedResult
from datalake_platform.settings import Settings

SAMPLE = files("datalake_platform.domains.passengers") / "sample_data" / "titanic.csv"


def seed(storage: LakeStorage, settings: Settings | None = None) -> list[SeedResult]:
    data = SAMPLE.read_bytes()
    rows = sum(1 for line in data.decode("utf-8").splitlines()[1:] if line.strip())
    result = SeedResult(table=str(LANDING_PASSENGERS))
    result.add(storage.write_bytes(f"{storage.table_uri(LANDING_PASSENGERS)}/titanic.csv", data), rows)
    return [result]
