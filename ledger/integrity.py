"""Proof that nothing was altered: every stored event is chained to its predecessor.

Each event's stored bytes end with a trailer: a marker, the hash of the previous event of the
same stream (a fixed value for the first), and this event's own hash over that previous hash,
its topic and its stored state. The chain is added where events are stored (``ChainedMapper``,
the library's mapper), not by the event classes. ``verify`` recomputes every chain and names
the first bad version of a stream and what is wrong with it; ``digest`` condenses the whole
log (every stream's head and the log position) into one line an auditor can keep outside the
system, and ``verify(against=...)`` proves that everything it covered is still there.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.application import Ledger
from ledger.chain import (
    GENESIS,
    link,
    split,
)
from ledger.errors import CommandInvalid, UnknownReference
from ledger.ids import stream_id
from ledger.sql import Database, iso

DIGEST_PREFIX = "ldg1"


# -- verifying --------------------------------------------------------------------------------


@dataclass
class Problem:
    stream: str
    ref: str | None
    version: int
    what: str  # changed, missing, inserted, reordered
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verification:
    events: int = 0
    streams: int = 0
    unchained: int = 0  # events stored before chains (not covered)
    position: int = 0
    problems: list[Problem] = field(default_factory=list)
    heads: dict[str, tuple[int, str, int]] = field(default_factory=dict)  # stream -> head

    @property
    def ok(self) -> bool:
        return not self.problems

    def digest(self) -> str:
        return digest_of(self.heads, self.position)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "streams": self.streams,
            "unchained": self.unchained,
            "position": self.position,
            "problems": [p.to_dict() for p in self.problems],
        }


class Entry(NamedTuple):
    """One event of a stream, as its chain needs it. (A tuple of plain values: the garbage
    collector stops tracking it, so that a verify holding the whole log does not lengthen
    every full collection, each of which stops every thread of a server.)"""

    version: int
    position: int
    previous: bytes
    own: bytes
    intact: bool  # its own hash matches its payload and the previous hash it names
    chained: bool = True  # False: it carries no trailer


def digest_of(heads: dict[str, tuple[int, str, int]], position: int) -> str:
    lines = "".join(
        f"{stream}:{version}:{own}\n" for stream, (version, own, _) in sorted(heads.items())
    )
    return f"{DIGEST_PREFIX}:{position}:{hashlib.sha256(lines.encode()).hexdigest()}"


def parse_digest(text: str) -> tuple[int, str]:
    prefix, _, rest = text.strip().partition(":")
    position, _, value = rest.partition(":")
    if prefix != DIGEST_PREFIX or not position.isdigit() or len(value) != 64:
        raise CommandInvalid(
            f"{text!r} is not a digest this ledger printed ({DIGEST_PREFIX}:POSITION:SHA256)",
            where="against",
        )
    return int(position), value


def entries(notifications: Iterator[Notification]) -> tuple[dict[UUID, list[Entry]], int, int, int]:
    """Each stream's chained events (in log order), and the count of events, unchained
    events and the last position read."""
    streams: dict[UUID, list[Entry]] = {}
    events = unchained = position = 0
    for notification in notifications:
        events += 1
        position = notification.id
        stream = cast(UUID, notification.originator_id)  # (the library allows text ids too)
        parts = split(notification.state)
        if parts is None:
            unchained += 1
            streams.setdefault(stream, []).append(
                Entry(notification.originator_version, notification.id, b"", b"", False, False)
            )
            continue
        payload, previous, own = parts
        streams.setdefault(stream, []).append(
            Entry(
                notification.originator_version,
                notification.id,
                previous,
                own,
                link(previous, notification.topic, payload) == own,
            )
        )
    return streams, events, unchained, position


def check(
    stream: UUID, found: list[Entry], ref: str | None, start: tuple[int, bytes] | None = None
) -> Problem | None:
    """The first thing wrong with one stream's chain, if anything. Events stored before
    chains existed may open a stream; one without a chain link after a chained one was
    put there by other means."""
    first_chained = min((e.version for e in found if e.chained), default=None)
    if first_chained is None:
        if start is not None and found:
            return Problem(
                str(stream),
                ref,
                min(e.version for e in found),
                "inserted",
                "it carries no chain link, among events that do",
            )
        return None  # stored before chains: nothing to check
    if start is not None:
        first_chained = min(first_chained, start[0])
    stray = [e for e in found if not e.chained and e.version > first_chained]
    if stray:
        return Problem(
            str(stream),
            ref,
            min(e.version for e in stray),
            "inserted",
            "it carries no chain link, among events that do",
        )
    found = [e for e in found if e.chained]
    by_version = sorted(found, key=lambda e: e.version)
    if [e.position for e in by_version] != sorted(e.position for e in by_version):
        first = next(
            a
            for a, b in zip(by_version, sorted(found, key=lambda e: e.position), strict=True)
            if a is not b
        )
        return Problem(
            str(stream),
            ref,
            first.version,
            "reordered",
            "the log holds this stream's events out of version order",
        )
    owns = {e.own: e for e in by_version}
    expected = GENESIS if start is None else start[1]
    if start is not None and by_version[0].version != start[0] + 1:
        return Problem(
            str(stream),
            ref,
            start[0] + 1,
            "missing",
            f"versions {start[0] + 1}..{by_version[0].version - 1} are gone",
        )
    for n, entry in enumerate(by_version):
        if (
            start is None
            and n == 0
            and entry.version > 1
            and entry.previous != GENESIS
            and entry.intact
        ):
            return Problem(
                str(stream), ref, 1, "missing", f"versions 1..{entry.version - 1} are gone"
            )
        if n > 0 and entry.version != by_version[n - 1].version + 1:
            return Problem(
                str(stream),
                ref,
                by_version[n - 1].version + 1,
                "missing",
                f"versions {by_version[n - 1].version + 1}..{entry.version - 1} are gone",
            )
        if not entry.intact:
            return Problem(
                str(stream), ref, entry.version, "changed", "its stored bytes do not match its hash"
            )
        if entry.previous != expected:
            later = owns.get(entry.previous)
            if later is not None and later.version > entry.version:
                return Problem(
                    str(stream),
                    ref,
                    entry.version,
                    "reordered",
                    f"it follows version {later.version}, stored after it",
                )
            return Problem(
                str(stream),
                ref,
                entry.version,
                "inserted",
                "it does not follow the event stored before it",
            )
        expected = entry.own
    return None


def verify(
    notifications: Iterator[Notification],
    refs: Callable[[UUID], str | None],
    *,
    until: int | None = None,
    heads: dict[str, tuple[int, str, int]] | None = None,
) -> Verification:
    """Recompute the chains of these notifications, in log order: all of the log, or (with
    ``heads``, each stream's last verified event) what was written after it."""
    streams, events, unchained, position = entries(
        n for n in notifications if until is None or n.id <= until
    )
    result = Verification(
        events=events,
        streams=len(streams),
        unchained=unchained,
        position=until if until is not None else position,
    )
    for stream, found in streams.items():
        known = (heads or {}).get(str(stream))
        start = (
            None
            if known is None or known[1] == "unchained"
            else (known[0], bytes.fromhex(known[1]))
        )
        problem = check(stream, found, None, start)
        if problem is not None:
            problem.ref = refs(stream)  # looked up only for a stream that is named
            result.problems.append(problem)
        head = max(found, key=lambda e: e.version)
        result.heads[str(stream)] = (head.version, head.own.hex() or "unchained", head.position)
    result.problems.sort(key=lambda p: (p.ref or p.stream, p.version))
    return result


# -- over a ledger --------------------------------------------------------------------------

STATE = {"heads": "integrity_heads", "runs": "integrity_runs"}
PAGE = 10_000
# Ledgers whose tables above exist: created once a ledger, not by every verify, report stamp
# or export (a server creates them at start-up, so that no request runs DDL).
PREPARED: weakref.WeakSet[Ledger] = weakref.WeakSet()


class Integrity:
    """Verify a ledger's chains (all, one customer's, or what is new since the last run) and
    take or check digests. Verified heads are kept (``integrity_heads``) for incremental runs."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.db = Database.of(ledger)
        if ledger not in PREPARED:
            self.create_tables()
            PREPARED.add(ledger)

    def create_tables(self) -> None:
        with self.db.transaction(STATE) as tx:
            tx.ddl_turn()
            tx.execute(
                "CREATE TABLE IF NOT EXISTS {heads} (stream TEXT PRIMARY KEY, "
                "version BIGINT NOT NULL, own TEXT NOT NULL, position BIGINT NOT NULL)"
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS {runs} (position BIGINT NOT NULL, "
                "verified_at TEXT NOT NULL, ok BOOLEAN NOT NULL, events BIGINT NOT NULL)"
            )

    def close(self) -> None:
        self.db.close()

    def head(self) -> int:
        return int(self.ledger.recorder.max_notification_id() or 0)

    def notifications(
        self, start: int, until: int, progress: Callable[[int], None] | None
    ) -> Iterator[Notification]:
        position = start
        while position < until:
            page = self.ledger.recorder.select_notifications(
                start=position,
                limit=min(PAGE, until - position),
                stop=until,
                inclusive_of_start=False,
            )
            if not page:
                return
            yield from page
            position = page[-1].id
            if progress is not None:
                progress(len(page))

    def refs(self) -> Callable[[UUID], str | None]:
        """Stream id -> reference, from the views' record of streams (None if unknown), read
        when a problem is first named (a log that verifies never needs them)."""
        known: dict[str, str] = {}
        loaded = False

        def ref(stream: UUID) -> str | None:
            nonlocal known, loaded
            if not loaded:
                loaded = True
                try:
                    with self.db.transaction({"streams": "view_streams"}, commit=False) as tx:
                        known = {
                            row["id"]: row["ref"]
                            for row in tx.rows("SELECT id, ref FROM {streams}")
                        }
                except Exception:  # the views were never built here: ids will do
                    known = {}
            return known.get(str(stream))

        return ref

    def verify(
        self, *, incremental: bool = False, progress: Callable[[int], None] | None = None
    ) -> Verification:
        """Every chain (or, incrementally, what was written since the last verified position),
        remembering the heads when all is well."""
        until = self.head()
        start, heads = 0, None
        if incremental:
            start, heads = self.last_run()
        found = verify(self.notifications(start, until, progress), self.refs(), heads=heads)
        found.position = until
        if heads:
            found.heads = {**heads, **found.heads}
        self.record(found)
        return found

    def verify_customer(self, ref: str) -> Verification:
        stream = stream_id("customer", ref)
        stored = self.ledger.recorder.select_events(stream)
        if not stored:
            raise UnknownReference(f"no customer with reference {ref!r}", where="customer")
        # One stream's own order: its versions stand for positions in the log.
        numbered = [
            Notification(
                id=s.originator_version,
                originator_id=s.originator_id,
                originator_version=s.originator_version,
                topic=s.topic,
                state=s.state,
            )
            for s in stored
        ]
        return verify(iter(numbered), lambda _: ref)

    def against(
        self, text: str, progress: Callable[[int], None] | None = None
    ) -> tuple[bool, Verification]:
        """Whether everything an earlier digest covered is still there and unchanged."""
        position, value = parse_digest(text)
        if position > self.head():
            raise CommandInvalid(
                f"the digest covers the log up to position {position}; the "
                f"log ends at {self.head()}: events are missing",
                where="against",
            )
        found = verify(self.notifications(0, position, progress), self.refs(), until=position)
        return parse_digest(found.digest())[1] == value, found

    def at_position(
        self, position: int, progress: Callable[[int], None] | None = None
    ) -> Verification:
        """The log verified up to ``position`` (its digest is the one `ledger digest` printed
        when the log ended there): from the heads of the last run that found all well, if it
        ended at or before ``position``, else from the start. A run that reaches past the
        last one and finds all well is recorded, so that the next reads only what is new."""
        last, heads = self.last_run()
        start = last
        if last > position or any(at > last for _, _, at in heads.values()):
            start, heads = 0, {}
        found = verify(
            self.notifications(start, position, progress),
            self.refs(),
            until=position,
            heads=heads or None,
        )
        if heads:
            found.heads = {**heads, **found.heads}
        if found.ok and position > last:
            found.position = position
            self.record(found)
        return found

    def runs(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` runs, newest first: the position each verified up to, when,
        whether all was well, and how many events it read."""
        with self.db.transaction(STATE, commit=False) as tx:
            rows = tx.rows("SELECT * FROM {runs} ORDER BY verified_at DESC LIMIT ?", (limit,))
        return [{**row, "ok": bool(row["ok"])} for row in rows]

    def last_run(self) -> tuple[int, dict[str, tuple[int, str, int]]]:
        with self.db.transaction(STATE, commit=False) as tx:
            run = tx.one("SELECT MAX(position) AS position FROM {runs} WHERE ok = ?", (True,))
            rows = tx.rows("SELECT * FROM {heads}")
        heads = {
            row["stream"]: (int(row["version"]), row["own"], int(row["position"])) for row in rows
        }
        return int(run["position"] or 0) if run else 0, heads

    def record(self, found: Verification) -> None:
        with self.db.transaction(STATE) as tx:
            tx.execute(
                "INSERT INTO {runs} VALUES (?, ?, ?, ?)",
                (found.position, iso(datetime.now(timezone.utc)), found.ok, found.events),
            )
            if found.ok:
                tx.executemany(
                    "INSERT INTO {heads} VALUES (?, ?, ?, ?) ON CONFLICT (stream) DO UPDATE "
                    "SET version = excluded.version, own = excluded.own, "
                    "position = excluded.position",
                    [
                        (stream, version, own, position)
                        for stream, (version, own, position) in found.heads.items()
                    ],
                )
