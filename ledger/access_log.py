"""A record of who looked: every read of a customer's personal data (and every report),
appended to one hash chain in the ledger's own store.

A record says when, which API key (or ``cli:<os user>``) with which role, which customer (by
reference only: the log holds no personal data), which endpoint or page, which kinds of
personal data it showed, why (an optional purpose) and through which interface. Records are
numbered in the order they were committed and chained as the events are
(ledger/chain.py): each carries the hash of the record before it and its own hash over
that and its canonical encoding, so that ``verify`` names by position a record that was
changed, deleted, inserted or moved behind the ledger's back.

Appends are serialised in the database, not in a process: a one-row head (the last position,
hash and time) is read and updated in the transaction that inserts, under SQLite's write lock
(BEGIN IMMEDIATE) or PostgreSQL's row lock (SELECT ... FOR UPDATE), so any number of threads
and processes extend one chain. Within a process, concurrent callers share one transaction
(group commit, as in ledger/group_commit.py): a read waits for one durable commit, not for
each of the commits queued before it. Callers on threads are written by a writer thread;
callers on an event loop (``record_async``) on SQLite by the loop itself, at once, where the
reads run on the loop too (see ``record_async``).
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
import psycopg
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from ledger.encoding import compact
from ledger.errors import AccessNotRecorded, CommandInvalid
from ledger.library import postgres_connect_options, sqlite_path
from ledger.projections.base import Page, decode_cursor, page_of
from ledger.sql import Database, ViewDb, column_types, iso

TABLES = {"log": "access_log", "head": "access_log_head"}
COLUMNS = (
    "position {int} PRIMARY KEY, at TEXT NOT NULL, key TEXT NOT NULL, "
    "role TEXT NOT NULL, customer TEXT, what TEXT NOT NULL, fields TEXT NOT NULL, "
    "purpose TEXT, interface TEXT NOT NULL, previous TEXT NOT NULL, hash TEXT NOT NULL"
)
# "Who looked at this customer (or with this key) lately", newest first, straight from an
# index: each ends in the sort key. The last serves lists that name neither.
INDEXES = {
    "access_log_customer": "customer, at, position",
    "access_log_key": "key, at, position",
    "access_log_at": "at, position",
}
INTERFACES = ("api", "console", "cli")
GENESIS = hashlib.sha256(b"customer ledger: the start of the access log").hexdigest()
MAX_PURPOSE = 500  # characters of a purpose
MAX_TEXT = 200  # characters of a key, role, customer reference or endpoint
MAX_FIELDS = 20  # kinds of personal data named by one record
MAX_KIND = 40  # characters of the name of one kind
MAX_BATCH = 100  # callers whose records share one transaction at most
MAX_LIMIT = 1000  # records per page at most
PAGE = 10_000  # records read at a time by verify
IDLE = 5.0  # seconds unused after which the writer's PostgreSQL connection is pinged first
HEAD = "SELECT position, hash, at FROM {head} WHERE id = 1"
INSERT = "INSERT INTO {log} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
MOVE = "UPDATE {head} SET position = ?, hash = ?, at = ? WHERE id = 1"


@dataclass(frozen=True)
class Access:
    """One read to record. ``customer`` is None for a read of no one customer (a report);
    ``fields`` names the kinds of personal data it showed (``["profile", "timeline"]``).
    Checked when made: bad input is the caller's (422), not the log's."""

    key: str
    role: str
    what: str
    interface: str
    customer: str | None = None
    fields: Sequence[str] = ()
    purpose: str | None = None

    def __post_init__(self) -> None:
        for name in ("key", "role", "what"):
            text(getattr(self, name), name, MAX_TEXT)
        if self.interface not in INTERFACES:
            raise CommandInvalid(
                f"interface {self.interface!r} is not one of {', '.join(INTERFACES)}",
                where="interface",
            )
        if self.customer is not None:
            text(self.customer, "customer", MAX_TEXT)
        if isinstance(self.fields, str) or len(self.fields) > MAX_FIELDS:
            raise CommandInvalid(
                f"fields is a list of at most {MAX_FIELDS} kinds of personal "
                'data, e.g. ["profile", "timeline"]',
                where="fields",
            )
        for kind in self.fields:
            text(kind, "fields", MAX_KIND)
        object.__setattr__(self, "fields", tuple(self.fields))
        purpose = (self.purpose or "").strip() or None
        if purpose is not None:
            text(purpose, "purpose", MAX_PURPOSE)
        object.__setattr__(self, "purpose", purpose)


def text(value: object, where: str, limit: int) -> str:
    """Non-empty text of at most ``limit`` characters, without NUL (PostgreSQL cannot store
    one)."""
    if not isinstance(value, str) or not value.strip():
        raise CommandInvalid(f"{where} must be non-empty text", where=where)
    if len(value) > limit:
        raise CommandInvalid(
            f"{where} is {len(value)} characters long; at most {limit}", where=where
        )
    if "\x00" in value:
        raise CommandInvalid(f"{where} holds a NUL character", where=where)
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate: neither UTF-8 nor storable
        raise CommandInvalid(f"{where} is not valid Unicode text", where=where) from None
    return value


def cli_key() -> str:
    """Who the command line records as the key: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = "unknown"
    return f"cli:{user.encode(errors='backslashreplace').decode()}"


