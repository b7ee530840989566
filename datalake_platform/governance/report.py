"""`datalake governance report`: per table, its governance and how it stands in the Dagster
instance (last materialization, freshness, check outcomes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from datalake_platform.compat.dagster import latest_check_outcome
from datalake_platform.governance.assets import FRESHNESS_WARN_SHARE
from datalake_platform.governance.spec import TableGovernance
from datalake_platform.lake.table_refs import Zone


@dataclass(frozen=True)
class TableStatus:
    governance: TableGovernance
    last_materialization: dt.datetime | None
    checks: dict[str, str]  # check name -> compat.dagster.latest_check_outcome

    @property
    def freshness(self) -> str:
        """The policy and, as Dagster's time-window policy judges it, where the table stands."""
        window = self.governance.freshness
        if window is None:
            return "-"
        if self.last_materialization is None:
            return f"{_span(window)}: unknown"
        age = dt.datetime.now(dt.UTC) - self.last_materialization
        state = "fail" if age > window else "warn" if age > window * FRESHNESS_WARN_SHARE else "pass"
        return f"{_span(window)}: {state}"

    def row(self) -> dict[str, str]:
        g = self.governance
        pii = ", ".join(f"{c}={p.treatment}" for c, p in g.pii.items()) or "-"
        others = [f"{name} {state}" for name, state in self.checks.items() if state != "passed"]
        passed = len(self.checks) - len(others)
        checks = "-" if not self.checks else "; ".join([f"{passed}/{len(self.checks)} passed", *others])
        return {
            "table": str(g.table),
            "owner": g.owner,
            "classification": str(g.classification),
            "pii (treatment)": pii,
            "retention": g.retention,
            "freshness": self.freshness,
            "last materialization": self._last(),
            "checks": checks,
        }

    def _last(self) -> str:
        if self.last_materialization is not None:
            return self.last_materialization.strftime("%Y-%m-%d %H:%M UTC")
        return "- (files land)" if self.governance.table.zone == Zone.LANDING else "never"


def statuses(
    instance: dg.DagsterInstance, specs: Iterable[TableGovernance], check_keys: Iterable[dg.AssetCheckKey]
) -> list[TableStatus]:
    """Each table's status, read from the instance: its latest materialization, and the latest
    execution of each of its checks (`check_keys`: every check the definitions hold)."""
    by_asset: dict[dg.AssetKey, list[dg.AssetCheckKey]] = {}
    for key in check_keys:
        by_asset.setdefault(key.asset_key, []).append(key)
    result = []
    for spec in specs:
        key = dg.AssetKey(spec.table.key_path)
        event = instance.get_latest_materialization_event(key)
        when = dt.datetime.fromtimestamp(event.timestamp, dt.UTC) if event is not None else None
        checks = {
            k.name: latest_check_outcome(instance, k) for k in sorted(by_asset.get(key, []), key=lambda k: k.name)
        }
        result.append(TableStatus(spec, when, checks))
    return result


def render(rows: list[dict[str, str]]) -> str:
    """A plain text table, columns as wide as their widest cell."""
    if not rows:
        return "no governed tables"
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(r[h]) for r in rows)) for h in headers}
    line = lambda cells: "  ".join(c.ljust(widths[h]) for h, c in zip(headers, cells)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * widths[h] for h in headers]), *(line(r.values()) for r in rows)])


def _span(window: dt.timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g}h" if hours < 48 else f"{hours / 24:g}d"
