"""The domains of the lake, registered in one place. No environment is read here and nothing is built:
the orchestrator's definitions, `datalake seed` and the cluster's job all find a domain's code here.

A domain is a package under `domains/` whose `domain.py` exposes `DOMAIN`; adding one is one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from datalake_platform.governance.spec import TableGovernance
    from datalake_platform.ingestion.landing import LandingTable
    from datalake_platform.lake.storage import LakeStorage
    from datalake_platform.serving.views import OnlineView
    from datalake_platform.settings import Settings

DOMAINS = ("transactions", "passengers", "images", "posts")


@dataclass
class SeedResult:
    """What a domain's seed wrote into landing: files written or found unchanged, and their data rows."""

    table: str
    files_written: int = 0
    files_unchanged: int = 0
    rows: int = 0

    def add(self, written: bool, rows: int) -> None:
        if written:
            self.files_written += 1
        else:
            self.files_unchanged += 1
        self.rows += rows

    def __str__(self) -> str:
        return (
            f"{self.table}: {self.files_written} files written, {self.files_unchanged} unchanged, {self.rows} data rows"
        )


Seed = Callable[["LakeStorage", "Settings"], list[SeedResult]]


@dataclass(frozen=True)
class Domain:
    """What one domain gives the lake: its tables' assets and checks, what watches or drives them,
    its owners, and the bundled data `datalake seed` copies into its landing tables."""

    name: str
    owners: list[str]
    seed: Seed
    assets: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    landing_tables: list[LandingTable] = field(default_factory=list)  # each gets a sensor; its days are partitions
    sensors: list = field(default_factory=list)  # beyond the landing sensors
    jobs: list = field(default_factory=list)
    governance: list[TableGovernance] = field(default_factory=list)  # one spec per table (governance.spec)
    online: list[OnlineView] = field(default_factory=list)  # tables applications read online (serving.views)


def domain(name: str) -> Domain:
    """One domain, importing its code alone (a cluster's job needs no other domain's libraries)."""
    if name not in DOMAINS:
        raise KeyError(f"no domain {name!r}; the registered ones are {', '.join(DOMAINS)}")
    return importlib.import_module(f"datalake_platform.domains.{name}.domain").DOMAIN


def domain_of(key: dg.AssetKey) -> Domain:
    """The domain of a table: its key is `[zone, domain, table]`."""
    if len(key.path) != 3:
        raise KeyError(f"{key.to_user_string()} is not a table key (zone/domain/table)")
    return domain(key.path[1])


def all_domains() -> list[Domain]:
    return [domain(name) for name in DOMAINS]


def table_governance(ref) -> TableGovernance | None:
    """The governance spec of a table (`TableRef`), from its domain; None for a table without one
    (work and quarantine areas, or a domain not registered)."""
    if ref.domain not in DOMAINS:
        return None
    return next((g for g in domain(ref.domain).governance if g.table == ref), None)


def governed_tables() -> list[TableGovernance]:
    """Every table's governance spec, domain by domain."""
    return [g for d in all_domains() for g in d.governance]


def online_views() -> list[OnlineView]:
    """Every table served online, domain by domain."""
    return [v for d in all_domains() for v in d.online]


def landing_tables() -> list[LandingTable]:
    return [t for d in all_domains() for t in d.landing_tables]


def seed_all(storage: LakeStorage, settings: Settings) -> list[SeedResult]:
    """`datalake seed`: every domain's bundled sample data into landing. Idempotent."""
    return [result for d in all_domains() for result in d.seed(storage, settings)]
