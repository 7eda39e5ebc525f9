"""`ledger report`: analysts' figures per period, from the live views or from a replay of the
log as known at a time or as occurred by a time."""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.application import Ledger
from ledger.cli.common import open_ledger, print_json, progress_bar
from ledger.cli.tables import table
from ledger.cli.views import instant
from ledger.errors import CommandInvalid
from ledger.projections.activity import Activity
from ledger.projections.db import Database
from ledger.projections.runner import Runner
from replay.btyd import UNITS, fit_bgnbd, summaries
from replay.core import Reading, Replay
from replay.periods import Period, parse_periods
from replay.reports import RETENTION_COLUMNS, VALUE_COLUMNS, cohorts, retention, value


@dataclass
class Report:
    rows: list[dict[str, Any]]
    columns: list[str]
    model: dict[str, Any] | None = None  # what was fitted to the rows, if anything


def retention_report(db: Database, args: argparse.Namespace) -> Report:
    return Report(retention(db, periods_of(args)), RETENTION_COLUMNS)


def periods_of(args: argparse.Namespace) -> list[Period]:
    if args.period is None:
        raise CommandInvalid(f"{args.name} is reported over periods: give --period",
                             where="--period")
    return parse_periods(args.period)


def value_report(db: Database, args: argparse.Namespace) -> Report:
    rows, shares = value(db, periods_of(args))
    return Report(rows, VALUE_COLUMNS, {"period": args.period, "by_currency": shares})


def cohorts_report(db: Database, args: argparse.Namespace) -> Report:
    rows, columns = cohorts(db, periods_of(args))
    return Report(rows, columns)


def summary_report(db: Database, args: argparse.Namespace) -> Report:
    found = summaries(db, as_of(args), unit=args.unit, currency=args.currency)
    return Report([s.to_dict() for s in found], SUMMARY_COLUMNS)


def churn_risk_report(db: Database, args: argparse.Namespace) -> Report:
    found = summaries(db, as_of(args), unit=args.unit, currency=args.currency)
    model = fit_bgnbd(found)
    history = ([s.frequency for s in found], [s.recency for s in found], [s.T for s in found])
    alive = model.p_alive(*history)
    expected = model.expected_purchases(args.horizon, *history)
    rows = [{**s.to_dict(), "p_alive": round(float(p), 4),
             f"expected_purchases_next_{args.horizon:g}_{args.unit}": round(float(e), 4)}
            for s, p, e in zip(found, alive, expected, strict=True)]
    rows.sort(key=lambda row: (row["p_alive"], row["customer"]))
    return Report(rows, [*SUMMARY_COLUMNS, "p_alive", list(rows[0])[-1]],
                  {"model": "BG/NBD", "unit": args.unit, **model.to_dict()})


def as_of(args: argparse.Namespace) -> datetime:
    if args.as_of is None:
        raise CommandInvalid(f"{args.name} is computed as of a date: give --as-of",
                             where="--as-of")
    moment: datetime = args.as_of
    return moment


SUMMARY_COLUMNS = ["customer", "frequency", "recency", "T", "monetary_value"]
REPORTS = {"retention": retention_report, "cohorts": cohorts_report, "value": value_report,
           "summary": summary_report, "churn-risk": churn_risk_report}


