"""Views kept live (event by event, in batches, with crashes and restarts) equal a rebuild."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.demo import build_world
from ledger.projections.activity import Activity
from ledger.projections.base import Refs, View
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.sql import ViewDb, Writes, iso
from tests.conftest import T0
from tests.test_properties import BATCH, CUSTOMERS, REPS, in_world, parsed

_worlds = itertools.count()


def crashing(inner: View, after: int) -> View:
    """``inner``, dying on its n-th event, as a process killed mid-batch would."""

    class Crashing(View):
        name, tables, indexes, version = inner.name, inner.tables, inner.indexes, inner.version
        left = after

        def apply(self, db: ViewDb, events: Sequence[Any], refs: Refs) -> None:
            inner.apply(db, events, refs)
            self.left -= len(events)
            if self.left < 0:
                raise RuntimeError("crash")

    return Crashing()


def setup_world(app: Ledger, prefix: str) -> None:
    start = T0.isoformat()
    app.execute_many(
        [
            parse_command(in_world(d, prefix))
            for d in (
                *(
                    {"type": "hire_rep", "ref": r, "name": "A", "team": "t", "occurred_at": start}
                    for r in REPS
                ),
                {
                    "type": "launch_campaign",
                    "ref": "K1",
                    "name": "K",
                    "channel": "email",
                    "budget": "9",
                    "currency": "CNY",
                    "starts_at": start,
                    "ends_at": "2030-01-01T00:00:00Z",
                },
                *(
                    {"type": "register_customer", "ref": c, "name": "N", "occurred_at": start}
                    for c in CUSTOMERS
                ),
            )
        ],
        actor="setup",
    )


@pytest.mark.slow  # many random worlds, each kept live and rebuilt
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(BATCH, min_size=1, max_size=4),
    batch_sizes=st.lists(st.integers(1, 9), min_size=4, max_size=4),
    crash_after=st.integers(0, 30),
)
def test_views_kept_live_with_a_crash_equal_a_rebuild(
    store: Settings, batches: list[list[dict[str, Any]]], batch_sizes: list[int], crash_after: int
) -> None:
    app = Ledger(store)
    setup_world(app, f"w{next(_worlds)}-")
    prefix = f"w{next(_worlds) - 1}-"
    views = [crashing(view, crash_after) for view in all_views()]
    runner = Runner(app, views, batch_size=batch_sizes[0])
    for n, raw in enumerate(batches):
        app.execute_many(parsed(raw, prefix), actor="property")
        runner.catch_up()
        if runner.failed:  # restart after the crash, with other batch sizes
            runner = Runner(app, all_views(), batch_size=batch_sizes[(n + 1) % 4])
            runner.catch_up()
    runner = Runner(app, all_views(), batch_size=batch_sizes[-1])
    runner.catch_up()
    assert not runner.failed
    head = app.recorder.max_notification_id()
    assert all(status.position == head for status in runner.status())
    for view in all_views():
        assert runner.rebuild(view, verify=True), f"{view.name} differs from its rebuild"
    app.close()


@pytest.mark.slow  # runners as processes, killed
def test_killing_the_runner_mid_batch_loses_and_duplicates_nothing(store: Settings) -> None:
    app = Ledger(store)
    build_world(app, seed=3, customers=60, days=400)
    env = {
        **os.environ,
        "LEDGER_DATA_DIR": str(store.data_dir),
        "LEDGER_DATABASE_SCHEMA": store.database_schema,
    }
    env.pop("LEDGER_DATABASE_URL", None)
    if store.database_url:
        env["LEDGER_DATABASE_URL"] = store.database_url
    command = [sys.executable, "-m", "ledger.cli.main", "projections", "run"]
    watcher = Runner(app, all_views())
    for _ in range(2):
        runner = subprocess.Popen(
            [*command, "--batch-size", "20"], env=env, stderr=subprocess.DEVNULL
        )
        before = min(s.position for s in watcher.status())
        while all(s.position == before for s in watcher.status()):
            time.sleep(0.01)  # until the runner has committed at least one more batch
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    assert any(s.lag > 0 for s in watcher.status()), "killed after it had finished"
    finished = subprocess.run([*command, "--once"], env=env, capture_output=True)
    assert finished.returncode == 0, finished.stderr
    assert all(s.lag == 0 for s in watcher.status())
    verified = subprocess.run(
        [sys.executable, "-m", "ledger.cli.main", "projections", "rebuild", "--verify"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count("identical to the live view") == len(all_views())
    app.close()


@pytest.mark.slow  # two runners racing over a larger log
def test_two_runners_on_one_store_neither_skip_nor_repeat(store: Settings) -> None:
    app = Ledger(store)
    build_world(app, seed=5, customers=30, days=300)
    runners = [Runner(Ledger(store), all_views(), batch_size=n) for n in (37, 101)]
    threads = [threading.Thread(target=r.catch_up) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not any(r.failed for r in runners), [r.failed for r in runners]
    assert all(s.lag == 0 for s in runners[0].status())
    for view in all_views():
        assert runners[0].rebuild(view, verify=True), f"{view.name} differs from its rebuild"
    app.close()


class OlderActivity(Activity):
    """The activity view as an earlier version of the code defined it: contacts had no rep,
    and nobody counted them per rep."""

    tables: ClassVar[dict[str, str]] = {
        **{name: columns for name, columns in Activity.tables.items() if name != "rep_contacts"},
        "contacts": "customer TEXT NOT NULL, contact_id TEXT NOT NULL, channel TEXT NOT NULL,"
        " direction TEXT NOT NULL, occurred_at TEXT NOT NULL,"
        " retracted {bool} NOT NULL, PRIMARY KEY (customer, contact_id)",
    }
    indexes: ClassVar[list[tuple[str, str]]] = []

    def contact_logged(self, db: Writes, e: Any, customer: str) -> None:
        db.later(
            "INSERT INTO {contacts} VALUES (?, ?, ?, ?, ?, ?)",
            (customer, e.contact_id, e.channel, e.direction, iso(e.occurred_at), False),
        )

    def contact_rep(self, db: Writes, customer: str, entry_id: str) -> str | None:
        return None


def test_a_view_an_earlier_version_built_is_rebuilt_on_the_next_run(store: Settings) -> None:
    app = Ledger(store)
    build_world(app, seed=3, customers=12, days=120)
    older = Runner(app, [OlderActivity()])
    older.catch_up()
    older.close()

    runner = Runner(app, all_views())
    assert [s.view for s in runner.status() if s.rebuild_pending] == ["activity"]
    runner.catch_up()

    assert not runner.failed and not any(s.rebuild_pending for s in runner.status())
    assert all(s.lag == 0 for s in runner.status())
    with runner.db.transaction(Activity().table_names(), commit=False) as tx:
        reps = tx.rows("SELECT DISTINCT rep FROM {contacts} ORDER BY rep")
    assert reps and all(row["rep"].startswith("REP-") for row in reps)
    assert runner.rebuild(Activity(), verify=True)
    runner.close()
    assert Runner(app, all_views()).outdated == []  # the new shape is on record
    app.close()


class ActivityMeaningMore(Activity):
    version = Activity.version + 1


def test_a_view_whose_version_was_raised_is_rebuilt_too(store: Settings) -> None:
    app = Ledger(store)
    build_world(app, seed=3, customers=12, days=120)
    Runner(app, [Activity()]).catch_up()

    runner = Runner(app, [ActivityMeaningMore()])
    assert [s.view for s in runner.status() if s.rebuild_pending] == ["activity"]
    runner.catch_up()
    assert Runner(app, [ActivityMeaningMore()]).outdated == []
    assert [s.view for s in Runner(app, [Activity()]).status() if s.rebuild_pending] == [
        "activity"
    ]  # the earlier version would be rebuilt in turn
    app.close()
