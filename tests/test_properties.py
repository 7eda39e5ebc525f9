"""Invariants over random command sequences, on SQLite and PostgreSQL.

- reloading an aggregate from the store (snapshots included) gives the in-memory state;
- a refused command changes no aggregate, and only accepted commands reach the store.
"""

from __future__ import annotations

import copy
import itertools
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Batch, Ledger
from ledger.commands import Command, parse_command
from ledger.commands.results import CommandResult
from ledger.config import Settings
from ledger.errors import LedgerError
from tests.conftest import T0, stored_event_count

CUSTOMERS = ("C1", "C2")
REPS = ("R1", "R2", "R3")
KINDS = ("K", "R", "Q", "P", "T", "C", "O")
LEVELS = ("very_satisfied", "neutral", "dissatisfied")

day = st.integers(0, 30).map(lambda d: on(d))
text = st.sampled_from(["ok", "价格", "  padded  ", "fine", ""])
customer, rep = st.sampled_from(CUSTOMERS), st.sampled_from(REPS)


def ids(kind: str) -> st.SearchStrategy[str]:
    return st.sampled_from([f"{kind}1", f"{kind}2"])


entry = st.one_of(*(ids(k) for k in KINDS))
money = st.sampled_from(["1", "9.99", "1280.00", "-5", "0"])


def shape(type_: str, **fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"type": st.just(type_), "occurred_at": day, **fields})


COMMAND = st.one_of(
    shape("register_customer", ref=customer, name=text, owner=st.none() | rep),
    shape("update_profile", customer=customer, email=st.just("a@b.cn")),
    shape("assign_owner", customer=customer, rep=rep, reason=text),
    shape(
        "log_contact",
        customer=customer,
        rep=rep,
        channel=st.sampled_from(["phone", "email"]),
        direction=st.just("in"),
        subject=text,
        contact_id=ids("K"),
    ),
    shape(
        "receive_request",
        customer=customer,
        kind=st.just("repair"),
        channel=st.just("web"),
        respond_by=day,
        request_id=ids("R"),
    ),
    shape(
        "answer_request", customer=customer, request_id=ids("R"), rep=rep, channel=st.just("web")
    ),
    shape(
        "issue_quote",
        customer=customer,
        rep=rep,
        product=st.just("tea"),
        unit_price=money,
        currency=st.just("CNY"),
        valid_until=day,
        quote_id=ids("Q"),
    ),
    *(
        shape(t, customer=customer, quote_id=ids("Q"))
        for t in ("accept_quote", "decline_quote", "expire_quote", "withdraw_quote")
    ),
    shape(
        "make_promise",
        customer=customer,
        rep=rep,
        text=text,
        due_by=day,
        promise_id=ids("P"),
        quote_id=st.none() | ids("Q"),
    ),
    *(
        shape(t, customer=customer, promise_id=ids("P"))
        for t in ("keep_promise", "break_promise", "cancel_promise", "mark_promise_overdue")
    ),
    shape("touch_campaign", customer=customer, campaign=st.just("K1"), touch_id=ids("T")),
    shape("change_consent", customer=customer, channel=st.just("email"), granted=st.booleans()),
    shape(
        "file_complaint",
        customer=customer,
        category=st.just("product"),
        severity=st.just("low"),
        description=text,
        complaint_id=ids("C"),
    ),
    shape("escalate_complaint", customer=customer, complaint_id=ids("C"), to=st.just("team")),
    shape("resolve_complaint", customer=customer, complaint_id=ids("C"), resolution=text),
    shape("reopen_complaint", customer=customer, complaint_id=ids("C"), reason=text),
    shape(
        "record_satisfaction",
        customer=customer,
        items=st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from(LEVELS)),
    ),
    shape(
        "record_purchase",
        customer=customer,
        order_id=ids("O"),
        amount=money,
        currency=st.just("CNY"),
    ),
    shape("record_churn", customer=customer, defection_type=st.just("price")),
    shape("record_win_back", customer=customer),
    shape(
        "correct_entry",
        customer=customer,
        entry_id=entry,
        fields=st.sampled_from(
            [
                {"occurred_at": T0.isoformat()},
                {"amount": "3"},
                {"subject": "fixed"},
                {"due_by": T0.isoformat()},
            ]
        ),
        reason=text,
    ),
    shape("retract_entry", customer=customer, entry_id=entry, reason=text),
    shape("hire_rep", ref=rep, name=text, team=st.just("east")),
    shape("move_rep", rep=rep, team=st.just("south")),
    shape("depart_rep", rep=rep, reason=text),
    shape("record_campaign_cost", campaign=st.just("K1"), amount=money, currency=st.just("CNY")),
    shape("close_campaign", campaign=st.just("K1")),
)

