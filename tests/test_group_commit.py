"""Commands from concurrent callers share transactions, and each gets its own outcome."""

from __future__ import annotations

import threading

import pytest

from ledger.application import Ledger
from ledger.commands import Command, parse_command
from ledger.errors import LedgerError, UnknownReference
from ledger.group_commit import GroupCommit
from tests.conftest import at, run


def contact(customer: str, n: int) -> Command:
    return parse_command(
        {
            "type": "log_contact",
            "customer": customer,
            "rep": "REP-1",
            "channel": "phone",
            "direction": "out",
            "subject": f"call {n}",
            "occurred_at": at(n),
        }
    )


def test_concurrent_commands_each_get_their_own_outcome_and_all_are_written(ledger: Ledger) -> None:
    run(ledger, type="hire_rep", ref="REP-1", name="A", team="t", occurred_at=at(-1))
    for c in ("CUST-A", "CUST-B"):
        run(ledger, type="register_customer", ref=c, name="N", occurred_at=at(-1))
    writer = GroupCommit(ledger)
    outcomes: dict[tuple[str, int], object] = {}
    transactions_before = ledger.recorder.max_notification_id() or 0

    def caller(customer: str) -> None:
        for n in range(25):
            try:
                outcomes[(customer, n)] = writer.execute(contact(customer, n), actor="t")
            except LedgerError as error:
                outcomes[(customer, n)] = error
        try:  # a refused command is refused alone
            writer.execute(contact("CUST-NOBODY", 0), actor="t")
        except UnknownReference as error:
            outcomes[(customer, -1)] = error

    threads = [threading.Thread(target=caller, args=(c,)) for c in ("CUST-A", "CUST-B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()

    for customer in ("CUST-A", "CUST-B"):
        assert isinstance(outcomes[(customer, -1)], UnknownReference)
        versions = [outcomes[(customer, n)].version for n in range(25)]  # type: ignore[attr-defined]
        assert versions == list(range(2, 27))  # each customer's commands in the order sent
        assert len(ledger.history("customer", customer)) == 26
    assert (ledger.recorder.max_notification_id() or 0) - transactions_before == 50


def test_a_closed_writer_refuses_new_commands(ledger: Ledger) -> None:
    writer = GroupCommit(ledger)
    writer.close()
    with pytest.raises(RuntimeError, match="stopped"):
        writer.execute(contact("CUST-A", 0), actor="t")
