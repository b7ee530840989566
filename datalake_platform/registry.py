"""The domains of the lake, registered in one place. No environment is read here and nothing is built:
the orchestrator's definitions and the cluster's job both find a table's code through this module.

A domain is a package under `domains/` whose `domain.py` exposes `DOMAIN`; adding one is one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import dagster as dg

DOMAINS = ("transactions", "passengers", "images", "posts")


@dataclass(frozen=True)
class Domain:
    """What one domain gives the lake: its assets and checks, and what watches or drives them."""

    assets: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    sensors: list = field(default_factory=list)
    jobs: list = field(default_factory=list)
    landing_tables: list = field(default_factory=list)  # each is watched by a sensor; its days are partitions


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