# Entries opened and then acted on, so that follow-ups often find what they refer to.
OPENERS: dict[str, tuple[str, dict[str, Any]]] = {
    "quote": (
        "Q",
        {
            "type": "issue_quote",
            "rep": "R1",
            "product": "tea",
            "unit_price": "5",
            "currency": "CNY",
        },
    ),
    "promise": ("P", {"type": "make_promise", "rep": "R2", "text": "call"}),
    "request": ("R", {"type": "receive_request", "kind": "info", "channel": "web"}),
    "complaint": (
        "C",
        {
            "type": "file_complaint",
            "category": "product",
            "severity": "low",
            "description": "broken",
        },
    ),
    "purchase": ("O", {"type": "record_purchase", "amount": "10", "currency": "CNY"}),
}
FOLLOW_UPS: dict[str, list[dict[str, Any]]] = {
    "quote": [
        {"type": t} for t in ("accept_quote", "decline_quote", "expire_quote", "withdraw_quote")
    ],
    "promise": [
        {"type": t}
        for t in ("keep_promise", "break_promise", "cancel_promise", "mark_promise_overdue")
    ],
    "request": [{"type": "answer_request", "rep": "R3", "channel": "phone"}],
    "complaint": [
        {"type": "escalate_complaint", "to": "boss"},
        {"type": "resolve_complaint", "resolution": "fixed", "satisfied": True},
        {"type": "reopen_complaint", "reason": "again"},
    ],
    "purchase": [{"type": "correct_entry", "fields": {"amount": "12"}, "reason": "typo"}],
}
ID_FIELDS = {
    "quote": "quote_id",
    "promise": "promise_id",
    "request": "request_id",
    "complaint": "complaint_id",
    "purchase": "order_id",
}
DUE_FIELDS = {"quote": "valid_until", "promise": "due_by", "request": "respond_by"}


@st.composite
def story(draw: st.DrawFn) -> list[dict[str, Any]]:
    kind = draw(st.sampled_from(sorted(OPENERS)))
    letter, opener = OPENERS[kind]
    entry_id, start = draw(ids(letter)), draw(st.integers(0, 20))
    where = {"customer": draw(customer)}
    opened = {**opener, **where, ID_FIELDS[kind]: entry_id, "occurred_at": on(start)}
    if kind in DUE_FIELDS:
        opened[DUE_FIELDS[kind]] = on(start + draw(st.integers(0, 10)))
    steps = [opened]
    for follow_up in draw(st.lists(st.sampled_from(FOLLOW_UPS[kind]), max_size=3)):
        id_field = "entry_id" if follow_up["type"] == "correct_entry" else ID_FIELDS[kind]
        steps.append(
            {
                **follow_up,
                **where,
                id_field: entry_id,
                "occurred_at": on(start + draw(st.integers(-1, 15))),
            }
        )
    return steps


def on(days: int) -> str:
    return (T0 + timedelta(days=days)).isoformat()


BATCH = st.lists(st.one_of(COMMAND.map(lambda c: [c]), story()), min_size=1, max_size=6).map(
    lambda parts: [command for part in parts for command in part]
)

_worlds = itertools.count()


def in_world(data: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The same command, with every reference moved into this example's own world."""
    keys = ("ref", "customer", "rep", "owner", "campaign")
    return {k: f"{prefix}{v}" if k in keys and isinstance(v, str) else v for k, v in data.items()}


def parsed(raw: list[dict[str, Any]], prefix: str) -> list[Command]:
    """The commands of a generated batch moved into ``prefix``'s world, less those refused
    before they reach the ledger (a bad field)."""
    commands: list[Command] = []
    for data in raw:
        try:
            commands.append(parse_command(in_world(data, prefix)))
        except LedgerError:
            continue
    return commands


def state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def check_sequences(store: Settings, batches: list[list[dict[str, Any]]]) -> None:
    app = Ledger(replace_settings(store))
    prefix = f"w{next(_worlds)}-"
    start = (T0 - timedelta(days=1)).isoformat()
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
                    "ends_at": start,
                },
                *(
                    {"type": "register_customer", "ref": c, "name": "N", "occurred_at": start}
                    for c in CUSTOMERS
                ),
            )
        ],
        actor="setup",
    )
    for raw in batches:
        commands = parsed(raw, prefix)
        before_count = stored_event_count(app)
        batch = Batch(app, "property", {})
        for command in commands:
            before = {k: copy.deepcopy(state(a)) for k, a in batch.aggregates.items()}
            batch.run(command)
            if isinstance(batch.outcomes[-1], LedgerError):
                assert {
                    k: state(a) for k, a in batch.aggregates.items() if k in before
                } == before, f"{command} was refused but changed state"
        in_memory = {k: copy.deepcopy(state(a)) for k, a in batch.aggregates.items()}
        outcomes = batch.commit()
        written = sum(len(o.events) for o in outcomes if isinstance(o, CommandResult))
        assert stored_event_count(app) - before_count == written
        reloaded = Ledger(replace_settings(store, cache_size=0))
        for aggregate_id, expected in in_memory.items():
            assert state(reloaded.repository.get(aggregate_id)) == expected
        reloaded.close()
    app.close()


def replace_settings(store: Settings, **changes: Any) -> Settings:
    return store.model_copy(update={"snapshot_interval": 3, **changes})


@pytest.mark.slow  # many random worlds
@settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(BATCH, min_size=1, max_size=5))
def test_reloaded_aggregates_equal_memory_and_refusals_change_nothing(
    store: Settings, batches: list[list[dict[str, Any]]]
) -> None:
    check_sequences(store, batches)
