"""Retries are safe: a command_id runs once; concurrent writers lose and duplicate nothing."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ledger.application import CommandResult, Ledger
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.errors import CommandIdReused, LedgerError, VersionConflict
from tests.conftest import at, stored_event_count

CONTACT = {"type": "log_contact", "customer": "CUST-1", "rep": "REP-1", "channel": "phone",
           "direction": "out", "subject": "follow-up", "command_id": "call-7781",
           "occurred_at": at(1)}


def test_a_repeated_command_id_returns_the_first_result_and_writes_nothing(
        world: Ledger) -> None:
    first = world.execute(parse_command(CONTACT), actor="test")
    count = stored_event_count(world)
    again = world.execute(parse_command(CONTACT), actor="test")
    assert again.duplicate and not first.duplicate
    assert (again.version, again.position, again.entry_id, again.event_ids) == (
        first.version, first.position, first.entry_id, first.event_ids)
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


def test_a_batch_with_a_repeated_command_id_writes_it_once(world: Ledger) -> None:
    outcomes = world.execute_many([parse_command(CONTACT)] * 3, actor="test")
    assert [o.duplicate for o in outcomes if isinstance(o, CommandResult)] == [
        False, True, True]
    assert len(world.history("customer", "CUST-1")) == 2


def test_concurrent_writers_to_one_customer_lose_and_duplicate_nothing(
        world: Ledger, store: Settings) -> None:
    outcomes: list[CommandResult | LedgerError] = []
    lock = threading.Lock()

    def writer(name: str) -> None:
        app = Ledger(store)
        for n in range(15):
            command = parse_command({**CONTACT, "command_id": f"{name}-{n}",
                                     "subject": f"{name} {n}"})
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
    assert sorted(e.subject for e in history[1:]) == sorted(
        f"{o.command_id.replace('-', ' ')}" for o in written)
