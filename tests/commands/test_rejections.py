"""A refused command leaves the store exactly as it was, whatever refused it."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.aggregates.customer import Customer
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.errors import (
    CommandInvalid,
    Conflict,
    DuplicateReference,
    LedgerError,
    RuleViolation,
    UnknownReference,
    VersionConflict,
)
from tests.conftest import at, of_type, stored_event_count

REJECTED: list[tuple[str, dict[str, Any], type[LedgerError], str]] = [
    (
        "validation",
        {
            "type": "record_purchase",
            "customer": "CUST-1",
            "order_id": "SO-1",
            "amount": "-3",
            "currency": "CNY",
        },
        CommandInvalid,
        "amount: Input should be greater than or equal to 0",
    ),
    (
        "unknown customer",
        {
            "type": "log_contact",
            "customer": "CUST-404",
            "rep": "REP-1",
            "channel": "phone",
            "direction": "out",
            "subject": "hi",
        },
        UnknownReference,
        "no customer with reference 'CUST-404'",
    ),
    (
        "unknown rep",
        {
            "type": "log_contact",
            "customer": "CUST-1",
            "rep": "REP-404",
            "channel": "phone",
            "direction": "out",
            "subject": "hi",
        },
        UnknownReference,
        "no rep with reference 'REP-404'",
    ),
    (
        "unknown entry",
        {"type": "keep_promise", "customer": "CUST-1", "promise_id": "P-404"},
        UnknownReference,
        "CUST-1 has no promise P-404",
    ),
    (
        "state rule",
        {"type": "record_win_back", "customer": "CUST-1"},
        RuleViolation,
        "CUST-1 has not churned",
    ),
    (
        "version conflict",
        {
            "type": "log_contact",
            "customer": "CUST-1",
            "rep": "REP-1",
            "channel": "phone",
            "direction": "out",
            "subject": "hi",
            "expected_version": 7,
        },
        VersionConflict,
        "CUST-1 is at version 1, not the expected 7",
    ),
    (
        "duplicate reference",
        {"type": "register_customer", "ref": "CUST-1", "name": "X"},
        DuplicateReference,
        "CUST-1 is already registered",
    ),
]


def snapshot(app: Ledger) -> tuple[int, list[Any]]:
    return stored_event_count(app), list(app.history("customer", "CUST-1"))


@pytest.mark.parametrize(
    ("case", "command", "error", "message"), REJECTED, ids=[r[0] for r in REJECTED]
)
def test_a_rejected_command_writes_nothing(
    world: Ledger, case: str, command: dict[str, Any], error: type[LedgerError], message: str
) -> None:
    before = snapshot(world)
    with pytest.raises(error, match=message):
        world.execute(parse_command(command), actor="test")
    assert snapshot(world) == before


def test_in_a_batch_only_the_bad_commands_are_refused(world: Ledger) -> None:
    good = {
        "type": "log_contact",
        "customer": "CUST-1",
        "rep": "REP-1",
        "channel": "phone",
        "direction": "out",
        "subject": "ok",
        "occurred_at": at(1),
    }
    commands = [parse_command(good)]
    commands += [parse_command(c) for _, c, _, _ in REJECTED[1:]]
    commands += [parse_command({**good, "subject": "also ok"})]
    before = stored_event_count(world)
    outcomes = world.execute_many(commands, actor="test")
    assert [type(o).__name__ for o in outcomes] == [
        "CommandResult",
        "UnknownReference",
        "UnknownReference",
        "UnknownEntry",
        "NotChurnedError",
        "VersionConflict",
        "DuplicateReference",
        "CommandResult",
    ]
    assert stored_event_count(world) == before + 2
    contacts = of_type(world.history("customer", "CUST-1")[1:], Customer.ContactLogged)
    subjects = [e.subject for e in contacts]
    assert subjects == ["ok", "also ok"]


def test_a_concurrent_writer_gets_a_version_conflict_and_writes_nothing(
    world: Ledger, store: Any
) -> None:
    other = Ledger(store)  # another process, with its own cache
    contact = {
        "type": "log_contact",
        "customer": "CUST-1",
        "rep": "REP-1",
        "channel": "phone",
        "direction": "out",
        "subject": "first",
    }
    other.customer("CUST-1")  # warms the other's cache at version 1
    world.execute(parse_command(contact), actor="a")
    # The other writer loads fresh (fast-forward), so it sees version 2 and succeeds...
    other.execute(parse_command({**contact, "subject": "second"}), actor="b")
    # ...but a stale expectation is refused.
    with pytest.raises(Conflict, match="is at version 3, not the expected 2"):
        world.execute(parse_command({**contact, "expected_version": 2}), actor="a")
    assert [e.originator_version for e in world.history("customer", "CUST-1")] == [1, 2, 3]
    other.close()