def add_commands(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="figures per period, as known now, at a past time, or as occurred by one",
        description="Analysts' figures: retention per period (active, new, returned, retained, "
        "lost by defection type; retention, churn and repeat-purchase rates), cohorts by "
        "period of first purchase, value (revenue and profit per customer, the top fifth's "
        "share), and buy-till-you-die summaries and churn risk (BG/NBD) as of a date. Computed "
        "from the live views, or from a replay of the log as known at a time (only what had "
        "been recorded by then) or as occurred by a time (what had happened by then, whenever "
        "recorded).",
        epilog="examples:\n  ledger report retention --period 2025-Q3\n"
        "  ledger report retention --period 2025-01..2025-12 --format csv\n"
        "  ledger report retention --period 2025-Q3 --as-known-at 2025-10-01T00:00:00Z\n"
        "  ledger report diff retention --period 2025-Q3 --a 2025-10-01T00:00:00Z --b now\n"
        "  ledger report churn-risk --as-of 1997-09-30T00:00:00Z --horizon 39",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("words", nargs="+", metavar="NAME",
                        help=f"the report ({', '.join(sorted(REPORTS))}), or diff NAME to see "
                        "how its figures changed between two readings (--a, --b)")
    report.add_argument("--period",
                        help="retention, cohorts, value: a month (2025-07), quarter (2025-Q3) "
                        "or year (2025), or a run of them (2025-Q1..2025-Q4)")
    report.add_argument("--as-of", type=instant, metavar="T",
                        help="summary, churn-risk: the end of the observed period")
    report.add_argument("--unit", choices=sorted(UNITS), default="weeks",
                        help="summary, churn-risk: unit of recency, T and the horizon")
    report.add_argument("--currency", help="summary, churn-risk: only purchases in this one")
    report.add_argument("--horizon", type=float, default=52,
                        help="churn-risk: expected purchases over this many units (default 52)")
    reading = report.add_mutually_exclusive_group()
    reading.add_argument("--as-known-at", type=instant, metavar="T",
                         help="replay only the events recorded at or before T")
    reading.add_argument("--as-occurred-by", type=instant, metavar="T",
                         help="replay the events that happened at or before T, whenever recorded")
    report.add_argument("--a", metavar="T", help="diff: the first reading, as known at T")
    report.add_argument("--b", metavar="T", default="now",
                        help="diff: the second reading, as known at T (default now)")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")
    report.add_argument("--out", type=Path,
                        help="keep the replay's views in this new SQLite file")
    report.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    diff = args.words[0] == "diff"
    names = args.words[1:] if diff else args.words
    if len(names) != 1 or names[0] not in REPORTS:
        raise CommandInvalid(f"name one report ({', '.join(sorted(REPORTS))}), or diff and "
                             "one report", where="NAME")
    args.name = names[0]
    ledger = open_ledger(args)
    try:
        if diff:
            if args.a is None:
                raise CommandInvalid("diff compares two readings: give --a T (and --b T or now)",
                                     where="--a")
            first, second = reading_at(args.a, "--a"), reading_at(args.b, "--b")
            found = difference(compute(ledger, args, first)[0], compute(ledger, args, second)[0])
            source = f"difference from {first.describe()} to {second.describe()}"
        else:
            reading = Reading(as_known_at=args.as_known_at, as_occurred_by=args.as_occurred_by)
            if args.out is not None and reading == Reading():
                raise CommandInvalid("--out keeps a replay; give --as-known-at or "
                                     "--as-occurred-by", where="--out")
            found, source = compute(ledger, args, reading, out=args.out)
    finally:
        ledger.close()
    show(found, args.format, source)
    return 0


def compute(ledger: Ledger, args: argparse.Namespace, reading: Reading, *,
            out: Path | None = None) -> tuple[Report, str]:
    """The report under this reading: from the live view (as known now) or a replay."""
    figures = REPORTS[args.name]
    if reading == Reading():
        runner = Runner(ledger, [Activity()])
        with progress_bar(max(s.lag for s in runner.status()), " events") as progress:
            runner.catch_up(progress=progress)
        try:
            return figures(runner.db, args), "live views (as known now)"
        finally:
            runner.close()
    with Replay(ledger, [Activity()], reading, out=out) as replay, \
            progress_bar(replay.head, " events") as progress:
        replay.run(progress=progress)
        return figures(replay.db, args), (f"replay {reading.describe()}"
                                          + (f", kept in {out}" if out else ""))


def reading_at(text: str, where: str) -> Reading:
    if text == "now":
        return Reading()
    try:
        return Reading(as_known_at=instant(text))
    except argparse.ArgumentTypeError as error:
        raise CommandInvalid(str(error), where=where) from None


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
    return Report(rows, [key, "figure", "a", "b", "change"])


def change(old: Any, new: Any) -> Any:
    if isinstance(old, int | float) and isinstance(new, int | float):
        return round(new - old, 4)
    return None


def described(model: dict[str, Any]) -> str:
    """What was fitted or totalled, on one line per part."""
    flat = ", ".join(f"{k} {v}" for k, v in model.items() if not isinstance(v, list))
    parts = [", ".join(f"{k} {v}" for k, v in item.items())
             for v in model.values() if isinstance(v, list) for item in v]
    return "\n".join([flat, *parts])


def show(report: Report, form: str, source: str) -> None:
    """JSON: the rows (with the model, if any, beside them); CSV and tables: the rows, and
    what they come from and what was fitted on standard error."""
    if form == "json":
        print_json(report.rows if report.model is None else
                   {"model": report.model, "customers": report.rows})
        return
    print(f"from the {source}", file=sys.stderr)
    if report.model is not None:
        print(described(report.model), file=sys.stderr)
    if form == "csv":
        fields = list(report.rows[0]) if report.rows else report.columns
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(report.rows)
    else:
        print(table(report.rows, report.columns))

