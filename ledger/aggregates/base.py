"""What every ledger aggregate and event shares: recording time from the ledger clock."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate

from ledger import clock
from ledger.errors import rule

OccurredBeforeEntry = rule("outcome_before_entry")


class LedgerAggregate(Aggregate):
    class Event(Aggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return clock.now()

    class Created(Event, Aggregate.Created):
        pass

    @staticmethod
    def check_not_before(start: datetime, occurred_at: datetime, what: str) -> None:
        if occurred_at < start:
            raise OccurredBeforeEntry(
                f"{what} is dated {occurred_at.isoformat()}, before the entry it concerns "
                f"({start.isoformat()})"
            )
