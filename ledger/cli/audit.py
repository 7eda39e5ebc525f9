"""`ledger audit access`: the record of who looked at which customer's data."""

from __future__ import annotations

import argparse

from ledger.access_log import AccessLog
from ledger.cli.common import Commands, open_ledger, positive, print_json
from ledger.cli.tables import table
from ledger.cli.views import instant
from ledger.sql import Database

COLUMNS = ["at", "key", "role", "customer", "what", "fields", "purpose", "interface", "position"]


def add_commands(commands: Commands) -> None:
    audit = commands.add_parser(
        "audit",
        help="the record of who looked at customers' data",
        description="Every read of a customer's personal data, and every report, is recorded "
        "in an append-only, hash-chained access log: when, which key and role, which customer "
        "(by reference), which endpoint or page, which kinds of data it showed, the purpose "
        "given and the interface. `ledger verify` checks its chain.",
    ).add_subparsers(title="audit commands", metavar="COMMAND")
    access = audit.add_parser(
        "access",
        help="who read which customer's data, newest first",
        description="Records of the access log, newest first, filtered by customer, key and\n"
        "time; --json prints them for machines, --cursor fetches the next page.",
        epilog="examples:\n"
        "  ledger audit access --customer CUST-00042 --since 2025-01-01T00:00:00Z\n"
        "  ledger audit access --customer CUST-00042 --since \"$(date -u -d '90 days ago' "
        '+%FT%TZ)"\n'
        "  ledger audit access --key telephony --limit 20 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    access.add_argument("--customer", metavar="REF", help="only reads of this customer")
    access.add_argument(
        "--key",
        metavar="NAME",
        help="only reads by this API key (or cli:USER for the command line)",
    )
    access.add_argument(
        "--since",
        type=instant,
        metavar="T",
        help="recorded at or after this instant (ISO 8601 with a zone)",
    )
    access.add_argument(
        "--until",
        type=instant,
        metavar="T",
        help="recorded before this instant (ISO 8601 with a zone)",
    )
    access.add_argument(
        "--limit",
        type=positive,
        default=100,
        metavar="N",
        help="records per page (default 100, at most 1000)",
    )
    access.add_argument("--cursor", metavar="CURSOR", help="the next_cursor of the previous page")
    access.add_argument(
        "--json", action="store_true", help='print {"data": [...], "next_cursor": ...} for machines'
    )
    access.set_defaults(run=run_access)


def run_access(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    db = Database.of(ledger)
    try:
        log = AccessLog(db, create=ledger.settings.create_tables)
        page = log.list(
            customer=args.customer,
            key=args.key,
            since=args.since,
            until=args.until,
            limit=args.limit,
            cursor=args.cursor,
        )
    finally:
        db.close()
        ledger.close()
    if args.json:
        print_json(page.to_dict())
        return 0
    print(table([{**item, "fields": ", ".join(item["fields"])} for item in page.items], COLUMNS))
    if page.next_cursor:
        print(f"\nmore: --cursor {page.next_cursor}")
    return 0
