"""A sales, marketing or service rep: hired, moved between teams, departed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import rule
from ledger.ids import stream_id

RepDeparted = rule("rep_departed")


class Rep(LedgerAggregate):
    @staticmethod
    def create_id(ref: str, **_: Any) -> UUID:
        return stream_id("rep", ref)

    class Hired(LedgerAggregate.Created):
        ref: str
        name: str
        team: str
        manager: str | None
        email: str | None
        occurred_at: datetime
        actor: str

    @event(Hired)
    def __init__(
        self,
        ref: str,
        name: str,
        team: str,
        manager: str | None,
        email: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.ref = ref
        self.name = name
        self.team = team
        self.manager = manager
        self.hired_at = occurred_at
        self.departed_at: datetime | None = None

    class MovedTeam(LedgerAggregate.Event):
        team: str
        manager: str | None
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(MovedTeam)
    def move(
        self, team: str, manager: str | None, reason: str | None, occurred_at: datetime, actor: str
    ) -> None:
        self.check_active_at(occurred_at)
        self.team = team
        self.manager = manager

    class Departed(LedgerAggregate.Event):
        reason: str
        occurred_at: datetime
        actor: str

    @event(Departed)
    def depart(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.check_active_at(occurred_at)
        self.departed_at = occurred_at

    def check_active_at(self, when: datetime) -> None:
        if self.departed_at is not None and when >= self.departed_at:
            raise RepDeparted(
                f"rep {self.ref} departed on {self.departed_at.isoformat()}; nothing can be "
                f"recorded for them on {when.isoformat()}. Assign the work to another rep"
            )
