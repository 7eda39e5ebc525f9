"""Customers in bulk: a list of them imported (business cards, a fair's registrations,
another system's export), and the pairs of them that are likely one customer."""

from __future__ import annotations

import argparse
import sys

from ledger.cli.common import (
    Commands,
    looked,
    open_ledger,
    positive,
    print_json,
    progress_bar,
    whole,
)
from ledger.cli.tables import table
from ledger.cli.views import caught_up
from ledger.customer_import import FIELDS, CustomerColumns, import_customers, mapping
from ledger.files import read_rows
from ledger.projections.duplicates import likely_duplicates

EXAMPLE = """\
examples:
  ledger import-customers cards.xlsx --source "trade show 2025"
  ledger import-customers export.csv --column name=联系人 --column phone=3 --encoding gb18030
  ledger customers duplicates --limit 20

Columns are found by their headers: 姓名/Name, 公司/Company, 职位/Title, 手机/电话/Phone,
邮箱/E-mail, 地址/Address, 负责人/Owner, 来源/Source, 客户编号/Ref (and other usual names);
--column FIELD=HEADER (or a column number from 1) names any other. Fields: {fields}.
"""


def add_commands(commands: Commands) -> None:
    imp = commands.add_parser(
        "import-customers",
        help="register a list of customers (CSV or .xlsx): business cards, a fair's list",
        description="Register one customer per row of a CSV or .xlsx file, all of them in one "
        "transaction: a bad row is reported with its line and reason, and then nothing is "
        "written (exit status 2). A row without a reference gets one from its content "
        "(CARD-...), so importing the same file again writes nothing; customers the ledger "
        "has already are left as they are.",
        epilog=EXAMPLE.format(fields=", ".join(FIELDS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file", help="the .csv or .xlsx file, or - for standard input")
    imp.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="where a field is: a header or a column number from 1 (repeat for several)",
    )
    imp.add_argument(
        "--source",
        help='where the customers come from, for rows that do not say, e.g. "trade show 2025"',
    )
    imp.add_argument(
        "--encoding", help="of a text file (default: detect UTF-8, UTF-8 with BOM, GB18030)"
    )
    imp.add_argument("--sheet", help="the sheet of a workbook (default: the first)")
    imp.add_argument("--delimiter", default=",", help="column separator of a text file (default ,)")
    imp.add_argument("--actor", default="import", help="who is recording (default: import)")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.set_defaults(run=run_import_customers)

    customers = commands.add_parser(
        "customers", help="questions about all customers: likely duplicates"
    ).add_subparsers(title="customers commands", metavar="COMMAND")
    duplicates = customers.add_parser(
        "duplicates",
        help="pairs of customers that are likely one, with why, most likely first",
        description="Pairs that share a phone (as E.164) or an e-mail, or a company and a "
        "name (in Chinese characters or pinyin, any case, spacing or order), or a company "
        "and a similar name; ranked by how sure the reasons make it. Forgotten customers are "
        "never listed.",
    )
    duplicates.add_argument("--limit", type=positive, default=50, help="pairs shown (default 50)")
    duplicates.add_argument("--offset", type=whole(0), default=0, help="pairs skipped first")
    duplicates.add_argument(
        "--min-score", type=score, default=0.0, help="only pairs at least this sure (0 to 1)"
    )
    duplicates.add_argument("--json", action="store_true", help="print JSON for machines")
    duplicates.add_argument(
        "--no-catch-up",
        action="store_true",
        help="answer from the views as they are, without catching up first",
    )
    duplicates.add_argument("--purpose", help="why you look (kept in the access log)")
    duplicates.set_defaults(run=run_duplicates)


def score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:  # false for nan
        raise argparse.ArgumentTypeError(f"{text}: give a score from 0 to 1")
    return value


def run_import_customers(args: argparse.Namespace) -> int:
    columns = CustomerColumns(mapping(args.column), source=args.source)
    delimiter = args.delimiter.replace("\\t", "\t")
    rows = read_rows(args.file, encoding=args.encoding, sheet=args.sheet, delimiter=delimiter)
    positions = columns.positions(rows.header)
    app = open_ledger(args)
    try:
        with progress_bar(None, " rows") as progress:
            report = import_customers(
                app, rows.rows(), positions, columns, actor=args.actor, progress=progress
            )
    finally:
        app.close()
    if args.json:
        print_json(report.to_dict())
    else:
        for error in report.errors:
            print(f"line {error.line}: {error.error.message}", file=sys.stderr)
        if report.errors:
            print(
                f"{report.failed:,} of {report.lines:,} rows refused: nothing written; "
                "correct them and import the file again",
                file=sys.stderr,
            )
        else:
            print(
                f"{report.lines:,} rows: {report.written:,} customers registered, "
                f"{report.duplicates:,} already recorded"
            )
    return 2 if report.errors else 0


def run_duplicates(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    looked(runner.app, "ledger customers duplicates", fields=("duplicates",), purpose=args.purpose)
    found = likely_duplicates(
        runner.db, limit=args.limit, offset=args.offset, min_score=args.min_score
    )
    if args.json:
        print_json(found)
        return 0
    shown = found["data"]
    print(
        table(
            shown,
            ["score", "customer", "name", "other", "other_name", "why", "owner", "other_owner"],
        )
    )
    start = args.offset + 1 if shown else 0
    print(f"\n{start}-{args.offset + len(shown)} of {found['total']:,} likely duplicate pairs")
    return 0
