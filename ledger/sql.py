"""One transaction on the ledger's own database, with SQL written once for both engines.

Views write SQL with ``?`` placeholders and ``{name}`` table names; this turns them into the
engine's placeholders and the table names of the build in hand (live, or a rebuild beside
the live tables). Times are stored as ISO-8601 UTC text and money as decimal text, so that
both engines order and compare them alike and nothing is rounded.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from ledger.library import sqlite_lock_timeout, sqlite_path

CACHE_KIB = 64 * 1024  # SQLite page cache of the connection that writes views
MMAP_BYTES = 1 << 30  # and how much of the file it reads through memory mapping


_ISO: dict[datetime, str] = {}  # every view formats the same event's times: remember them


def iso(value: datetime | None) -> str | None:
    """A time as sortable UTC text."""
    if value is None:
        return None
    # Equal datetimes are the same instant (or the same naive time), so the same text.
    text = _ISO.get(value)
    if text is None:
        if len(_ISO) >= 200_000:
            _ISO.clear()
        text = _ISO[value] = _iso(value)
    return text


def _iso(value: datetime) -> str:
    if value.tzinfo is not timezone.utc and value.utcoffset():
        value = value.astimezone(timezone.utc)
    text = value.isoformat()  # a third faster than asking for timespec="microseconds"
    return text[:26] + "Z" if value.microsecond else text[:19] + ".000000Z"


def parse_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)  # reads the "Z" as UTC


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# PostgreSQL advisory lock key held while creating tables: processes starting together must
# not run the same DDL at once ("tuple concurrently updated", duplicate types).
DDL_LOCK = 0x1ED6E5


class ViewDb:
    def __init__(
        self,
        cursor: Any,
        *,
        postgres: bool,
        tables: dict[str, str],
        columns: dict[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        self.cursor = cursor
        self.postgres = postgres
        self.tables = tables
        self.columns = columns or {}  # logical table -> its (column, PostgreSQL type)s
        self._sql: dict[str, str] = {}

    def ddl_turn(self) -> None:
        """On PostgreSQL, wait for other transactions creating tables to finish (the ledger's
        DDL lock, held until this transaction ends). Call before ``CREATE``."""
        if self.postgres:
            self.execute("SELECT pg_advisory_xact_lock(?)", (DDL_LOCK,))

    def sql(self, statement: str) -> str:
        known = self._sql.get(statement)
        if known is None:
            known = statement.format(**self.tables)
            known = known.replace("?", "%s") if self.postgres else known
            self._sql[statement] = known
        return known

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self.sql(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        if self.postgres and len(rows) > 1:
            statement_for_all = self.one_statement(statement)
            if statement_for_all is not None:
                self.cursor.execute(statement_for_all, (json.dumps(rows, default=str),))
                return
        self.cursor.executemany(self.sql(statement), rows)

    def one_statement(self, statement: str) -> str | None:
        """On PostgreSQL, ``INSERT INTO {t} [(columns)] VALUES (?, ..., literal, ...)`` as one
        statement for all rows, which arrive as one JSON array of arrays.

        An executemany in a pipeline sends a statement per row, and the client's work per
        statement (not the server's) was most of a PostgreSQL catch-up; psycopg also dumps
        array parameters in Python, while ``json.dumps`` is C. None if the statement is of
        another form, or is an upsert (two rows of one statement may not update one row)."""
        key = "json:" + statement
        if key in self._sql:
            return self._sql[key] or None
        found = INSERT_VALUES.fullmatch(statement)
        known = None
        if found is not None and "DO UPDATE" not in found["tail"].upper():
            table, listed, values, tail = found.group("table", "listed", "values", "tail")
            types = dict(self.columns.get(table, ()))
            names = (
                [n.strip() for n in listed.split(",")]
                if listed
                else [name for name, _ in self.columns.get(table, ())]
            )
            items = [v.strip() for v in values.split(",")]
            if types and len(items) == len(names):
                exprs, n = [], 0
                for item, name in zip(items, names, strict=True):
                    if item == "?":
                        cast = "" if types[name] == "TEXT" else f"::{types[name]}"
                        exprs.append(f"(r->>{n}){cast}")
                        n += 1
                    else:
                        exprs.append(item)
                target = f" ({listed})" if listed else ""
                known = (
                    f"INSERT INTO {self.tables[table]}{target} SELECT {', '.join(exprs)} "
                    f"FROM jsonb_array_elements(%s::jsonb) AS r{tail}"
                )
        self._sql[key] = known or ""
        return known

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if self.postgres:
            # A cursor of its own: in pipeline mode, a cursor that has sent an executemany
            # may hand a later fetch the result of one of those statements instead.
            with self.cursor.connection.cursor() as reader:
                reader.execute(self.sql(statement), tuple(params))
                return [dict(row) for row in reader.fetchall()]
        self.execute(statement, params)
        return [dict(row) for row in self.cursor.fetchall()]

    def one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        found = self.rows(statement, params)
        return found[0] if found else None


INSERT_VALUES = re.compile(
    r"INSERT INTO \{(?P<table>\w+)\}(?: \((?P<listed>[\w, ]+)\))?"
    r" VALUES \((?P<values>[^()]*)\)(?P<tail>.*)",
    re.S,
)


def column_types(ddl: str, types: dict[str, str]) -> list[tuple[str, str]]:
    """The (column, type) pairs of a view table's column definitions."""
    columns, depth, part = [], 0, ""
    for char in ddl + ",":
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            name, kind, *_ = part.split()
            if name.upper() not in ("PRIMARY", "UNIQUE", "CHECK", "FOREIGN"):
                columns.append((name, kind.format(**types)))
            part = ""
        else:
            part += char
    return columns


@dataclass(frozen=True)
class EventLog:
    """The table the events are stored in and how to decode them, for views that point at
    events rather than copy them."""

    table: str
    mapper: Mapper[UUID]

    def decode(self, stream: UUID, version: int, topic: str, state: bytes) -> Any:
        return self.mapper.to_domain_event(
            StoredEvent(
                originator_id=stream, originator_version=version, topic=topic, state=bytes(state)
            )
        )


class Database:
    """The datastore the events live in, opened for views (in the ledger's own schema)."""

    def __init__(
        self, datastore: SQLiteDatastore | PostgresDatastore, log: EventLog | None = None
    ) -> None:
        self.datastore = datastore
        self.log = log
        self.postgres = isinstance(datastore, PostgresDatastore)
        self.schema = datastore.schema if isinstance(datastore, PostgresDatastore) else ""
        self._writer: sqlite3.Connection | None = None
        self._writer_lock = threading.Lock()
        self.tables_seen: set[str] = set()
        self.columns: dict[str, list[tuple[str, str]]] = {}  # table -> (column, type)s

    @classmethod
    def of(cls, ledger: Application[UUID]) -> Database:
        """The ledger's store, with its event log."""
        recorder = ledger.recorder
        return cls(
            recorder.datastore,  # type: ignore[attr-defined]
            EventLog(recorder.events_table_name, ledger.mapper),  # type: ignore[attr-defined]
        )

    def stream_key(self, stream: UUID) -> Any:
        """A stream id as the events table holds it."""
        return stream if self.postgres else stream.hex

    def sqlite_writer(self, datastore: SQLiteDatastore) -> sqlite3.Connection:
        """The one connection views are written through on SQLite, kept open.

        SQLite keeps its page cache per connection (and drops it when another connection has
        written). The library's pool hands out its connections in turn, so each batch would
        start with a cold cache and read back, a page at a time, every index page it touches.
        """
        if self._writer is None:
            conn = sqlite3.connect(
                sqlite_path(datastore),
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=sqlite_lock_timeout(datastore) or 5.0,
            )
            conn.row_factory = sqlite3.Row
            # A batch dirties pages all over the views' tables and indexes; with the default
            # 2 MB cache they would be spilled and read back mid-transaction. Memory only:
            # durability is unchanged.
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            # Overwritten and deleted content is zeroed, not left in free space: a forgotten
            # customer's name must not linger in the file (ledger/erasure.py).
            conn.execute("PRAGMA secure_delete = ON")
            self._writer = conn
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def qualify(self, tables: dict[str, str]) -> dict[str, str]:
        if not self.postgres:
            return tables
        return {logical: f'"{self.schema}"."{name}"' for logical, name in tables.items()}

    @contextmanager
    def transaction(
        self, tables: dict[str, str], *, commit: bool = True, snapshot: bool = True
    ) -> Iterator[ViewDb]:
        """A transaction over these tables; ``commit=False`` reads. A read of one statement
        passes ``snapshot=False``: on PostgreSQL it then sends that statement alone (its own
        implicit transaction), one round trip instead of three."""
        if isinstance(self.datastore, SQLiteDatastore) and commit:
            # IMMEDIATE takes the write lock up front (waiting for it), so a transaction that
            # reads before it writes is never refused for a snapshot another writer moved.
            with self._writer_lock:
                writer = self.sqlite_writer(self.datastore)
                cursor = writer.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield ViewDb(cursor, postgres=False, tables=tables)
                except BaseException:
                    writer.rollback()
                    raise
                writer.commit()
            return
        if isinstance(self.datastore, PostgresDatastore) and not commit:
            # A read: one snapshot for its statements (PostgreSQL's default, read committed,
            # would let each statement see the batches committed since the one before), each
            # answered as it goes (a pipeline would only add its own sync round trip).
            with self.datastore.get_connection() as conn:
                if not snapshot:
                    yield ViewDb(conn.cursor(), postgres=True, tables=self.qualify(tables))
                    return
                with conn.transaction(force_rollback=True):
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield ViewDb(conn.cursor(), postgres=True, tables=self.qualify(tables))
            return
        if isinstance(self.datastore, PostgresDatastore):
            # Pipeline mode sends a batch's statements without waiting for each reply, and
            # each is prepared on first use: the server parses and plans an INSERT once per
            # connection instead of once per row (a third of a PostgreSQL catch-up). psycopg
            # forgets what a failed pipeline skipped (tests/projections/test_db.py).
            with self.datastore.get_connection() as conn:
                threshold, conn.prepare_threshold = conn.prepare_threshold, 0
                try:
                    with conn.transaction(force_rollback=not commit), conn.pipeline():
                        yield ViewDb(
                            conn.cursor(),
                            postgres=True,
                            tables=self.qualify(tables),
                            columns={
                                logical: self.columns[name]
                                for logical, name in tables.items()
                                if name in self.columns
                            },
                        )
                finally:
                    conn.prepare_threshold = threshold
            return
        with self.datastore.transaction(commit=commit) as reader:
            yield ViewDb(reader, postgres=False, tables=tables)

    def table_exists(self, tx: ViewDb, name: str) -> bool:
        """Whether the table exists. A yes is remembered (views' tables are dropped only by
        a rebuild, which says so with ``forget_tables``): queries check on every call."""
        if name in self.tables_seen:
            return True
        if self.postgres:
            found = tx.one(
                "SELECT 1 AS found FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                (self.schema, name),
            )
        else:
            found = tx.one(
                "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            )
        if found is not None:
            self.tables_seen.add(name)
        return found is not None

    def forget_tables(self, names: Iterable[str]) -> None:
        self.tables_seen.difference_update(names)

    def ddl_types(self) -> dict[str, str]:
        return {
            "int": "BIGINT" if self.postgres else "INTEGER",
            "text": "TEXT",
            "bool": "BOOLEAN" if self.postgres else "INTEGER",
        }


class Writes:
    """One batch's statements. Inserts that commute with one another wait and go out together
    (one ``executemany`` per statement: a single round trip on PostgreSQL); any other
    statement, or a read, first sends what waits, so every row is written in log order."""

    def __init__(self, db: ViewDb) -> None:
        self.db = db
        self.waiting: dict[str, list[Sequence[Any]]] = {}

    def later(self, statement: str, params: Sequence[Any]) -> None:
        rows = self.waiting.get(statement)
        if rows is None:
            self.waiting[statement] = [params]
        else:
            rows.append(params)

    def flush(self, statement: str | None = None) -> None:
        """Send what waits; with ``statement``, only what touches a table it names (statements
        on other tables commute with it, so they may keep waiting)."""
        if not self.waiting:
            return
        if statement is None:
            for waiting, rows in self.waiting.items():
                self.db.executemany(waiting, rows)
            self.waiting.clear()
            return
        tables = tables_of(statement)
        for waiting in [w for w in self.waiting if not tables.isdisjoint(tables_of(w))]:
            self.db.executemany(waiting, self.waiting.pop(waiting))

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.flush(statement)
        self.db.execute(statement, params)

    def one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        self.flush(statement)
        return self.db.one(statement, params)


_TABLES: dict[str, frozenset[str]] = {}


def tables_of(statement: str) -> frozenset[str]:
    """The ``{table}`` names a statement reads or writes."""
    found = _TABLES.get(statement)
    if found is None:
        found = _TABLES[statement] = frozenset(re.findall(r"\{(\w+)\}", statement))
    return found
