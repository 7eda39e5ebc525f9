"""Reads over HTTP under 8 concurrent clients, beside the same queries called directly.

    python -m bench.api_reads [--store sqlite|postgres] [--customers 3000] [--requests 2000]

Builds the demo world in a throwaway store and its views, starts `ledger serve` in its own
process, then 8 client threads ask, in turn, "the promises of this customer by this rep" and
"this customer's timeline (first page)" for random customers. Prints requests per second and
p50/p99 latency, beside the same query functions called in this process (no HTTP, no auth).
Target: p99 under 25 ms.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from api.keys import KeyStore
from bench.common import drop, store_arguments, store_env, throwaway_settings
from ledger.application import Ledger
from ledger.config import Settings
from ledger.demo import build_world
from ledger.projections import queries
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner

CLIENTS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(settings: Settings, port: int, *options: str) -> subprocess.Popen[bytes]:
    env = store_env(settings)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger.cli.main",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *options,
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


def load(
    action: Callable[[httpx.Client, int], Any],
    requests: int,
    base_url: str,
    token: str,
    clients: int = CLIENTS,
) -> tuple[float, list[float]]:
    """Run ``requests`` calls spread over ``clients`` threads; (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        mine = []
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as http:
            for n in range(worker, requests, clients):
                started = time.perf_counter()
                action(http, n)
                mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def direct(action: Callable[[int], Any], requests: int) -> list[float]:
    latencies = []
    for n in range(requests):
        started = time.perf_counter()
        action(n)
        latencies.append(time.perf_counter() - started)
    return latencies


def percentile(samples: list[float], p: float) -> float:
    return statistics.quantiles(samples, n=100)[int(p) - 1] * 1000


def report(name: str, seconds: float, over_http: list[float], in_process: list[float]) -> None:
    print(
        f"{name:30} {len(over_http) / seconds:7,.0f} req/s  "
        f"p50 {percentile(over_http, 50):6.1f} ms  p99 {percentile(over_http, 99):6.1f} ms"
        f"  | direct p50 "
        f"{percentile(in_process, 50):5.2f} ms  p99 {percentile(in_process, 99):5.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    store_arguments(parser)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=2000, help="per query (default 2000)")
    args = parser.parse_args()
    settings = throwaway_settings(args)
    server = None
    try:
        app = Ledger(settings)
        summary = build_world(app, customers=args.customers)
        runner = Runner(app, all_views())
        runner.catch_up()
        token = KeyStore(app, runner.db).create("bench", "compliance")[1]
        rng = random.Random(7)
        refs = [f"CUST-{rng.randrange(1, args.customers + 1):05d}" for _ in range(args.requests)]
        owners = {ref: app.customer(ref).owner or "REP-1" for ref in set(refs)}
        print(
            f"store: {settings.describe()}; demo world of {summary.events:,} events; "
            f"{CLIENTS} concurrent clients, {args.requests:,} requests per query"
        )
        port = free_port()
        server = start_server(settings, port)
        url = f"http://127.0.0.1:{port}"

        def promises(http: httpx.Client, n: int) -> None:
            http.get(
                f"/customers/{refs[n]}/promises", params={"rep": owners[refs[n]]}
            ).raise_for_status()

        def timeline(http: httpx.Client, n: int) -> None:
            http.get(f"/customers/{refs[n]}/timeline", params={"limit": 50}).raise_for_status()

        seconds, over_http = load(promises, args.requests, url, token)
        report(
            "promises of a customer by rep",
            seconds,
            over_http,
            direct(
                lambda n: queries.promises_of(runner.db, refs[n], rep=owners[refs[n]]),
                args.requests,
            ),
        )
        seconds, over_http = load(timeline, args.requests, url, token)
        report(
            "customer timeline, first 50",
            seconds,
            over_http,
            direct(lambda n: queries.timeline_of(runner.db, refs[n], limit=50), args.requests),
        )
        print("target: p99 under 25 ms")
        runner.close()
        app.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop(settings)


if __name__ == "__main__":
    main()
