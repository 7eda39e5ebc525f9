"""`ledger scheduler`: the jobs that keep deadlines, as their own process or once."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import datetime, timezone

from ledger.cli.common import (
    CENTURY,
    Commands,
    open_ledger,
    print_json,
    seconds,
    settings_of,
    whole,
)
from ledger.cli.tables import table
from ledger.cli.views import instant
from ledger.errors import CommandInvalid
from ledger.scheduler import JOB_NAMES, Jobs, Leadership, SchedulerService


def add_commands(commands: Commands) -> None:
    parser = commands.add_parser(
        "scheduler",
        help="mark overdue promises, expire quotes, flag missed deadlines, lapse customers",
        description="Run the jobs that record what time alone makes true: promises past due "
        "are marked overdue, quotes past their validity expire, requests and complaints past "
        "their respond-by time are flagged (once per deadline), customers with no purchase and "
        "no contact for --lapse-days are marked lapsed. Each fact is written once, however "
        "often the jobs run or however many schedulers race. Only one scheduler of a store "
        "acts at a time; another waits and takes over if it dies.",
        epilog="examples:\n  ledger scheduler                    every 5 minutes until stopped\n"
        "  ledger scheduler --once --now 2026-01-31T00:00:00Z   as of that instant, then exit",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--once", action="store_true", help="run every job once and exit, printing what was written"
    )
    parser.add_argument(
        "--now",
        type=instant,
        metavar="T",
        help="with --once: run as of this instant (default: now)",
    )
    parser.add_argument(
        "--interval",
        type=seconds,
        default=300,
        help="seconds between runs of every job (default 300)",
    )
    parser.add_argument(
        "--every",
        action="append",
        default=[],
        metavar="JOB=SECONDS",
        help="seconds between runs of one job, e.g. lapsed_customers=86400 (repeatable)",
    )
    parser.add_argument(
        "--lapse-days",
        type=whole(1, CENTURY),
        default=180,
        help="days without purchase or contact before a customer lapses (default 180)",
    )
    parser.add_argument(
        "--job", action="append", choices=JOB_NAMES, help="only this job (repeatable; default: all)"
    )
    parser.add_argument("--json", action="store_true", help="with --once: print JSON")
    parser.set_defaults(run=run_scheduler)


def intervals(args: argparse.Namespace) -> dict[str, float]:
    found = dict.fromkeys(JOB_NAMES, args.interval)
    for item in args.every:
        name, _, wait = item.partition("=")
        try:
            value = seconds(wait)
        except argparse.ArgumentTypeError:
            value = 0
        if name not in JOB_NAMES or not value:
            raise CommandInvalid(
                f"--every {item!r}: give JOB=SECONDS with a job of "
                f"{', '.join(JOB_NAMES)} and seconds above 0, at most a year",
                where="--every",
            )
        found[name] = value
    return found


def run_scheduler(args: argparse.Namespace) -> int:
    if args.now is not None and not args.once:
        print("error: --now goes with --once", file=sys.stderr)
        return 2
    if not args.once:
        service = SchedulerService(
            settings_of(args),
            intervals=intervals(args),
            lapse_days=args.lapse_days,
            report=lambda line: print(line, file=sys.stderr),
        )
        service.start()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the way a service is stopped
            return 0
        finally:
            service.stop()
    leadership = Leadership(settings_of(args))
    if not leadership.acquire(
        threading.Event(),
        waiting=lambda: print("another scheduler holds the lock; waiting for it", file=sys.stderr),
    ):
        return 1
    try:
        ledger = open_ledger(args)
        jobs = Jobs(ledger, lapse_days=args.lapse_days)
        facts = jobs.run(
            args.now or datetime.now(timezone.utc), tuple(args.job) if args.job else JOB_NAMES
        )
        jobs.close()
        ledger.close()
    finally:
        leadership.release()
    if args.json:
        print_json([fact.to_dict() for fact in facts])
    else:
        written = [f.to_dict() for f in facts if f.outcome == "written"]
        print(table(written, ["job", "customer", "entry"]) if written else "nothing to write")
        others = len(facts) - len(written)
        if others:
            print(f"({others} already recorded or skipped; --json lists them)", file=sys.stderr)
    return 0
