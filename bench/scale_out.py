"""Several processes on one PostgreSQL database: two API servers writing at once (often to
the same customers), one projection runner, two schedulers. Checks that nothing is lost or
duplicated and that every view equals a rebuild, and prints the write rate.

    python -m bench.scale_out [--database-url URL] [--customers 200] [--commands 2000]

Each API server runs with --no-projections; `ledger projections run` keeps the views; two
`ledger scheduler` processes race for the leadership lock (one acts at a time). Writers send
each command with an Idempotency-Key and retry it with the same key when the server answers
409 (another writer changed that customer at the same moment) or 503, so each command is
recorded once. At the end: the log holds exactly one contact per command sent, the command
log one record per key, and each view, caught up, is identical to a rebuild from scratch.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import httpx
from eventsourcing.utils import get_topic

from api.keys import KeyStore
from bench.api_reads import free_port, start_server
from bench.common import POSTGRES_URL, drop
from ledger.aggregates import Customer
from ledger.application import Ledger
from ledger.config import Settings
from ledger.demo import build_world
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.sql import Database

WRITERS_PER_SERVER = 8
CONTACT = get_topic(Customer.ContactLogged)


def environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "LEDGER_DATABASE_URL": settings.database_url or "",
        "LEDGER_DATABASE_SCHEMA": settings.database_schema,
    }


def write(
    url: str, token: str, refs: list[str], commands: range, sent: Counter[str], lock: threading.Lock
) -> None:
    """Send these commands, each until the server has recorded it once."""
    rng = random.Random(commands.start)
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as http:
        for n in commands:
            key = f"scale-{n}"
            customer = rng.choice(refs)
            while True:
                answer = http.post(
                    f"/customers/{customer}/contacts",
                    headers={"Idempotency-Key": key},
                    json={"channel": "phone", "direction": "out", "subject": f"scale-out call {n}"},
                )
                if answer.status_code in (409, 503):
                    with lock:
                        sent["retried"] += 1
                    time.sleep(0.01)
                    continue
                answer.raise_for_status()
                with lock:
                    sent["written"] += 1
                    sent["replayed"] += answer.headers.get("Idempotent-Replayed") == "true"
                break


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=POSTGRES_URL)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--commands", type=int, default=2000)
    args = parser.parse_args()
    settings = Settings(
        database_url=args.database_url, database_schema=f"bench_{uuid.uuid4().hex[:10]}"
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        app = Ledger(settings)
        build_world(app, customers=args.customers)
        keys = KeyStore(app, Database.of(app))
        tokens = [keys.create(f"writer-{n}", "rep", rep="REP-1")[1] for n in range(2)]
        refs = sorted(
            {app.customer(f"CUST-{n:05d}").ref for n in range(1, min(args.customers, 40) + 1)}
        )  # few: collisions
        before = app.recorder.max_notification_id() or 0
        env = environment(settings)
        cli = [sys.executable, "-m", "ledger.cli.main"]
        processes.append(subprocess.Popen([*cli, "projections", "run"], env=env))
        processes += [
            subprocess.Popen([*cli, "scheduler", "--interval", "5"], env=env) for _ in range(2)
        ]
        ports = [free_port(), free_port()]
        servers = [start_server(settings, port, "--no-projections") for port in ports]
        processes += servers
        sent: Counter[str] = Counter()
        lock = threading.Lock()
        per_writer = args.commands // (2 * WRITERS_PER_SERVER)
        threads = [
            threading.Thread(
                target=write,
                args=(
                    f"http://127.0.0.1:{ports[s]}",
                    tokens[s],
                    refs,
                    range(
                        (s * WRITERS_PER_SERVER + w) * per_writer,
                        (s * WRITERS_PER_SERVER + w + 1) * per_writer,
                    ),
                    sent,
                    lock,
                ),
            )
            for s in range(2)
            for w in range(WRITERS_PER_SERVER)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        total = per_writer * len(threads)
        print(
            f"{total:,} commands from {len(threads)} clients over 2 API processes in "
            f"{seconds:.1f} s: {total / seconds:,.0f} commands/s; {sent['retried']:,} "
            f"retries after a conflict"
        )

        # Nothing lost, nothing twice: one contact per command, one record per key.
        contacts = [
            n for n in app.recorder.select_notifications(before + 1, 10**9, topics=[CONTACT])
        ]
        subjects = Counter(
            app.mapper.to_domain_event(n).subject  # type: ignore[attr-defined]
            for n in contacts
        )
        scale = {s: c for s, c in subjects.items() if s.startswith("scale-out call")}
        assert sent["written"] == total, sent
        assert len(scale) == total and set(scale.values()) == {1}, (
            f"{len(scale)} distinct of {total}; most repeated: {subjects.most_common(2)}"
        )
        print(f"log: {len(scale):,} contacts, each once")

        runner = Runner(app, all_views())
        deadline = time.monotonic() + 120
        while any(s.lag for s in runner.status()) and time.monotonic() < deadline:
            time.sleep(0.5)
        lag = {s.view: s.lag for s in runner.status()}
        assert not any(lag.values()), f"the projection process did not catch up: {lag}"
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        for view in all_views():
            assert runner.rebuild(view, verify=True), f"{view.name} differs from a rebuild"
        print(
            f"views: all {len(all_views())} caught up by the projection process and "
            "identical to a rebuild"
        )
        runner.close()
        app.close()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        drop(settings)


if __name__ == "__main__":
    main()
