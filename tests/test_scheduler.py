"""The scheduler's jobs: each fact written once, whatever runs twice or races, caught up once
after downtime; one scheduler of a store acts at a time. Time is passed in, never slept."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.demo import build_world
from ledger.scheduler import Jobs, Leadership, SchedulerService

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def on(days: float) -> str:
    return (T0 + timedelta(days=days)).isoformat()


@pytest.fixture
def shop(store_env: Settings) -> Settings:
    """On day 0: CUST-1 (a promise due day 5, a quote valid to day 5, a request and a complaint
    to answer by day 5, a purchase), CUST-2 (registered, nothing since), CUST-3 (a purchase)."""
    app = Ledger(store_env)
    c1 = {"customer": "CUST-1", "occurred_at": on(0)}
    commands: list[dict[str, Any]] = [
        {"type": "hire_rep", "ref": "REP-1", "name": "Li", "team": "t", "occurred_at": on(0)},
        *(
            {"type": "register_customer", "ref": ref, "name": ref, "occurred_at": on(0)}
            for ref in ("CUST-1", "CUST-2", "CUST-3")
        ),
        {
            "type": "make_promise",
            **c1,
            "rep": "REP-1",
            "text": "samples",
            "due_by": on(5),
            "promise_id": "P-1",
        },
        {
            "type": "issue_quote",
            **c1,
            "rep": "REP-1",
            "product": "tea",
            "quantity": "1",
            "unit_price": "10",
            "currency": "CNY",
            "valid_until": on(5),
            "quote_id": "Q-1",
        },
        {
            "type": "receive_request",
            **c1,
            "kind": "callback",
            "channel": "phone",
            "respond_by": on(5),
            "request_id": "R-1",
        },
        {
            "type": "file_complaint",
            **c1,
            "category": "delivery",
            "severity": "low",
            "description": "late",
            "respond_by": on(5),
            "complaint_id": "C-1",
        },
        {"type": "record_purchase", **c1, "order_id": "O-1", "amount": "10", "currency": "CNY"},
        {
            "type": "record_purchase",
            "customer": "CUST-3",
            "order_id": "O-3",
            "amount": "10",
            "currency": "CNY",
            "occurred_at": on(0),
        },
    ]
    outcomes = app.execute_many([parse_command(c) for c in commands], actor="test")
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    app.close()
    return store_env


def once(capsys: pytest.CaptureFixture[str], now: str, *options: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert (
        main(["scheduler", "--once", "--now", now, "--lapse-days", "90", "--json", *options]) == 0
    )
    facts: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return facts


def written(facts: list[dict[str, Any]]) -> set[tuple[str, str, str | None]]:
    return {(f["job"], f["customer"], f["entry"]) for f in facts if f["outcome"] == "written"}


def test_each_job_writes_its_fact_once(shop: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert written(once(capsys, on(4))) == set()  # nothing is due yet
    assert written(once(capsys, on(6))) == {
        ("overdue_promises", "CUST-1", "P-1"),
        ("expired_quotes", "CUST-1", "Q-1"),
        ("missed_deadlines", "CUST-1", "R-1"),
        ("missed_deadlines", "CUST-1", "C-1"),
    }
    assert written(once(capsys, on(7))) == set()  # a second run writes nothing
    app = Ledger(shop)
    kinds = [type(e).__name__ for e in app.history("customer", "CUST-1")]
    assert Counter(kinds)["PromiseMarkedOverdue"] == 1 and "QuoteExpired" in kinds
    assert Counter(kinds)["DeadlineMissed"] == 2
    assert {e.actor for e in app.history("customer", "CUST-1")[-4:]} == {"scheduler"}
    app.close()


def test_customers_lapse_after_days_without_purchase_or_contact_until_they_buy(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lapsed = written(once(capsys, on(95), "--job", "lapsed_customers"))
    assert lapsed == {
        ("lapsed_customers", "CUST-1", None),
        ("lapsed_customers", "CUST-2", None),
        ("lapsed_customers", "CUST-3", None),
    }
    assert written(once(capsys, on(96), "--job", "lapsed_customers")) == set()
    app = Ledger(shop)  # CUST-3 buys again on day 100: no longer lapsed; lapses 90 days on
    app.execute(
        parse_command(
            {
                "type": "record_purchase",
                "customer": "CUST-3",
                "order_id": "O-4",
                "amount": "10",
                "currency": "CNY",
                "occurred_at": on(100),
            }
        ),
        actor="test",
    )
    app.close()
    assert written(once(capsys, on(150), "--job", "lapsed_customers")) == set()
    assert written(once(capsys, on(191), "--job", "lapsed_customers")) == {
        ("lapsed_customers", "CUST-3", None)
    }
    # Retention counts a lapse as a loss, and the purchase after it as a return to activity:
    # in Q2 (days 90-181) CUST-1 lapsed for good, CUST-3 lapsed and bought again.
    assert main(["report", "retention", "--period", "2026-Q2", "--format", "json"]) == 0
    [q2] = json.loads(capsys.readouterr().out)["data"]
    assert (q2["active_at_start"], q2["lost"], q2["lost_lapsed"], q2["retained"]) == (2, 1, 1, 1)


def test_two_schedulers_racing_write_each_fact_once(shop: Settings) -> None:
    apps = [Ledger(shop), Ledger(shop)]
    jobs = [Jobs(app, lapse_days=90) for app in apps]
    barrier = threading.Barrier(2)
    results: list[list[Any]] = [[], []]

    failed: list[BaseException] = []

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = jobs[n].run(T0 + timedelta(days=6))
        except BaseException as error:  # a scheduler that crashed is a failure too
            failed.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed, failed
    facts = results[0] + results[1]
    assert sum(f.outcome == "written" for f in facts) == 4
    events = [type(e).__name__ for e in apps[0].history("customer", "CUST-1")]
    assert Counter(events)["DeadlineMissed"] == 2
    assert Counter(events)["PromiseMarkedOverdue"] == 1
    assert Counter(events)["QuoteExpired"] == 1
    for job in jobs:
        job.close()
    for app in apps:
        app.close()


def test_after_downtime_one_run_catches_up_once(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Ledger(shop)
    app.execute(
        parse_command(
            {
                "type": "make_promise",
                "customer": "CUST-2",
                "rep": "REP-1",
                "text": "call back",
                "due_by": on(30),
                "promise_id": "P-2",
                "occurred_at": on(1),
            }
        ),
        actor="test",
    )
    app.close()
    # Down from day 2 to day 40: the run on day 40 writes what fell due on day 5 and day 30.
    facts = written(once(capsys, on(40), "--job", "overdue_promises"))
    assert facts == {("overdue_promises", "CUST-1", "P-1"), ("overdue_promises", "CUST-2", "P-2")}
    assert written(once(capsys, on(41), "--job", "overdue_promises")) == set()


def test_bad_intervals_are_refused(shop: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scheduler", "--every", "nonsense=5"]) == 2
    assert "--every 'nonsense=5': give JOB=SECONDS" in capsys.readouterr().err
    assert main(["scheduler", "--now", on(1)]) == 2
    assert "--now goes with --once" in capsys.readouterr().err


def test_one_scheduler_of_a_store_acts_at_a_time(shop: Settings) -> None:
    first, second = Leadership(shop), Leadership(shop)
    assert first.try_acquire()
    assert not second.try_acquire()
    taken = threading.Event()
    stop = threading.Event()

    def wait_for_the_lock() -> None:
        if second.acquire(stop, poll=0.05):
            taken.set()

    waiter = threading.Thread(target=wait_for_the_lock)
    waiter.start()
    assert not taken.wait(0.3)  # the second waits while the first holds the lock
    first.release()  # as when its process dies: the lock goes with the file or connection
    assert taken.wait(5)
    waiter.join()
    second.release()


@pytest.mark.slow  # a demo world
def test_on_the_demo_world_the_seeded_overdue_promises_and_expired_quotes(
    store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Ledger(store_env)
    build_world(app, seed=1, customers=40, days=365)
    app.close()
    facts = once(capsys, "2030-01-01T00:00:00Z")
    jobs = Counter(f["job"] for f in facts if f["outcome"] == "written")
    assert jobs["overdue_promises"] > 0 and jobs["expired_quotes"] > 0
    again = once(capsys, "2030-01-01T00:00:00Z")
    assert written(again) == set()  # a second run writes nothing
    assert {f["job"] for f in again} <= {"missed_deadlines"}  # flagged: answered "already"


def test_a_scheduler_whose_store_is_down_says_so_and_keeps_trying() -> None:
    lines: list[str] = []
    said = threading.Event()

    def report(line: str) -> None:
        lines.append(line)
        said.set()

    down = Settings(
        database_url="postgresql://postgres@127.0.0.1:1/test", database_schema="nowhere"
    )
    service = SchedulerService(down, report=report)
    service.start()
    try:
        assert said.wait(30)
        assert "trying again in 5 s" in lines[0]
        assert service.thread.is_alive()  # it has not given up
    finally:
        service.stop()
    assert not service.thread.is_alive()
