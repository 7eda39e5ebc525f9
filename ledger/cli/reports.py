"""`ledger report`: analysts' figures per period, from the live views or from a replay of the
log as known at a time or as occurred by a time."""

from __future__ import annotations

import argparse
import csv
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.cli.common import new_bar, open_ledger, print_json
from ledger.cli.tables import table
from ledger.cli.views import instant
from ledger.errors import CommandInvalid
from replay.btyd import UNITS
from replay.catalogue import REPORTS, Ask, Report, difference, report
from replay.core import Reading
from replay.periods import reportable


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "report", help="figures per period, as known now, at a past time, or as occurred by one",
        description=textwrap.fill(
            "Analysts' figures: retention per period (active, new, returned, retained, lost by "
            "defection type; retention, churn and repeat-purchase rates), cohorts by period of "
            "first purchase, value (revenue and profit per customer, the top fifth's share), "
            "satisfaction (CSM by product or rep), complaints (time to resolution, repurchase "
            "by how complaints ended), campaigns (touches, contacts and purchases that "
            "followed, revenue against spend), relationship levels, and buy-till-you-die "
            "summaries and churn risk (BG/NBD) as of a date. Computed from the live views, or "
            "from a replay of the log as known at a time (only what had been recorded by then) "
            "or as occurred by a time (what had happened by then, whenever recorded).", 88),
        epilog="examples:\n  ledger report retention --period 2025-Q3\n"
        "  ledger report retention --period 2025-01..2025-12 --format csv\n"
        "  ledger report retention --period 2025-Q3 --as-known-at 2025-10-01T00:00:00Z\n"
        "  ledger report diff retention --period 2025-Q3 --a 2025-10-01T00:00:00Z --b now\n"
        "  ledger report churn-risk --as-of 1997-09-30T00:00:00Z --horizon 39",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("words", nargs="+", metavar="NAME",
                        help=f"the report ({', '.join(sorted(REPORTS))}), or diff NAME to see "
                        "how its figures changed between two readings (--a, --b)")
    parser.add_argument("--period",
                        help="retention, cohorts, value, satisfaction, complaints, campaigns: a "
                        "month (2025-07), quarter (2025-Q3) or year (2025), or a run of them "
                        "(2025-Q1..2025-Q4)")
    parser.add_argument("--as-of", type=instant, metavar="T",
                        help="summary, churn-risk, relationship: the end of the observed period")
    parser.add_argument("--unit", choices=sorted(UNITS), default="weeks",
                        help="summary, churn-risk: unit of recency, T and the horizon")
    parser.add_argument("--currency", help="summary, churn-risk: only purchases in this one")
    parser.add_argument("--horizon", type=float, default=52,
                        help="churn-risk: expected purchases over this many units (default 52)")
    parser.add_argument("--by", choices=["product", "rep"], default="product",
                        help="satisfaction: CSM per product (default) or per rep")
    parser.add_argument("--window", type=int, metavar="DAYS",
                        help="complaints: repurchase within DAYS after the period (default 90); "
                        "campaigns: contact or purchase within DAYS after the first touch "
                        "(default 30)")
    parser.add_argument("--quick", type=int, default=3, metavar="DAYS",
                        help="complaints: resolved within DAYS counts as quick (default 3)")
    parser.add_argument("--days", type=int, default=365,
                        help="relationship: contacts in the DAYS before --as-of (default 365)")
    reading = parser.add_mutually_exclusive_group()
    reading.add_argument("--as-known-at", type=instant, metavar="T",
                         help="replay only the events recorded at or before T")
    reading.add_argument("--as-occurred-by", type=instant, metavar="T",
                         help="replay the events that happened at or before T, whenever recorded")
    parser.add_argument("--a", metavar="T", help="diff: the first reading, as known at T")
    parser.add_argument("--b", metavar="T", default="now",
                        help="diff: the second reading, as known at T (default now)")
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
    parser.add_argument("--out", type=Path,
                        help="keep the replay's views in this new SQLite file")
    parser.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    diff = args.words[0] == "diff"
    names = args.words[1:] if diff else args.words
    if len(names) != 1:
        raise CommandInvalid(f"name one report ({', '.join(sorted(REPORTS))}), or diff and "
                             "one report", where="NAME")
    ask = Ask(names[0], period=args.period, as_of=args.as_of, unit=args.unit,
              currency=args.currency, horizon=args.horizon, by=args.by, window=args.window,
              quick=args.quick, days=args.days)
    ledger = open_ledger(args)
    try:
        if diff:
            if args.a is None:
                raise CommandInvalid("diff compares two readings: give --a T (and --b T or now)",
                                     where="--a")
            first, second = reading_at(args.a, "--a"), reading_at(args.b, "--b")
            found = difference(report(ledger, ask, first, progress=bar),
                               report(ledger, ask, second, progress=bar))
        else:
            reading = Reading(as_known_at=args.as_known_at, as_occurred_by=args.as_occurred_by)
            if args.out is not None and reading == Reading():
                raise CommandInvalid("--out keeps a replay; give --as-known-at or "
                                     "--as-occurred-by", where="--out")
            found = report(ledger, ask, reading, out=args.out, progress=bar)
    finally:
        ledger.close()
    show(found, args.format)
    return 0


def bar(total: int | None) -> Callable[[int], None]:
    """A progress bar on standard error for a catch-up or replay of ``total`` events."""
    progress = new_bar(total, " events", leave=False)

    def advance(done: int) -> None:
        progress.update(done)
        if progress.total is not None and progress.n >= progress.total:
            progress.close()
    return advance


def reading_at(text: str, where: str) -> Reading:
    if text == "now":
        return Reading()
    try:
        return Reading(as_known_at=reportable(instant(text), where))
    except argparse.ArgumentTypeError as error:
        raise CommandInvalid(str(error), where=where) from None


def described(model: dict[str, Any]) -> str:
    """What was fitted or totalled, on one line per part."""
    flat = ", ".join(f"{k} {v}" for k, v in model.items() if not isinstance(v, list))
    parts = [", ".join(f"{k} {v}" for k, v in item.items())
             for v in model.values() if isinstance(v, list) for item in v]
    return "\n".join([flat, *parts])


def show(found: Report, form: str) -> None:
    """JSON: the rows (with the model, if any, beside them); CSV and tables: the rows, and
    what they come from and what was fitted on standard error."""
    if form == "json":
        print_json(found.rows if found.model is None else
                   {"model": found.model, "customers": found.rows})
        return
    print(f"from the {found.source}", file=sys.stderr)
    if found.model is not None:
        print(described(found.model), file=sys.stderr)
    if form == "csv":
        fields = list(found.rows[0]) if found.rows else found.columns
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(found.rows)
    else:
        print(table(found.rows, found.columns))

