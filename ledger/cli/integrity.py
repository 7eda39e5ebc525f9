"""`ledger verify` and `ledger digest`: proof that the history is complete and unaltered;
`ledger forget`: erasure that keeps the books."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ledger.cli.common import open_ledger, print_json, progress_bar, reference_arg
from ledger.cli.tables import table
from ledger.erasure import forget
from ledger.integrity import Integrity, Verification


def add_commands(commands: Any) -> None:
    verify = commands.add_parser(
        "verify", help="recompute every event's chain and name whatever was altered",
        description="Every stored event carries the hash of the one before it in its stream "
        "and its own. Recompute every chain (or one customer's), and for each stream that does "
        "not match name its reference, the first bad version and what is wrong: changed, "
        "missing, inserted or reordered. Exit status 1 when anything is wrong.")
    verify.add_argument("--customer", metavar="REF", type=reference_arg,
                        help="only this customer's stream")
    verify.add_argument("--incremental", action="store_true",
                        help="only what was written since the last run that found all well")
    verify.add_argument("--against", metavar="DIGEST",
                        help="prove that everything an earlier `ledger digest` covered is "
                        "still there and unchanged")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(run=run_verify)
    digest = commands.add_parser(
        "digest", help="one line that stands for the whole log, for an auditor to keep",
        description="Verify the log, then print a digest of it: the log position and a hash "
        "of every stream's last event. Keep it outside the system; `ledger verify --against "
        "DIGEST` later proves that everything it covered is still there and unchanged.")
    digest.add_argument("--json", action="store_true")
    digest.set_defaults(run=run_digest)
    forget = commands.add_parser(
        "forget", help="erase a customer's personal data (the right to erasure)",
        description="Record the erasure with its reason and destroy the key that sealed the "
        "customer's personal fields (name, contact details, the free text they wrote). The "
        "history stays countable and verifiable: events, amounts and chains are untouched, "
        "but those fields read as nothing from then on, in every view, rebuild and replay.")
    forget.add_argument("ref", type=reference_arg, help="the customer's reference")
    forget.add_argument("--reason", required=True, help="why, for the record")
    forget.add_argument("--actor", default="compliance", help="who is recording it")
    forget.add_argument("--json", action="store_true")
    forget.set_defaults(run=run_forget)


def run_verify(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    integrity = Integrity(ledger)
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
    finally:
        integrity.close()
        ledger.close()
    if args.json:
        print_json({**found.to_dict(), **({} if matches is None else {"digest_matches": matches})})
    else:
        report(found)
        if matches is not None:
            print("the digest matches: everything it covered is there, unchanged" if matches
                  else "the digest does NOT match: what it covered has changed")
    return 0 if found.ok and matches is not False else 1


def report(found: Verification) -> None:
    covered = f" ({found.unchained:,} stored before chains, not covered)" if found.unchained else ""
    verdict = "all chains hold" if found.ok else f"{len(found.problems)} streams do NOT match"
    print(f"verified {found.events:,} events of {found.streams:,} streams up to position "
          f"{found.position:,}{covered}: {verdict}")
    if found.problems:
        print(table([{**p.to_dict(), "stream": p.ref or p.stream} for p in found.problems],
                    ["stream", "version", "what", "detail"]))


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
        print_json({"digest": found.digest(), "position": found.position,
                    "events": found.events})
    else:
        print(found.digest())
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
        print(f"{args.ref}: personal data erased; its key is destroyed")
    return 0
