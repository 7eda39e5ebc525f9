"""``ledger serve`` (the HTTP API) and ``ledger keys`` (its API keys)."""

from __future__ import annotations

import argparse
import sys

from api.keys import ROLES, KeyStore
from ledger.cli.common import Commands, open_ledger, print_json, reference_arg, settings_of
from ledger.cli.tables import table


def add_commands(commands: Commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the HTTP API (OpenAPI at /docs)",
        description="Serve the HTTP API with uvicorn. The projection runner follows the log in "
        "the same process unless --no-projections (then run `ledger projections run` "
        "beside it). Stop with Ctrl-C or SIGTERM: requests in flight finish first.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--no-projections",
        action="store_true",
        help="do not run the projection runner in this process",
    )
    serve.add_argument(
        "--with-scheduler",
        action="store_true",
        help="also run the scheduler's jobs in this process (one scheduler of "
        "a store acts at a time; see `ledger scheduler --help`)",
    )
    serve.add_argument(
        "--scheduler-interval",
        type=float,
        default=300,
        help="seconds between the scheduler's runs (default 300)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(run=run_serve)

    keys = commands.add_parser(
        "keys",
        help="API keys: create, list, revoke",
        description="API keys for the HTTP API. A key is shown once, when created; the store "
        "keeps only its hash.",
    ).add_subparsers(title="key commands", metavar="COMMAND")
    create = keys.add_parser("create", help="make a key and print it (once)")
    create.add_argument(
        "--name",
        required=True,
        help="who or what uses it; the actor on every event it writes, e.g. telephony or REP-3",
    )
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--rep", type=reference_arg, help="for rep and manager keys: the rep it acts as"
    )
    create.add_argument("--json", action="store_true")
    create.set_defaults(run=create_key)
    listing = keys.add_parser("list", help="every key, revoked ones too")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=list_keys)
    revoke = keys.add_parser("revoke", help="revoke a key; it stops working at once")
    revoke.add_argument("name", help="the key's name (or id)")
    revoke.set_defaults(run=revoke_key)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.main import create_app

    app = create_app(settings_of(args), follow=not args.no_projections)
    service = None
    if args.with_scheduler:
        from ledger.scheduler import JOB_NAMES, SchedulerService

        service = SchedulerService(
            settings_of(args),
            intervals=dict.fromkeys(JOB_NAMES, args.scheduler_interval),
            report=lambda line: print(line, file=sys.stderr),
        )
        service.start()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    finally:
        if service is not None:
            service.stop()
    return 0


def create_key(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)  # kept: closing it would close the store's connections
    key, token = KeyStore(ledger).create(args.name, args.role, args.rep)
    if args.json:
        print_json({**key.to_dict(), "token": token})
        return 0
    print(f"key {key.name} ({key.role}{', acts as ' + key.rep if key.rep else ''}):")
    print(f"  {token}")
    print("Keep it now: it is not stored and cannot be shown again.")
    return 0


def list_keys(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    keys = KeyStore(ledger).list()
    if args.json:
        print_json([k.to_dict() for k in keys])
        return 0
    print(
        table(
            [k.to_dict() for k in keys], ["name", "role", "rep", "id", "created_at", "revoked_at"]
        )
    )
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    key = KeyStore(ledger).revoke(args.name)
    print(f"key {key.name} revoked at {key.revoked_at}")
    return 0
