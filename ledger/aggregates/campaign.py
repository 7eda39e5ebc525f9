"""A marketing campaign: launched with a budget, costs recorded against it, closed.

A campaign may be an event (a seminar, trade show or training) held at a time, for at most
``capacity`` people: the campaign holds the seats of the registrations confirmed for it, so
that two confirmations of the last seat, written at once, cannot both succeed (the second
one's event collides with the first's at the campaign's next version). The registrations
themselves are the customers' entries (``Customer.RegistrationReceived``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import rule
from ledger.ids import stream_id

CampaignClosed = rule("campaign_closed")
CurrencyMismatch = rule("currency_mismatch")
PeriodReversed = rule("period_reversed")
NotAnEvent = rule("not_an_event")
EventFull = rule("event_full")
EventHeld = rule("event_already_held")
EventNotHeld = rule("event_not_yet_held")
SeatNotHeld = rule("seat_not_held")


def seat(customer: str, registration_id: str) -> str:
    """A seat's key: entry ids are unique within a customer, not across customers."""
    return f"{customer}/{registration_id}"


class Campaign(LedgerAggregate):
    @staticmethod
    def create_id(ref: str, **_: Any) -> UUID:
        return stream_id("campaign", ref)

    class Launched(LedgerAggregate.Created):
        # 2: a campaign may be an event (kind, event_at, capacity); one launched before is not
        class_version = 2

        ref: str
        name: str
        channel: str
        budget: Decimal
        currency: str
        starts_at: datetime
        ends_at: datetime
        material: str | None
        department: str | None
        kind: str | None  # seminar, trade_show, training; None: not an event
        event_at: datetime | None  # when the event takes place
        capacity: int | None  # the most confirmed registrations; None: no limit
        occurred_at: datetime
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(kind=None, event_at=None, capacity=None)

    @event(Launched)
    def __init__(
        self,
        ref: str,
        name: str,
        channel: str,
        budget: Decimal,
        currency: str,
        starts_at: datetime,
        ends_at: datetime,
        material: str | None,
        department: str | None,
        kind: str | None,
        event_at: datetime | None,
        capacity: int | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        if ends_at < starts_at:
            raise PeriodReversed(
                f"campaign {ref} ends ({ends_at.isoformat()}) before it starts "
                f"({starts_at.isoformat()})"
            )
        self.ref = ref
        self.name = name
        self.channel = channel
        self.currency = currency
        self.material = material
        self.department = department
        self.kind = kind
        self.event_at = event_at
        self.capacity = capacity
        self.seats: dict[str, datetime] = {}  # seat -> when its registration was confirmed
        self.spent = Decimal(0)
        self.closed_at: datetime | None = None

    class CostRecorded(LedgerAggregate.Event):
        amount: Decimal
        currency: str
        note: str | None
        occurred_at: datetime
        actor: str

    @event(CostRecorded)
    def record_cost(
        self, amount: Decimal, currency: str, note: str | None, occurred_at: datetime, actor: str
    ) -> None:
        if currency != self.currency:
            raise CurrencyMismatch(
                f"campaign {self.ref} is budgeted in {self.currency}; record "
                f"its costs in {self.currency}, not {currency}"
            )
        self.spent += amount

    def check_open_at(self, when: datetime) -> None:
        if self.closed_at is not None and when > self.closed_at:
            raise CampaignClosed(
                f"campaign {self.ref} was closed on "
                f"{self.closed_at.isoformat()}; no touches after that"
            )

    class Closed(LedgerAggregate.Event):
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(Closed)
    def close(self, reason: str | None, occurred_at: datetime, actor: str) -> None:
        if self.closed_at is not None:
            raise CampaignClosed(f"campaign {self.ref} was closed on {self.closed_at.isoformat()}")
        self.closed_at = occurred_at

    # -- events: registrations and their seats ----------------------------------------------

    def check_event(self) -> datetime:
        """When the event takes place; refused for a campaign that is not an event."""
        if self.kind is None or self.event_at is None:
            raise NotAnEvent(
                f"campaign {self.ref} is not an event (a seminar, trade show or training with "
                "a date): customers cannot register for it"
            )
        return self.event_at

    def check_takes_registrations(self, when: datetime) -> None:
        """A registration is for an event not yet held, of a campaign still open, then."""
        held = self.check_event()
        if when > held:
            raise EventHeld(
                f"event {self.ref} took place on {held.isoformat()}; a registration dated "
                f"{when.isoformat()} comes after it"
            )
        if self.closed_at is not None and when > self.closed_at:
            raise CampaignClosed(
                f"campaign {self.ref} was closed on {self.closed_at.isoformat()}; it takes "
                "no registrations after that"
            )

    def check_held_by(self, when: datetime) -> None:
        """Attendance is known once the event has begun."""
        held = self.check_event()
        if when < held:
            raise EventNotHeld(
                f"event {self.ref} takes place on {held.isoformat()}; attendance cannot be "
                f"recorded on {when.isoformat()}, before it"
            )

    class SeatTaken(LedgerAggregate.Event):
        customer: str
        registration_id: str
        occurred_at: datetime
        actor: str

    @event(SeatTaken)
    def take_seat(
        self, customer: str, registration_id: str, occurred_at: datetime, actor: str
    ) -> None:
        self.check_event()
        if self.closed_at is not None and occurred_at > self.closed_at:
            raise CampaignClosed(
                f"campaign {self.ref} was closed on {self.closed_at.isoformat()}; no "
                "registration is confirmed after that"
            )
        if self.capacity is not None and len(self.seats) >= self.capacity:
            raise EventFull(
                f"event {self.ref} is full: {len(self.seats)} of {self.capacity} seats are "
                f"confirmed. Registration {registration_id} of customer {customer} stays "
                "unconfirmed (waiting) until a confirmed registration is declined; or "
                "decline it"
            )
        self.seats[seat(customer, registration_id)] = occurred_at

    class SeatReleased(LedgerAggregate.Event):
        customer: str
        registration_id: str
        occurred_at: datetime
        actor: str

    @event(SeatReleased)
    def release_seat(
        self, customer: str, registration_id: str, occurred_at: datetime, actor: str
    ) -> None:
        if seat(customer, registration_id) not in self.seats:
            raise SeatNotHeld(
                f"registration {registration_id} of customer {customer} holds no seat of "
                f"event {self.ref}"
            )
        del self.seats[seat(customer, registration_id)]
