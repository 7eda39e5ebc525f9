"""Commands over the views: keeping them current, and the questions managers and
compliance ask of them."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import datetime, timezone
from typing import Any

from ledger.cli.common import (
    CENTURY,
    Commands,
    looked,
    open_ledger,
    positive,
    print_json,
    progress_bar,
    reference_arg,
    seconds,
    whole,
)
from ledger.cli.tables import table
from ledger.commands.fields import in_utc
from ledger.errors import CommandInvalid
from ledger.projections import queries
from ledger.projections.base import Page
from ledger.projections.dossier import FOLLOW_UP_DAYS, LISTS
from ledger.projections.registry import VIEW_NAMES, views_named
from ledger.projections.runner import BATCH_SIZE, Runner

VIOLATION_KINDS = [
    "touch_after_opt_out",
    "touch_during_open_complaint",
    "sale_during_open_complaint",
    "same_material_two_departments",
    "same_material_two_records",
]


def add_commands(commands: Commands) -> None:
    projections = commands.add_parser(
        "projections",
        help="keep the views current: run, status, rebuild",
        description="The views (promises, quotes, timeline, service, dossier, activity) are kept "
        "from the event log by a runner that records each view's position beside its rows.",
    )
    sub = projections.add_subparsers(title="projection commands", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="catch up, then follow new events until stopped",
        description="Catch every view up with the log, then follow new events "
        "(polling) until Ctrl-C or SIGTERM. Safe to stop at any moment.",
    )
    run.add_argument("names", nargs="*", metavar="NAME", help=f"views ({', '.join(VIEW_NAMES)})")
    run.add_argument("--once", action="store_true", help="catch up and exit")
    run.add_argument("--poll", type=seconds, default=0.5, help="seconds between polls")
    run.add_argument(
        "--batch-size",
        type=positive,
        default=BATCH_SIZE,
        help=f"events per transaction (default {BATCH_SIZE:,})",
    )
    run.set_defaults(run=run_projections)
    status = sub.add_parser("status", help="each view's position and lag behind the log")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=projection_status)
    rebuild = sub.add_parser(
        "rebuild",
        help="build views afresh beside the live ones and swap them in",
        description="Build fresh tables beside the live ones, catch them up, and swap them in "
        "atomically: readers never see an empty or half-built view.",
    )
    rebuild.add_argument("names", nargs="*", metavar="NAME", help="views (default: all)")
    rebuild.add_argument(
        "--verify",
        action="store_true",
        help="compare the rebuilt view with the live one before swapping",
    )
    rebuild.add_argument("--json", action="store_true")
    rebuild.set_defaults(run=rebuild_projections)

    rep = commands.add_parser("rep", help="look at one rep").add_subparsers(
        title="rep commands", metavar="COMMAND"
    )
    dossier = rep.add_parser(
        "dossier", help="what a rep owns, touched, promised and left open; hand-over if departed"
    )
    dossier.add_argument("ref", type=reference_arg, help="the rep's reference, e.g. REP-3")
    dossier.add_argument(
        "--limit", type=positive, help="at most N rows of each list (default: all)"
    )
    add_query_options(dossier)
    dossier.set_defaults(run=rep_dossier)
    handover = rep.add_parser(
        "handover",
        help="a departed rep's hand-over: what is still theirs, what is handed "
        "on, and who should take each customer (and why)",
    )
    handover.add_argument("ref", type=reference_arg, help="the rep's reference, e.g. REP-3")
    add_query_options(handover)
    handover.set_defaults(run=rep_handover)

    compliance = commands.add_parser(
        "compliance", help="conflicting quotes, violations, orphaned work and merges"
    ).add_subparsers(title="compliance commands", metavar="COMMAND")
    conflicts = compliance.add_parser(
        "conflicts", help="quotes to one customer for one product, overlapping, different prices"
    )
    conflicts.add_argument("--customer", type=reference_arg, help="only this customer")
    add_query_options(conflicts, listing=True)
    conflicts.set_defaults(run=compliance_conflicts)
    violations = compliance.add_parser(
        "violations",
        help="touches after opt-out or during an open complaint, sales during "
        "an open complaint, one material sent by two departments within 30 days",
    )
    violations.add_argument("--kind", choices=VIOLATION_KINDS, help="only this kind")
    add_query_options(violations, listing=True)
    violations.set_defaults(run=compliance_violations)
    orphaned = compliance.add_parser(
        "orphaned",
        help="open work whose responsible rep has departed and that nobody took "
        "over (--as-of: at that time; default now)",
    )
    add_query_options(orphaned, listing=True)
    orphaned.set_defaults(run=compliance_orphaned)
    merges = compliance.add_parser(
        "merges",
        help="every merge of two records of a customer and every unmerge: which into which, "
        "when, who recorded it and why",
    )
    merges.add_argument("--customer", type=reference_arg, help="only into this survivor")
    add_query_options(merges, listing=True)
    merges.set_defaults(run=compliance_merges)

    service = commands.add_parser("service", help="the service inbox").add_subparsers(
        title="service commands", metavar="COMMAND"
    )
    inbox = service.add_parser(
        "inbox",
        help="requests and complaints past their deadline, and customers from a source "
        "(cards, a fair's list) nobody contacted in time",
    )
    inbox.add_argument("--rep", type=reference_arg, help="only this rep's")
    inbox.add_argument(
        "--follow-up-days",
        type=whole(1, CENTURY),
        default=FOLLOW_UP_DAYS,
        help="days in which a customer from a source is to be contacted "
        f"(default {FOLLOW_UP_DAYS})",
    )
    add_query_options(inbox, listing=True)
    inbox.set_defaults(run=service_inbox)


def add_query_options(parser: argparse.ArgumentParser, *, listing: bool = False) -> None:
    parser.add_argument(
        "--as-of",
        type=instant,
        default=None,
        help="judge deadlines as of this instant (ISO 8601; default now)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument(
        "--no-catch-up",
        action="store_true",
        help="answer from the views as they are, without catching up first",
    )
    parser.add_argument(
        "--purpose",
        help="why you look (kept with the read in the access log, `ledger audit access`)",
    )
    if listing:
        parser.add_argument("--limit", type=positive, default=100, help="rows per page")
        parser.add_argument("--cursor", help="the next_cursor of the previous page")


def instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a zone, e.g. {text}Z")
    try:
        return in_utc(moment)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def runner_for(args: argparse.Namespace, names: list[str] | None = None) -> Runner:
    try:
        views = views_named(names or [])
    except KeyError as error:
        raise CommandInvalid(
            f"unknown view {error.args[0]!r}; views are {', '.join(VIEW_NAMES)}", where="NAME"
        ) from None
    return Runner(open_ledger(args), views, batch_size=getattr(args, "batch_size", BATCH_SIZE))


def caught_up(args: argparse.Namespace) -> Runner:
    runner = runner_for(args)
    if not args.no_catch_up:
        behind = max((s.lag for s in runner.status()), default=0)
        with progress_bar(behind, " events") as progress:
            runner.catch_up(progress=progress)
    return runner


def as_of(args: argparse.Namespace) -> datetime:
    return args.as_of or datetime.now(timezone.utc)


# -- projections ------------------------------------------------------------------------------


def run_projections(args: argparse.Namespace) -> int:
    runner = runner_for(args, args.names)
    behind = max((s.lag for s in runner.status()), default=0)
    with progress_bar(behind, " events") as progress:
        runner.catch_up(progress=progress)
    report_failures(runner)
    if args.once:
        return 1 if runner.failed else 0
    print("caught up; following new events (Ctrl-C to stop)", file=sys.stderr)
    stop = threading.Event()
    try:
        runner.run(stop, poll=args.poll)
    except KeyboardInterrupt:
        stop.set()
    report_failures(runner)
    return 1 if runner.failed else 0


def report_failures(runner: Runner) -> None:
    for name, error in runner.failed.items():
        status = next(s for s in runner.status() if s.view == name)
        print(
            f"view {name} stopped at position {status.position}: event {status.error_position}"
            f" could not be processed:\n{error}",
            file=sys.stderr,
        )


def projection_status(args: argparse.Namespace) -> int:
    statuses = runner_for(args).status()
    if args.json:
        print_json([s.to_dict() for s in statuses])
    else:
        print(
            table(
                [s.to_dict() for s in statuses],
                ["view", "position", "head", "lag", "error_position", "rebuild_pending"],
            )
        )
    return 1 if any(s.error for s in statuses) else 0


def rebuild_projections(args: argparse.Namespace) -> int:
    runner = runner_for(args, args.names)
    results: list[dict[str, Any]] = []
    for view in runner.views:
        head = runner.app.recorder.max_notification_id() or 0
        print(f"rebuilding {view.name} ...", file=sys.stderr)
        with progress_bar(head, " events") as progress:
            identical = runner.rebuild(view, progress=progress, verify=args.verify)
        results.append(
            {"view": view.name, "position": runner.positions()[view.name], "identical": identical}
        )
    if args.json:
        print_json(results)
    else:
        for result in results:
            verdict = (
                ""
                if result["identical"] is None
                else (
                    ", identical to the live view"
                    if result["identical"]
                    else ", DIFFERENT from the live view"
                )
            )
            print(f"{result['view']}: rebuilt to position {result['position']}{verdict}")
    return 1 if any(r["identical"] is False for r in results) else 0


# -- questions -------------------------------------------------------------------------------


def rep_dossier(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    looked(runner.app, "ledger rep dossier", fields=("dossier",), purpose=args.purpose)
    dossier = queries.rep_dossier(runner.db, args.ref, as_of=as_of(args), limit=args.limit)
    if args.json:
        print_json(dossier)
        return 0
    rep = dossier["rep"]
    left = f", departed {rep['departed_at'][:10]}" if rep.get("departed_at") else ""
    print(
        f"{rep['ref']}  {rep['name']}  team {rep['team']}, manager {rep.get('manager') or '-'}"
        f"{left}"
    )
    sections = [
        (
            "customers owned",
            dossier["customers_owned"],
            [
                "customer",
                "name",
                "owner_since",
                "contacts_by_rep",
                "last_contact_at",
                "last_contact_by",
            ],
        ),
        (
            "customers handed on",
            dossier["customers_handed_on"],
            ["customer", "name", "since", "until", "now_owned_by"],
        ),
        (
            "customers touched",
            dossier["customers_touched"],
            ["customer", "name", "owner", "contacts", "first_contact_at", "last_contact_at"],
        ),
        (
            "open promises",
            dossier["open_promises"],
            ["customer", "promise_id", "due_by", "overdue", "category", "text"],
        ),
        (
            "open quotes",
            dossier["open_quotes"],
            ["customer", "quote_id", "product", "net_price", "currency", "valid_until", "lapsed"],
        ),
        (
            "open complaints",
            dossier["open_complaints"],
            ["customer", "complaint_id", "severity", "filed_at", "respond_by"],
        ),
        (
            "unanswered requests",
            dossier["unanswered_requests"],
            ["customer", "request_id", "kind", "received_at", "respond_by", "overdue"],
        ),
        (
            "cards not followed up",
            dossier["cards_not_followed_up"],
            ["customer", "name", "source", "registered_at"],
        ),
    ]
    if rep.get("departed"):
        sections.append(
            (
                "HAND-OVER: needs a new owner",
                dossier["handover"],
                ["customer", "what", "id", "due", "suggested_owner", "why"],
            )
        )
    if rep.get("departed"):
        progress = dossier["handover_progress"]
        print(f"hand-over: {progress['handed_on']} handed on, {progress['remaining']} remaining")
    totals = dossier["totals"]
    names = [*LISTS, "handover"]
    for (title, rows, columns), name in zip(sections, names, strict=False):
        shown = "" if len(rows) == totals[name] else f", {len(rows)} shown"
        print(f"\n{title} ({totals[name]}{shown})")
        print(table(rows, columns))
    return 0


def rep_handover(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    looked(runner.app, "ledger rep handover", fields=("dossier",), purpose=args.purpose)
    found = queries.rep_handover(runner.db, args.ref, as_of=as_of(args))
    if args.json:
        print_json(found)
        return 0
    rep, progress = found["rep"], found["handover_progress"]
    if progress is None:
        print(f"{rep['ref']} has not departed: nothing to hand over")
        return 0
    print(
        f"{rep['ref']}  {rep['name']}, departed {rep['departed_at'][:10]}: "
        f"{progress['handed_on']} handed on, {progress['remaining']} remaining"
    )
    print(
        table(
            found["handover"],
            ["customer", "what", "id", "due", "suggested_owner", "suggested_because", "why"],
        )
    )
    return 0


def print_page(args: argparse.Namespace, page: Page, columns: list[str]) -> None:
    if args.json:
        print_json(page.to_dict())
        return
    print(table(page.items, columns))
    if page.next_cursor:
        print(f"\nmore: --cursor {page.next_cursor}")


def compliance_conflicts(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    looked(
        runner.app,
        "ledger compliance conflicts",
        customer=args.customer,
        fields=("quotes",),
        purpose=args.purpose,
    )
    page = queries.conflicting_quotes(
        runner.db, customer=args.customer, limit=args.limit, cursor=args.cursor
    )
    print_page(
        args,
        page,
        [
            "customer",
            "product",
            "first_quote",
            "first_rep",
            "first_price",
            "first_currency",
            "second_quote",
            "second_rep",
            "second_price",
            "second_currency",
            "second_issued_at",
        ],
    )
    return 0


def compliance_violations(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    looked(runner.app, "ledger compliance violations", fields=("violations",), purpose=args.purpose)
    page = queries.violations(runner.db, kind=args.kind, limit=args.limit, cursor=args.cursor)
    print_page(args, page, ["at", "kind", "customer", "why"])
    return 0


def compliance_orphaned(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    looked(runner.app, "ledger compliance orphaned", fields=("orphaned",), purpose=args.purpose)
    page = queries.orphaned_items(
        runner.db, as_of=as_of(args), limit=args.limit, cursor=args.cursor
    )
    print_page(
        args,
        page,
        [
            "due",
            "overdue",
            "item",
            "customer",
            "id",
            "made_by",
            "responsible",
            "departed_at",
            "manager",
        ],
    )
    return 0


def compliance_merges(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    looked(
        runner.app,
        "ledger compliance merges",
        customer=args.customer,
        fields=("merges",),
        purpose=args.purpose,
    )
    page = queries.merges(runner.db, customer=args.customer, limit=args.limit, cursor=args.cursor)
    print_page(
        args,
        page,
        ["occurred_at", "action", "merged", "survivor", "actor", "recorded_at", "reason"],
    )
    return 0


def service_inbox(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    looked(runner.app, "ledger service inbox", fields=("inbox",), purpose=args.purpose)
    page = queries.service_inbox(
        runner.db,
        as_of=as_of(args),
        rep=args.rep,
        limit=args.limit,
        cursor=args.cursor,
        follow_up_days=args.follow_up_days,
    )
    print_page(
        args, page, ["due", "overdue_days", "item", "customer", "id", "what", "rep", "escalated_to"]
    )
    return 0
