"""The ``ledger`` command line."""

from __future__ import annotations

import argparse
import codecs
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.persistence import MapperDeserialisationError

from ledger.cli import audit, customers, integrity, migrations, reports, scheduling, server
from ledger.cli.common import (
    CENTURY,
    looked,
    open_ledger,
    positive,
    print_json,
    progress_bar,
    reference_arg,
    settings_of,
    whole,
)
from ledger.cli.views import add_commands, add_query_options, caught_up, print_page
from ledger.commands import parse_command
from ledger.demo import MIN_CUSTOMERS, MIN_DAYS
from ledger.errors import CommandInvalid, LedgerError
from ledger.projections import queries
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner

if TYPE_CHECKING:
    from ledger.importer import ImportReport

DESCRIPTION = """\
An event-sourced ledger of every customer interaction: contacts, quotes, promises,
campaign touches, complaints, purchases. Nothing is ever updated or deleted.

The store is a SQLite file under --data-dir (default ./var), or PostgreSQL when
LEDGER_DATABASE_URL=postgresql://user@host:port/dbname is set (or --database-url).
"""

EPILOG = """\
examples:
  ledger demo --customers 3000            build a demo world of 100,000+ events
  ledger customer show CUST-00042         a customer's history, oldest first
  ledger import commands.jsonl            one JSON command per line; safe to re-run
  ledger keys create --name ops --role admin   an API key (shown once)
  ledger report retention --period 2025-Q3 --as-known-at 2025-10-01T00:00:00Z
                                          Q3's retention as it was known on Oct 1
  ledger serve --port 8000                the HTTP API; OpenAPI at /docs
  ledger audit access --customer CUST-00042
                                          who looked at this customer, newest first
"""


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: the open transaction rolls back whole


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except CommandInvalid as error:  # bad input, as argparse exits for a bad option
        print(f"error: {error}", file=sys.stderr)
        return 2
    except LedgerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except MapperDeserialisationError as error:  # changed behind the ledger's back
        print(
            f"error: the log holds an event that cannot be read: {error}. `ledger verify` "
            "names every event that is not as it was written",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted; every batch written so far is complete", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`... | head`): not an error of ours. Python would
        # complain again when it flushes stdout on exit, so point stdout at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder of the SQLite store (env LEDGER_DATA_DIR, default ./var)",
    )
    parser.add_argument(
        "--database-url", help="PostgreSQL URL (env LEDGER_DATABASE_URL); overrides --data-dir"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="build a realistic demo world in the configured store",
        description="Build reps, campaigns and customers with two years of interactions: every "
        "kind of event, late-recorded entries, corrections, opt-outs, conflicting quotes, "
        "broken and overdue promises, complaints. The same seed builds the same world.",
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument(
        "--customers", type=whole(MIN_CUSTOMERS), default=3000, help="customers (default 3000)"
    )
    demo.add_argument(
        "--days", type=whole(MIN_DAYS, CENTURY), default=730, help="days of history (default 730)"
    )
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")
    demo.set_defaults(run=run_demo)

    imp = commands.add_parser(
        "import",
        help="execute commands from a JSON-lines file",
        description='Execute one command per line ({"type": "log_contact", ...}). A bad line '
        "is reported with its number and reason and nothing of it is written; the good lines "
        "are written. Lines without a command_id get one from their content, so importing the "
        "same file again writes nothing new. Exit status 1 if any line failed.",
    )
    imp.add_argument("file", type=Path, help="the .jsonl file, or - for standard input")
    imp.add_argument("--actor", default="import", help="who is recording (default: import)")
    imp.add_argument(
        "--batch-size", type=positive, default=500, help="commands per transaction (default 500)"
    )
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.set_defaults(run=run_import)

    purchases = commands.add_parser(
        "import-purchases",
        help="record an analyst's purchase history (CSV, whitespace or .xlsx)",
        description="Record one purchase per row of a CSV, whitespace-separated or .xlsx "
        "file; a negative amount is a refund (of the row's order, if it names one). Customers "
        "the ledger does not know are registered first. Importing the same file again, fixed "
        "or reordered, writes only the rows not yet recorded. A bad row is reported with its "
        "line and reason; the other rows are written. Exit status 1 if any row failed.",
        epilog="example (CDNOW: id, sample id, yyyymmdd, quantity, dollars):\n"
        "  ledger import-purchases CDNOW_sample.txt --whitespace --no-header --customer-column 2"
        " \\\n      --date-column 3 --quantity-column 4 --amount-column 5 --date-format %Y%m%d"
        " --currency USD",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    purchases.add_argument("file", type=Path, help="the file, or - for standard input")
    purchases.add_argument(
        "--customer-column",
        required=True,
        help="the customer's reference: a header name or a number from 1",
    )
    purchases.add_argument("--date-column", required=True, help="the purchase's date")
    purchases.add_argument("--amount-column", required=True, help="what the purchase came to")
    purchases.add_argument(
        "--order-column",
        help="the order id (default: one made from the row's customer, date, amount and quantity)",
    )
    purchases.add_argument("--quantity-column", help="how many items")
    purchases.add_argument(
        "--date-format",
        default="%Y-%m-%d",
        help="strptime format of the dates (default %%Y-%%m-%%d); dates without a zone are UTC",
    )
    purchases.add_argument("--currency", required=True, help="ISO 4217 code of the amounts")
    split = purchases.add_mutually_exclusive_group()
    split.add_argument(
        "--delimiter",
        default=",",
        help="column separator, one character; \\t for a tab (default ,)",
    )
    split.add_argument(
        "--whitespace", action="store_true", help="columns are separated by runs of spaces or tabs"
    )
    purchases.add_argument(
        "--no-header", action="store_true", help="the first row is a purchase, not column names"
    )
    purchases.add_argument(
        "--encoding",
        help="the text file's encoding, e.g. gbk or cp1252 (default: UTF-8, UTF-16 with its "
        "mark or GB18030, whichever reads the file)",
    )
    purchases.add_argument("--sheet", help="the .xlsx workbook's sheet (default: its first)")
    purchases.add_argument("--actor", default="import", help="who is recording (default: import)")
    purchases.add_argument(
        "--batch-size", type=positive, default=5000, help="commands per transaction (default 5000)"
    )
    purchases.add_argument(
        "--workers",
        type=whole(1, 64),
        default=min(4, os.cpu_count() or 1),
        help="processes writing side by side, each its share of the "
        "customers (default: the cores, at most 4)",
    )
    purchases.add_argument("--json", action="store_true", help="print the report as JSON")
    purchases.set_defaults(run=run_import_purchases)

    customer = commands.add_parser("customer", help="look at one customer").add_subparsers(
        title="customer commands", metavar="COMMAND"
    )
    show = customer.add_parser(
        "show",
        help="a customer's history, oldest first",
        description="Every interaction with the customer in business-time order: late-recorded "
        "entries say so, corrections and retractions are marked on the entry they concern.",
    )
    show.add_argument("ref", type=reference_arg, help="the customer's reference, e.g. CUST-00042")
    show.add_argument(
        "--tz",
        default=os.environ.get("LEDGER_TIMEZONE", "UTC"),
        help="show times in this zone, e.g. Asia/Shanghai (env LEDGER_TIMEZONE, default UTC)",
    )
    show.add_argument("--json", action="store_true", help="print the history as JSON")
    show.add_argument("--purpose", help="why you look (kept in the access log)")
    show.set_defaults(run=run_customer_show)
    promises = customer.add_parser(
        "promises",
        help="what each rep promised this customer",
        description="Every promise made to the customer, oldest first, with its status "
        "(open, kept, broken, cancelled, overdue) and what it is linked to.",
    )
    promises.add_argument("ref", type=reference_arg, help="the customer's reference")
    promises.add_argument("--rep", type=reference_arg, help="only this rep's promises")
    promises.add_argument("--status", choices=["open", "kept", "broken", "cancelled", "overdue"])
    add_query_options(promises, listing=True)
    promises.set_defaults(run=customer_promises)
    handing = customer.add_parser(
        "hand-over",
        help="make another rep responsible for the customer's open work",
        description="Hand open requests, quotes, promises and complaints to another rep: the "
        "items named (--item), or every open item one rep is responsible for (--from). Who "
        "made each item never changes; the customer's timeline shows the hand-over.",
        epilog="example:\n  ledger customer hand-over CUST-00042 --from REP-3 --to REP-4 "
        "--reason 'REP-3 left'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    handing.add_argument("ref", type=reference_arg, help="the customer's reference")
    handing.add_argument(
        "--to",
        required=True,
        type=reference_arg,
        metavar="REP",
        help="the rep responsible from now on",
    )
    moved = handing.add_mutually_exclusive_group(required=True)
    moved.add_argument(
        "--from",
        dest="from_rep",
        type=reference_arg,
        metavar="REP",
        help="every open item this rep is responsible for",
    )
    moved.add_argument(
        "--item",
        action="append",
        metavar="ENTRY_ID",
        help="an open item to move (repeat for several)",
    )
    handing.add_argument("--reason", required=True, help="why, for the record")
    handing.add_argument("--actor", default="cli", help="who is recording it")
    handing.add_argument("--json", action="store_true")
    handing.set_defaults(run=run_hand_over)
    merging = customer.add_parser(
        "merge",
        help="merge two records of one customer: MERGED then reads as SURVIVOR",
        description="Record that two records are one customer: the merged record's reference "
        "then reads as the survivor, and its history is counted with the survivor's, once, "
        "in every view and report. Nothing is rewritten: the merge is an event on both "
        "records, and `ledger customer unmerge` undoes it. Refused (exit 2): a record into "
        "itself, a forgotten record, a record merged already, a survivor of other records, "
        "records sharing an entry id. Into a record that was merged: into its survivor.",
        epilog="example:\n  ledger customer merge CUST-00042 CUST-00917 --reason 'same person, "
        "registered twice'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    merging.add_argument("survivor", type=reference_arg, help="the record that remains")
    merging.add_argument("merged", type=reference_arg, help="the record merged into it")
    unmerging = customer.add_parser(
        "unmerge",
        help="undo a merge: the merged record is its own customer again",
        description="The record is its own customer again, with its own history; what was "
        "recorded on the survivor after the merge stays the survivor's.",
    )
    unmerging.add_argument("merged", type=reference_arg, help="the record that was merged")
    for either in (merging, unmerging):
        either.add_argument("--reason", required=True, help="why, for the record")
        either.add_argument(
            "--occurred-at",
            help="when it was decided, ISO 8601 with a zone (default now): replays as "
            "occurred by a time count it from then",
        )
        either.add_argument("--actor", default="cli", help="who is recording it")
        either.add_argument("--json", action="store_true")
    merging.set_defaults(run=run_merge)
    unmerging.set_defaults(run=run_merge)
    add_commands(commands)
    customers.add_commands(commands)
    reports.add_commands(commands)
    scheduling.add_commands(commands)
    integrity.add_commands(commands)
    audit.add_commands(commands)
    server.add_commands(commands)
    migrations.add_commands(commands)
    return parser


def run_hand_over(args: argparse.Namespace) -> int:
    command = parse_command(
        {
            "type": "move_responsibility",
            "customer": args.ref,
            "to_rep": args.to,
            "from_rep": args.from_rep,
            "entry_ids": args.item,
            "reason": args.reason,
        },
        where="hand-over",
    )
    app = open_ledger(args)
    try:
        result = app.execute(command, actor=args.actor)
        # The event it wrote (its last), not the customer's whole history.
        written = next(iter(app.events.get(result.id, gt=result.version - 1)))
        moved: list[str] = written.entry_ids  # type: ignore[attr-defined]
    finally:
        app.close()
    if args.json:
        print_json(
            {
                "customer": args.ref,
                "to": args.to,
                "moved": moved,
                "position": result.events[-1].position,
            }
        )
    else:
        print(f"{args.ref}: {', '.join(moved)} handed to {args.to}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    """``ledger customer merge`` and ``unmerge``."""
    merging = hasattr(args, "survivor")
    fields = (
        {"type": "merge_customers", "customer": args.survivor, "merged": args.merged}
        if merging
        else {"type": "unmerge_customers", "customer": args.merged}
    )
    if args.occurred_at is not None:
        fields["occurred_at"] = args.occurred_at
    command = parse_command(
        {**fields, "reason": args.reason}, where="merge" if merging else "unmerge"
    )
    app = open_ledger(args)
    try:
        result = app.execute(command, actor=args.actor)
        survivor = app.customer_as_stored(args.merged).merged_into if merging else None
    finally:
        app.close()
    done = {
        "merged": args.merged,
        "survivor": survivor,
        "action": "merged" if merging else "unmerged",
        "position": result.position,
    }
    if args.json:
        print_json(done)
    elif merging:
        print(f"{args.merged} merged into {survivor}: it now reads as {survivor}")
    else:
        print(f"{args.merged} unmerged: it is its own customer again")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from ledger.demo import build_world

    app = open_ledger(args)
    print(f"building a demo world in {app.settings.describe()} ...", file=sys.stderr)
    started = time.perf_counter()
    with progress_bar(None, " commands") as progress:
        summary = build_world(
            app, seed=args.seed, customers=args.customers, days=args.days, progress=progress
        )
    print("building the views ...", file=sys.stderr)
    runner = Runner(app, all_views())
    with progress_bar(summary.events, " events") as progress:
        runner.catch_up(progress=progress)
    seconds = time.perf_counter() - started
    if args.json:
        print_json({**summary.__dict__, "seconds": round(seconds, 1)})
        return 0
    print(f"demo world in {app.settings.describe()}, {seconds:.0f} s:")
    print(f"  {summary.customers:,} customers, {summary.reps} reps, {summary.campaigns} campaigns")
    print(
        f"  {summary.events:,} events from {summary.commands:,} commands, "
        f"{summary.first_day:%Y-%m-%d} to {summary.last_day:%Y-%m-%d}"
    )
    if summary.rejected:
        print(f"  {summary.rejected} commands refused, for example:")
        for reason in summary.rejections[:3]:
            print(f"    {reason}")
    print(f"  rep {summary.departed_rep} departed; cases to look at:")
    for name, ref in summary.seeded.items():
        print(f"    {name:<32} {ref}")
    example = summary.seeded.get("corrected_customer") or next(iter(summary.seeded.values()))
    print(f"next: ledger customer show {example}")
    return 0


def read_lines(path: Path) -> list[str] | None:
    """The lines of the file (of standard input, for -), or None when it cannot be read (the
    reason is printed). Read as UTF-8, a byte-order mark at its start skipped (editors on
    Windows write one), or as UTF-16 when it starts with that one's mark; any other encoding
    (GBK, say) is refused, not half read. Lines end at line feeds only: a JSON line may hold
    U+2028 or NEL in its text, where str.splitlines would cut it."""
    if str(path) == "-":
        data = sys.stdin.buffer.read()
    elif not path.is_file():
        print(f"error: {path}: no such file", file=sys.stderr)
        return None
    else:
        data = path.read_bytes()
    try:
        text = data.decode("utf-16" if data.startswith(UTF16_MARKS) else "utf-8-sig")
    except UnicodeDecodeError as error:
        print(
            f"error: {path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start:,}); save it as UTF-8, e.g. iconv -f GBK -t UTF-8 {path} > "
            f"{path}.utf8",
            file=sys.stderr,
        )
        return None
    return [line.removesuffix("\r") for line in text.split("\n")]


UTF16_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def run_import(args: argparse.Namespace) -> int:
    from ledger.importer import import_lines

    lines = read_lines(args.file)
    if lines is None:
        return 2
    app = open_ledger(args)
    with progress_bar(sum(1 for line in lines if line.strip()), " lines") as progress:
        report = import_lines(
            app, lines, actor=args.actor, batch_size=args.batch_size, progress=progress
        )
    return print_import(args, report)


def run_import_purchases(args: argparse.Namespace) -> int:
    from ledger.purchases import PurchaseColumns, import_purchases

    columns = PurchaseColumns(
        customer=args.customer_column,
        date=args.date_column,
        amount=args.amount_column,
        order=args.order_column,
        quantity=args.quantity_column,
        date_format=args.date_format,
        currency=args.currency,
        delimiter=None if args.whitespace else args.delimiter.replace("\\t", "\t"),
        header=not args.no_header,
        encoding=args.encoding,
        sheet=args.sheet,
    )
    table = columns.read(args.file)
    rows = sum(1 for _ in table.rows()) + len(table.unreadable)
    with progress_bar(rows, " rows") as progress:
        report = import_purchases(
            settings_of(args),
            table,
            columns,
            workers=args.workers,
            actor=args.actor,
            batch_size=args.batch_size,
            progress=progress,
        )
    return print_import(args, report)


def print_import(args: argparse.Namespace, report: ImportReport) -> int:
    if args.json:
        print_json(report.to_dict())
    else:
        for error in report.errors:
            print(f"line {error.line}: {error.error.message}", file=sys.stderr)
        print(
            f"{report.lines:,} lines: {report.written:,} written ({report.events:,} events), "
            f"{report.duplicates:,} already recorded, {report.failed:,} failed"
        )
    return 1 if report.errors else 0


def run_customer_show(args: argparse.Namespace) -> int:
    from ledger.history import history_lines, render

    try:
        zone = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        print(
            f"error: --tz {args.tz!r} is not a time zone (try Asia/Shanghai or UTC)",
            file=sys.stderr,
        )
        return 2
    app = open_ledger(args)
    customer = app.survivor_as_stored(args.ref)
    looked(
        app,
        "ledger customer show",
        customer=customer.ref,
        fields=("profile", "history"),
        purpose=args.purpose,
    )
    records = app.records_as_stored(customer)
    lines = history_lines(
        [event for record in records for event in app.history("customer", record.ref)]
    )
    if args.json:
        print_json(
            {
                "ref": customer.ref,
                "version": customer.version,
                "owner": customer.owner,
                "profile": customer.profile,
                "merged_records": list(customer.merged_records),
                "resolved_from": args.ref if args.ref != customer.ref else None,
                "history": [line.to_dict() for line in lines],
            }
        )
        return 0
    if customer.ref != args.ref:
        print(f"{args.ref} was merged into {customer.ref}; showing {customer.ref}")
    profile = customer.profile
    company = f", {profile['company']}" if profile.get("company") else ""
    print(f"{customer.ref}  {profile['name'] or '(erased)'}  ({profile['kind']}{company})")
    if customer.merged_records:
        print(f"with the records merged into it: {', '.join(customer.merged_records)}")
    print(
        f"owner {customer.owner or '-'}, {sum(r.version for r in records)} events, "
        f"shown in {zone.key}, now {datetime.now(timezone.utc).astimezone(zone):%Y-%m-%d %H:%M}"
    )
    print(render(lines, zone=zone))
    return 0


def customer_promises(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    # An unknown customer is an error, not a list; a merged record reads as its survivor.
    ref = runner.app.survivor_as_stored(args.ref).ref
    if ref != args.ref:
        print(f"{args.ref} was merged into {ref}; showing {ref}", file=sys.stderr)
    looked(
        runner.app,
        "ledger customer promises",
        customer=ref,
        fields=("promises",),
        purpose=args.purpose,
    )
    page = queries.promises_of(
        runner.db, ref, rep=args.rep, status=args.status, limit=args.limit, cursor=args.cursor
    )
    print_page(args, page, ["promise_id", "rep", "made_at", "due_by", "status", "category", "text"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
