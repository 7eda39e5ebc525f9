"""Retries are safe: a command_id runs once; concurrent writers lose and duplicate nothing."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from ledger.aggregates.customer import Customer
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.commands.results import CommandResult, Outcome
from ledger.config import Settings
from ledger.errors import BatchRefused, CommandIdReused, LedgerError, VersionConflict
from ledger.store import COPY_FROM
from tests.conftest import at, of_type, stored_event_count

CONTACT = {
    "type": "log_contact",
    "customer": "CUST-1",
    "rep": "REP-1",
    "channel": "phone",
    "direction": "out",
    "subject": "follow-up",
    "command_id": "call-7781",
    "occurred_at": at(1),
}


def test_a_repeated_command_id_returns_the_first_result_and_writes_nothing(world: Ledger) -> None:
    first = world.execute(parse_command(CONTACT), actor="test")
    count = stored_event_count(world)
    again = world.execute(parse_command(CONTACT), actor="test")
    assert again.duplicate and not first.duplicate
    assert (again.version, again.position, again.entry_id, again.event_ids) == (
        first.version,
        first.position,
        first.entry_id,
        first.event_ids,
    )
    assert stored_event_count(world) == count


def test_the_first_result_survives_a_restart(world: Ledger, store: Settings) -> None:
    first = world.execute(parse_command(CONTACT), actor="test")
    restarted = Ledger(store)
    again = restarted.execute(parse_command(CONTACT), actor="test")
    assert again.duplicate and again.position == first.position
    restarted.close()


def test_a_command_id_cannot_be_reused_for_a_different_command(world: Ledger) -> None:
    world.execute(parse_command(CONTACT), actor="test")
    count = stored_event_count(world)
    with pytest.raises(CommandIdReused, match="'call-7781' was already used for a different"):
        world.execute(parse_command({**CONTACT, "subject": "something else"}), actor="test")
    assert stored_event_count(world) == count


def results_of(outcomes: Sequence[Outcome]) -> list[CommandResult]:
    """The outcomes, each the result of a command that wrote (a refusal fails the test)."""
    results = [o for o in outcomes if isinstance(o, CommandResult)]
    assert len(results) == len(outcomes), outcomes
    return results


def positions_of(outcomes: Sequence[Outcome]) -> list[int]:
    """Where each command's last event was logged."""
    positions = []
    for result in results_of(outcomes):
        assert result.position is not None, result
        positions.append(result.position)
    return positions


@pytest.mark.parametrize("atomic", [False, True])
@pytest.mark.parametrize("padding", [0, COPY_FROM], ids=["small", "copied"])
def test_a_command_id_reused_on_a_new_customer_is_refused(
    world: Ledger, atomic: bool, padding: int
) -> None:
    """A new customer's commands are not looked up in the command log (nothing can have been
    recorded for a stream that does not exist): an id used before elsewhere is still caught,
    also in a batch big enough to be copied in on PostgreSQL."""
    world.execute(parse_command(CONTACT), actor="test")
    count = stored_event_count(world)
    batch = [
        parse_command(
            {
                "type": "register_customer",
                "ref": "CUST-NEW",
                "name": "Ann",
                "command_id": "register-new",
                "occurred_at": at(2),
            }
        ),
        *(
            parse_command({**CONTACT, "command_id": f"pad-{n}", "occurred_at": at(2)})
            for n in range(padding)
        ),
        parse_command({**CONTACT, "customer": "CUST-NEW", "occurred_at": at(3)}),
    ]
    if atomic:
        with pytest.raises(BatchRefused) as refused:
            world.execute_many(batch, actor="test", atomic=True)
        assert [type(e) for _, e in refused.value.failures] == [CommandIdReused]
        assert stored_event_count(world) == count
        return
    registered, *padded, reused = world.execute_many(batch, actor="test")
    assert isinstance(registered, CommandResult) and not registered.duplicate
    assert isinstance(reused, CommandIdReused)
    assert stored_event_count(world) == count + 1 + padding
    assert len(world.history("customer", "CUST-NEW")) == 1
    positions = positions_of([registered, *padded])
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_a_big_batch_answers_with_the_positions_it_was_logged_at(world: Ledger) -> None:
    commands = [
        parse_command({**CONTACT, "command_id": f"call-{n}", "subject": f"call {n}"})
        for n in range(COPY_FROM + 6)
    ]
    outcomes = world.execute_many(commands, actor="test")
    assert all(isinstance(r, CommandResult) for r in outcomes)
    results = results_of(outcomes)
    written = {(r.version, r.position) for r in results}
    logged = {
        (n.originator_version, n.id)
        for n in world.recorder.select_notifications(start=None, limit=10_000)
        if n.originator_id == results[0].id
    }
    assert len(written) == len(commands) and written <= logged
    again = results_of(world.execute_many(commands, actor="test"))
    assert [(r.position, r.duplicate) for r in again] == [(r.position, True) for r in results]


def test_a_batch_with_a_repeated_command_id_writes_it_once(world: Ledger) -> None:
    outcomes = world.execute_many([parse_command(CONTACT)] * 3, actor="test")
    assert [o.duplicate for o in outcomes if isinstance(o, CommandResult)] == [False, True, True]
    assert len(world.history("customer", "CUST-1")) == 2


def test_concurrent_writers_to_one_customer_lose_and_duplicate_nothing(
    world: Ledger, store: Settings
) -> None:
    outcomes: list[CommandResult | LedgerError] = []
    lock = threading.Lock()

    def writer(name: str) -> None:
        app = Ledger(store)
        for n in range(15):
            command = parse_command(
                {**CONTACT, "command_id": f"{name}-{n}", "subject": f"{name} {n}"}
            )
            try:
                outcome: Any = app.execute(command, actor=name)
            except LedgerError as error:
                outcome = error
            with lock:
                outcomes.append(outcome)
        app.close()

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 45
    written = [o for o in outcomes if isinstance(o, CommandResult)]
    refused = [o for o in outcomes if not isinstance(o, CommandResult)]
    assert all(isinstance(o, VersionConflict) for o in refused), refused
    history = world.history("customer", "CUST-1")
    assert [e.originator_version for e in history] == list(range(1, len(history) + 1))
    assert sorted(e.subject for e in of_type(history[1:], Customer.ContactLogged)) == sorted(
        f"{str(o.command_id).replace('-', ' ')}" for o in written
    )
