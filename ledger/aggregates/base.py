"""What every ledger aggregate and event shares: recording time from the ledger clock.

Each aggregate declares its events as nested classes, their fields typed, right above the
method that records one (``@event(PromiseMade)``): the rest of the code names an event by its
class (``Customer.PromiseMade``), never by a string, and mypy knows its fields. The library
subclasses each declared class for its method; the topic an event is stored under stays
``<module>:<Aggregate>.<Event>``, so that the log reads as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate

from ledger import clock
from ledger.errors import rule

OccurredBeforeEntry = rule("outcome_before_entry")


class LedgerAggregate(Aggregate):
    class Event(Aggregate.Event):
        if TYPE_CHECKING:  # every event declares them, last (as they come in its method)
            occurred_at: datetime  # when it happened in the world
            actor: str  # who recorded it

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


def event_classes(aggregate: type[LedgerAggregate]) -> list[type[LedgerAggregate.Event]]:
    """The events the aggregate records, in the order it declares them."""
    return [
        value
        for value in vars(aggregate).values()
        if isinstance(value, type)
        and issubclass(value, LedgerAggregate.Event)
        and value not in (aggregate.Event, aggregate.Created)
    ]
