"""The reports analysts ask for, by name: each computed from the activity view of a store
(the live one, or a replay's), and how two readings of one report differ. The command line
and the HTTP API both ask here."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.application import Ledger
from ledger.errors import CommandInvalid
from ledger.projections.activity import Activity
from ledger.projections.db import Database, ViewDb
from ledger.projections.runner import Runner
from replay.btyd import UNITS, fit_bgnbd, summaries
from replay.core import Reading, Replay
from replay.periods import Period, parse_periods, reportable
from replay.reports import (
    CAMPAIGN_COLUMNS,
    COMPLAINT_COLUMNS,
    LEVELS,
    RETENTION_COLUMNS,
    VALUE_COLUMNS,
    campaigns,
    cohorts,
    complaints,
    relationship,
    retention,
    satisfaction,
    value,
)

MOST_DAYS = 36_500  # a window or span of days: a century
MOST_HORIZON_DAYS = 36_525  # churn-risk's horizon: a century, in days


@dataclass(frozen=True)
class Ask:
    """What a report is asked for: its name and the options it takes."""

    name: str
    period: str | None = None  # retention, cohorts, value
    as_of: datetime | None = None  # summary, churn-risk
    unit: str = "weeks"
    currency: str | None = None
    horizon: float = 52
    by: str = "product"  # satisfaction: product or rep
    window: int | None = None  # complaints (default 90), campaigns (default 30): days after
    quick: int = 3  # complaints: resolved within this many days is quick
    days: int = 365  # relationship: contacts in this many days before as_of count

    def __post_init__(self) -> None:
        if self.name not in REPORTS:
            raise CommandInvalid(f"unknown report {self.name!r}; reports are "
                                 f"{', '.join(sorted(REPORTS))}", where="NAME")
        if self.unit not in UNITS:
            raise CommandInvalid(f"unit must be one of {', '.join(UNITS)}", where="unit")
        if not (math.isfinite(self.horizon)
                and 0 < self.horizon * UNITS[self.unit] <= MOST_HORIZON_DAYS):
            raise CommandInvalid(f"the horizon is a finite number of {self.unit} above 0, at "
                                 f"most a century ({MOST_HORIZON_DAYS:,} days); {self.horizon:g} "
                                 "is not one (the model's figures past it are not numbers)",
                                 where="horizon")
        if self.by not in ("product", "rep"):
            raise CommandInvalid("satisfaction is grouped by product or rep", where="by")
        for name in ("window", "quick", "days"):
            if not 1 <= (getattr(self, name) or 1) <= MOST_DAYS:
                raise CommandInvalid(f"{name} is a number of days, from 1 to {MOST_DAYS:,}",
                                     where=name)
        reportable(self.as_of, "as_of")
        if self.period is not None and self.name in OVER_PERIODS:
            self.periods()  # refused now, not after a replay has read the log

    def periods(self) -> list[Period]:
        if self.period is None:
            raise CommandInvalid(f"{self.name} is reported over periods: give a period",
                                 where="period")
        return parse_periods(self.period)

    def moment(self) -> datetime:
        if self.as_of is None:
            raise CommandInvalid(f"{self.name} is computed as of a date: give as_of",
                                 where="as_of")
        return self.as_of


@dataclass
class Report:
    rows: list[dict[str, Any]]
    columns: list[str]
    model: dict[str, Any] | None = None  # what was fitted or totalled over the rows
    source: str = field(default="", compare=False)  # which reading of the log


def retention_report(tx: ViewDb, ask: Ask) -> Report:
    return Report(retention(tx, ask.periods()), RETENTION_COLUMNS)


def value_report(tx: ViewDb, ask: Ask) -> Report:
    rows, shares = value(tx, ask.periods())
    return Report(rows, VALUE_COLUMNS, {"period": ask.period, "by_currency": shares})


def cohorts_report(tx: ViewDb, ask: Ask) -> Report:
    rows, columns = cohorts(tx, ask.periods())
    return Report(rows, columns)


def summary_report(tx: ViewDb, ask: Ask) -> Report:
    found = summaries(tx, ask.moment(), unit=ask.unit, currency=ask.currency)
    return Report([s.to_dict() for s in found], SUMMARY_COLUMNS)


def churn_risk_report(tx: ViewDb, ask: Ask) -> Report:
    found = summaries(tx, ask.moment(), unit=ask.unit, currency=ask.currency)
    model = fit_bgnbd(found)
    history = ([s.frequency for s in found], [s.recency for s in found], [s.T for s in found])
    alive = model.p_alive(*history)
    expected = model.expected_purchases(ask.horizon, *history)
    named = f"expected_purchases_next_{ask.horizon:g}_{ask.unit}"
    rows = [{**s.to_dict(), "p_alive": round(float(p), 4), named: round(float(e), 4)}
            for s, p, e in zip(found, alive, expected, strict=True)]
    rows.sort(key=lambda row: (row["p_alive"], row["customer"]))
    return Report(rows, [*SUMMARY_COLUMNS, "p_alive", named],
                  {"model": "BG/NBD", "unit": ask.unit, **model.to_dict()})


def satisfaction_report(tx: ViewDb, ask: Ask) -> Report:
    return Report(satisfaction(tx, ask.periods(), ask.by),
                  ["period", ask.by, "surveys", "csm"])


def complaints_report(tx: ViewDb, ask: Ask) -> Report:
    return Report(complaints(tx, ask.periods(), window=ask.window or 90, quick=ask.quick),
                  COMPLAINT_COLUMNS)


def campaigns_report(tx: ViewDb, ask: Ask) -> Report:
    return Report(campaigns(tx, ask.periods(), window=ask.window or 30), CAMPAIGN_COLUMNS)


def relationship_report(tx: ViewDb, ask: Ask) -> Report:
    rows = relationship(tx, ask.moment(), days=ask.days)
    levels = Counter(row["level"] for row in rows)
    return Report(rows, ["customer", "level", "face_to_face_contacts", "other_contacts"],
                  {"days": ask.days, **{level: levels.get(level, 0) for level in LEVELS}})


SUMMARY_COLUMNS = ["customer", "frequency", "recency", "T", "monetary_value"]
REPORTS: dict[str, Callable[[ViewDb, Ask], Report]] = {
    "retention": retention_report, "cohorts": cohorts_report, "value": value_report,
    "satisfaction": satisfaction_report, "complaints": complaints_report,
    "campaigns": campaigns_report, "relationship": relationship_report,
    "summary": summary_report, "churn-risk": churn_risk_report}
# Reports whose rows are customers (the API shows them by pseudonym).
PER_CUSTOMER = frozenset({"value", "relationship", "summary", "churn-risk"})
OVER_PERIODS = frozenset({"retention", "cohorts", "value", "satisfaction", "complaints",
                          "campaigns"})


def report(ledger: Ledger, ask: Ask, reading: Reading, *, db: Database | None = None,
           out: Path | None = None,
           progress: Callable[[int | None], Callable[[int], None]] | None = None) -> Report:
    """The report under this reading. As known now it reads the live activity view (``db``,
    kept by a runner elsewhere; without it, this one catches the view up first); otherwise a
    replay into a store of its own (kept in ``out`` if given)."""
    if reading == Reading():
        if db is not None:
            found = figures(db, ask)
        else:
            runner = Runner(ledger, [Activity()])
            try:
                lag = max(s.lag for s in runner.status())
                runner.catch_up(progress=progress(lag) if progress else None)
                found = figures(runner.db, ask)
            finally:
                runner.close()
        found.source = "live views (as known now)"
        return found
    with Replay(ledger, [Activity()], reading, out=out) as replay:
        replay.run(progress=progress(replay.head) if progress else None)
        found = figures(replay.db, ask)
    found.source = f"replay {reading.describe()}" + (f", kept in {out}" if out else "")
    return found


def figures(db: Database, ask: Ask) -> Report:
    """The report, read from the activity view in one transaction: one state of the view."""
    with db.transaction(Activity().table_names(), commit=False) as tx:
        return REPORTS[ask.name](tx, ask)


def difference(a: Report, b: Report) -> Report:
    """Each figure that differs between two readings, row by row (by the first column)."""
    key = a.columns[0]
    before = {row[key]: row for row in a.rows}
    after = {row[key]: row for row in b.rows}
    rows = []
    for name in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(name, {}), after.get(name, {})
        for figure in a.columns[1:]:
            if old.get(figure) != new.get(figure):
                rows.append({key: name, "figure": figure, "a": old.get(figure),
                             "b": new.get(figure), "change": change(old.get(figure),
                                                                    new.get(figure))})
    return Report(rows, [key, "figure", "a", "b", "change"],
                  source=f"difference from the {a.source} to the {b.source}")


def change(old: Any, new: Any) -> Any:
    if isinstance(old, int | float) and isinstance(new, int | float):
        return round(new - old, 4)
    return None
