"""Migrations of the ledger's authoritative tables: the schema version of a store, recorded in
the store, and the steps that bring a store made by an earlier release up to this code's.

The authoritative tables are the ones nothing can rebuild: the events and snapshots (the
library's), the command log (``ledger/store.py``), the deployment's secrets
(``ledger/secrets.py``), customers' keys (``ledger/sealing.py``), API keys (``api/keys.py``),
the integrity state (``ledger/integrity.py``) and the access log (``ledger/access_log.py``).
Views are not among them: a view whose shape changed is rebuilt from the log
(``ledger/projections/runner.py``).

``schema_migrations`` holds one row per version the store is at or went through: when, by
which release, and how (``created``: a new store, whose tables the code then made in that
version's shape; ``stamped``: a store made before versions were recorded, taken as version 1
as it is, nothing changed; ``applied``: the step ran). A step is a function (or SQL) per
dialect, run in one transaction with the row that records it, holding the creation lock (the
PostgreSQL advisory lock the ledger creates its tables under; SQLite's write lock): of
processes starting together, one applies it and the others find it recorded; a step that fails
leaves nothing of itself and no row. A store at a version above this code's is refused.

A step changes a table as it finds it, and must allow for the table not being there: tables
other than the log's are made when first used, and made in the current shape (the code's own
``CREATE TABLE IF NOT EXISTS``), so an absent table needs no step (``StepTx.has_table``).

``Ledger`` checks once per process per store, as it opens the store, before any table is made.
``ledger migrations`` shows a store's version and what would be applied.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.sql import DDL_LOCK

TABLE = "schema_migrations"

# The authoritative tables, by the names each engine gives them (the library names the log's
# tables after the application on PostgreSQL). A store holding any of them and no TABLE was
# made before versions were recorded. tests/test_migrations.py checks the list is whole.
SHARED = (
    "ledger_commands",  # ledger/store.py
    "api_secrets",  # ledger/secrets.py
    "customer_keys",  # ledger/sealing.py
    "api_keys",  # api/keys.py
    "integrity_heads",  # ledger/integrity.py
    "integrity_runs",
    "access_log",  # ledger/access_log.py
    "access_log_head",
)
AUTHORITATIVE = {
    "sqlite": ("stored_events", "stored_snapshots", *SHARED),
    "postgres": ("ledger_events", "ledger_snapshots", *SHARED),
}


class SchemaVersionError(LedgerError):
    """The store's schema is not at a version this code can use (exit status 1)."""

    code = "schema_version"


class StoreTooNew(SchemaVersionError):
    code = "store_too_new"


class StoreBehind(SchemaVersionError):
    code = "store_behind"


class StepFailed(SchemaVersionError):
    code = "migration_failed"


class StepTx:
    """What a step is given: one transaction on the store, holding the creation lock. SQL is
    the dialect's own (``?`` placeholders on SQLite, ``%s`` on PostgreSQL); on PostgreSQL the
    ledger's schema is first on the search path, so tables are named as on SQLite."""

    def __init__(self, cursor: Any, *, postgres: bool, schema: str) -> None:
        self.cursor = cursor
        self.postgres = postgres
        self.schema = schema

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(statement, tuple(params))

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(statement, tuple(params))
        return [tuple(row) for row in self.cursor.fetchall()]

    def has_table(self, name: str) -> bool:
        return bool(self.existing([name]))

    def existing(self, names: Sequence[str]) -> set[str]:
        """Which of these tables exist."""
        if self.postgres:
            found = self.rows(
                "SELECT tablename FROM pg_catalog.pg_tables"
                " WHERE schemaname = %s AND tablename = ANY(%s)",
                (self.schema, list(names)),
            )
        else:
            found = self.rows(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                f" AND name IN ({', '.join('?' * len(names))})",
                names,
            )
        return {row[0] for row in found}

    def columns(self, table: str) -> list[str]:
        """The table's columns, in order (none if there is no such table)."""
        if self.postgres:
            found = self.rows(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (self.schema, table),
            )
            return [row[0] for row in found]
        return [row[1] for row in self.rows(f'PRAGMA table_info("{table}")')]


Apply = Sequence[str] | Callable[[StepTx], None]


@dataclass(frozen=True)
class Step:
    """One version of the schema: what brings a store from the version before to this one."""

    version: int
    name: str
    sqlite: Apply = ()
    postgres: Apply = ()

    def apply(self, tx: StepTx) -> None:
        how = self.postgres if tx.postgres else self.sqlite
        if callable(how):
            how(tx)
        else:
            for statement in how:
                tx.execute(statement)


# In order of version; never change a released step (a store may have run it): add the next.
STEPS: tuple[Step, ...] = (
    Step(
        1,
        "baseline: the log, command log, secrets, customer keys, API keys, integrity state "
        "and access log as customer-ledger 0.1.0 made them (d00c4e3)",
    ),
)


