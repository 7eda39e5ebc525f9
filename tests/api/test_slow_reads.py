"""A read that takes long runs on a worker thread, never on the server's event loop: while a
verify (or a replay) reads the whole log of a demo world, the server goes on answering other
requests at once, on SQLite as on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from ledger.application import Ledger
from ledger.demo import build_world
from tests.api.conftest import serve
from tests.conftest import fresh_store

pytestmark = pytest.mark.slow

# Customers of a two-year demo world whose verify reads for a second or more (PostgreSQL
# reads the log over the network, so fewer events take as long).
CUSTOMERS = {"sqlite": 1800, "postgres": 800}
AT_ONCE = 0.05  # seconds: what answering at once means here
# A blocked event loop would keep /healthz waiting for the whole slow read (a second or more);
# on two cores another process can still delay one answer by a scheduler's slice or two.
WORST = 4 * AT_ONCE
PACE = 0.05  # seconds between two questions


@dataclass
class Busy:
    url: str
    compliance: str  # a compliance key's token
    events: int


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def busy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Busy]:
    for settings in fresh_store(request, tmp_path_factory.mktemp("slow")):
        ledger = Ledger(settings)
        world = build_world(ledger, customers=CUSTOMERS[request.param], days=730)
        ledger.close()
        server, services = serve(settings, follow=False)  # (no views needed: a quiet server)
        token = services.keys.create("compliance", "compliance")[1]
        yield Busy(server.url, token, world.events)
        server.stop()


def at_once(took: list[float]) -> bool:
    """Whether /healthz answered at once: nineteen times in twenty within AT_ONCE, and never
    as late as a blocked loop would make it."""
    ordered = sorted(took)
    return ordered[int(len(ordered) * 0.95) - 1] < AT_ONCE and ordered[-1] < WORST


def answers_while(
    busy: Busy, path: str, params: dict[str, str]
) -> tuple[list[float], httpx.Response]:
    """How long each ``/healthz`` took (seconds), asked one after another for as long as the
    request ``path`` runs; and that request's reply."""
    reply: dict[str, httpx.Response] = {}

    def slow_request() -> None:
        headers = {"Authorization": f"Bearer {busy.compliance}"}
        with httpx.Client(base_url=busy.url, headers=headers, timeout=300) as client:
            reply["slow"] = client.get(path, params=params)

    with httpx.Client(base_url=busy.url, timeout=30) as anyone:
        assert anyone.get("/healthz").status_code == 200  # (the connection is open)
        running = threading.Thread(target=slow_request)
        running.start()
        took = []
        while running.is_alive():
            started = time.perf_counter()
            answer = anyone.get("/healthz")
            took.append(time.perf_counter() - started)
            assert answer.json() == {"status": "up"}
            running.join(timeout=PACE)
    return took, reply["slow"]


def test_health_answers_at_once_while_a_verify_reads_the_whole_log(busy: Busy) -> None:
    took, verified = answers_while(busy, "/integrity/verify", {})
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] and verified.json()["events"] >= busy.events
    assert len(took) >= 5, f"the verify ended before /healthz was asked much: {took}"
    assert at_once(took), f"/healthz took {max(took) * 1000:.0f} ms during the verify"


def test_health_answers_at_once_while_a_report_replays_the_log(busy: Busy) -> None:
    took, replayed = answers_while(
        busy, "/reports/retention", {"period": "2025", "as_occurred_by": "2026-12-31"}
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["data"]
    assert len(took) >= 5, f"the replay ended before /healthz was asked much: {took}"
    assert at_once(took), f"/healthz took {max(took) * 1000:.0f} ms during the replay"
