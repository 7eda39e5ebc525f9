"""A marketing campaign: launched with a budget, costs recorded against it, closed."""

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


class Campaign(LedgerAggregate):
    @staticmethod
    def create_id(ref: str, **_: Any) -> UUID:
        return stream_id("campaign", ref)

    class Launched(LedgerAggregate.Created):
        ref: str
        name: str
        channel: str
        budget: Decimal
        currency: str
        starts_at: datetime
        ends_at: datetime
        material: str | None
        department: str | None
        occurred_at: datetime
        actor: str

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