def code_version() -> int:
    """The highest schema version this code knows."""
    return max(step.version for step in STEPS)


def release() -> str:
    try:
        return metadata.version("customer-ledger")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


@dataclass(frozen=True)
class Applied:
    version: int
    name: str
    how: str  # created, stamped or applied
    applied_at: str
    code_version: str  # the release that recorded it


@dataclass(frozen=True)
class Status:
    """A store's schema version as found, and what this code would do about it."""

    store: str
    state: str  # new, unversioned, current, behind or too_new
    version: int | None  # None: a new store (no tables); an unversioned store is at 1
    code_version: int
    applied: list[Applied]
    pending: list[Step]

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "state": self.state,
            "version": self.version,
            "code_version": self.code_version,
            "release": release(),
            "applied": [asdict(a) for a in self.applied],
            "pending": [{"version": s.version, "name": s.name} for s in self.pending],
        }


class Session:
    """A store, for reading its versions and applying steps."""

    postgres = False
    schema = ""

    def __init__(self, store: str) -> None:
        self.store = store

    def tx(self, cursor: Any) -> StepTx:
        return StepTx(cursor, postgres=self.postgres, schema=self.schema)

    def reading(self) -> AbstractContextManager[StepTx]:
        """Reads, outside any transaction of ours."""
        raise NotImplementedError

    def locked(self) -> AbstractContextManager[StepTx]:
        """One transaction holding the creation lock: committed if the block ends well,
        rolled back whole (DDL included, on both engines) if it raises."""
        raise NotImplementedError

    def table(self) -> str:
        return f'"{self.schema}".{TABLE}' if self.postgres else TABLE

    def applied(self, tx: StepTx) -> list[Applied]:
        rows = tx.rows(
            "SELECT version, name, how, applied_at, code_version"
            f" FROM {self.table()} ORDER BY version"
        )
        return [Applied(*row) for row in rows]


class PostgresSession(Session):
    postgres = True

    def __init__(self, conn: psycopg.Connection[Any], *, schema: str, store: str) -> None:
        super().__init__(store)
        self.conn = conn
        self.schema = schema

    @contextmanager
    def reading(self) -> Iterator[StepTx]:
        with self.conn.cursor(row_factory=tuple_row) as cursor:
            yield self.tx(cursor)

    @contextmanager
    def locked(self) -> Iterator[StepTx]:
        with self.conn.transaction(), self.conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
            cursor.execute(SQL("SET LOCAL search_path TO {}").format(Identifier(self.schema)))
            yield self.tx(cursor)


class SQLiteSession(Session):
    """Reads through the library's connection when the ledger has one (one the library
    keeps: a connection of our own, the file's last to close, would take the write-ahead
    log down with it, for the library to make again); writes through one of its own, which
    can take the write lock up front."""

    def __init__(
        self, settings: Settings, datastore: SQLiteDatastore | None, *, create: bool
    ) -> None:
        super().__init__(settings.describe())
        self.path = settings.sqlite_path
        self.timeout = settings.sqlite_lock_timeout
        self.datastore = datastore
        self.create = create
        self.conn: sqlite3.Connection | None = None

    def connection(self) -> sqlite3.Connection:
        if self.conn is None:
            if self.create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                target, uri = str(self.path), False
            elif self.path.exists():
                target, uri = f"{self.path.resolve().as_uri()}?mode=ro", True
            else:  # nothing to read, and nothing made by reading it
                target, uri = ":memory:", False
            self.conn = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=self.timeout)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    @contextmanager
    def reading(self) -> Iterator[StepTx]:
        if self.datastore is not None:
            with self.datastore.transaction(commit=False) as cursor:
                yield self.tx(cursor)
        else:
            yield self.tx(self.connection().cursor())

    @contextmanager
    def locked(self) -> Iterator[StepTx]:
        cursor = self.connection().cursor()
        cursor.execute("BEGIN IMMEDIATE")  # waits for other writers (the lock timeout)
        try:
            yield self.tx(cursor)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")


def read_status(session: Session) -> Status:
    """The store's versions, as they are (nothing is written)."""
    with session.reading() as tx:
        names = AUTHORITATIVE["postgres" if session.postgres else "sqlite"]
        if tx.has_table(TABLE):
            applied = session.applied(tx)
            versions = {a.version for a in applied}
            version: int | None = max(versions) if versions else None
            state = "current"
        else:
            applied, versions = [], set()
            version = 1 if tx.existing(names) else None
            state = "unversioned" if version else "new"
    pending = [step for step in STEPS if step.version not in versions]
    if version is not None and version > code_version():
        state = "too_new"
    elif state == "unversioned":
        pending = [step for step in pending if step.version > 1]
    elif state == "new":
        pending = []  # made at the current version
    elif pending:
        state = "behind"
    return Status(session.store, state, version, code_version(), applied, pending)


