"""The reports analysts ask for, by name: each computed from the activity view of a store
(the live one, or a replay's) and stamped with its reading. The command line, the HTTP API and
the console all ask here; replay/documents.py writes them down, compares and checks them."""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledger.application import Ledger
from ledger.errors import CommandInvalid
from ledger.projections.activity import Activity
from ledger.projections.runner import SHARED_TABLES, Runner
from ledger.sql import Database, ViewDb, iso
from replay.btyd import UNITS, fit_bgnbd, summaries
from replay.core import Reading, Replay
from replay.periods import Period, parse_periods, reportable
from replay.reports import (
    CAMPAIGN_COLUMNS,
    COMPLAINT_COLUMNS,
    DEFECTION_TYPES,
    EVENT_COUNTS,
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
from replay.stamp import Stamp, stamp_of

POSITIONS = SHARED_TABLES["positions"]  # where each view's log position is kept
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
            raise CommandInvalid(
                f"unknown report {self.name!r}; reports are {', '.join(sorted(REPORTS))}",
                where="NAME",
            )
        if self.unit not in UNITS:
            raise CommandInvalid(f"unit must be one of {', '.join(UNITS)}", where="unit")
        if not (
            math.isfinite(self.horizon) and 0 < self.horizon * UNITS[self.unit] <= MOST_HORIZON_DAYS
        ):
            raise CommandInvalid(
                f"the horizon is a finite number of {self.unit} above 0, at "
                f"most a century ({MOST_HORIZON_DAYS:,} days); {self.horizon:g} "
                "is not one (the model's figures past it are not numbers)",
                where="horizon",
            )
        if self.by not in ("product", "rep"):
            raise CommandInvalid("satisfaction is grouped by product or rep", where="by")
        for name in ("window", "quick", "days"):
            if not 1 <= (getattr(self, name) or 1) <= MOST_DAYS:
                raise CommandInvalid(
                    f"{name} is a number of days, from 1 to {MOST_DAYS:,}", where=name
                )
        reportable(self.as_of, "as_of")
        if self.period is not None:  # as the periods read it (full-width digits are digits)
            object.__setattr__(self, "period", unicodedata.normalize("NFKC", self.period).strip())
        if self.period is not None and self.name in OVER_PERIODS:
            self.periods()  # refused now, not after a replay has read the log

    def periods(self) -> list[Period]:
        if self.period is None:
            raise CommandInvalid(
                f"{self.name} is reported over periods: give a period", where="period"
            )
        return parse_periods(self.period)

    def parameters(self) -> dict[str, Any]:
        """The options this report takes, as asked (defaults filled in): with the reading,
        all it takes to compute the report again."""
        taken = {
            "period": self.name in OVER_PERIODS,
            "as_of": self.name in AS_OF,
            "unit": self.name in BTYD,
            "currency": self.name in BTYD,
            "horizon": self.name == "churn-risk",
            "by": self.name == "satisfaction",
            "window": self.name in ("complaints", "campaigns"),
            "quick": self.name == "complaints",
            "days": self.name == "relationship",
        }
        found: dict[str, Any] = {name: getattr(self, name) for name, used in taken.items() if used}
        if "as_of" in found:
            found["as_of"] = iso(self.as_of)
        if "window" in found:
            found["window"] = self.window or (90 if self.name == "complaints" else 30)
        return found

    def moment(self) -> datetime:
        if self.as_of is None:
            raise CommandInvalid(f"{self.name} is computed as of a date: give as_of", where="as_of")
        return self.as_of


@dataclass
class Report:
    """A report's rows, its whole-report figures (``totals``) and, once computed under a
    reading, the stamp of that reading (replay/stamp.py)."""

    rows: list[dict[str, Any]]
    columns: list[str]
    totals: dict[str, Any] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # the columns that name a row
    source: str = field(default="", compare=False)  # which reading of the log, in words
    position: int = field(default=0, compare=False)  # the log position it was computed up to
    ask: Ask | None = field(default=None, compare=False)
    stamp: Stamp | None = field(default=None, compare=False)


def sums(rows: list[dict[str, Any]], *names: str) -> dict[str, Any]:
    return {name: sum(row[name] or 0 for row in rows) for name in names}


def retention_report(tx: ViewDb, ask: Ask) -> Report:
    rows = retention(tx, ask.periods())
    lost = [f"lost_{kind}" for kind in DEFECTION_TYPES]
    totals = {
        "periods": len(rows),
        "active_at_start": rows[0]["active_at_start"],
        **sums(rows, "new", "returned", "lost", *lost),
        "active_at_end": rows[-1]["active_at_end"],
    }
    return Report(rows, RETENTION_COLUMNS, totals, ["period"])


def value_report(tx: ViewDb, ask: Ask) -> Report:
    rows, shares = value(tx, ask.periods())
    return Report(rows, VALUE_COLUMNS, {"by_currency": shares}, ["customer", "currency"])


def cohorts_report(tx: ViewDb, ask: Ask) -> Report:
    rows, columns = cohorts(tx, ask.periods())
    return Report(rows, columns, {"cohorts": len(rows), **sums(rows, "customers")}, ["cohort"])


def summary_report(tx: ViewDb, ask: Ask) -> Report:
    found = summaries(tx, ask.moment(), unit=ask.unit, currency=ask.currency)
    totals = {
        "customers": len(found),
        "repeat_customers": sum(s.frequency > 0 for s in found),
        "repeat_purchase_days": sum(s.frequency for s in found),
    }
    return Report([s.to_dict() for s in found], SUMMARY_COLUMNS, totals, ["customer"])


def churn_risk_report(tx: ViewDb, ask: Ask) -> Report:
    found = summaries(tx, ask.moment(), unit=ask.unit, currency=ask.currency)
    model = fit_bgnbd(found)
    history = ([s.frequency for s in found], [s.recency for s in found], [s.T for s in found])
    alive = model.p_alive(*history)
    expected = model.expected_purchases(ask.horizon, *history)
    named = f"expected_purchases_next_{ask.horizon:g}_{ask.unit}"
    rows = [
        {**s.to_dict(), "p_alive": round(float(p), 4), named: round(float(e), 4)}
        for s, p, e in zip(found, alive, expected, strict=True)
    ]
    rows.sort(key=lambda row: (row["p_alive"], row["customer"]))
    return Report(
        rows,
        [*SUMMARY_COLUMNS, "p_alive", named],
        {"model": "BG/NBD", "unit": ask.unit, **model.to_dict()},
        ["customer"],
    )


def satisfaction_report(tx: ViewDb, ask: Ask) -> Report:
    rows = satisfaction(tx, ask.periods(), ask.by)
    everyone = [row for row in rows if row[ask.by] == "(all)"]
    return Report(
        rows, ["period", ask.by, "surveys", "csm"], sums(everyone, "surveys"), ["period", ask.by]
    )


def complaints_report(tx: ViewDb, ask: Ask) -> Report:
    rows = complaints(tx, ask.periods(), window=ask.window or 90, quick=ask.quick)
    return Report(rows, COMPLAINT_COLUMNS, sums(rows, "complaints", "resolved"), ["period"])


def campaigns_report(tx: ViewDb, ask: Ask) -> Report:
    rows = campaigns(tx, ask.periods(), window=ask.window or 30)
    money = []
    for currency in sorted({str(row["currency"]) for row in rows}):
        mine = [row for row in rows if str(row["currency"]) == currency]
        money.append(
            {
                "currency": currency,
                "revenue": str(sum((Decimal(r["revenue"]) for r in mine), Decimal(0))),
                "spend": str(sum((Decimal(r["spend"]) for r in mine), Decimal(0))),
            }
        )
    totals = {
        "campaigns": len(rows),
        **sums(rows, "touches", "customers", "contacted", "bought", *EVENT_COUNTS),
        "by_currency": money,
    }
    return Report(rows, CAMPAIGN_COLUMNS, totals, ["campaign"])


def relationship_report(tx: ViewDb, ask: Ask) -> Report:
    rows = relationship(tx, ask.moment(), days=ask.days)
    levels = Counter(row["level"] for row in rows)
    return Report(
        rows,
        ["customer", "level", "face_to_face_contacts", "other_contacts"],
        {"customers": len(rows), **{level: levels.get(level, 0) for level in LEVELS}},
        ["customer"],
    )


SUMMARY_COLUMNS = ["customer", "frequency", "recency", "T", "monetary_value"]
REPORTS: dict[str, Callable[[ViewDb, Ask], Report]] = {
    "retention": retention_report,
    "cohorts": cohorts_report,
    "value": value_report,
    "satisfaction": satisfaction_report,
    "complaints": complaints_report,
    "campaigns": campaigns_report,
    "relationship": relationship_report,
    "summary": summary_report,
    "churn-risk": churn_risk_report,
}
# Reports whose rows are customers (the API shows them by pseudonym).
PER_CUSTOMER = frozenset({"value", "relationship", "summary", "churn-risk"})
BTYD = frozenset({"summary", "churn-risk"})
AS_OF = frozenset({"summary", "churn-risk", "relationship"})
OVER_PERIODS = frozenset(
    {"retention", "cohorts", "value", "satisfaction", "complaints", "campaigns"}
)


def report(
    ledger: Ledger,
    ask: Ask,
    reading: Reading,
    *,
    db: Database | None = None,
    out: Path | None = None,
    progress: Callable[[int | None], Callable[[int], None]] | None = None,
    stamped: bool = True,
) -> Report:
    """The report under this reading, stamped (unless not ``stamped``) with the reading, the
    log position it was computed up to and the log's digest there. As known now it reads the
    live activity view (``db``, kept by a runner elsewhere; without it, this one catches the
    view up first); otherwise a replay into a store of its own (kept in ``out`` if given)."""
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
    else:
        with Replay(ledger, [Activity()], reading, out=out) as replay:
            replay.run(progress=progress(replay.head) if progress else None)
            found = figures(replay.db, ask)
        found.position = replay.last_kept  # the last event the report was computed from
        found.source = f"replay {reading.describe()}" + (f", kept in {out}" if out else "")
    found.ask = ask
    if stamped:
        found.stamp = stamp_of(ledger, reading, found.position)
    return found


def figures(db: Database, ask: Ask) -> Report:
    """The report, read from the activity view in one transaction: one state of the view,
    and the log position that state was computed up to."""
    tables = {**Activity().table_names(), "positions": POSITIONS}
    with db.transaction(tables, commit=False) as tx:
        found = REPORTS[ask.name](tx, ask)
        at = tx.one("SELECT position FROM {positions} WHERE view = ?", (Activity.name,))
    found.position = int(at["position"]) if at else 0
    return found
