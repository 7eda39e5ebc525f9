"""Replays: the same views, computed from the log as known at a time or as occurred by a
time, into a store of their own; replaying "now" gives the live views."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import clock
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.errors import CommandInvalid
from ledger.projections.base import View
from ledger.projections.promises import promises_of
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.sql import Database
from replay.core import Reading, Replay, end_of
from tests.projections.test_live_equals_rebuild import setup_world
from tests.test_properties import BATCH, parsed

Snapshot = dict[str, list[tuple[Any, ...]]]
_worlds = itertools.count()
T0 = datetime(2025, 7, 1, tzinfo=timezone.utc)


def snapshot(db: Database, views: list[View]) -> Snapshot:
    """Every row of every view table, in a comparable form (booleans as 0/1: the replay is a
    SQLite file, the live views may be PostgreSQL's)."""
    found: Snapshot = {}
    for view in views:
        with db.transaction(view.table_names(), commit=False) as tx:
            for logical in view.tables:
                rows = tx.rows(f"SELECT * FROM {{{logical}}}")
                found[logical] = sorted(
                    (
                        tuple(int(v) if isinstance(v, bool) else v for v in row.values())
                        for row in rows
                    ),
                    key=repr,
                )
    return found


def replayed(ledger: Ledger, reading: Reading, **options: Any) -> Snapshot:
    with Replay(ledger, all_views(), reading, **options) as replay:
        replay.run()
        return snapshot(replay.db, all_views())


@pytest.mark.slow  # many random worlds, each replayed
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(BATCH, min_size=1, max_size=3))
def test_a_replay_as_known_now_equals_the_live_views(
    store: Settings, batches: list[list[dict[str, Any]]]
) -> None:
    app = Ledger(store)
    prefix = f"w{next(_worlds)}-"
    setup_world(app, prefix)
    for raw in batches:
        app.execute_many(parsed(raw, prefix), actor="property")
    runner = Runner(app, all_views())
    runner.catch_up()
    assert not runner.failed
    live = snapshot(runner.db, all_views())
    assert replayed(app, Reading()) == live
    runner.close()
    app.close()


def run(ledger: Ledger, recorded: datetime, **command: Any) -> None:
    with clock.recording_at(recorded):
        ledger.execute(parse_command(command), actor="test")


def on(days: float) -> datetime:
    return T0 + timedelta(days=days)


@pytest.fixture
def shop(ledger: Ledger) -> Ledger:
    run(
        ledger,
        on(0),
        type="hire_rep",
        ref="REP-1",
        name="Li Na",
        team="east",
        occurred_at=on(0).isoformat(),
    )
    run(
        ledger,
        on(0),
        type="register_customer",
        ref="CUST-1",
        name="Wang Wei",
        occurred_at=on(0).isoformat(),
    )
    return ledger


def promise(ledger: Ledger, promise_id: str, *, occurred: float, recorded: float) -> None:
    run(
        ledger,
        on(recorded),
        type="make_promise",
        customer="CUST-1",
        rep="REP-1",
        text="Send the samples",
        category="delivery",
        promise_id=promise_id,
        occurred_at=on(occurred).isoformat(),
        due_by=on(occurred + 30).isoformat(),
    )


def test_a_replay_as_known_at_a_time_equals_what_the_live_views_said_then(shop: Ledger) -> None:
    promise(shop, "P-1", occurred=1, recorded=1)
    run(
        shop,
        on(2),
        type="keep_promise",
        customer="CUST-1",
        promise_id="P-1",
        occurred_at=on(2).isoformat(),
    )
    runner = Runner(shop, all_views())
    runner.catch_up()
    then = snapshot(runner.db, all_views())
    promise(shop, "P-2", occurred=1.5, recorded=5)  # happened before day 3, learnt after
    runner.catch_up()
    assert snapshot(runner.db, all_views()) != then
    assert replayed(shop, Reading(as_known_at=on(3))) == then
    runner.close()


def test_a_replay_as_occurred_by_a_time_includes_what_was_learnt_later(
    shop: Ledger, tmp_path: Path
) -> None:
    promise(shop, "P-1", occurred=1, recorded=1)
    promise(shop, "P-LATE", occurred=2, recorded=10)  # happened by day 3, learnt on day 10
    promise(shop, "P-AFTER", occurred=4, recorded=4)  # happened after day 3
    out = tmp_path / "q3.sqlite"
    with Replay(shop, all_views(), Reading(as_occurred_by=on(3)), out=out) as replay:
        replay.run()
        assert [p["promise_id"] for p in promises_of(replay.db, "CUST-1").items] == [
            "P-1",
            "P-LATE",
        ]
    with Replay(shop, all_views(), Reading(as_known_at=on(3))) as replay:
        replay.run()
        assert [p["promise_id"] for p in promises_of(replay.db, "CUST-1").items] == ["P-1"]
        temporary = replay.path
    assert out.exists() and not temporary.exists()  # kept for the analyst; the other is gone
    with pytest.raises(CommandInvalid, match="exists already"):
        Replay(shop, all_views(), Reading(), out=out)
    with pytest.raises(CommandInvalid, match="is not a folder"):
        Replay(shop, all_views(), Reading(), out=tmp_path / "nowhere" / "q3.sqlite")


def test_a_reading_is_one_bound_with_its_offset() -> None:
    with pytest.raises(CommandInvalid, match="not both"):
        Reading(as_known_at=T0, as_occurred_by=T0)
    with pytest.raises(CommandInvalid, match="UTC offset"):
        Reading(as_known_at=datetime(2025, 10, 1))


def test_a_replay_as_known_at_a_time_stops_reading_where_the_log_passed_it(shop: Ledger) -> None:
    for day in range(1, 31):
        promise(shop, f"P-{day}", occurred=day, recorded=day)
    positions = {
        e.promise_id: n.id
        for n in shop.recorder.select_notifications(1, 10**6)
        if (e := shop.mapper.to_domain_event(n)) and hasattr(e, "promise_id")
    }
    head = shop.recorder.max_notification_id() or 0

    # Recorded by day 10 (with an hour's margin): read up to an event recorded after that.
    end = end_of(shop, Reading(as_known_at=on(10)))
    assert positions["P-10"] < end <= positions["P-11"] < head
    assert end_of(shop, Reading(as_known_at=on(30))) == head
    assert end_of(shop, Reading(as_known_at=on(0))) <= positions["P-1"]
    assert end_of(shop, Reading(as_occurred_by=on(10))) == head  # any time may be late
    with Replay(shop, all_views(), Reading(as_known_at=on(10))) as replay:
        replay.run()
        assert [p["promise_id"] for p in promises_of(replay.db, "CUST-1").items] == [
            f"P-{day}" for day in range(1, 11)
        ]