def upgrade(session: Session, *, create: bool = True) -> list[int]:
    """Bring the store to this code's version: stamp a store that has none (a new one at
    this version, one made before versions were recorded at 1), then apply each step it
    lacks, in order. The versions applied. Without ``create`` nothing is written: a store
    that needs a step is refused (``StoreBehind``). A newer store is refused (``StoreTooNew``)."""
    status = read_status(session)
    refuse_newer(session.store, status.version, status.applied)
    if not create:
        if status.pending:
            raise StoreBehind(
                f"the store ({session.store}) is at schema version {status.version}; this "
                f"code (customer-ledger {release()}) needs version {code_version()}, which "
                f"takes {len(status.pending)} step(s) that change tables: start the ledger "
                "once with LEDGER_CREATE_TABLES=true as a role that may change them, or run "
                "`ledger migrations --apply` as one"
            )
        return []
    if status.state == "current":
        return []
    if status.state in ("new", "unversioned"):
        stamp(session)
        status = read_status(session)
    done = []
    for step in sorted(status.pending, key=lambda s: s.version):
        with session.locked() as tx:
            found = session.applied(tx)
            at = max((a.version for a in found), default=0)
            refuse_newer(session.store, at, found)
            if step.version in {a.version for a in found}:
                continue  # recorded by a process that started beside us
            try:
                step.apply(tx)
            except Exception as error:
                raise StepFailed(
                    f"schema step {step.version} ({step.name}) failed on {session.store}: "
                    f"{error}. Nothing of it was written: the store stays at version {at}"
                ) from error
            record(session, tx, step, "applied")
            done.append(step.version)
    return done


def stamp(session: Session) -> None:
    """Record the version of a store that has none: every version, for a new store (its
    tables will be made in this code's shape); version 1, as it is, for an existing one."""
    with session.locked() as tx:
        if tx.has_table(TABLE):
            return  # stamped by a process that started beside us
        existing = tx.existing(AUTHORITATIVE["postgres" if session.postgres else "sqlite"])
        if session.postgres:
            tx.execute(f'CREATE SCHEMA IF NOT EXISTS "{session.schema}"')
        tx.execute(
            f"CREATE TABLE {session.table()} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "how TEXT NOT NULL, applied_at TEXT NOT NULL, code_version TEXT NOT NULL)"
        )
        if existing:
            record(session, tx, STEPS[0], "stamped")  # the baseline, version 1
        else:
            for step in STEPS:
                record(session, tx, step, "created")


def record(session: Session, tx: StepTx, step: Step, how: str) -> None:
    mark = "%s" if session.postgres else "?"
    tx.execute(
        f"INSERT INTO {session.table()} VALUES ({', '.join([mark] * 5)})",
        (step.version, step.name, how, now(), release()),
    )


def refuse_newer(store: str, version: int | None, applied: Sequence[Applied]) -> None:
    if version is None or version <= code_version():
        return
    by = next((a for a in applied if a.version == version), None)
    written = f", recorded by customer-ledger {by.code_version} on {by.applied_at}" if by else ""
    raise StoreTooNew(
        f"the store ({store}) is at schema version {version}{written}; this code "
        f"(customer-ledger {release()}) knows versions up to {code_version()}. A later "
        "release upgraded it: run that release or a later one. Nothing was changed"
    )


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


# -- opening a store -----------------------------------------------------------------------


@contextmanager
def session_of(
    settings: Settings,
    datastore: PostgresDatastore | SQLiteDatastore | None = None,
    *,
    create: bool = True,
) -> Iterator[Session]:
    """The store of these settings: through the library's ``datastore`` when the ledger has
    one, else through a connection of its own. Without ``create``, a SQLite file that does not
    exist is not made."""
    if settings.database_url:
        store, schema = settings.describe(), settings.database_schema.strip() or "public"
        if isinstance(datastore, PostgresDatastore):
            with datastore.get_connection() as pooled:
                yield PostgresSession(pooled, schema=schema, store=store)
            return
        with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as own:
            yield PostgresSession(own, schema=schema, store=store)
        return
    session = SQLiteSession(
        settings, datastore if isinstance(datastore, SQLiteDatastore) else None, create=create
    )
    try:
        yield session
    finally:
        session.close()


_CHECKED: set[tuple[str, ...]] = set()  # stores this process found current


def store_key(settings: Settings) -> tuple[str, ...]:
    if settings.database_url:
        return ("postgres", settings.database_url, settings.database_schema.strip() or "public")
    return ("sqlite", str(settings.sqlite_path.resolve()))


def at_start(settings: Settings, datastore: object = None) -> None:
    """What the ledger does as it opens a store, before it makes any table: once per process
    per store, check the store's version and bring it to this code's (a read or two, through
    the library's ``datastore``, when it is there already)."""
    key = store_key(settings)
    if key in _CHECKED:
        return
    known = datastore if isinstance(datastore, PostgresDatastore | SQLiteDatastore) else None
    with session_of(settings, known) as session:
        upgrade(session, create=settings.create_tables)
    _CHECKED.add(key)
