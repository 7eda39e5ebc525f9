"""Events and registrations: a campaign launched as an event (a seminar) with a date and a
capacity; customers register, registrations are confirmed (each takes a seat) or declined
(a confirmed one declined frees its seat), attendance is recorded once the event is held.

Open registrations beyond the capacity are the waiting list: a confirmation past capacity is
refused and the registration stays open until a seat frees (or it is declined)."""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.aggregates import Campaign, Customer
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.commands.results import CommandResult
from ledger.config import Settings
from ledger.errors import CommandInvalid, LedgerError, RuleViolation, VersionConflict
from tests.conftest import at, of_type, run, stored_event_count

SEMINAR = {
    "type": "launch_campaign",
    "ref": "SEM-1",
    "name": "春季品茶研讨会",
    "channel": "event",
    "budget": "8000",
    "currency": "CNY",
    "starts_at": at(-10),
    "ends_at": at(40),
    "kind": "seminar",
    "event_at": at(30),
    "capacity": 2,
    "occurred_at": at(-10),
}


SEMINAR_BUDGET = Decimal(8000)
T_MINUS_10, T_PLUS_40 = datetime.fromisoformat(at(-10)), datetime.fromisoformat(at(40))


def customers(app: Ledger, *refs: str, owner: str = "REP-1") -> None:
    for ref in refs:
        run(
            app,
            type="register_customer",
            ref=ref,
            name=f"客户 {ref}",
            owner=owner,
            occurred_at=at(-5),
        )


def register(app: Ledger, customer: str, **fields: Any) -> CommandResult:
    result: CommandResult = run(
        app,
        **{
            "type": "register_for_event",
            "customer": customer,
            "campaign": "SEM-1",
            "respond_by": at(3),
            "registration_id": "REG-1",
            "occurred_at": at(0),
            **fields,
        },
    )
    return result


def confirm(app: Ledger, customer: str, day: float = 1) -> CommandResult:
    result: CommandResult = run(
        app,
        type="confirm_registration",
        customer=customer,
        registration_id="REG-1",
        occurred_at=at(day),
    )
    return result


@pytest.fixture
def seminar(world: Ledger) -> Ledger:
    run(world, **SEMINAR)
    customers(world, "CUST-2", "CUST-3")
    return world


def test_a_registration_names_its_event_and_is_its_owners_to_answer(seminar: Ledger) -> None:
    result = register(seminar, "CUST-1", note="带一位同事")
    assert (result.entry_id, [e.type for e in result.events]) == (
        "REG-1",
        [Customer.RegistrationReceived.__name__],
    )
    (received,) = of_type(seminar.history("customer", "CUST-1")[-1:], Customer.RegistrationReceived)
    assert (received.campaign, received.rep, received.note) == ("SEM-1", "REP-1", "带一位同事")
    registration = seminar.customer("CUST-1").registration("REG-1")
    assert (registration["status"], registration["respond_by"].isoformat()) == ("open", at(3))
    assert "REP-1" in seminar.customer("CUST-1").holders().responsible


def test_confirming_takes_a_seat_and_past_capacity_is_refused_leaving_it_open(
    seminar: Ledger,
) -> None:
    for ref in ("CUST-1", "CUST-2", "CUST-3"):
        register(seminar, ref)
    written = confirm(seminar, "CUST-1")
    assert [e.type for e in written.events] == [Customer.RegistrationConfirmed.__name__]
    confirm(seminar, "CUST-2")
    before = stored_event_count(seminar)
    with pytest.raises(RuleViolation, match=r"event SEM-1 is full: 2 of 2 seats") as refused:
        confirm(seminar, "CUST-3")
    assert refused.value.rule == "event_full"
    assert stored_event_count(seminar) == before  # nothing of it written, on either aggregate
    assert seminar.customer("CUST-3").registration("REG-1")["status"] == "open"
    assert sorted(seminar.campaign("SEM-1").seats) == ["CUST-1/REG-1", "CUST-2/REG-1"]
    seats = of_type(seminar.history("campaign", "SEM-1")[1:], Campaign.SeatTaken)
    assert [(e.customer, e.registration_id) for e in seats] == [
        ("CUST-1", "REG-1"),
        ("CUST-2", "REG-1"),
    ]


