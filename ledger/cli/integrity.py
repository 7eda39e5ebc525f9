"""`ledger verify` and `ledger digest`: proof that the history is complete and unaltered;
`ledger forget`: erasure that keeps the books."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ledger.access_log import AccessCheck, AccessLog
from ledger.application import Ledger
from ledger.cli.common import Commands, looked, open_ledger, print_json, progress_bar, reference_arg
from ledger.cli.tables import table
from ledger.cli.views import caught_up
from ledger.erasure import forget
from ledger.export import export_customer, export_html
from ledger.integrity import Integrity, Verification
from ledger.sql import Database


def add_commands(commands: Commands) -> None:
    verify = commands.add_parser(
        "verify",
        help="recompute every event's chain and name whatever was altered",
        description="Every stored event carries the hash of the one before it in its stream "
        "and its own. Recompute every chain (or one customer's), and for each stream that does "
        "not match name its reference, the first bad version and what is wrong: changed, "
        "missing, inserted or reordered. The access log (`ledger audit access`) is chained "
        "the same way: unless --customer or --against is given, its records are verified too "
        "and each one that is not as written is named by position. Exit status 1 when "
        "anything is wrong.",
    )
    verify.add_argument(
        "--customer", metavar="REF", type=reference_arg, help="only this customer's stream"
    )
    verify.add_argument(
        "--incremental",
        action="store_true",
        help="only what was written since the last run that found all well",
    )
    verify.add_argument(
        "--against",
        metavar="DIGEST",
        help="prove that everything an earlier `ledger digest` covered is "
        "still there and unchanged",
    )
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(run=run_verify)
    digest = commands.add_parser(
        "digest",
        help="one line that stands for the whole log, for an auditor to keep",
        description="Verify the log, then print a digest of it: the log position and a hash "
        "of every stream's last event. Keep it outside the system; `ledger verify --against "
        "DIGEST` later proves that everything it covered is still there and unchanged.",
    )
    digest.add_argument("--json", action="store_true")
    digest.set_defaults(run=run_digest)
    forget = commands.add_parser(
        "forget",
        help="erase a customer's personal data (the right to erasure)",
        description="Record the erasure with its reason and destroy the key that sealed the "
        "customer's personal fields (name, contact details, the free text they wrote). The "
        "history stays countable and verifiable: events, amounts and chains are untouched, "
        "but those fields read as nothing from then on, in every view, rebuild and replay.",
    )
    forget.add_argument("ref", type=reference_arg, help="the customer's reference")
    forget.add_argument("--reason", required=True, help="why, for the record")
    forget.add_argument("--actor", default="compliance", help="who is recording it")
    forget.add_argument("--json", action="store_true")
    forget.set_defaults(run=run_forget)
    export = commands.add_parser(
        "export",
        help="everything the ledger holds about one customer, for them",
        description="The customer's own copy (the right of access): profile, every event of "
        "their record with its times and who recorded it, promises, quotes, consents, "
        "complaints, and who has looked at their personal data; with the log position and "
        "digest it was taken from. JSON by default; --html for a page a person can read.",
    )
    export.add_argument("ref", type=reference_arg, help="the customer's reference")
    export.add_argument("--html", action="store_true", help="a readable page instead of JSON")
    export.add_argument(
        "--out", type=Path, metavar="FILE", help="write to FILE (default: standard output)"
    )
    export.add_argument("--purpose", help="why it is exported, for the access log")
    export.add_argument(
        "--no-catch-up",
        action="store_true",
        help="read the views as they are, without catching up first",
    )
    export.set_defaults(run=run_export)


def run_verify(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    integrity = Integrity(ledger)
    access = None
    try:
        matches = None
        if args.customer:
            found = integrity.verify_customer(args.customer)
        else:
            with progress_bar(integrity.head(), " events") as progress:
                if args.against:
                    matches, found = integrity.against(args.against, progress)
                else:
                    found = integrity.verify(incremental=args.incremental, progress=progress)
            if not args.against:
                access = verify_access_log(ledger)
    finally:
        integrity.close()
        ledger.close()
    ok = found.ok and matches is not False and (access is None or access.ok)
    if args.json:
        print_json(
            {
                **found.to_dict(),
                "ok": ok,
                **({} if matches is None else {"digest_matches": matches}),
                **({} if access is None else {"access_log": access.to_dict()}),
            }
        )
    else:
        report(found)
        if matches is not None:
            print(
                "the digest matches: everything it covered is there, unchanged"
                if matches
                else "the digest does NOT match: what it covered has changed"
            )
        if access is not None:
            report_access(access)
    return 0 if ok else 1


def verify_access_log(ledger: Ledger) -> AccessCheck:
    """The access log's chain, read whole (it holds a short row per read)."""
    db = Database.of(ledger)
    try:
        log = AccessLog(db, create=ledger.settings.create_tables)
        with progress_bar(log.head(), " records") as progress:
            return log.verify(progress)
    finally:
        db.close()


def report_access(found: AccessCheck) -> None:
    many = len(found.problems) != 1
    verdict = (
        "its chain holds"
        if found.ok
        else f"{len(found.problems)} record{'s are' if many else ' is'} NOT as written"
    )
    print(
        f"verified {found.records:,} records of the access log up to position "
        f"{found.position:,}: {verdict}"
    )
    if found.problems:
        print(table([p.to_dict() for p in found.problems], ["position", "what", "detail"]))


def report(found: Verification) -> None:
    covered = f" ({found.unchained:,} stored before chains, not covered)" if found.unchained else ""
    verdict = "all chains hold" if found.ok else f"{len(found.problems)} streams do NOT match"
    print(
        f"verified {found.events:,} events of {found.streams:,} streams up to position "
        f"{found.position:,}{covered}: {verdict}"
    )
    if found.problems:
        print(
            table(
                [{**p.to_dict(), "stream": p.ref or p.stream} for p in found.problems],
                ["stream", "version", "what", "detail"],
            )
        )


def run_digest(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    integrity = Integrity(ledger)
    try:
        with progress_bar(integrity.head(), " events") as progress:
            found = integrity.verify(progress=progress)
    finally:
        integrity.close()
        ledger.close()
    if not found.ok:
        report(found)
        print("no digest: the log does not verify", file=sys.stderr)
        return 1
    if args.json:
        print_json({"digest": found.digest(), "position": found.position, "events": found.events})
    else:
        print(found.digest())
    return 0


def run_export(args: argparse.Namespace) -> int:
    runner = caught_up(args)
    try:
        runner.app.customer_as_stored(args.ref)  # an unknown customer is not recorded
        looked(
            runner.app, "ledger export", customer=args.ref, fields=("export",), purpose=args.purpose
        )
        access = AccessLog(runner.db, create=False)
        document = export_customer(runner.app, args.ref, accesses=list(access.all_of(args.ref)))
    finally:
        runner.close()
        runner.app.close()
    text = (
        export_html(document) if args.html else json.dumps(document, ensure_ascii=False, indent=2)
    )
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text + "\n", encoding="utf-8")
        print(
            f"{args.ref}: {len(document['events'])} events written to {args.out}", file=sys.stderr
        )
    return 0


def run_forget(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        done = forget(ledger, args.ref, reason=args.reason, actor=args.actor)
    finally:
        ledger.close()
    if args.json:
        print_json(done)
    else:
        others = [record for record in done["records"] if record != args.ref]
        if others:
            print(
                f"{args.ref}: personal data erased, and of {', '.join(others)} (records of the "
                "same customer); their keys are destroyed"
            )
        else:
            print(f"{args.ref}: personal data erased; its key is destroyed")
    return 0
