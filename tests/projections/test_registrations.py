"""Registrations for events in the views, in business time: the service inbox lists a
registration neither confirmed nor declined by its respond-by (to its customer's owner), a
confirmation recorded late but dated before the respond-by clears it as of then; the
campaigns report counts registrations, confirmations and attendance against spend, as known
at a time and as occurred by it; the customer's timeline tells the story."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.projections.activity import Activity
from ledger.projections.events import event_of, registrations_of
from ledger.projections.queries import service_inbox, timeline_of
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.projections.service import Service
from ledger.projections.timeline import Timeline
from ledger.sql import Database
from replay.catalogue import Ask, report
from replay.core import Reading
from tests.conftest import T0, at, run


def on(days: float) -> datetime:
    return T0 + timedelta(days=days)


def recorded(app: Ledger, when: float, **command: Any) -> None:
    """A command recorded on day ``when`` (whatever its occurred_at says)."""
    [outcome] = app.execute_many([parse_command(command)], actor="test", recorded_at=[on(when)])
    assert not isinstance(outcome, Exception), outcome


def caught_up(app: Ledger) -> Database:
    runner = Runner(app, [Service(), Activity(), Timeline()])
    runner.catch_up()
    assert not runner.failed, runner.failed
    return runner.db


@pytest.fixture
def seminar(world: Ledger) -> Ledger:
    """SEM-1, a seminar on day 30 for 2 people, 3,000 CNY spent on day 1; CUST-1 (owned by
    REP-1) registers on day 0, to be answered by day 3; CUST-2 (REP-2's) on day 1, by day 4,
    naming REP-1 to answer it."""
    recorded(
        world,
        -10,
        type="launch_campaign",
        ref="SEM-1",
        name="品茶研讨会",
        channel="event",
        budget="5000",
        currency="CNY",
        starts_at=at(-10),
        ends_at=at(40),
        kind="seminar",
        event_at=at(30),
        capacity=2,
        occurred_at=at(-10),
    )
    recorded(
        world,
        1,
        type="record_campaign_cost",
        campaign="SEM-1",
        amount="3000",
        currency="CNY",
        occurred_at=at(1),
    )
    recorded(
        world,
        -5,
        type="register_customer",
        ref="CUST-2",
        name="Tom",
        owner="REP-2",
        occurred_at=at(-5),
    )
    for ref, day, rep in (("CUST-1", 0, None), ("CUST-2", 1, "REP-1")):
        recorded(
            world,
            day,
            type="register_for_event",
            customer=ref,
            campaign="SEM-1",
            registration_id="REG-1",
            respond_by=at(day + 3),
            note="想了解普洱",
            occurred_at=at(day),
            **({"rep": rep} if rep else {}),
        )
    return world


def test_an_unanswered_registration_is_in_its_owners_inbox_past_its_respond_by(
    seminar: Ledger,
) -> None:
    db = caught_up(seminar)
    assert service_inbox(db, as_of=on(2.9)).items == []
    [item] = service_inbox(db, as_of=on(3.5)).items
    assert {k: item[k] for k in ("item", "customer", "id", "what", "rep", "due")} == {
        "item": "registration",
        "customer": "CUST-1",
        "id": "REG-1",
        "what": "SEM-1",
        "rep": "REP-1",  # the customer's owner
        "due": "2025-03-04T09:00:00.000000Z",
    }
    assert item["overdue_hours"] == 12
    assert [i["customer"] for i in service_inbox(db, as_of=on(5), rep="REP-1").items] == [
        "CUST-1",
        "CUST-2",  # REP-2's customer, but the registration named REP-1 to answer it
    ]
    assert service_inbox(db, as_of=on(5), rep="REP-2").items == []


def test_a_confirmation_recorded_late_clears_the_inbox_as_of_when_it_happened(
    seminar: Ledger,
) -> None:
    assert [i["id"] for i in service_inbox(caught_up(seminar), as_of=on(4)).items] == ["REG-1"]
    recorded(
        seminar,
        6,
        type="confirm_registration",
        customer="CUST-1",
        registration_id="REG-1",
        occurred_at=at(2),
    )
    db = caught_up(seminar)
    assert [i["customer"] for i in service_inbox(db, as_of=on(4)).items] == []
    assert [i["customer"] for i in service_inbox(db, as_of=on(5)).items] == ["CUST-2"]
    recorded(
        seminar,
        6,
        type="decline_registration",
        customer="CUST-2",
        registration_id="REG-1",
        reason="名额已满",
        occurred_at=at(6),
    )
    db = caught_up(seminar)
    # Late (day 6, past day 4): listed as of day 5, no longer as of day 6.
    assert [i["customer"] for i in service_inbox(db, as_of=on(5)).items] == ["CUST-2"]
    assert service_inbox(db, as_of=on(6)).items == []


def story(seminar: Ledger) -> None:
    """CUST-1 confirmed on day 2 (recorded on day 6), attends on day 30; CUST-2 confirmed on
    day 3, then cancels on day 20."""
    for ref, day, recorded_on in (("CUST-1", 2, 6), ("CUST-2", 3, 3)):
        recorded(
            seminar,
            recorded_on,
            type="confirm_registration",
            customer=ref,
            registration_id="REG-1",
            occurred_at=at(day),
        )
    recorded(
        seminar,
        20,
        type="decline_registration",
        customer="CUST-2",
        registration_id="REG-1",
        reason="出差",
        occurred_at=at(20),
    )
    recorded(
        seminar,
        30.5,
        type="record_attendance",
        customer="CUST-1",
        registration_id="REG-1",
        attended=True,
        occurred_at=at(30, hours=3),
    )


EVENT_COLUMNS = ("registrations", "confirmed", "declined", "attended", "no_shows")


def campaign_row(app: Ledger, reading: Reading) -> dict[str, Any]:
    found = report(app, Ask("campaigns", period="2025-03"), reading)
    [row] = [row for row in found.rows if row["campaign"] == "SEM-1"]
    return row


def test_the_campaigns_report_counts_registrations_and_attendance_against_spend(
    seminar: Ledger,
) -> None:
    story(seminar)
    row = campaign_row(seminar, Reading())
    assert {k: row[k] for k in ("event", "event_at", "capacity", "spend")} == {
        "event": "seminar",
        "event_at": "2025-03-31T09:00:00.000000Z",
        "capacity": 2,
        "spend": "3000",
    }
    assert [row[k] for k in EVENT_COLUMNS] == [2, 1, 1, 1, 0]
    assert row["spend_per_attendee"] == "3000.00"
    totals = report(seminar, Ask("campaigns", period="2025-03"), Reading()).totals
    assert [totals[k] for k in EVENT_COLUMNS] == [2, 1, 1, 1, 0]


def test_the_campaigns_report_as_known_at_and_as_occurred_by_a_time(seminar: Ledger) -> None:
    story(seminar)
    # On day 4 the late confirmation of CUST-1 was not known yet; it had happened by then.
    known = campaign_row(seminar, Reading(as_known_at=on(4)))
    assert [known[k] for k in EVENT_COLUMNS] == [2, 1, 0, 0, 0]
    occurred = campaign_row(seminar, Reading(as_occurred_by=on(4)))
    assert [occurred[k] for k in EVENT_COLUMNS] == [2, 2, 0, 0, 0]
    assert occurred["spend_per_attendee"] is None  # nobody had attended yet
    # By day 25 CUST-2 had cancelled; nobody had attended.
    later = campaign_row(seminar, Reading(as_occurred_by=on(25)))
    assert [later[k] for k in EVENT_COLUMNS] == [2, 1, 1, 0, 0]


def test_an_events_registrations_and_seats_as_they_stand(seminar: Ledger) -> None:
    story(seminar)
    db = caught_up(seminar)
    event = event_of(db, "SEM-1")
    assert {k: event[k] for k in ("kind", "capacity", *EVENT_COLUMNS, "open", "seats_left")} == {
        "kind": "seminar",
        "capacity": 2,
        "registrations": 2,
        "confirmed": 1,
        "declined": 1,
        "attended": 1,
        "no_shows": 0,
        "open": 0,
        "seats_left": 1,
    }
    rows = registrations_of(db, "SEM-1").items
    assert [(r["customer"], r["status"], r["attended"], r["note"]) for r in rows] == [
        ("CUST-1", "confirmed", True, "想了解普洱"),
        ("CUST-2", "declined", None, "想了解普洱"),
    ]
    assert rows[1]["reason"] == "出差" and rows[1]["confirmed_at"] is not None
    assert registrations_of(db, "SEM-1", reps={"REP-2"}).items == []


def test_the_customers_timeline_tells_the_registration_story(seminar: Ledger) -> None:
    story(seminar)
    db = Database.of(seminar)
    Runner(seminar, [Timeline()]).catch_up()
    lines = [
        line["summary"] for line in timeline_of(db, "CUST-1").items if line["entry_id"] == "REG-1"
    ]
    assert lines == [
        "registration REG-1 for SEM-1 (web), respond by 2025-03-04: 想了解普洱",
        "registration REG-1 confirmed",
        "registration REG-1: attended",
    ]


def test_live_views_kept_batch_by_batch_equal_a_rebuild(seminar: Ledger) -> None:
    """Responsibility moves with the owner (the registration is open work); the views kept
    as the story is written, a batch at a time, equal their rebuild."""
    live = Runner(seminar, all_views())
    live.catch_up()
    run(
        seminar,
        type="assign_owner",
        customer="CUST-1",
        rep="REP-2",
        reason="REP-1 moves to key accounts",
        open_items="move",
        occurred_at=at(1),
    )
    live.catch_up()
    assert [i["customer"] for i in service_inbox(live.db, as_of=on(4), rep="REP-2").items] == [
        "CUST-1"
    ]
    story(seminar)
    live.catch_up()
    assert not live.failed, live.failed
    for view in all_views():
        assert live.rebuild(view, verify=True), f"{view.name} differs from its rebuild"
