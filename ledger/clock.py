"""The recording clock: when the ledger learnt of an event.

Every event's library timestamp is its recording time. Normally that is now; the demo
world and tests run commands "as of" another instant so that replays as known at a
past date have a realistic history to read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

_frozen: ContextVar[datetime | None] = ContextVar("recording_time", default=None)


def now() -> datetime:
    frozen = _frozen.get()
    return frozen if frozen is not None else datetime.now(timezone.utc)


@contextmanager
def recording_at(instant: datetime | None) -> Iterator[None]:
    """Record every event created inside the block at ``instant`` (if given)."""
    if instant is not None and instant.tzinfo is None:
        raise ValueError("recording time must be timezone-aware")
    token = _frozen.set(instant)
    try:
        yield
    finally:
        _frozen.reset(token)
