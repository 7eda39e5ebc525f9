"""How long each page of the web console takes on a bench world, one visitor at a time.

    python -m bench.console_pages [--store sqlite|postgres] [--events 1000000] [--repeat 5]

Serves the world `python -m bench` built (or builds it), signs in as a manager, compliance
and an analyst, and fetches each page ``--repeat`` times: median and slowest, against the
target of half a second a page. A report runs apart from its page (a replay reads the log up
to its date): how long until the page shows it is printed beside.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path
from statistics import median

import httpx

from api.keys import KeyStore
from bench.__main__ import customer_refs, world
from bench.api_reads import free_port, start_server
from bench.common import POSTGRES_URL
from ledger.application import Ledger
from ledger.sql import Database

TARGET = 0.5  # seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", default=POSTGRES_URL)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--worlds", type=Path, default=Path("var/bench"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    args.quick = False
    settings = world(args)
    app = Ledger(settings)
    keys = KeyStore(app, Database.of(app))
    tokens = {
        role: keys.create(f"pages-{role}-{uuid.uuid4().hex[:6]}", role, rep)[1]
        for role, rep in (("manager", "REP-1"), ("compliance", None), ("analyst", None))
    }
    customer = customer_refs(app)[0]
    head = app.recorder.max_notification_id() or 0
    app.close()
    port = free_port()
    server = start_server(settings, port)
    url = f"http://127.0.0.1:{port}"
    pages = [
        ("compliance", "customer search", f"/console/customers?q={customer[:-1]}"),
        ("compliance", "customer timeline", f"/console/customers/{customer}"),
        ("manager", "rep dossier (REP-1)", "/console/reps/REP-1"),
        (
            "manager",
            "dossier list, a page",
            "/console/reps/REP-1?section=customers_owned&offset=1000",
        ),
        ("manager", "departed rep's hand-over", "/console/reps/REP-3/handover"),
        ("compliance", "compliance board", "/console/compliance"),
        ("compliance", "service inbox", "/console/service"),
        (
            "analyst",
            "retention, a year, as known now",
            "/console/reports?run=1&name=retention&period=2025-01..2025-12&reading=now",
        ),
        (
            "analyst",
            "retention as known at a past date (a replay)",
            "/console/reports?run=1&name=retention&period=2025-01..2025-03&reading=known"
            "&at=2025-04-01",
        ),
    ]
    try:
        print(f"{settings.describe()}, {head:,} events; each page {args.repeat} times")
        print(f"{'page':<48}{'median':>10}{'slowest':>10}   under {TARGET} s")
        for who, name, path in pages:
            with httpx.Client(base_url=url, timeout=600) as http:
                signed = http.post("/console/signin", data={"api_key": tokens[who]})
                assert signed.status_code == 303, signed.text[:200]
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    answer = http.get(path)
                    times.append(time.perf_counter() - started)
                    assert answer.status_code == 200, (path, answer.text[:300])
                ready = until_ready(http, path) if "run=1" in path else ""
            print(
                f"{name:<48}{median(times):>9.3f}s{max(times):>9.3f}s   "
                f"{'yes' if max(times) < TARGET else 'NO'}{ready}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


def until_ready(http: httpx.Client, path: str) -> str:
    """A report runs apart: how long until its page shows the result (from its first ask)."""
    started = time.perf_counter()
    while "Download this table as CSV" not in http.get(path).text:
        time.sleep(0.25)
    return f"   (report ready {time.perf_counter() - started:.1f} s later)"


if __name__ == "__main__":
    main()