def encoded(at: str, entry: Access) -> bytes:
    """A record's canonical encoding: what its hash covers, besides the previous hash. The
    position is not covered: the chain itself is the order, and a record moved to another
    position is named as reordered rather than as changed."""
    return canonical(
        [
            at,
            entry.key,
            entry.role,
            entry.customer,
            entry.what,
            list(entry.fields),
            entry.purpose,
            entry.interface,
        ]
    )


def canonical(values: list[Any]) -> bytes:
    """Compact JSON, as the standard library writes it (ledger/encoding.py), in UTF-8."""
    return compact(values).encode()


def link(previous: str, at: str, entry: Access) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + encoded(at, entry)).hexdigest()


# -- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessProblem:
    position: int
    what: str  # changed, missing, inserted, reordered
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AccessCheck:
    """What ``verify`` found: how many records it read, the position of the log's head, and
    each record (by position) that is not as it was written."""

    records: int = 0
    position: int = 0
    problems: list[AccessProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "position": self.position,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass
class _Checking:
    """One pass over the records in position order."""

    head: int
    head_hash: str
    found: dict[int, AccessProblem] = field(default_factory=dict)
    broken: list[tuple[int, str, int]] = field(default_factory=list)  # row, its previous, before
    last: tuple[int, str] = (0, GENESIS)  # position and hash of the record read last
    last_changed: bool = False  # then the next record's link is not its own fault
    records: int = 0

    def name(self, position: int, what: str, detail: str) -> None:
        self.found.setdefault(position, AccessProblem(position, what, detail))

    def read(self, row: dict[str, Any]) -> None:
        self.records += 1
        position, (before, expected) = int(row["position"]), self.last
        if position > self.head or position < 1:
            self.name(
                position,
                "inserted",
                f"the log's head is at position {self.head}: this "
                "record was added behind the log's back",
            )
            return
        gap = position != before + 1
        if gap:
            self.name(
                before + 1,
                "missing",
                f"positions {before + 1}..{position - 1} are gone"
                if position - 1 > before + 1
                else f"position {before + 1} is gone",
            )
        changed = not intact(row)
        if changed:
            self.name(position, "changed", "its content does not match its hash")
        elif row["previous"] != expected and not gap and not self.last_changed:
            self.broken.append((position, row["previous"], before))
        self.last, self.last_changed = (position, row["hash"]), changed

    def finish(self, where: dict[str, int]) -> list[AccessProblem]:
        """Name what the broken links mean (``where``: the positions of the hashes they name),
        then compare the last record with the head."""
        for position, previous, before in self.broken:
            follows = 0 if previous == GENESIS else where.get(previous)
            if follows is None and before >= 1:
                self.name(
                    before,
                    "changed",
                    f"it is not the record position {position} follows: it was replaced",
                )
            elif follows is None:
                self.name(position, "inserted", "it follows no record of the log")
            elif follows > position:
                self.name(position, "reordered", f"it follows position {follows}, stored after it")
                self.name(
                    follows, "reordered", f"it precedes position {position}, stored before it"
                )
            else:
                for skipped in range(follows + 1, before + 1):
                    self.name(
                        skipped,
                        "inserted",
                        f"the chain runs from position {follows} to {position}, past this record",
                    )
        last, last_hash = self.last
        if last < self.head:
            self.name(
                last + 1,
                "missing",
                f"the newest records, positions {last + 1}..{self.head}, are gone"
                if self.head > last + 1
                else f"the newest record, position {last + 1}, is gone",
            )
        elif last and last_hash != self.head_hash:
            self.name(last, "changed", "it is not the record the log's head names")
        return sorted(self.found.values(), key=lambda p: p.position)


def intact(row: dict[str, Any]) -> bool:
    """Whether a stored record's hash is that of its content and the previous hash (the same
    encoding as ``encoded``, read straight from the row)."""
    try:
        content = canonical(
            [
                row["at"],
                row["key"],
                row["role"],
                row["customer"],
                row["what"],
                fields_of(row["fields"]),
                row["purpose"],
                row["interface"],
            ]
        )
        return bool(
            hashlib.sha256(bytes.fromhex(row["previous"]) + content).hexdigest() == row["hash"]
        )
    except (ValueError, TypeError):  # a previous hash that is not hex, a field not text
        return False


def fields_of(stored: str) -> list[Any]:
    try:
        found = orjson.loads(stored)
    except orjson.JSONDecodeError:
        return [stored]  # not written by this module: its hash will not match
    return found if isinstance(found, list) else [found]


# -- the log ---------------------------------------------------------------------------------


@dataclass
class _Waiting:
    entries: list[Access]
    positions: Future[list[int]] = field(default_factory=Future)


@dataclass
class _Pending:
    entries: list[Access]
    future: asyncio.Future[list[int]]


@dataclass
class _OnLoop:
    """PostgreSQL, callers on one event loop: the loop's own connection, the records waiting
    for its next transaction, and the task writing them (None: none is)."""

    connection: psycopg.AsyncConnection[Any] | None = None
    waiting: list[_Pending] = field(default_factory=list)
    writing: asyncio.Task[None] | None = None
    used: float = 0.0


def retrieved(future: asyncio.Future[list[int]]) -> None:
    """Mark a failure as heard: a read that failed before awaiting its record leaves it."""
    if not future.cancelled():
        future.exception()


def checked_entries(entries: Sequence[Access]) -> list[Access]:
    found = list(entries)
    if not all(isinstance(e, Access) for e in found):
        raise TypeError("record takes Access entries")
    return found


class AccessLog:
    """Record reads (``record``, or ``record_async`` from an event loop), list them newest
    first, and verify the chain. One instance per process and store: its writer thread is
    what lets concurrent callers share a transaction."""

    def __init__(
        self,
        db: Database,
        *,
        create: bool = True,
        clock: Callable[[], datetime] | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.max_batch = max_batch
        self.commits = 0  # transactions written: records per commit shows the grouping
        self.waiting: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self.writer: threading.Thread | None = None
        self.starting = threading.Lock()
        self.connection: psycopg.Connection[Any] | None = None  # the writer's, on PostgreSQL
        self.used = 0.0  # when it was last used (monotonic)
        # PostgreSQL, callers on an event loop: what each loop writes.
        self.on_loop: dict[asyncio.AbstractEventLoop, _OnLoop] = {}
        # SQLite, callers on an event loop: the connection the loop writes through.
        self.loop_writer: sqlite3.Connection | None = None
        self.loop_writing = threading.Lock()
        db.columns[TABLES["log"]] = column_types(COLUMNS, db.ddl_types())
        if create:
            self.create_tables()

    def create_tables(self) -> None:
        """Create what is missing, and the head of an empty log."""
        with self.db.transaction(TABLES) as tx:
            tx.ddl_turn()  # two processes creating at once: one waits
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {{log}} ({COLUMNS.format(**self.db.ddl_types())})"
            )
            for name, columns in INDEXES.items():
                tx.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {{log}} ({columns})")
            tx.execute(
                "CREATE TABLE IF NOT EXISTS {head} (id INTEGER PRIMARY KEY "
                "CHECK (id = 1), position BIGINT NOT NULL, hash TEXT NOT NULL, "
                "at TEXT NOT NULL)"
            )
            tx.execute(
                "INSERT INTO {head} VALUES (1, 0, ?, '') ON CONFLICT (id) DO NOTHING", (GENESIS,)
            )

    def close(self) -> None:
        """Write what is waiting, then stop the writer (the database is the caller's)."""
        with self.starting:
            writer, self.writer = self.writer, None
        if writer is not None:
            self.waiting.put(None)
            writer.join()
        self._forget_connection()
        states, self.on_loop = self.on_loop, {}
        for state in states.values():  # what waits on them is written, or refused
            if state.connection is not None:
                state.connection.pgconn.finish()
        with self.loop_writing:
            if self.loop_writer is not None:
                self.loop_writer.close()
                self.loop_writer = None

    # -- recording ---------------------------------------------------------------------------

    def record(self, entries: Sequence[Access]) -> list[int]:
        """Append these records; their positions once they are durably committed. Raises
        ``AccessNotRecorded`` if they were not: the caller refuses the read (503)."""
        future = self.submit(entries)
        try:
            return future.result()
        except Exception as error:
            raise not_recorded(error) from error

    async def record_async(self, entries: Sequence[Access]) -> list[int]:
        """``record`` for a caller on an event loop (``begin``, then ``settled``)."""
        return await self.settled(self.begin(entries))

    def begin(self, entries: Sequence[Access]) -> asyncio.Future[list[int]]:
        """Start recording these records from an event loop; the future gives their
        positions once durably committed (``settled``). A read path begins once it knows the
        read is allowed, runs its query meanwhile, then awaits ``settled`` before answering:
        the commit then costs the read little more than its query.

        No thread is involved, none waits for the GIL behind the busy loop. On PostgreSQL
        the loop writes them through a connection of its own, with every record that other
        requests began meanwhile in the same transaction. On SQLite the loop writes them at
        once, without yielding: the reads run on the loop there, a commit costs a fraction of
        a millisecond, and a request that yields on a busy loop waits behind every other one
        ready to run. If another writer holds SQLite's lock, the writer thread waits for it
        rather than the loop."""
        loop = asyncio.get_running_loop()
        found = checked_entries(entries)
        future: asyncio.Future[list[int]] = loop.create_future()
        future.add_done_callback(retrieved)
        if not found:
            future.set_result([])
        elif self.db.postgres:
            state = self._loop_state(loop)
            state.waiting.append(_Pending(found, future))
            if state.writing is None:
                state.writing = loop.create_task(self._write_on_loop(state))
        else:
            try:
                positions = self._append_on_loop([found])
            except Exception as error:
                future.set_exception(error)
            else:
                if positions is None:  # another writer holds the lock
                    future = asyncio.wrap_future(self.submit(found), loop=loop)
                    future.add_done_callback(retrieved)
                else:
                    future.set_result(positions[0])
        return future

    async def settled(self, future: asyncio.Future[list[int]]) -> list[int]:
        """The positions of records ``begin`` started, once durably committed; raises
        ``AccessNotRecorded`` if they were not. A future that is done already is answered
        without yielding."""
        try:
            return await future
        except Exception as error:  # not a cancellation: that is a BaseException
            raise not_recorded(error) from error

    def _loop_state(self, loop: asyncio.AbstractEventLoop) -> _OnLoop:
        state = self.on_loop.get(loop)
        if state is None:
            for gone in [known for known in self.on_loop if known.is_closed()]:
                connection = self.on_loop.pop(gone).connection  # a test's loop, say
                if connection is not None:
                    connection.pgconn.finish()
            state = self.on_loop[loop] = _OnLoop()
        return state

    async def _write_on_loop(self, state: _OnLoop) -> None:
        """Write what waits, a transaction at a time, until nothing does."""
        try:
            while state.waiting:
                batch = [w for w in state.waiting[: self.max_batch] if not w.future.done()]
                del state.waiting[: self.max_batch]
                if not batch:
                    continue
                try:
                    positions = await self._append_async(state, [w.entries for w in batch])
                except Exception as error:  # every caller of the batch hears it
                    for waiting in batch:
                        if not waiting.future.done():
                            waiting.future.set_exception(error)
                    continue
                for waiting, found in zip(batch, positions, strict=True):
                    if not waiting.future.done():
                        waiting.future.set_result(found)
        finally:
            state.writing = None

    async def _append_async(self, state: _OnLoop, groups: list[list[Access]]) -> list[list[int]]:
        """``_append`` on PostgreSQL through the loop's connection, in two round trips as
        the writer thread's (``_transaction``)."""
        conn = await self._loop_connection(state)
        tables = self.db.qualify(TABLES)

        def sql(statement: str) -> str:
            return statement.format(**tables).replace("?", "%s")

        try:
            async with conn.pipeline():
                await conn.execute("BEGIN")
                head = await (await conn.execute(sql(HEAD) + " FOR UPDATE")).fetchone()
                rows, moved, found = self._linked(head, groups)
                async with conn.cursor() as cursor:
                    await cursor.executemany(sql(INSERT), rows)
                await conn.execute(sql(MOVE), moved)
                await conn.execute("COMMIT")
        except BaseException:
            state.connection = None  # in an unknown state: the next append opens another
            conn.pgconn.finish()
            raise
        self.commits += 1
        state.used = time.monotonic()
        return found

    async def _loop_connection(self, state: _OnLoop) -> psycopg.AsyncConnection[Any]:
        """The loop's connection: kept open, pinged first after a pause, opened with the
        pool's settings (as the writer thread's, ``_writer_connection``)."""
        conn = state.connection
        if conn is not None and not conn.closed:
            if time.monotonic() - state.used < IDLE:
                return conn
            try:
                await conn.execute("SELECT 1")
                return conn
            except psycopg.Error:
                conn.pgconn.finish()
        datastore = self.db.datastore
        assert isinstance(datastore, PostgresDatastore)
        conn = await psycopg.AsyncConnection.connect(**connection_options(datastore))
        state.connection = conn
        return conn

    def _append_on_loop(self, groups: list[list[Access]]) -> list[list[int]] | None:
        """``_append`` through the loop's own SQLite connection, which never waits for the
        lock: None (and nothing written) if another writer holds it."""
        datastore = self.db.datastore
        assert isinstance(datastore, SQLiteDatastore)
        if not self.loop_writing.acquire(blocking=False):
            return None
        try:
            if self.loop_writer is None:
                conn = sqlite3.connect(
                    sqlite_path(datastore),
                    uri=True,
                    timeout=0,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.row_factory = sqlite3.Row
                self.loop_writer = conn
            cursor = self.loop_writer.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # locked (busy): nothing was begun
                return None
            try:
                found = self._chain(ViewDb(cursor, postgres=False, tables=TABLES), groups)
                cursor.execute("COMMIT")
            except BaseException:
                self.loop_writer.rollback()
                raise
            self.commits += 1
            return found
        finally:
            self.loop_writing.release()

    def submit(self, entries: Sequence[Access]) -> Future[list[int]]:
        """Queue these records for the writer thread's next transaction; the future gives
        their positions once committed."""
        waiting = _Waiting(checked_entries(entries))
        if not waiting.entries:
            waiting.positions.set_result([])
            return waiting.positions
        self._start()
        self.waiting.put(waiting)
        return waiting.positions

    def _start(self) -> None:
        """The writer thread, started by the first record (a process that only lists or
        verifies has none)."""
        if self.writer is not None and self.writer.is_alive():
            return
        with self.starting:
            if self.writer is None or not self.writer.is_alive():
                self.writer = threading.Thread(target=self._write, name="access-log", daemon=True)
                self.writer.start()

    def _write(self) -> None:
        while True:
            first = self.waiting.get()
            if first is None:
                return
            batch, stopping = [first], False
            while len(batch) < self.max_batch:
                try:
                    following = self.waiting.get_nowait()
                except queue.Empty:
                    break
                if following is None:
                    stopping = True
                    break
                batch.append(following)
            # A caller that gave up (its coroutine cancelled) is not written; the others can
            # no longer give up.
            batch = [w for w in batch if w.positions.set_running_or_notify_cancel()]
            try:
                positions = self._append([w.entries for w in batch])
            except Exception as error:  # the store: every caller of the batch hears it
                for waiting in batch:
                    waiting.positions.set_exception(error)
            else:
                for waiting, found in zip(batch, positions, strict=True):
                    waiting.positions.set_result(found)
            if stopping:
                return

    def _append(self, groups: list[list[Access]]) -> list[list[int]]:
        """Write each group's records in one transaction, chained from the head; each group's
        positions."""
        with self._transaction() as tx:
            found = self._chain(tx, groups)
        self.commits += 1
        return found

    def _chain(self, tx: ViewDb, groups: list[list[Access]]) -> list[list[int]]:
        """Insert the records after the head, which this transaction locks and moves."""
        head = tx.one(HEAD + (" FOR UPDATE" if tx.postgres else ""))
        rows, moved, found = self._linked(head, groups)
        tx.executemany(INSERT, rows)
        tx.execute(MOVE, moved)
        return found

    def _linked(
        self, head: dict[str, Any] | None, groups: list[list[Access]]
    ) -> tuple[list[tuple[Any, ...]], tuple[Any, ...], list[list[int]]]:
        """The rows that chain these records after the head, the head's new values, and
        each group's positions."""
        if head is None:
            raise RuntimeError(
                "the access log has no head row: its tables were not created by this module"
            )
        position, previous = int(head["position"]), head["hash"]
        # Never before the record before it, whichever process's clock that came from:
        # newest first by time is newest first by position.
        at = max(iso(self.clock()) or "", head["at"])
        rows, found = [], []
        for group in groups:
            found.append(list(range(position + 1, position + 1 + len(group))))
            for entry in group:
                position += 1
                own = link(previous, at, entry)
                rows.append(
                    (
                        position,
                        at,
                        entry.key,
                        entry.role,
                        entry.customer,
                        entry.what,
                        compact(list(entry.fields)),
                        entry.purpose,
                        entry.interface,
                        previous,
                        own,
                    )
                )
                previous = own
        return rows, (position, previous, at), found

    @contextmanager
    def _transaction(self) -> Iterator[ViewDb]:
        """The append's transaction. On SQLite, the store's writer connection (BEGIN
        IMMEDIATE). On PostgreSQL, a connection of the writer thread's own, in two round
        trips: BEGIN with the head's lock, then the inserts, the head's update and COMMIT,
        pipelined (a transaction from the pool costs five: a ping, BEGIN, the lock, the
        writes, COMMIT)."""
        if not isinstance(self.db.datastore, PostgresDatastore):
            with self.db.transaction(TABLES) as tx:
                yield tx
            return
        conn = self._writer_connection(self.db.datastore)
        try:
            with conn.pipeline():
                conn.execute("BEGIN")
                yield ViewDb(
                    conn.cursor(),
                    postgres=True,
                    tables=self.db.qualify(TABLES),
                    columns={"log": self.db.columns[TABLES["log"]]},
                )
                conn.execute("COMMIT")
        except BaseException:
            self._forget_connection()  # in an unknown state: the next append opens another
            raise
        self.used = time.monotonic()

    def _writer_connection(self, datastore: PostgresDatastore) -> psycopg.Connection[Any]:
        """The writer's connection: kept open, pinged first after a pause (the server may
        have gone and come back), opened with the pool's settings."""
        conn = self.connection
        if conn is not None and not conn.closed:
            if time.monotonic() - self.used < IDLE:
                return conn
            try:
                conn.execute("SELECT 1")
                return conn
            except psycopg.Error:
                self._forget_connection()
        conn = psycopg.connect(**connection_options(datastore))
        self.connection = conn
        return conn

    def _forget_connection(self) -> None:
        conn, self.connection = self.connection, None
        if conn is not None:
            conn.close()

    # -- verifying ---------------------------------------------------------------------------

    def verify(self, progress: Callable[[int], None] | None = None) -> AccessCheck:
        """Recompute the chain from the first record to the head, in one snapshot, and name
        each record that is not as written: changed (its content does not match its hash),
        missing (its position is gone), inserted (added behind the log's back, or a record
        the chain runs past) or reordered (it follows a record stored after it)."""
        with self.db.transaction(TABLES, commit=False) as tx:
            head = tx.one("SELECT position, hash FROM {head} WHERE id = 1")
            if head is None:
                return AccessCheck(
                    problems=[AccessProblem(0, "missing", "the log's head row is gone")]
                )
            checking = _Checking(int(head["position"]), head["hash"])
            for rows in pages(tx):
                for row in rows:
                    checking.read(row)
                if progress is not None:
                    progress(len(rows))
            where = positions_of(tx, {previous for _, previous, _ in checking.broken})
        return AccessCheck(checking.records, checking.head, checking.finish(where))

    def head(self) -> int:
        """The position of the last record (0: none yet)."""
        with self.db.transaction(TABLES, commit=False, snapshot=False) as tx:
            found = tx.one("SELECT position FROM {head} WHERE id = 1")
        return int(found["position"]) if found else 0

    # -- reading -----------------------------------------------------------------------------

    def plan(
        self,
        *,
        customer: str | None = None,
        key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        """The database's plan for that ``list``: whether an index serves it."""
        statement, params = query(customer, key, since, until, None)
        with self.db.transaction(TABLES, commit=False) as tx:
            if tx.postgres:
                rows = tx.rows("EXPLAIN " + statement, (*params, 100))
            else:
                rows = tx.rows("EXPLAIN QUERY PLAN " + statement, (*params, 100))
        return "\n".join(str(row.get("QUERY PLAN") or row.get("detail")) for row in rows)

    def list(
        self,
        *,
        customer: str | None = None,
        key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Records newest first, of one customer or key if named, recorded at or after
        ``since`` and before ``until``; ``next_cursor`` of the page fetches the next."""
        if not 1 <= limit <= MAX_LIMIT:
            raise CommandInvalid(f"limit must be 1 to {MAX_LIMIT}", where="limit")
        statement, params = query(customer, key, since, until, cursor)
        with self.db.transaction(TABLES, commit=False, snapshot=False) as tx:
            rows = tx.rows(statement, (*params, limit + 1))
        return page_of([as_item(row) for row in rows], limit, ("at", "position"))

    def all_of(self, customer: str) -> Iterator[dict[str, Any]]:
        """Every record of reads of this customer, newest first (for their own copy)."""
        cursor = None
        while True:
            page = self.list(customer=customer, limit=MAX_LIMIT, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def query(
    customer: str | None,
    key: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
) -> tuple[str, list[Any]]:
    """The statement (less its LIMIT's value) and parameters of a list."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("customer", customer), ("key", key)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(text(value, column, MAX_TEXT))
    for name, moment, test in (("since", since, "at >= ?"), ("until", until, "at < ?")):
        if moment is not None:
            if moment.tzinfo is None:
                raise CommandInvalid(f"{name} needs a zone, e.g. {moment.isoformat()}Z", where=name)
            where.append(test)
            params.append(iso(moment))
    after = decode_cursor(cursor, (str, int))
    if after is not None:
        # The first bound lets the index start at the cursor rather than at the newest.
        where.append("at <= ? AND (at < ? OR position < ?)")
        params += [after[0], after[0], after[1]]
    return (
        f"SELECT * FROM {{log}} WHERE {' AND '.join(where) or '1 = 1'} "
        "ORDER BY at DESC, position DESC LIMIT ?",
        params,
    )


def as_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "position": int(row["position"]),
        "at": row["at"],
        "key": row["key"],
        "role": row["role"],
        "customer": row["customer"],
        "what": row["what"],
        "fields": fields_of(row["fields"]),
        "purpose": row["purpose"],
        "interface": row["interface"],
        "previous": row["previous"],
        "hash": row["hash"],
    }


def pages(tx: ViewDb) -> Iterator[list[dict[str, Any]]]:
    """Every record in position order, a page at a time."""
    position: int | None = None
    while True:
        rows = tx.rows(
            "SELECT * FROM {log} WHERE position > ? ORDER BY position LIMIT ?",
            (-(2**62) if position is None else position, PAGE),
        )
        if not rows:
            return
        yield rows
        position = int(rows[-1]["position"])


def positions_of(tx: ViewDb, hashes: set[str]) -> dict[str, int]:
    """Where the records with these hashes are (a scan, made only when links are broken)."""
    found: dict[str, int] = {}
    chosen = sorted(hashes)
    for start in range(0, len(chosen), 500):
        chunk = chosen[start : start + 500]
        rows = tx.rows(
            f"SELECT position, hash FROM {{log}} WHERE hash IN ({', '.join('?' for _ in chunk)})",
            chunk,
        )
        found.update({row["hash"]: int(row["position"]) for row in rows})
    return found


def connection_options(datastore: PostgresDatastore) -> dict[str, Any]:
    """How the log's own PostgreSQL connections (the writer thread's, each event loop's) are
    opened: with the pool's settings, in autocommit, and the session's limits set as it
    starts (a lock waited for no longer than the store's; no transaction left idle)."""
    return {
        **postgres_connect_options(datastore),
        "autocommit": True,
        "prepare_threshold": 0,
        "options": f"-c lock_timeout={int(datastore.lock_timeout or 10)}s "
        "-c idle_in_transaction_session_timeout=60s",
    }


def not_recorded(error: Exception) -> AccessNotRecorded:
    return AccessNotRecorded(
        "the access log could not record this read, so it is refused; "
        f"retry in a moment ({type(error).__name__}: {error})",
        where="access_log",
    )
