"""Make the v1 test stores: a small store written by the code from before the schema was
versioned (commit d00c4e3), kept so that tests/test_migrations.py can open it with the code
of today. See tests/data/README.md. Run it with that commit's code first on the path:

    git worktree add --detach /tmp/old-ledger d00c4e3
    PYTHONPATH=/tmp/old-ledger .venv/bin/python tests/data/stores/make_v1.py sqlite
    PYTHONPATH=/tmp/old-ledger .venv/bin/python tests/data/stores/make_v1.py postgres
    git worktree remove /tmp/old-ledger

It writes ``v1-sqlite/ledger.sqlite`` (or ``v1-postgres/store.sql``, a plain SQL dump of the
schema ``ledger_v1_fixture`` on the test server) and ``store.json``: what the tests expect
to find in it (the API key's token, the event count, ...).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
URL = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "ledger_v1_fixture"  # renamed by the tests when they load the dump
COMMANDS = HERE / "v1-commands.jsonl"
FIRST = 150  # the demo's first commands: the store stays under 300 KB
SNAPSHOTS = 10  # a snapshot every 10 events, so that the store holds some


def cli(*argv: str) -> str:
    from ledger.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    assert code == 0, (argv, code, out.getvalue())
    return out.getvalue()


def build(kind: str, folder: Path) -> dict[str, object]:
    import ledger
    from ledger.application import Ledger
    from ledger.config import Settings
    from ledger.demo import build_world

    source = Path(ledger.__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "-C", str(source), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    os.environ["LEDGER_DATA_DIR"] = str(folder)
    os.environ["LEDGER_SNAPSHOT_INTERVAL"] = str(SNAPSHOTS)
    if kind == "postgres":
        import psycopg

        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        os.environ["LEDGER_DATABASE_URL"] = URL
        os.environ["LEDGER_DATABASE_SCHEMA"] = SCHEMA
    # The smallest demo world, its first FIRST commands (in the order of recording: none
    # needs a later one), without its views (rebuilt from the log by any later code).
    app = Ledger(Settings())
    summary = build_world(
        app,
        seed=7,
        customers=11,
        days=120,
        recorded=lambda planned: sorted(planned, key=lambda p: p.recorded_at)[:FIRST],
    )
    assert not summary.rejected, summary.rejections
    app.close()
    # A command with a command_id, and an erasure (it destroys the customer's key).
    cli("import", str(COMMANDS))
    key = json.loads(cli("keys", "create", "--name", "v1-auditor", "--role", "admin", "--json"))
    shown = json.loads(cli("customer", "show", "CUST-00001", "--json", "--purpose", "v1 store"))
    verified = json.loads(cli("verify", "--json"))  # integrity heads and runs, access log
    app = Ledger(Settings())
    events = app.recorder.max_notification_id()
    snapshots = app.snapshots
    assert snapshots is not None
    snapshotted = sorted(
        ref
        for ref in (f"CUST-{n:05}" for n in range(1, 12))
        if list(snapshots.get(app.customer(ref).id, limit=1))
    )
    app.close()
    return {
        "made_by_commit": commit,
        "kind": kind,
        "schema": SCHEMA if kind == "postgres" else None,
        "events": events,
        "demo_events": summary.events,
        "api_key": {"name": key["name"], "role": key["role"], "token": key["token"]},
        "customer": {"ref": "CUST-00001", "name": shown["profile"]["name"]},
        "forgotten": "CUST-00010",
        "snapshotted": snapshotted,
        "command": json.loads(COMMANDS.read_text().splitlines()[0]),
        "verified": {"ok": verified["ok"], "access_log_ok": verified["access_log"]["ok"]},
    }


def main(kind: str) -> None:
    target = HERE / f"v1-{kind}"
    target.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "var"
        manifest = build(kind, folder)
        if kind == "sqlite":
            path = folder / "ledger.sqlite"
            lite = sqlite3.connect(path)
            lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            lite.execute("VACUUM")  # the same rows and tables, in fewer pages
            lite.close()
            shutil.copyfile(path, target / "ledger.sqlite")
        else:
            dump = subprocess.run(
                [
                    "pg_dump",
                    "--no-owner",
                    "--no-privileges",
                    "--inserts",  # loadable without psql (no COPY ... FROM stdin)
                    f"--schema={SCHEMA}",
                    URL,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            (target / "store.sql").write_text(dump)
            import psycopg

            with psycopg.connect(URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{SCHEMA}" CASCADE')
    (target / "store.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(manifest, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
