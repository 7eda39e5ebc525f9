"""The recording clock: when the ledger learnt of an event.

Every event's library timestamp is its recording time. Normally that is now; the demo
world and tests run commands "as of" another instant so that replays as known at a
past date have a realistic history to read.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timedelta, timezone

_frozen: ContextVar[datetime | None] = ContextVar("recording_time", default=None)


def now() -> datetime:
    frozen = _frozen.get()
    return frozen if frozen is not None else datetime.now(timezone.utc)


class recording_at:  # used as a function: ``with recording_at(t):``
    """Record every event created inside the block at ``instant`` (if given).

    A class, not a generator: a batch enters one per command (a generator-based context
    manager costs several times as much)."""

    __slots__ = ("instant", "token")

    def __init__(self, instant: datetime | None) -> None:
        if instant is not None and instant.tzinfo is None:
            raise ValueError("recording time must be timezone-aware")
        self.instant = instant

    def __enter__(self) -> None:
        self.token = _frozen.set(self.instant)

    def __exit__(self, *_: object) -> None:
        _frozen.reset(self.token)


def shifted(moment: datetime, days: float) -> datetime:
    """``days`` after ``moment`` (before it, if negative), stopping at the calendar's first or
    last instant: a window or a span that runs past it reads to its end (30 days after an
    event at 9999-12-20; 180 days before a scheduler's --now of 0001-02-01)."""
    try:
        return moment + timedelta(days=days)
    except OverflowError:
        edge = datetime.max if days > 0 else datetime.min
        return edge.replace(tzinfo=moment.tzinfo)