def test_a_confirmed_registration_declined_frees_its_seat_for_the_one_waiting(
    seminar: Ledger,
) -> None:
    for ref in ("CUST-1", "CUST-2", "CUST-3"):
        register(seminar, ref)
    confirm(seminar, "CUST-1")
    confirm(seminar, "CUST-2")
    run(
        seminar,
        type="decline_registration",
        customer="CUST-2",
        registration_id="REG-1",
        reason="行程冲突, cancelled",
        occurred_at=at(2),
    )
    assert seminar.customer("CUST-2").registration("REG-1")["status"] == "declined"
    confirm(seminar, "CUST-3", day=2)
    assert sorted(seminar.campaign("SEM-1").seats) == ["CUST-1/REG-1", "CUST-3/REG-1"]
    with pytest.raises(RuleViolation, match="registration REG-1 is already declined"):
        confirm(seminar, "CUST-2", day=3)


def test_attendance_is_recorded_once_for_a_confirmed_registration_once_the_event_is_held(
    seminar: Ledger,
) -> None:
    register(seminar, "CUST-1")
    register(seminar, "CUST-2")
    confirm(seminar, "CUST-1")
    attend = {"type": "record_attendance", "registration_id": "REG-1", "attended": True}
    with pytest.raises(RuleViolation, match="REG-1 is open, not confirmed") as refused:
        run(seminar, **attend, customer="CUST-2", occurred_at=at(30))
    assert refused.value.rule == "registration_not_confirmed"
    with pytest.raises(RuleViolation, match="takes place on .*; attendance cannot be recorded"):
        run(seminar, **attend, customer="CUST-1", occurred_at=at(29))
    run(seminar, **attend, customer="CUST-1", occurred_at=at(30, hours=2))
    with pytest.raises(RuleViolation, match="was recorded already \\(attended\\)"):
        run(seminar, **{**attend, "attended": False}, customer="CUST-1", occurred_at=at(31))
    with pytest.raises(RuleViolation, match="can no longer be declined"):
        run(
            seminar,
            type="decline_registration",
            customer="CUST-1",
            registration_id="REG-1",
            reason="late",
            occurred_at=at(31),
        )


@pytest.mark.parametrize(
    ("change", "rule", "message"),
    [
        ({"campaign": "CMP-EXPO"}, "not_an_event", "CMP-EXPO is not an event"),
        ({"occurred_at": at(31), "respond_by": at(32)}, "event_already_held", "took place"),
    ],
)
def test_a_registration_is_for_an_event_not_yet_held(
    seminar: Ledger, change: dict[str, Any], rule: str, message: str
) -> None:
    before = stored_event_count(seminar)
    with pytest.raises(RuleViolation, match=message) as refused:
        run(
            seminar,
            **{
                "type": "register_for_event",
                "customer": "CUST-1",
                "campaign": "SEM-1",
                "respond_by": at(3),
                "occurred_at": at(0),
                **change,
            },
        )
    assert refused.value.rule == rule
    assert stored_event_count(seminar) == before


def test_a_customer_registers_once_for_an_event_until_declined(seminar: Ledger) -> None:
    register(seminar, "CUST-1")
    with pytest.raises(RuleViolation, match="registered for SEM-1 already") as refused:
        register(seminar, "CUST-1", registration_id="REG-2")
    assert refused.value.rule == "already_registered"


def test_a_confirmation_is_not_dated_before_its_registration(seminar: Ledger) -> None:
    register(seminar, "CUST-1")
    with pytest.raises(RuleViolation, match="before the entry it concerns"):
        confirm(seminar, "CUST-1", day=-1)


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"kind": "seminar"}, "event_at"),
        ({"event_at": at(5)}, "kind"),
        ({"capacity": 10}, "capacity"),
        ({"kind": "party", "event_at": at(5)}, "kind"),
        ({"kind": "training", "event_at": at(5), "capacity": 0}, "capacity"),
    ],
)
def test_an_event_takes_a_kind_and_a_date_and_a_positive_capacity(
    fields: dict[str, Any], where: str
) -> None:
    plain = {k: v for k, v in SEMINAR.items() if k not in ("kind", "event_at", "capacity")}
    with pytest.raises(CommandInvalid) as refused:
        parse_command({**plain, **fields})
    assert refused.value.where == where


