"""The access log's appends, beside raw single-row durable commits measured in the same run;
what recording costs a read over HTTP; the 90-day question at a million records.

    python -m bench.access_log [--store sqlite|postgres] [--customers 1000]
                               [--requests 500] [--rounds 4] [--records 1000000]
                               [--switch-interval 0.005]

In a throwaway store:

1. Raw baseline: single-row INSERTs, each committed durably on its own (one thread), the
   commits/s and the latency of each.
2. Appends through ``AccessLog.record``, one record a call, from 1, 8 and 32 threads:
   appends/s, the latency of each call (p50, p99: until its record is durably committed)
   and records per transaction (the group commit).
3. Reads over HTTP, as bench/api_reads.py measures them (a server process of its own on the
   demo world, 8 client threads): a customer's promises by rep and their timeline's first 50
   lines, answered by the same code with the access log off, ``sync`` (``record`` called in
   the function the read runs through ``Services.call``: inline on SQLite, on a worker
   thread on PostgreSQL) and ``async`` (``api.deps.recorded``, what the API does). Rounds take
   the modes in turn, in alternating order; p50 and p99 of each, and the median p99 of each
   mode against off's (target: under 1.10). Then the same number of requests with the modes
   interleaved request by request, which other load on the machine disturbs less (but a
   request that waits for the event loop lets the others pass, which flatters them).
4. The 90-day question at ``--records`` records over two years (50,000 customers, 200 keys):
   who looked at one customer, and with one key, in the last 90 days; median and slowest of
   20 (target: under a second), and the plan.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg
import uvicorn
from fastapi import Header

from api.deps import Caller, Svc, may_read_customer, recorded
from api.keys import KeyStore
from api.main import create_app
from bench.api_reads import free_port, load, percentile
from bench.common import drop, store_arguments, store_env, throwaway_settings
from ledger.access_log import Access, AccessLog
from ledger.application import Ledger
from ledger.config import Settings
from ledger.demo import build_world
from ledger.projections import queries
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.sql import Database

CLIENTS = 8
# The access log not used; record() in the read's own call to the store (inline on SQLite,
# a worker thread on PostgreSQL); what the API does (``api.deps.recorded``).
MODES = ("off", "sync", "async")
WHAT = "GET /customers/{ref}/timeline"


def ms(samples: list[float], p: int) -> float:
    return percentile(samples, p) if len(samples) > 1 else samples[0] * 1000


# -- 1. the raw baseline ------------------------------------------------------------------------


def raw_commits(settings: Settings, count: int) -> tuple[float, list[float]]:
    """Single-row INSERTs each committed durably, one after another: (commits/s, latencies)."""
    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    latencies = []
    if settings.database_url:
        name = f'"{settings.database_schema}".{table}'
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {name} (id bigint PRIMARY KEY, body text)")
            started = time.perf_counter()
            for n in range(count):
                one = time.perf_counter()
                conn.execute(f"INSERT INTO {name} VALUES (%s, %s)", (n, "x" * 150))
                latencies.append(time.perf_counter() - one)
            rate = count / (time.perf_counter() - started)
            conn.execute(f"DROP TABLE {name}")
        return rate, latencies
    lite = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    lite.execute("PRAGMA journal_mode = WAL")
    lite.execute("PRAGMA synchronous = FULL")  # as the ledger's connections: durable
    lite.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)")
    started = time.perf_counter()
    for n in range(count):
        one = time.perf_counter()
        lite.execute("BEGIN IMMEDIATE")
        lite.execute(f"INSERT INTO {table} VALUES (?, ?)", (n, "x" * 150))
        lite.execute("COMMIT")
        latencies.append(time.perf_counter() - one)
    rate = count / (time.perf_counter() - started)
    lite.execute(f"DROP TABLE {table}")
    lite.close()
    return rate, latencies


# -- 2. appends ---------------------------------------------------------------------------------


def appends(log: AccessLog, threads: int, count: int) -> tuple[float, list[float], float]:
    """``count`` records, one a call, from ``threads`` threads: (appends/s, latencies,
    records per transaction)."""
    latencies: list[float] = []
    lock = threading.Lock()
    commits = log.commits

    def caller(worker: int) -> None:
        mine = []
        for n in range(worker, count, threads):
            entry = Access(
                key=f"bench-{worker}",
                role="compliance",
                what=WHAT,
                interface="api",
                customer=f"CUST-{n % 3000:05d}",
                fields=("profile", "timeline"),
            )
            one = time.perf_counter()
            log.record([entry])
            mine.append(time.perf_counter() - one)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=caller, args=(w,)) for w in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    return count / seconds, latencies, count / max(1, log.commits - commits)


# -- 3. reads over HTTP -------------------------------------------------------------------------


def serve(port: int) -> None:
    """The API with the two bench routes, for the server process (store from the
    environment): the same read, without and with its record."""
    app = create_app(Settings(), follow=False)

    async def answer(
        svc: Svc, key: Caller, ref: str, view: str, switch: str, purpose: str | None, **filters: Any
    ) -> dict[str, Any]:
        """The API's own read of a customer (may the key read them, then the query), with
        its record: off, none; sync, ``record`` in the query's own call to the store; async,
        ``api.deps.recorded``, what the API does."""
        query = queries.timeline_of if view == "timeline" else queries.promises_of
        entry = Access(
            key=key.name,
            role=key.role,
            what=f"GET /customers/{{ref}}/{view}",
            interface="api",
            customer=ref,
            fields=(view,),
            purpose=purpose,
        )
        await svc.call(may_read_customer, svc, key, ref)
        if switch == "sync":

            def queried_and_recorded() -> dict[str, Any]:
                found: dict[str, Any] = query(svc.db, ref, **filters).to_dict()
                svc.access.record([entry])
                return found

            return await svc.call(queried_and_recorded)
        if switch == "async":  # what the API does
            return (await recorded(svc, entry, svc.call(query, svc.db, ref, **filters))).to_dict()
        found: dict[str, Any] = (await svc.call(query, svc.db, ref, **filters)).to_dict()
        return found

    @app.get("/bench/{switch}/customers/{ref}/timeline")
    async def timeline(
        switch: str,
        ref: str,
        svc: Svc,
        key: Caller,
        limit: int = 50,
        x_purpose: str | None = Header(None),
    ) -> dict[str, Any]:
        return await answer(svc, key, ref, "timeline", switch, x_purpose, limit=limit)

    @app.get("/bench/{switch}/customers/{ref}/promises")
    async def promises(
        switch: str,
        ref: str,
        svc: Svc,
        key: Caller,
        rep: str | None = None,
        x_purpose: str | None = Header(None),
    ) -> dict[str, Any]:
        return await answer(svc, key, ref, "promises", switch, x_purpose, rep=rep)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_server(settings: Settings, port: int, switch_interval: float) -> subprocess.Popen[bytes]:
    env = store_env(settings)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.access_log",
            "--serve",
            str(port),
            "--switch-interval",
            str(switch_interval),
        ],
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the API server did not start")


def reads(settings: Settings, args: argparse.Namespace) -> None:
    app = Ledger(settings)
    summary = build_world(app, customers=args.customers)
    runner = Runner(app, all_views())
    runner.catch_up()
    token = KeyStore(app, runner.db).create("bench", "compliance")[1]
    rng = random.Random(7)
    refs = [f"CUST-{rng.randrange(1, args.customers + 1):05d}" for _ in range(args.requests)]
    owners = {ref: app.customer(ref).owner or "REP-1" for ref in set(refs)}
    runner.close()
    app.close()
    print(
        f"\nreads over HTTP (server switch interval {args.switch_interval * 1000:g} ms): demo "
        f"world of {summary.events:,} events, {CLIENTS} clients, "
        f"{args.requests:,} requests a round and mode; off: no record; sync: record() in the "
        "read's call to the store; async: what the API does (api.deps.recorded)"
    )
    port = free_port()
    server = start_server(settings, port, args.switch_interval)
    url = f"http://127.0.0.1:{port}"
    try:
        asks: dict[str, Callable[[str], Callable[[httpx.Client, int], Any]]] = {
            "promises of a customer by rep": lambda switch: (
                lambda http, n: http.get(
                    f"/bench/{switch}/customers/{refs[n % len(refs)]}/promises",
                    params={"rep": owners[refs[n % len(refs)]]},
                ).raise_for_status()
            ),
            "customer timeline, first 50": lambda switch: (
                lambda http, n: http.get(
                    f"/bench/{switch}/customers/{refs[n % len(refs)]}/timeline",
                    params={"limit": 50},
                ).raise_for_status()
            ),
        }
        for name, ask in asks.items():
            for switch in MODES:  # warm every path
                load(ask(switch), min(200, args.requests), url, token)
            p50s: dict[str, list[float]] = {mode: [] for mode in MODES}
            p99s: dict[str, list[float]] = {mode: [] for mode in MODES}
            for round_ in range(args.rounds):  # each order in turn: drift favours none
                shown = []
                for switch in MODES if round_ % 2 == 0 else MODES[::-1]:
                    _, latencies = load(ask(switch), args.requests, url, token)
                    p50s[switch].append(percentile(latencies, 50))
                    p99s[switch].append(percentile(latencies, 99))
                    shown.append(f"{switch} {p50s[switch][-1]:5.1f} / {p99s[switch][-1]:5.1f}")
                print(f"  {name:30} round {round_ + 1}, p50 / p99 ms: {', '.join(shown)}")
            off = statistics.median(p99s["off"])
            for mode in MODES[1:]:
                on = statistics.median(p99s[mode])
                pairs = statistics.median(
                    a / b for a, b in zip(p99s[mode], p99s["off"], strict=True)
                )
                print(
                    f"  {name:30} log {mode:7}: median p99 {on:5.1f} ms against {off:5.1f} "
                    f"ms off: {on / off:.2f} (round by round {pairs:.2f}); median p50 "
                    f"{statistics.median(p50s[mode]):5.1f} against "
                    f"{statistics.median(p50s['off']):5.1f} ms (target p99 < 1.10)"
                )
            mixed = interleaved(ask, args.requests * args.rounds, url, token)
            base = percentile(mixed["off"], 99)
            print(
                f"  {name:30} interleaved, {len(mixed['off']):,} of each: "
                + ", ".join(
                    f"{mode} p50 {percentile(found, 50):5.1f} / p99 {percentile(found, 99):5.1f} "
                    f"ms ({percentile(found, 99) / base:.2f})"
                    for mode, found in mixed.items()
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


def interleaved(
    ask: Callable[[str], Callable[[httpx.Client, int], Any]], count: int, url: str, token: str
) -> dict[str, list[float]]:
    """``count`` requests of each mode, every client taking the modes in turn, request by
    request: whatever else loads the machine falls on every mode alike (the log's writer,
    busy for a third of the requests, is then beside the others too)."""
    latencies: dict[str, list[float]] = {mode: [] for mode in MODES}
    lock = threading.Lock()
    actions = {mode: ask(mode) for mode in MODES}

    def client(worker: int) -> None:
        mine: list[tuple[str, float]] = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            for n in range(worker, count * len(MODES), CLIENTS):
                mode = MODES[n % len(MODES)]
                started = time.perf_counter()
                actions[mode](http, n // len(MODES))
                mine.append((mode, time.perf_counter() - started))
        with lock:
            for mode, seconds in mine:
                latencies[mode].append(seconds)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


# -- 4. the 90-day question ------------------------------------------------------------------


class Clock:
    """Two years of records: each transaction a week after the one before."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def at_size(settings: Settings, records: int) -> None:
    app = Ledger(settings)
    db = Database.of(app)
    batch = max(1, records // 104)
    clock = Clock(datetime.now(timezone.utc) - timedelta(weeks=104), timedelta(weeks=1))
    log = AccessLog(db, clock=clock)
    started = time.perf_counter()
    for start in range(0, records, batch):
        log.record(
            [
                Access(
                    key=f"key-{n % 200}",
                    role="rep",
                    what=WHAT,
                    interface="api",
                    customer=f"CUST-{n % 50_000:05d}",
                    fields=("profile", "timeline"),
                )
                for n in range(start, min(records, start + batch))
            ]
        )
    filled = time.perf_counter() - started
    if settings.database_url:  # as autovacuum would have by now
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(f'ANALYZE "{settings.database_schema}".access_log')
    since = clock.now - timedelta(days=90)
    print(
        f"\nthe 90-day question at {records:,} records over two years (written in "
        f"{filled:.0f} s, {records / filled:,.0f} records/s in batches of {batch:,})"
    )
    rng = random.Random(7)
    picks: dict[str, Callable[[], dict[str, Any]]] = {
        "customer": lambda: {"customer": f"CUST-{rng.randrange(50_000):05d}"},
        "key": lambda: {"key": f"key-{rng.randrange(200)}"},
    }
    for name, pick in picks.items():
        samples, rows = [], 0
        for _ in range(20):
            chosen = pick()
            one = time.perf_counter()
            rows += len(log.list(since=since, **chosen).items)
            samples.append(time.perf_counter() - one)
        print(
            f"  who looked, by one {name:8}: median {statistics.median(samples) * 1000:6.1f} ms, "
            f"slowest {max(samples) * 1000:6.1f} ms ({rows / 20:.0f} records a page; "
            "target under 1,000 ms)"
        )
        plan = log.plan(since=since, **pick()).replace("\n", " | ")
        print(f"    plan: {plan}")
    started = time.perf_counter()
    check = log.verify()
    print(
        f"  verify: {check.records:,} records in {time.perf_counter() - started:.1f} s, "
        f"{'its chain holds' if check.ok else 'PROBLEMS'}"
    )
    log.close()
    db.close()
    app.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    store_arguments(parser)
    parser.add_argument("--customers", type=int, default=1000, help="of the demo world")
    parser.add_argument("--requests", type=int, default=500, help="per round, query and mode")
    parser.add_argument("--rounds", type=int, default=4, help="of each mode")
    parser.add_argument("--appends", type=int, default=2000, help="per thread count")
    parser.add_argument(
        "--records", type=int, default=1_000_000, help="for the 90-day question (0: skip it)"
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=sys.getswitchinterval(),
        help="the server process's sys.setswitchinterval: how long a thread "
        "that wants the GIL waits for a busy one (default Python's, "
        f"{sys.getswitchinterval()} s)",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.setswitchinterval(args.switch_interval)
        serve(args.serve)
        return
    settings = throwaway_settings(args)
    try:
        print(f"store: {settings.describe()}")
        app = Ledger(settings)  # makes the store (and its schema)
        db = Database.of(app)
        log = AccessLog(db)
        rate, latencies = raw_commits(settings, args.appends)
        print(
            f"raw single-row durable commits, 1 thread: {rate:7,.0f} commits/s   "
            f"p50 {ms(latencies, 50):5.2f} ms  p99 {ms(latencies, 99):5.2f} ms"
        )
        for threads in (1, 8, 32):
            rate, latencies, grouped = appends(log, threads, args.appends)
            print(
                f"access log appends, {threads:2} threads:    {rate:7,.0f} appends/s   "
                f"p50 {ms(latencies, 50):5.2f} ms  p99 {ms(latencies, 99):5.2f} ms   "
                f"{grouped:5.1f} records a transaction"
            )
        assert log.verify().ok
        log.close()
        db.close()
        app.close()
        reads(settings, args)
    finally:
        discard(settings)
    if args.records:
        settings = throwaway_settings(args)  # a log of its own, from two years ago
        try:
            at_size(settings, args.records)
        finally:
            discard(settings)


def discard(settings: Settings) -> None:
    drop(settings)
    if not settings.database_url:
        shutil.rmtree(settings.data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
