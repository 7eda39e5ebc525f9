"""`ledger scheduler` as processes: one acts, another waits and takes over when the first is
killed; `ledger serve --with-scheduler` runs the jobs too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.aggregates.customer import Customer
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.config import Settings
from tests.cli.test_serve import free_port

pytestmark = pytest.mark.slow  # schedulers and a server run as processes of their own


def promise_due_long_ago(store: Settings, promise_id: str) -> None:
    ledger = Ledger(store)
    if promise_id == "P-1":
        ledger.execute_many(
            [
                parse_command(c)
                for c in (
                    {
                        "type": "hire_rep",
                        "ref": "REP-1",
                        "name": "Li",
                        "team": "t",
                        "occurred_at": "2019-01-01T00:00:00Z",
                    },
                    {
                        "type": "register_customer",
                        "ref": "CUST-1",
                        "name": "Wang",
                        "occurred_at": "2019-01-01T00:00:00Z",
                    },
                )
            ],
            actor="test",
        )
    ledger.execute(
        parse_command(
            {
                "type": "make_promise",
                "customer": "CUST-1",
                "rep": "REP-1",
                "text": "samples",
                "promise_id": promise_id,
                "occurred_at": "2019-01-02T00:00:00Z",
                "due_by": "2019-02-01T00:00:00Z",
            }
        ),
        actor="test",
    )
    ledger.close()


def overdue(store: Settings) -> set[str]:
    ledger = Ledger(store)
    try:
        return {
            e.promise_id
            for e in ledger.history("customer", "CUST-1")
            if isinstance(e, Customer.PromiseMarkedOverdue)
        }
    finally:
        ledger.close()


def until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.1)


def scheduler(log: Path, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ledger.cli.main", *options],
        stderr=log.open("wb"),
        env=os.environ.copy(),
    )


def test_a_waiting_scheduler_takes_over_when_the_first_is_killed(
    store_env: Settings, tmp_path: Path
) -> None:
    promise_due_long_ago(store_env, "P-1")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = scheduler(first_log, "scheduler", "--interval", "0.3")
    second = None
    try:
        until(lambda: overdue(store_env) == {"P-1"}, "the first scheduler marks P-1")
        second = scheduler(second_log, "scheduler", "--interval", "0.3")
        until(lambda: "waiting to take over" in second_log.read_text(), "the second waits")
        first.kill()  # dies without letting go: the lock goes with its process
        first.wait(timeout=10)
        promise_due_long_ago(store_env, "P-2")
        until(lambda: overdue(store_env) == {"P-1", "P-2"}, "the second takes over")
        assert "holding the lock" in second_log.read_text()
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()


def test_serve_with_scheduler_runs_the_jobs(store_env: Settings, tmp_path: Path) -> None:
    promise_due_long_ago(store_env, "P-1")
    server = scheduler(
        tmp_path / "serve.log",
        "serve",
        "--port",
        str(free_port()),
        "--log-level",
        "warning",
        "--with-scheduler",
        "--scheduler-interval",
        "0.3",
    )
    try:
        until(lambda: overdue(store_env) == {"P-1"}, "serve's scheduler marks P-1")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