def test_a_registration_needs_a_respond_by_not_before_it() -> None:
    with pytest.raises(CommandInvalid) as refused:
        parse_command(
            {
                "type": "register_for_event",
                "customer": "CUST-1",
                "campaign": "SEM-1",
                "respond_by": at(-1),
                "occurred_at": at(0),
            }
        )
    assert "respond_by" in str(refused.value)
    with pytest.raises(CommandInvalid) as missing:
        parse_command({"type": "register_for_event", "customer": "CUST-1", "campaign": "SEM-1"})
    assert missing.value.where == "respond_by"


def test_two_confirmations_of_the_last_seat_at_once_do_not_both_succeed(
    seminar: Ledger, store: Settings
) -> None:
    """Each writer holds its own ledger (as two API processes would): both load the campaign
    with one seat left; the store's optimistic concurrency on the campaign lets one through."""
    run(
        seminar,
        type="launch_campaign",
        **{k: v for k, v in SEMINAR.items() if k != "type"} | {"ref": "SEM-2", "capacity": 1},
    )
    for ref in ("CUST-2", "CUST-3"):
        run(
            seminar,
            type="register_for_event",
            customer=ref,
            campaign="SEM-2",
            respond_by=at(3),
            registration_id="REG-9",
            occurred_at=at(0),
        )
    ready = threading.Barrier(2)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def writer(ref: str) -> None:
        app = Ledger(store)
        app.campaign("SEM-2")  # loaded (and cached) before either writes
        command = parse_command(
            {
                "type": "confirm_registration",
                "customer": ref,
                "registration_id": "REG-9",
                "occurred_at": at(1),
            }
        )
        ready.wait()
        try:
            outcome: Any = app.execute(command, actor=ref)
        except LedgerError as error:
            outcome = error
        with lock:
            outcomes.append(outcome)
        app.close()

    threads = [threading.Thread(target=writer, args=(ref,)) for ref in ("CUST-2", "CUST-3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = [o for o in outcomes if isinstance(o, CommandResult)]
    refused = [o for o in outcomes if not isinstance(o, CommandResult)]
    assert len(written) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], VersionConflict) or getattr(refused[0], "rule", "") == (
        "event_full"
    )
    assert list(seminar.campaign("SEM-2").seats) == [f"{written[0].ref}/REG-9"]
    loser = "CUST-3" if written[0].ref == "CUST-2" else "CUST-2"
    assert seminar.customer(loser).registration("REG-9")["status"] == "open"


def test_a_campaign_launched_before_events_existed_still_loads_and_is_no_event(
    world: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written before campaigns could be events holds Launched events of the first
    class version, without kind, event_at and capacity: they load as campaigns that are not
    events (the event class upcasts them)."""
    plain = Campaign(
        ref="CMP-OLD",
        name="Old mailing",
        channel="letter",
        budget=SEMINAR_BUDGET,
        currency="CNY",
        starts_at=T_MINUS_10,
        ends_at=T_PLUS_40,
        material=None,
        department=None,
        kind=None,
        event_at=None,
        capacity=None,
        occurred_at=T_MINUS_10,
        actor="test",
    )
    (launched,) = plain.collect_events()
    for name in ("kind", "event_at", "capacity"):
        del launched.__dict__[name]
    with monkeypatch.context() as patch:
        patch.setattr(Campaign.Launched, "class_version", 1)
        stored = world.mapper.to_stored_event(launched)
    assert b"capacity" not in stored.state and b"class_version" not in stored.state
    world.recorder.insert_events([stored])
    old = world.campaign("CMP-OLD")
    assert (old.name, old.kind, old.event_at, old.capacity) == ("Old mailing", None, None, None)
    run(world, type="touch_campaign", customer="CUST-1", campaign="CMP-OLD", occurred_at=at(1))
    with pytest.raises(RuleViolation, match="CMP-OLD is not an event"):
        run(
            world,
            type="register_for_event",
            customer="CUST-1",
            campaign="CMP-OLD",
            respond_by=at(3),
            occurred_at=at(1),
        )
