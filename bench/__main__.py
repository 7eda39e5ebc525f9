"""Every benchmark in one run, each figure beside its raw baseline measured in the same run.

    python -m bench [--quick] [--store sqlite|postgres] [--events N] [--json FILE]
                    [--write-docs | --no-write-docs] [--docs FILE] [--note TEXT]

Builds a generated world of about N events (the demo world's life, scaled by its number of
customers) through the command path in batches, or reuses the one an earlier run left
(SQLite: a file under --worlds; PostgreSQL: a schema named after N), then measures:

  commands, one client    events/s through Ledger.execute, one command at a time, against
                          single-row durable INSERT commits on the same store
  import-purchases        purchases/s against COPY of the rows the import stored
  import-customers        business cards/s (one transaction, six fields sealed a row) against
                          COPY of the rows the import stored
  duplicate search        likely duplicates among 100,000 imported cards (3 % planted),
                          against its target of 10 s
  import of free text     `ledger import` of lines that are all personal data and free
                          text (sealed), against COPY of what it stored; and with sealing
                          off, for sealing's own cost
  catch-up                all views from scratch, against reading and decoding the log
  late facts              the same on a demo world with 5 % of its consent changes and
                          complaints recorded a month late, beside the world on time
  replay of a quarter     as known when a quarter of the log was recorded, against reading
                          and decoding the same stretch
  verify                  every chain, against reading and decoding the log
  load a customer         10,000 events against 10 (cold, no cache)
  rebuild memory          peak memory of a process rebuilding every view
  access log              a customer's promises and timeline over HTTP (8 clients), each
                          read recorded in the access log, beside the same reads unrecorded
  heir's dossier          the dossier of the rep who took over every customer the departed
                          rep still owned, with their open work (p99 for one client,
                          the target, and under 8 clients)
  over HTTP               `ledger serve` on the world: promises by customer and rep, a
                          timeline page and a rep dossier under 8 concurrent clients (p50,
                          p99); commands from 16 concurrent clients against one

and prints one table (figure, baseline, ratio, target, met) and writes it as JSON.
--quick uses a world of 20,000 events and smaller samples (under two minutes on a 2-core
machine once the world exists).

The tables of docs/performance.md are written here, never by hand: a full run (no --quick,
no --only) rewrites its store's table, between <!-- bench:STORE:start --> and
<!-- bench:STORE:end -->, with the date, the number of events and a note on the machine
(cores, load average, and --note). A --quick or --only run leaves the document alone unless
given --write-docs: a quick run then writes the STORE-quick section, a full-size run with
--only the store's own section, with only its figures. --no-write-docs keeps a full run
out. Without the markers the run is refused before it starts; the JSON is written first in
any case (`python -m bench.docs FILE.json` writes a table from it later).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import psycopg
from eventsourcing.utils import get_topic

from api.keys import KeyStore
from bench import access_log as access_log_bench
from bench import docs
from bench.api_reads import free_port, load, percentile, start_server
from bench.common import (
    POSTGRES_URL,
    drop,
    kept_store,
    mark_built,
    read_log,
    settle,
    throwaway_settings,
)
from bench.import_customers import SEARCH_TARGET, import_rate, search_time
from bench.import_purchases import COLUMNS, raw_copy_stored, write_file
from bench.load_customer import build as build_customer
from bench.replay import read_until, replayed
from ledger.aggregates import Customer
from ledger.application import Ledger
from ledger.commands import models as m
from ledger.commands import parse_command
from ledger.commands.models import AssignOwner
from ledger.config import Settings
from ledger.demo import DEPARTING, Planned, build_world
from ledger.importer import import_lines
from ledger.integrity import Integrity
from ledger.projections.dossier import Dossier
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.purchases import import_purchases
from ledger.sql import Database
from replay.core import Reading, recorded_at

# The demo world's life over DAYS days comes to about 20 events a customer: a million events
# are 50,000 customers.
EVENTS_PER_CUSTOMER, DAYS = 20, 340
REGISTERED = get_topic(Customer.Registered)


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: float | None = None  # the ratio to reach (at least; at most if ``at_most``)
    at_most: bool = False

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.ratio <= self.target if self.at_most else self.ratio >= self.target

    def row(self) -> list[str]:
        target = "" if self.target is None else f"{'<=' if self.at_most else '>='} {self.target}"
        return [
            self.name,
            f"{self.value:,.1f} {self.unit}",
            "" if self.baseline is None else f"{self.baseline:,.1f} ({self.baseline_name})",
            "" if self.ratio is None else f"{self.ratio:.2f}",
            target,
            {True: "yes", False: "NO", None: ""}[self.met],
        ]


def world(args: argparse.Namespace) -> Settings:
    """The world of about ``args.events`` events, built now or by an earlier run."""
    name = f"world_{args.events}"
    settings, done = kept_store(args, name)
    if done:
        print(f"reusing the world of {args.events:,} events in {settings.describe()}")
        return settings
    drop(settings)
    print(
        f"building a world of about {args.events:,} events in {settings.describe()} ...", flush=True
    )
    started = time.perf_counter()
    customers = max(11, args.events // EVENTS_PER_CUSTOMER)
    # Every customer kept in memory while the world is written: with the usual cache a batch
    # of commands would load most of its customers from the store.
    app = Ledger(settings.model_copy(update={"cache_size": customers + 1000}))
    summary = build_world(app, customers=customers, days=DAYS)
    settle(app)
    app.close()
    mark_built(args, settings, summary.events)
    print(
        f"  {summary.events:,} events of {summary.customers:,} customers in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return settings


def raw_rate(app: Ledger) -> float:
    """Events per second of reading and decoding the whole log, the better of two."""
    rates = []
    for _ in range(2):
        started = time.perf_counter()
        count = read_log(app)
        rates.append(count / (time.perf_counter() - started))
    return max(rates)


def commands_one_client(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    """One command at a time, each its own transaction, against raw single-row commits."""
    count = 200 if args.quick else 2000
    app = Ledger(settings)
    customers = customer_refs(app)
    started = time.perf_counter()
    for n in range(count):
        app.execute(
            parse_command(
                {
                    "type": "log_contact",
                    "customer": customers[n % len(customers)],
                    "rep": "REP-1",
                    "channel": "phone",
                    "direction": "out",
                    "subject": f"bench call {n}",
                }
            ),
            actor="bench",
        )
    rate = count / (time.perf_counter() - started)
    app.close()
    return [
        Figure(
            "commands, one client",
            rate,
            "events/s",
            raw_commits(settings, count),
            "single-row commits",
            0.6,
        )
    ]


def raw_commits(settings: Settings, count: int) -> float:
    """Rows per second of single-row INSERTs, each committed durably, in the same store."""
    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(
                f'CREATE TABLE "{settings.database_schema}".{table} '
                "(id bigint PRIMARY KEY, body text)"
            )
            started = time.perf_counter()
            for n in range(count):
                conn.execute(
                    f'INSERT INTO "{settings.database_schema}".{table} VALUES (%s, %s)', (n, "raw")
                )
            rate = count / (time.perf_counter() - started)
            conn.execute(f'DROP TABLE "{settings.database_schema}".{table}')
        return rate
    lite = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    lite.execute("PRAGMA journal_mode = WAL")
    lite.execute("PRAGMA synchronous = FULL")
    lite.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)")
    started = time.perf_counter()
    for n in range(count):
        lite.execute(f"INSERT INTO {table} VALUES (?, ?)", (n, "raw"))
    rate = count / (time.perf_counter() - started)
    lite.execute(f"DROP TABLE {table}")
    lite.close()
    return rate


def bulk_import(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    rows = 5_000 if args.quick else 50_000
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    write_file(folder / "purchases.csv", rows, rows // 10)
    fresh = throwaway_settings(args)
    try:
        columns = COLUMNS
        started = time.perf_counter()
        report = import_purchases(fresh, folder / "purchases.csv", columns, workers=2)
        rate = report.lines / (time.perf_counter() - started)
        app = Ledger(fresh)
        raw = raw_copy_stored(args.database_url, app, report.lines)
        app.close()
    finally:
        drop(fresh)
    return [Figure("import-purchases", rate, "rows/s", raw, "COPY of the rows stored", 0.25)]


def customers_import(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    """A stack of cards imported, against COPY of what it stored; and the duplicate search
    over 100,000 customers (10,000 with --quick), against its target."""
    rate, raw = import_rate(args, 2_000 if args.quick else 20_000)
    customers = 10_000 if args.quick else 100_000
    seconds, joined, planted, false = search_time(args, customers)
    print(f"  ({joined} of {planted} planted duplicates found, {false} pairs of two people)")
    return [
        Figure("import-customers", rate, "rows/s", raw, "COPY of the rows stored", 0.25),
        Figure(
            f"duplicate search, {customers:,} customers",
            seconds,
            "s",
            SEARCH_TARGET,
            "the target",
            1.0,
            at_most=True,
        ),
    ]


def free_text_lines(customers: int) -> list[str]:
    """An import where every line carries personal data or free text to seal: a customer
    registered with name, e-mail and phone, then contacts, a request, a promise and a
    complaint, each with its text."""
    lines = []
    for n in range(customers):
        ref, at = f"CUST-T{n:06d}", f"2025-0{1 + n % 9}-1{n % 10}T10:00:00+08:00"
        lines += [
            json.dumps(line, ensure_ascii=False)
            for line in (
                {
                    "type": "register_customer",
                    "ref": ref,
                    "name": f"王伟{n}",
                    "email": f"c{n}@example.cn",
                    "phone": f"+86 21 5555 {n % 10000:04d}",
                },
                *(
                    {
                        "type": "log_contact",
                        "customer": ref,
                        "rep": "REP-T",
                        "channel": "phone",
                        "direction": "in",
                        "subject": "报价跟进",
                        "occurred_at": at,
                        "summary": f"客户{n}询问第{k}批货的交期, 希望下周前回复",
                    }
                    for k in range(4)
                ),
                {
                    "type": "receive_request",
                    "customer": ref,
                    "kind": "callback",
                    "channel": "email",
                    "respond_by": "2030-01-01T00:00:00Z",
                    "occurred_at": at,
                    "summary": f"please call back about order {n}",
                },
                {
                    "type": "make_promise",
                    "customer": ref,
                    "rep": "REP-T",
                    "occurred_at": at,
                    "text": f"send the catalogue to c{n}@example.cn",
                    "due_by": "2030-01-01T00:00:00Z",
                },
                {
                    "type": "file_complaint",
                    "customer": ref,
                    "category": "delivery",
                    "severity": "low",
                    "description": f"parcel {n} arrived damaged",
                    "occurred_at": at,
                },
            )
        ]
    return lines


def free_text_import(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    """`ledger import` of lines that are all free text and personal data, sealed as they are
    written, against COPY of what it stored; and the same import with sealing switched off
    (for the price of sealing alone)."""
    lines = free_text_lines(200 if args.quick else 2_000)
    rates = {}
    for sealed in (True, False):
        fresh = throwaway_settings(args)
        try:
            app = Ledger(fresh)
            app.execute(
                parse_command({"type": "hire_rep", "ref": "REP-T", "name": "T", "team": "t"}),
                actor="bench",
            )
            if not sealed:
                app.mapper.keys = None  # type: ignore[attr-defined]
            started = time.perf_counter()
            report = import_lines(app, lines)
            rates[sealed] = report.lines / (time.perf_counter() - started)
            assert not report.errors, report.errors[:3]
            if sealed:
                raw = raw_copy_stored(args.database_url, app, report.lines)
            app.close()
        finally:
            drop(fresh)
    return [
        Figure(
            "import, every line free text (sealed)",
            rates[True],
            "lines/s",
            raw,
            "COPY of the rows stored",
            0.25,
        ),
        Figure(
            "the same import, sealing off",
            rates[False],
            "lines/s",
            rates[True],
            "sealed (ratio: sealing's cost)",
        ),
    ]


def catch_up(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    app = Ledger(settings)
    raw = raw_rate(app)
    runner = Runner(app, all_views())
    for view in runner.views:  # from scratch
        runner.drop(view, "")
    runner.close()
    runner = Runner(app, all_views())
    started = time.perf_counter()
    count = runner.catch_up()
    rate = count / (time.perf_counter() - started)
    runner.close()
    app.close()
    return [Figure("catch-up, all views", rate, "events/s", raw, "read + decode", 0.33)]


LATE = timedelta(days=30)


def recorded_late(share: float, seed: int = 5) -> Callable[[list[Planned]], list[Planned]]:
    """Record ``share`` of the consent changes and complaints (each with what follows it:
    escalation, resolution, reopening) ``LATE`` after they would have been."""

    def moved(planned: list[Planned]) -> list[Planned]:
        rng = random.Random(seed)
        consents = {
            id(p)
            for p in planned
            if isinstance(p.command, m.ChangeConsent) and rng.random() < share
        }
        complaints = {
            (p.command.customer, p.command.complaint_id)
            for p in planned
            if isinstance(p.command, m.FileComplaint) and rng.random() < share
        }
        return [
            p._replace(recorded_at=p.recorded_at + LATE)
            if id(p) in consents
            or (getattr(p.command, "customer", None), getattr(p.command, "complaint_id", None))
            in complaints
            else p
            for p in planned
        ]

    return moved


def late_facts_catch_up(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    """What re-judging costs: every view caught up from scratch on a demo world with 5 % of
    its consent changes and complaints recorded a month late, beside the same world recorded
    on time (each against reading and decoding its own log)."""
    customers = 1000 if args.quick else 5000
    rates: dict[bool, tuple[float, float]] = {}
    for late in (False, True):
        fresh = throwaway_settings(args)
        try:
            app = Ledger(fresh)
            build_world(
                app,
                seed=17,
                customers=customers,
                days=DAYS,
                recorded=recorded_late(0.05) if late else None,
            )
            raw = raw_rate(app)
            runner = Runner(app, all_views())
            started = time.perf_counter()
            count = runner.catch_up()
            rates[late] = (count / (time.perf_counter() - started), raw)
            assert not runner.failed, runner.failed
            runner.close()
            app.close()
        finally:
            drop(fresh)
    return [
        Figure(
            "catch-up, 5 % of consents and complaints late",
            rates[True][0],
            "events/s",
            rates[True][1],
            "read + decode",
        ),
        Figure(
            "catch-up of the same world on time",
            rates[False][0],
            "events/s",
            rates[False][1],
            "read + decode",
        ),
        Figure(
            "re-judging late facts: late against on time",
            rates[True][0],
            "events/s",
            rates[False][0],
            "on time",
        ),
    ]


def replay_quarter(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    app = Ledger(settings)
    head = app.recorder.max_notification_id() or 0
    then = recorded_at(app, app.recorder.select_notifications(start=head // 4, limit=1)[0])
    end, rate = replayed(app, Reading(as_known_at=then))
    raw = max(read_until(app, end) for _ in range(2))
    app.close()
    return [Figure("replay of a quarter (as known)", rate, "events/s", raw, "read + decode", 0.5)]


def verify(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    app = Ledger(settings)
    raw = raw_rate(app)
    integrity = Integrity(app)
    started = time.perf_counter()
    found = integrity.verify()
    rate = found.events / (time.perf_counter() - started)
    assert found.ok, found.problems[:3]
    integrity.close()
    app.close()
    return [Figure("verify, every chain", rate, "events/s", raw, "read + decode", 0.5)]


def load_customer(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    events = 2_000 if args.quick else 10_000
    fresh = throwaway_settings(args)
    try:
        app = Ledger(fresh)
        app.execute(
            parse_command(
                {
                    "type": "hire_rep",
                    "ref": "REP-1",
                    "name": "李娜",
                    "team": "east",
                    "occurred_at": "2024-01-01T00:00:00Z",
                }
            ),
            actor="bench",
        )
        build_customer(app, "SMALL", 10)
        build_customer(app, "BIG", events)
        cold = Ledger(fresh.model_copy(update={"cache_size": 0}))
        times = {
            ref: median(timed(cold.customer, ref) for _ in range(20)) for ref in ("SMALL", "BIG")
        }
        cold.close()
        app.close()
    finally:
        drop(fresh)
    return [
        Figure(
            f"load a customer of {events:,} events",
            times["BIG"] * 1000,
            "ms",
            times["SMALL"] * 1000,
            "one of 10 events",
            3,
            at_most=True,
        )
    ]


def timed(action: Callable[[str], object], argument: str) -> float:
    started = time.perf_counter()
    action(argument)
    return time.perf_counter() - started


def rebuild_memory(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    """Peak memory of a fresh process rebuilding every view of the world: resident (which
    counts the pages of the SQLite file it maps, up to 1 GiB, as the kernel reports them) and
    anonymous (the process's own heap), sampled every 50 ms."""
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from bench.__main__ import rebuild_all; rebuild_all(sys.argv[1])",
            settings.model_dump_json(),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    peaks = json.loads(found.stdout.splitlines()[-1])
    return [
        Figure(
            "rebuild, peak memory (resident)",
            peaks["rss"] / 1024,
            "MiB",
            1024,
            "1 GiB",
            1,
            at_most=True,
        ),
        Figure("rebuild, peak memory (heap)", peaks["anon"] / 1024, "MiB"),
    ]


def rebuild_all(settings_json: str) -> None:
    """Catch every view up, rebuild each; print the peaks (KiB) as JSON."""
    peak_anon = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_anon
        while not done.wait(0.05):
            peak_anon = max(peak_anon, status_kib("RssAnon"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    runner = Runner(Ledger(Settings.model_validate_json(settings_json)), all_views())
    runner.catch_up()
    for view in all_views():
        runner.rebuild(view)
    done.set()
    sampler.join()
    print(json.dumps({"rss": status_kib("VmHWM"), "anon": peak_anon}))


def status_kib(field: str) -> int:
    """A figure of /proc/self/status, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def over_http(
    settings: Settings, args: argparse.Namespace, *, commands: bool = True
) -> list[Figure]:
    """`ledger serve` on the world: reads under 8 concurrent clients (p50 and p99), and
    (unless not ``commands``) commands from 16 concurrent clients against one."""
    requests = 400 if args.quick else 2000
    app = Ledger(settings)
    keys = KeyStore(app, Database.of(app))
    reader = keys.create(f"bench-{uuid.uuid4().hex[:6]}", "compliance")[1]
    writer = keys.create(f"bench-{uuid.uuid4().hex[:6]}", "rep", rep="REP-1")[1]
    rng = random.Random(7)
    customers = customer_refs(app)
    refs = [rng.choice(customers) for _ in range(requests)]
    owners = {ref: app.customer(ref).owner or "REP-1" for ref in set(refs)}
    reps = sorted({owner for owner in owners.values()})
    app.close()
    port = free_port()
    server = start_server(settings, port)
    url = f"http://127.0.0.1:{port}"
    reads: dict[str, Callable[[httpx.Client, int], httpx.Response]] = {
        "promises by customer and rep": lambda http, n: http.get(
            f"/customers/{refs[n]}/promises", params={"rep": owners[refs[n]]}
        ),
        "timeline, first 50": lambda http, n: http.get(
            f"/customers/{refs[n]}/timeline", params={"limit": 50}
        ),
        "rep dossier": lambda http, n: http.get(f"/reps/{reps[n % len(reps)]}/dossier"),
    }

    def contact(http: httpx.Client, n: int) -> None:
        http.post(
            f"/customers/{refs[n]}/contacts",
            json={
                "rep": "REP-1",
                "channel": "phone",
                "direction": "out",
                "subject": f"bench call {n}",
            },
        ).raise_for_status()

    figures = []
    try:
        for name, action in reads.items():
            checked = checking(action)
            load(checked, 50, url, reader)  # warm
            _, latencies = load(checked, requests, url, reader)
            figures += [
                Figure(f"{name}, p50 (8 clients)", percentile(latencies, 50), "ms"),
                Figure(
                    f"{name}, p99 (8 clients)",
                    percentile(latencies, 99),
                    "ms",
                    25,
                    "target 25 ms",
                    1,
                    at_most=True,
                ),
            ]
        if commands:
            count = requests // 4
            seconds, _ = load(contact, count, url, writer, clients=1)
            alone = count / seconds
            seconds, _ = load(contact, count, url, writer, clients=16)
            figures.append(
                Figure(
                    "commands over HTTP, 16 clients",
                    count / seconds,
                    "events/s",
                    alone,
                    "one client",
                    3,
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return figures


def heir_dossier(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    """The dossier of the rep who took over every customer the departed rep still owned (with
    their open work), over HTTP: p50 and p99 for one client (target p99 under 100 ms: what a
    manager waits for) and under 8 clients at once."""
    app = Ledger(settings)
    runner = Runner(app, all_views())
    runner.catch_up()
    with runner.db.transaction(Dossier().table_names(), commit=False) as tx:
        owned = [
            row["ref"]
            for row in tx.rows("SELECT ref FROM {customers} WHERE owner = ?", (DEPARTING,))
        ]
    for start in range(0, len(owned), 500):  # (a world handed over already: nothing to do)
        app.execute_many(
            [
                AssignOwner(customer=ref, rep=HEIR, reason="bench hand-over", open_items="move")
                for ref in owned[start : start + 500]
            ],
            actor="bench",
        )
    runner.catch_up()
    with runner.db.transaction(Dossier().table_names(), commit=False) as tx:
        counted = tx.one("SELECT COUNT(*) AS n FROM {customers} WHERE owner = ?", (HEIR,))
    inherited = int(counted["n"]) if counted else 0
    runner.close()
    reader = KeyStore(app, Database.of(app)).create(f"bench-{uuid.uuid4().hex[:6]}", "compliance")[
        1
    ]
    app.close()
    requests = 200 if args.quick else 1000
    port = free_port()
    server = start_server(settings, port)
    try:
        action = checking(lambda http, n: http.get(f"/reps/{HEIR}/dossier"))
        url = f"http://127.0.0.1:{port}"
        load(action, 20, url, reader)  # warm
        _, alone = load(action, requests // 4, url, reader, clients=1)
        _, busy = load(action, requests, url, reader)
    finally:
        server.terminate()
        server.wait(timeout=30)
    name = f"dossier of the heir of {inherited:,} customers"
    return [
        Figure(f"{name}, p50 (one client)", percentile(alone, 50), "ms"),
        # What a manager waits for, opening it: the target.
        Figure(
            f"{name}, p99 (one client)",
            percentile(alone, 99),
            "ms",
            100,
            "target 100 ms",
            1,
            at_most=True,
        ),
        # The same under 8 clients at once, on 2 cores: how it shares the server.
        Figure(f"{name}, p50 (8 clients)", percentile(busy, 50), "ms"),
        Figure(f"{name}, p99 (8 clients)", percentile(busy, 99), "ms"),
    ]


HEIR = "REP-1"  # who takes the departed rep's customers in the heir's dossier bench


def checking(
    action: Callable[[httpx.Client, int], httpx.Response],
) -> Callable[[httpx.Client, int], None]:
    """The request, raising if it was refused (a benchmark of errors measures nothing)."""

    def checked(http: httpx.Client, n: int) -> None:
        action(http, n).raise_for_status()

    return checked


def customer_refs(app: Ledger) -> list[str]:
    """The references of (up to 20,000) customers of the world."""
    head = app.recorder.max_notification_id() or 0
    return sorted(
        {
            app.mapper.to_domain_event(n).ref  # type: ignore[attr-defined]
            for n in app.recorder.select_notifications(1, min(head, 20_000), topics=[REGISTERED])
        }
    )


def access_log_reads(settings: Settings, args: argparse.Namespace) -> list[Figure]:
    """A customer's promises and timeline over HTTP (8 clients) as the API answers them,
    recording each read in the access log, beside the same reads unrecorded; the modes in
    turn, request by request (so that whatever else loads the machine falls on both)."""
    requests = 400 if args.quick else 2000
    app = Ledger(settings)
    token = KeyStore(app, Database.of(app)).create(f"bench-{uuid.uuid4().hex[:6]}", "compliance")[1]
    rng = random.Random(11)
    customers = customer_refs(app)
    refs = [rng.choice(customers) for _ in range(requests)]
    owners = {ref: app.customer(ref).owner or "REP-1" for ref in set(refs)}
    app.close()
    port = free_port()
    server = access_log_bench.start_server(settings, port, sys.getswitchinterval())
    url = f"http://127.0.0.1:{port}"
    asks: dict[str, Callable[[str], Callable[[httpx.Client, int], Any]]] = {
        "promises by customer and rep": lambda mode: (
            lambda http, n: http.get(
                f"/bench/{mode}/customers/{refs[n % requests]}/promises",
                params={"rep": owners[refs[n % requests]]},
            ).raise_for_status()
        ),
        "timeline, first 50": lambda mode: (
            lambda http, n: http.get(
                f"/bench/{mode}/customers/{refs[n % requests]}/timeline", params={"limit": 50}
            ).raise_for_status()
        ),
    }
    figures = []
    try:
        for name, ask in asks.items():
            for mode in ("off", "async"):  # warm both paths
                load(ask(mode), 100, url, token)
            found = access_log_bench.interleaved(ask, requests, url, token)
            figures.append(
                Figure(
                    f"{name}, p99 with the access log",
                    percentile(found["async"], 99),
                    "ms",
                    percentile(found["off"], 99),
                    "without it",
                    1.10,
                    at_most=True,
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return figures


BENCHMARKS: list[Callable[[Settings, argparse.Namespace], list[Figure]]] = [
    commands_one_client,
    bulk_import,
    customers_import,
    free_text_import,
    catch_up,
    late_facts_catch_up,
    replay_quarter,
    verify,
    load_customer,
    rebuild_memory,
    over_http,
    access_log_reads,
    heir_dossier,
]


def at_a_tenth(figures: list[Figure], args: argparse.Namespace) -> list[Figure]:
    """The queries' p99 and the rebuild's peak memory again on a world a tenth the size: the
    full-size figure should be within 1.5 times that one (reads by index, rebuilds that
    stream)."""
    small = argparse.Namespace(**{**vars(args), "events": args.events // 10})
    settings = world(small)
    print(f"the same at {small.events:,} events ...", flush=True)
    app = Ledger(settings)
    runner = Runner(app, all_views())
    runner.catch_up()
    runner.close()
    app.close()
    found = [
        f
        for f in over_http(settings, small, commands=False) + rebuild_memory(settings, small)
        if f.target is not None
    ]
    for figure in found:
        print("  " + "  ".join(figure.row()), flush=True)
    by_name = {f.name: f for f in figures}
    return [
        Figure(
            f"{f.name} at {args.events:,} vs {small.events:,}",
            by_name[f.name].value,
            f.unit,
            f.value,
            f"at {small.events:,}",
            1.5,
            at_most=True,
        )
        for f in found
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a small world and samples")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", default=POSTGRES_URL)
    parser.add_argument(
        "--events", type=int, help="world size (default 1,000,000; 20,000 with --quick)"
    )
    parser.add_argument(
        "--worlds",
        type=Path,
        default=Path("var/bench"),
        help="where SQLite worlds are kept for the next run",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="write the figures here (default bench-STORE-EVENTS.json in --worlds)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=[b.__name__ for b in BENCHMARKS],
        help="run only these (" + ", ".join(b.__name__ for b in BENCHMARKS) + ")",
    )
    parser.add_argument(
        "--write-docs",
        action=argparse.BooleanOptionalAction,
        help="rewrite this run's table in --docs (default: only after a full run; a --quick "
        "run writes the STORE-quick section)",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=docs.DOCS,
        help="the document whose table is rewritten (default: docs/performance.md)",
    )
    parser.add_argument(
        "--note",
        default="",
        help="added to the line above the table, e.g. 'machine otherwise idle'",
    )
    args = parser.parse_args()
    args.events = args.events or (20_000 if args.quick else 1_000_000)
    if args.write_docs is None:
        args.write_docs = not args.quick and not args.only
    section = docs.section_of(args.store, args.quick)
    if args.write_docs:  # refused now, not after the run
        try:
            docs.replace_section(
                args.docs.read_text(encoding="utf-8"), section, "", where=str(args.docs)
            )
        except (docs.MarkersMissing, OSError) as refused:
            sys.exit(f"error: {refused} (or run with --no-write-docs)")
    args.worlds.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()[0]
    started_on = time.strftime("%Y-%m-%d")
    settings = world(args)
    app = Ledger(settings)
    stored = app.recorder.max_notification_id() or 0
    app.close()
    figures: list[Figure] = []
    for benchmark in [b for b in BENCHMARKS if not args.only or b.__name__ in args.only]:
        print(f"{benchmark.__name__.replace('_', ' ')} ...", flush=True)
        found = benchmark(settings, args)
        for figure in found:
            print("  " + "  ".join(figure.row()), flush=True)
        figures += found
    if not args.quick and not args.only:
        figures += at_a_tenth(figures, args)
    header = ["benchmark", "figure", "baseline (same run)", "ratio", "target", "met"]
    rows = [header, *(f.row() for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    print()
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    out = args.json or args.worlds / f"bench-{args.store}-{args.events}.json"
    run = {
        "store": args.store,
        "events": args.events,
        "quick": args.quick,
        "only": args.only or [],
        "date": started_on,
        "stored_events": stored,
        "customers": max(11, args.events // EVENTS_PER_CUSTOMER),
        "machine": (
            f"{os.cpu_count()}-core machine ({platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}), load average {load_at_start:.1f} at the start and "
            f"{os.getloadavg()[0]:.1f} at the end"
        ),
        "note": args.note,
        "figures": [{**asdict(f), "ratio": f.ratio, "met": f.met} for f in figures],
    }
    out.write_text(json.dumps(run, indent=2) + "\n")
    print(f"\nfigures written to {out}")
    if args.write_docs:
        try:
            docs.write(run, args.docs, section)
        except (docs.MarkersMissing, OSError) as refused:
            sys.exit(
                f"error: {refused}; the figures are in {out}: "
                f"python -m bench.docs {out} --docs {args.docs} writes the table"
            )
        print(f"the {section} table of {args.docs} rewritten")


if __name__ == "__main__":
    main()
