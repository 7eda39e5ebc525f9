"""`ledger report`: analysts' figures per period, from the live views or from a replay of the
log as known at a time or as occurred by a time."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from ledger.cli.common import open_ledger, print_json, progress_bar
from ledger.cli.tables import table
from ledger.cli.views import instant
from ledger.errors import CommandInvalid
from ledger.projections.activity import Activity
from ledger.projections.runner import Runner
from replay.core import Reading, Replay
from replay.periods import parse_periods
from replay.reports import RETENTION_COLUMNS, retention

REPORTS = {"retention": (retention, RETENTION_COLUMNS)}


def add_commands(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="figures per period, as known now, at a past time, or as occurred by one",
        description="Figures per period (retention: active, new, returned, retained, lost by "
        "defection type, retention, churn and repeat-purchase rates), computed from the live "
        "views, or from a replay of the log as known at a time (only what had been recorded "
        "by then) or as occurred by a time (what had happened by then, whenever recorded).",
        epilog="examples:\n  ledger report retention --period 2025-Q3\n"
        "  ledger report retention --period 2025-01..2025-12 --format csv\n"
        "  ledger report retention --period 2025-Q3 --as-known-at 2025-10-01T00:00:00Z",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("name", choices=sorted(REPORTS), metavar="NAME",
                        help=f"the report ({', '.join(sorted(REPORTS))})")
    report.add_argument("--period", required=True,
                        help="a month (2025-07), quarter (2025-Q3) or year (2025), or a run of "
                        "them (2025-Q1..2025-Q4)")
    reading = report.add_mutually_exclusive_group()
    reading.add_argument("--as-known-at", type=instant, metavar="T",
                         help="replay only the events recorded at or before T")
    reading.add_argument("--as-occurred-by", type=instant, metavar="T",
                         help="replay the events that happened at or before T, whenever recorded")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")
    report.add_argument("--out", type=Path,
                        help="keep the replay's views in this new SQLite file")
    report.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    compute, columns = REPORTS[args.name]
    periods = parse_periods(args.period)
    reading = Reading(as_known_at=args.as_known_at, as_occurred_by=args.as_occurred_by)
    ledger = open_ledger(args)
    if args.out is not None and reading == Reading():
        raise CommandInvalid("--out keeps a replay; give --as-known-at or --as-occurred-by",
                             where="--out")
    if reading == Reading():
        runner = Runner(ledger, [Activity()])
        with progress_bar(max(s.lag for s in runner.status()), " events") as progress:
            runner.catch_up(progress=progress)
        rows = compute(runner.db, periods)
        runner.close()
        source = "live views (as known now)"
    else:
        with Replay(ledger, [Activity()], reading, out=args.out) as replay, \
                progress_bar(replay.head, " events") as progress:
            replay.run(progress=progress)
            rows = compute(replay.db, periods)
        source = f"replay {reading.describe()}" + (f", kept in {args.out}" if args.out else "")
    ledger.close()
    show(rows, columns, args.format, source)
    return 0


def show(rows: list[dict[str, Any]], columns: list[str], form: str, source: str) -> None:
    if form == "json":
        print_json(rows)
    elif form == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else columns,
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(f"from the {source}", file=sys.stderr)
        print(table(rows, columns))

