"""`ledger migrations`: the store's schema version and the steps this code would apply."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from ledger import migrations
from ledger.cli.common import print_json, settings_of
from ledger.cli.tables import table

STATES = {
    "new": "no store yet: it is made at version {code} on first start",
    "unversioned": "made before versions were recorded: version 1, stamped on next start",
    "current": "current",
    "behind": "behind this code: the steps below are applied on next start",
    "too_new": "NEWER than this code (version {code}): the ledger refuses to open it",
}


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "migrations",
        help="the store's schema version and pending steps",
        description="Show the schema version of the store's authoritative tables (the log, "
        "command log, keys, integrity state, access log), each version it went through, and "
        "the steps this code would apply. The ledger applies them itself when it opens the "
        "store; --apply does it now (for a store the ledger opens with "
        "LEDGER_CREATE_TABLES=false). Exit status 1 if the store is newer than this code.",
    )
    parser.add_argument("--apply", action="store_true", help="apply the pending steps now")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(run=run_migrations)


def run_migrations(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    with migrations.session_of(settings, create=args.apply) as session:
        if args.apply:
            migrations.upgrade(session)
        status = migrations.read_status(session)
    if args.json:
        print_json(status.to_dict())
    else:
        print(f"store    {status.store}")
        print(f"version  {status.version or '-'}: {describe(status)}")
        print(f"code     version {status.code_version} (customer-ledger {migrations.release()})")
        if status.applied:
            rows = [asdict(a) for a in status.applied]
            print(table(rows, ["version", "how", "applied_at", "code_version", "name"]))
        for step in status.pending:
            print(f"pending  {step.version}: {step.name}")
    if status.state == "too_new":
        print(
            f"error: the store is at schema version {status.version}, newer than this code's "
            f"{status.code_version}",
            file=sys.stderr,
        )
        return 1
    return 0


def describe(status: migrations.Status) -> str:
    return STATES[status.state].format(code=status.code_version)
