"""Business time, as a property: random business facts recorded in random orders and with
random lateness are judged alike by the live views, a full rebuild and a replay as occurred
by now, and as a plain computation from business times alone (written here, small and
obviously right) judges them; and a replay as known at T says what the live views said when
the log stood at T."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import clock
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.errors import LedgerError
from ledger.ids import stream_id
from ledger.projections.activity import Activity
from ledger.projections.dossier import Dossier
from ledger.projections.runner import Runner
from ledger.projections.service import Service, violations
from ledger.sql import Database
from replay.core import Reading, Replay
from tests.conftest import T0

VIEWS = (Service, Activity, Dossier)
CHANNELS = ("email", "sms")
REPS = ("REP-1", "REP-2", "REP-3")
_examples = itertools.count()
# Recording times only move forward, across examples too (a reading as known at T relies
# on the log's order being the order of recording).
_recorded = itertools.count()


def on(day: float) -> datetime:
    return T0 + timedelta(days=day)


def recording_time() -> datetime:
    return on(400) + timedelta(minutes=next(_recorded))


# -- the facts ------------------------------------------------------------------------------

day = st.integers(0, 40)
BASE = st.one_of(
    st.tuples(st.just("touch"), day, st.sampled_from(CHANNELS)),
    st.tuples(st.just("consent"), day, st.sampled_from(CHANNELS), st.booleans()),
    st.tuples(st.just("complaint"), day, st.none() | st.integers(0, 10)),  # resolved after
    st.tuples(st.just("purchase"), day, st.sampled_from(["10.00", "99.50", "200.00"])),
    st.tuples(st.just("quote"), day),
    st.tuples(st.just("owner"), day, st.sampled_from(REPS)),
)
# Amendments name a base fact by its index (modulo the number of them).
AMEND = st.one_of(
    st.tuples(st.just("redate"), st.integers(0, 99), day),
    st.tuples(st.just("rechannel"), st.integers(0, 99), st.sampled_from(CHANNELS)),
    st.tuples(st.just("reprice"), st.integers(0, 99), st.sampled_from(["1.00", "55.55"])),
    st.tuples(st.just("retract"), st.integers(0, 99)),
)


@dataclass
class Fact:
    """One base fact as it stands after every amendment accepted (the reference's input)."""

    kind: str
    id: str
    day: float
    recorded: int  # order of recording
    channel: str | None = None
    granted: bool | None = None
    amount: Decimal | None = None
    rep: str | None = None
    resolved: float | None = None  # a complaint's resolution, in days
    retracted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def command(customer: str, fact: tuple[Any, ...], entry: str) -> dict[str, Any]:
    kind, when = fact[0], on(fact[1]).isoformat()
    if kind == "touch":
        return {
            "type": "touch_campaign",
            "customer": customer,
            "campaign": "CMP-P",
            "channel": fact[2],
            "touch_id": entry,
            "occurred_at": when,
        }
    if kind == "consent":
        return {
            "type": "change_consent",
            "customer": customer,
            "channel": fact[2],
            "purpose": "marketing",
            "granted": fact[3],
            "consent_id": entry,
            "occurred_at": when,
        }
    if kind == "complaint":
        return {
            "type": "file_complaint",
            "customer": customer,
            "complaint_id": entry,
            "category": "product",
            "severity": "low",
            "description": "loud",
            "occurred_at": when,
        }
    if kind == "purchase":
        return {
            "type": "record_purchase",
            "customer": customer,
            "order_id": entry,
            "amount": fact[2],
            "currency": "CNY",
            "occurred_at": when,
        }
    if kind == "quote":
        return {
            "type": "issue_quote",
            "customer": customer,
            "rep": "REP-1",
            "quote_id": entry,
            "product": "tea",
            "unit_price": "5.00",
            "currency": "CNY",
            "valid_until": on(fact[1] + 90).isoformat(),
            "occurred_at": when,
        }
    return {
        "type": "assign_owner",
        "customer": customer,
        "rep": fact[2],
        "reason": "moved",
        "occurred_at": when,
    }


# -- the reference ---------------------------------------------------------------------------


def consent_at(facts: list[Fact], channel: str, moment: float) -> bool:
    """The last change of consent on the channel on or before ``moment`` (the one recorded
    last, at one instant) decides; none: consent assumed."""
    changes = sorted(
        (f.day, f.recorded, f.granted)
        for f in facts
        if f.kind == "consent" and f.channel == channel and f.day <= moment
    )
    return bool(changes[-1][2]) if changes else True


def reference(facts: list[Fact], by: float | None = None) -> dict[str, Any]:
    """The judgments from business times alone: of everything, or of what had happened by
    day ``by`` (as corrected)."""
    facts = [f for f in facts if by is None or f.day <= by]
    live = [f for f in facts if not f.retracted]
    periods = [
        (f.id, f.day, f.resolved if by is None or (f.resolved or 0) <= by else None)
        for f in live
        if f.kind == "complaint"
    ]

    def during(moment: float) -> list[str]:
        return [
            cid for cid, start, end in periods if start <= moment and (end is None or moment < end)
        ]

    found = set()
    for f in live:
        if f.kind == "touch":
            if not consent_at(facts, f.channel or "", f.day):
                found.add(("touch_after_opt_out", f.id, ""))
            found |= {("touch_during_open_complaint", f.id, c) for c in during(f.day)}
        if f.kind in ("purchase", "quote"):
            found |= {("sale_during_open_complaint", f.id, c) for c in during(f.day)}
    owners = sorted((f.day, f.recorded, f.rep) for f in facts if f.kind == "owner")
    revenue = sum((f.amount or Decimal(0) for f in live if f.kind == "purchase"), Decimal(0))
    return {"violations": found, "owner": owners[-1][2], "revenue": revenue}


# -- what the ledger says --------------------------------------------------------------------


def judged(db: Database, customer: str) -> dict[str, Any]:
    found = set()
    cursor = None
    while True:
        page = violations(db, limit=500, cursor=cursor)
        for v in page.items:
            if v["customer"] == customer and v["kind"] != "same_material_two_departments":
                related = v["entries"][1]["entry_id"] if len(v["entries"]) > 1 else ""
                found.add((v["kind"], v["entries"][0]["entry_id"], related))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    tables = {**Dossier().table_names(), **Activity().table_names()}
    with db.transaction(tables, commit=False) as tx:
        owner = tx.one("SELECT owner FROM {customers} WHERE ref = ?", (customer,))
        bought = tx.rows(
            "SELECT amount FROM {purchases} WHERE customer = ? AND retracted = ?", (customer, False)
        )
    return {
        "violations": found,
        "owner": owner["owner"] if owner else None,
        "revenue": sum((Decimal(r["amount"]) for r in bought), Decimal(0)),
    }


def views() -> list[Any]:
    return [view() for view in VIEWS]


def caught_up(ledger: Ledger, customer: str) -> dict[str, Any]:
    runner = Runner(ledger, views())
    runner.catch_up()
    assert not runner.failed, runner.failed
    found = judged(runner.db, customer)
    runner.close()
    return found


def rebuilt(ledger: Ledger, customer: str) -> dict[str, Any]:
    """The views dropped and built again from the whole log."""
    runner = Runner(ledger, views())
    for view in runner.views:
        runner.drop(view, "")
    runner.close()
    return caught_up(ledger, customer)


def replayed(ledger: Ledger, customer: str, reading: Reading) -> dict[str, Any]:
    with Replay(ledger, views(), reading) as replay:
        replay.run()
        return judged(replay.db, customer)


def run(ledger: Ledger, fields: dict[str, Any]) -> bool:
    """Record one command at the next recording time: whether it was accepted."""
    with clock.recording_at(recording_time()):
        try:
            ledger.execute(parse_command(fields), actor="property")
        except LedgerError:
            return False
    return True


@pytest.mark.slow  # many random worlds
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.lists(BASE, min_size=1, max_size=12),
    amendments=st.lists(AMEND, max_size=6),
    order=st.randoms(use_true_random=False),
)
def test_late_facts_are_judged_in_business_time_everywhere(
    ledger: Ledger, base: list[tuple[Any, ...]], amendments: list[tuple[Any, ...]], order: Any
) -> None:
    customer = f"CUST-P{next(_examples)}"
    if not ledger.recorder.select_events(stream_id("rep", "REP-1"), limit=1):
        for rep in REPS:
            run(
                ledger,
                {
                    "type": "hire_rep",
                    "ref": rep,
                    "name": rep,
                    "team": "east",
                    "occurred_at": on(-60).isoformat(),
                },
            )
        run(
            ledger,
            {
                "type": "launch_campaign",
                "ref": "CMP-P",
                "name": "P",
                "channel": "email",
                "budget": "1",
                "currency": "CNY",
                "starts_at": on(-60).isoformat(),
                "ends_at": on(300).isoformat(),
                "occurred_at": on(-60).isoformat(),
            },
        )
    assert run(
        ledger,
        {
            "type": "register_customer",
            "ref": customer,
            "name": "P",
            "owner": "REP-1",
            "occurred_at": on(-5).isoformat(),
        },
    )
    facts = [Fact("owner", "", -5, -1, rep="REP-1")]
    sequence = list(enumerate(base))
    order.shuffle(sequence)  # recorded in any order, each long after it happened
    for index, fact in sequence:
        entry = f"E{index}"
        if run(ledger, command(customer, fact, entry)):
            facts.append(
                Fact(
                    fact[0],
                    entry,
                    fact[1],
                    len(facts),
                    channel=(fact[2] if fact[0] in ("touch", "consent") else None),
                    granted=fact[3] if fact[0] == "consent" else None,
                    amount=Decimal(fact[2]) if fact[0] == "purchase" else None,
                    rep=fact[2] if fact[0] == "owner" else None,
                    extra={"resolve_after": fact[2]} if fact[0] == "complaint" else {},
                )
            )
    middle = recording_time()
    then = caught_up(ledger, customer)
    assert then == reference(facts), "the live views, before the follow-ups"
    # Follow-ups, each recorded later still: resolutions and amendments.
    follow_ups: list[tuple[str, Any]] = [
        ("resolve", f)
        for f in facts
        if f.kind == "complaint" and f.extra.get("resolve_after") is not None
    ]
    entries = [f for f in facts if f.id]
    follow_ups += [("amend", (a, entries[a[1] % len(entries)])) for a in amendments if entries]
    order.shuffle(follow_ups)
    for what, subject in follow_ups:
        if what == "resolve":
            at = subject.day + subject.extra["resolve_after"]
            if run(
                ledger,
                {
                    "type": "resolve_complaint",
                    "customer": customer,
                    "complaint_id": subject.id,
                    "resolution": "fixed",
                    "occurred_at": on(at).isoformat(),
                },
            ):
                subject.resolved = at
            continue
        amendment, fact = subject
        field_of = {"redate": "occurred_at", "rechannel": "channel", "reprice": "amount"}
        change: dict[str, Any] = {}
        if amendment[0] in field_of:
            value = amendment[-1]
            change[field_of[amendment[0]]] = (
                on(value).isoformat() if amendment[0] == "redate" else value
            )
        kind = "retract_entry" if amendment[0] == "retract" else "correct_entry"
        fields = {
            "type": kind,
            "customer": customer,
            "entry_id": fact.id,
            "reason": "fix",
            **({"fields": change} if change else {}),
        }
        if run(ledger, fields):  # refused where the entry's kind does not take it
            if kind == "retract_entry":
                fact.retracted = True
            elif "occurred_at" in change:
                fact.day = amendment[-1]
            elif "channel" in change:
                fact.channel = amendment[-1]
            else:
                fact.amount = Decimal(amendment[-1])
    expected = reference(facts)
    assert caught_up(ledger, customer) == expected, "the live views"
    assert rebuilt(ledger, customer) == expected, "a rebuild"
    # Everything had happened by day 60, and every amendment was recorded long after.
    assert replayed(ledger, customer, Reading(as_occurred_by=on(60))) == expected
    assert replayed(ledger, customer, Reading(as_occurred_by=on(20))) == reference(facts, 20)
    assert replayed(ledger, customer, Reading(as_known_at=middle)) == then
