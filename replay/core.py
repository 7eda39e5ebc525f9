"""A replay: views computed from the log as it was known at a time, or as things had happened
by a time, by the same projection code as the live views, into a store of their own.

    as known at T     only events recorded at or before T: what the company knew then
    as occurred by T  events whose business time (occurred_at) is at or before T, whenever
                      they were recorded, with every correction known now (a correction
                      belongs to its entry's time): the best current picture of the past
    up to position N  only events at log positions up to N (with either of the above, or
                      alone): what a report stamped at N was computed from, to reproduce it

The store is a SQLite file, a temporary one unless the replay is asked to keep it (an analyst
can take it away); the live views and the log are only read.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import get_topic

from ledger.aggregates import Customer
from ledger.application import Ledger
from ledger.errors import CommandInvalid
from ledger.history import OPENING
from ledger.projections.base import Event, View
from ledger.projections.runner import Runner
from ledger.sql import Database, iso
from replay.periods import reportable


class ReplayFailed(RuntimeError):
    """A view stopped at an event it cannot process (the live views would have too)."""


@dataclass(frozen=True)
class Reading:
    """Which events of the log a replay sees (no bound: all of them, as the live views do)."""

    as_known_at: datetime | None = None
    as_occurred_by: datetime | None = None
    position: int | None = None  # and only events at log positions up to this one

    def __post_init__(self) -> None:
        if self.position is not None and not 0 <= self.position <= MOST_POSITION:
            raise CommandInvalid(
                f"a log position is a whole number from 0 to {MOST_POSITION:,}", where="position"
            )
        for name in ("as_known_at", "as_occurred_by"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise CommandInvalid(
                    "give the time with its UTC offset, e.g. 2025-10-01T00:00:00Z", where=name
                )
            reportable(value, name)
        if self.as_known_at is not None and self.as_occurred_by is not None:
            raise CommandInvalid(
                "a replay reads the log as known at a time or as occurred by a time, not both",
                where="as_known_at",
            )

    def keeps(self, event: Any) -> bool:
        if self.as_known_at is not None:
            return bool(event.timestamp <= self.as_known_at)
        if self.as_occurred_by is not None:
            return bool(event.occurred_at <= self.as_occurred_by)
        return True

    @property
    def kind(self) -> str:
        """now, known_at or occurred_by: the bound on time (a position alone is known_at)."""
        if self.as_occurred_by is not None:
            return "occurred_by"
        if self.as_known_at is not None or self.position is not None:
            return "known_at"
        return "now"

    @property
    def at(self) -> datetime | None:
        return self.as_occurred_by or self.as_known_at

    def describe(self) -> str:
        up_to = "" if self.position is None else f"log position {self.position}"
        if self.as_known_at is not None:
            found = f"as known at {iso(self.as_known_at)}"
        elif self.as_occurred_by is not None:
            found = f"as occurred by {iso(self.as_occurred_by)}"
        else:
            return f"as known at {up_to}" if up_to else "as known now"
        return f"{found}, up to {up_to}" if up_to else found

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "as_known_at": iso(self.as_known_at),
            "as_occurred_by": iso(self.as_occurred_by),
            "position": self.position,
        }


MOST_POSITION = 2**63 - 1  # what both databases' notification ids can hold


# How long after its recording time an event can at most be committed: its transaction's
# length (the stores give up waiting for a lock after seconds), with a wide margin.
SETTLED = timedelta(hours=1)


def end_of(ledger: Ledger, reading: Reading) -> int:
    """The last log position a reading can need: the head (or its position, if lower), except
    as known at T.

    The log is in the order events were committed, and an event is committed at most SETTLED
    after the time it was recorded at; so once an event recorded later than T + SETTLED is in
    the log, nothing after it was recorded by T. Such a position is found by bisection,
    decoding about log2(n) single events, and the replay stops there instead of reading
    (and decoding) the rest of the log to find nothing it keeps.
    """
    head = ledger.recorder.max_notification_id() or 0
    if reading.position is not None:
        if reading.position > head:
            raise CommandInvalid(
                f"the log ends at position {head}; a report at position "
                f"{reading.position} would change as the log grows",
                where="position",
            )
        head = reading.position
    if reading.as_known_at is None:
        return head
    bound = reading.as_known_at + SETTLED
    low, high = 0, head  # every event the reading needs is at or before high
    while high - low > 1:
        middle = (low + high) // 2
        found = ledger.recorder.select_notifications(start=middle, limit=1)
        if not found or found[0].id > high:
            high = middle  # no event from middle to high: the ones needed are before
        elif recorded_at(ledger, found[0]) > bound:
            high = found[0].id
        else:
            low = found[0].id
    return high


def recorded_at(ledger: Ledger, notification: Notification) -> datetime:
    """When the event at this notification was recorded."""
    when: datetime = ledger.mapper.to_domain_event(notification).timestamp  # type: ignore[attr-defined]
    return when


AMENDING = (Customer.EntryCorrected, Customer.EntryRetracted)
AMENDMENTS = tuple(get_topic(amending) for amending in AMENDING)


class OccurredBy:
    """Which events a replay as occurred by T keeps: what had happened by T, with every
    correction known now.

    An entry is kept when it happened by T as corrected: by the last correction of its
    ``occurred_at`` anywhere in the log (a correction is knowledge about its entry, whenever
    it was recorded), so an entry a correction moves past T is left out, and one it moves
    back before T is kept. A correction or retraction belongs to its entry's business time:
    it is kept with its entry, whatever its own date. Any other event (a complaint resolved,
    a promise kept, a rep hired) is kept when it happened by T.

    The corrections of times are read first, by their topic alone (a few of the log's
    events); the entries they concern are then remembered as the replay meets them."""

    def __init__(self, ledger: Ledger, by: datetime, head: int) -> None:
        self.by = by
        self.moved: dict[tuple[Any, str], datetime] = {}  # entry -> its time, as corrected
        self.amended: set[tuple[Any, str]] = set()  # entries corrected or retracted
        position = 0
        while position < head:
            page = ledger.recorder.select_notifications(
                start=position,
                limit=min(10_000, head - position),
                topics=AMENDMENTS,
                inclusive_of_start=False,
            )
            if not page:
                break
            for notification in page:
                if notification.id > head:
                    break
                event = ledger.mapper.decode(notification, opened=False)  # type: ignore[attr-defined]
                entry = (event.originator_id, event.entry_id)
                self.amended.add(entry)
                moved = getattr(event, "fields", {}).get("occurred_at")
                if isinstance(moved, datetime):
                    self.moved[entry] = moved
            position = page[-1].id
        self.kept: dict[tuple[Any, str], bool] = {}  # amended entries met: kept or not

    def keeps(self, event: Event) -> bool:
        if isinstance(event, AMENDING):
            return self.kept.get((event.originator_id, event.entry_id), False)
        opening = OPENING.get(type(event))
        if opening is None:
            return bool(event.occurred_at <= self.by)
        entry = (event.originator_id, getattr(event, opening))
        keep = bool(self.moved.get(entry, event.occurred_at) <= self.by)
        if entry in self.amended:
            self.kept[entry] = keep
        return keep


class Replay:
    """Views replayed into a store of their own; use as a context manager.

    ``out``: keep the store in this SQLite file (it must not exist yet); otherwise it lives in
    a temporary folder that is removed when the replay is closed.
    """

    def __init__(
        self, ledger: Ledger, views: Sequence[View], reading: Reading, *, out: Path | None = None
    ) -> None:
        if out is not None and out.exists():
            raise CommandInvalid(f"{out} exists already; a replay writes a new file", where="out")
        if out is not None and not out.parent.is_dir():
            raise CommandInvalid(f"{out.parent} is not a folder", where="out")
        self.reading = reading
        self.folder: Path | None = None
        if out is None:
            self.folder = Path(tempfile.mkdtemp(prefix="ledger-replay-"))
            out = self.folder / "replay.sqlite"
        self.path = out
        self.datastore: SQLiteDatastore | None = None
        self.runner: Runner | None = None
        try:
            self.datastore = SQLiteDatastore(str(self.path), lock_timeout=30)
            self.db = Database(self.datastore)
            self.head = end_of(ledger, reading)  # the last log position this replay reads
            keep = (
                reading.keeps
                if reading.as_occurred_by is None
                else OccurredBy(ledger, reading.as_occurred_by, self.head).keeps
            )
            self.runner = Runner(ledger, views, database=self.db, keep=keep)
        except BaseException:
            self.close(failed=True)
            raise

    @property
    def last_kept(self) -> int:
        """The log position of the last event this reading kept, once run (0: none): the log
        up to it, read under the same reading, gives the same views."""
        return self.runner.last_kept if self.runner is not None else 0

    def run(self, progress: Callable[[int], None] | None = None) -> int:
        """Read the log up to where it stood when the replay began; return the events read."""
        assert self.runner is not None
        read = self.runner.catch_up(until=self.head, progress=progress)
        for view, error in self.runner.failed.items():
            raise ReplayFailed(
                f"the {view} view cannot process an event of this reading of the log:\n{error}"
            )
        return read

    def close(self, *, failed: bool = False) -> None:
        """Close the store and remove its temporary folder; a failed replay asked to be kept
        is removed too (half a replay is not one to take away)."""
        if self.runner is not None:
            self.runner.close()
        if self.datastore is not None:
            self.datastore.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        elif failed:
            for path in (
                self.path,
                *(
                    self.path.with_name(self.path.name + end)
                    for end in ("-wal", "-shm", "-journal")
                ),
            ):
                path.unlink(missing_ok=True)

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.close(failed=kind is not None)
