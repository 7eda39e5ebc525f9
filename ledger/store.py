"""The event store's recorders, extended with the command log.

The command log remembers the result of every command that carried a ``command_id``.
Its rows are written in the same transaction as the command's events, so a command is
either wholly recorded (events and result) or not at all, and a retry finds its result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteCursor
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier, Literal

from ledger.encoding import compact
from ledger.library import PostgresRecorder, SQLiteRecorder, postgres_connect_options
from ledger.sealing import DESTROY_KEY, destroyed_key_row
from ledger.sealing import TABLE as KEYS_TABLE
from ledger.sql import DDL_LOCK

COMMANDS_TABLE = "ledger_commands"
COPY_FROM = 64  # events in a batch from which PostgreSQL is given them by COPY


@contextmanager
def creation_lock(datastore: PostgresDatastore) -> Iterator[None]:
    """Hold the ledger's DDL lock (on a connection of its own) while the library creates
    tables through its pool: processes starting together must not run the same DDL at once
    ("tuple concurrently updated", duplicate types)."""
    with psycopg.connect(**postgres_connect_options(datastore), autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK,))
        yield


class CommandRow(NamedTuple):
    command_id: str
    fingerprint: str
    originator_id: UUID
    originator_version: int
    result: dict[str, Any]


class RecordedCommand(NamedTuple):
    fingerprint: str
    result: dict[str, Any]
    position: int | None


class LedgerRecorder:
    """What the application needs of either recorder beyond the library's interface."""

    def select_commands(self, command_ids: Sequence[str]) -> dict[str, RecordedCommand]:
        raise NotImplementedError

    def existing_streams(self, ids: Sequence[UUID]) -> set[UUID]:
        """Which of these streams exist (have their first event)."""
        raise NotImplementedError


class SQLiteLedgerRecorder(SQLiteRecorder, LedgerRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {COMMANDS_TABLE} ("
            "command_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "result TEXT NOT NULL)",
        ]

    def insert_beside(self, c: SQLiteCursor, **kwargs: Any) -> None:
        commands: Iterable[CommandRow] = kwargs.get("commands", ())
        c.executemany(
            f"INSERT INTO {COMMANDS_TABLE} VALUES (?, ?, ?, ?, ?)",
            [
                (
                    row.command_id,
                    row.fingerprint,
                    row.originator_id.hex,
                    row.originator_version,
                    compact(row.result),
                )
                for row in commands
            ],
        )
        destroyed: Sequence[UUID] = kwargs.get("destroy_keys", ())
        if destroyed:
            c.execute("PRAGMA secure_delete = ON")  # the key's bytes are zeroed, not freed
            c.executemany(
                DESTROY_KEY.format(**KEYS_TABLE),
                [destroyed_key_row(stream) for stream in destroyed],
            )

    def existing_streams(self, ids: Sequence[UUID]) -> set[UUID]:
        found: set[UUID] = set()
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), 500):
                chunk = [i.hex for i in ids[start : start + 500]]
                c.execute(
                    f"SELECT originator_id FROM {self.events_table_name} WHERE "
                    f"originator_id IN ({', '.join('?' * len(chunk))}) "
                    "AND originator_version = 1",
                    chunk,
                )
                found.update(UUID(row["originator_id"]) for row in c.fetchall())
        return found

    def select_commands(self, command_ids: Sequence[str]) -> dict[str, RecordedCommand]:
        found: dict[str, RecordedCommand] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(command_ids), 500):
                chunk = list(command_ids[start : start + 500])
                c.execute(
                    f"SELECT c.command_id, c.fingerprint, c.result, e.rowid AS position "
                    f"FROM {COMMANDS_TABLE} c LEFT JOIN {self.events_table_name} e "
                    "ON e.originator_id = c.originator_id "
                    "AND e.originator_version = c.originator_version "
                    f"WHERE c.command_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
                for row in c.fetchall():
                    found[row["command_id"]] = RecordedCommand(
                        row["fingerprint"], json.loads(row["result"]), row["position"]
                    )
        return found


class PostgresLedgerRecorder(PostgresRecorder, LedgerRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.insert(0, SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(schema))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "command_id text PRIMARY KEY, fingerprint text NOT NULL, "
                "originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
                "result jsonb NOT NULL)"
            ).format(schema, Identifier(COMMANDS_TABLE))
        )
        # All of a batch's command records in one statement, sent as one JSON array: a
        # statement per row costs the client more than the server (ledger/sql.py).
        self.insert_commands_statement = SQL(
            "INSERT INTO {0}.{1} SELECT r->>0, r->>1, (r->>2)::uuid, (r->>3)::bigint, r->4"
            " FROM jsonb_array_elements(%s::jsonb) AS r"
        ).format(schema, Identifier(COMMANDS_TABLE))
        self.select_commands_statement = SQL(
            "SELECT c.command_id, c.fingerprint, c.result, e.notification_id AS position "
            "FROM {0}.{1} c LEFT JOIN {0}.{2} e ON e.originator_id = c.originator_id "
            "AND e.originator_version = c.originator_version WHERE c.command_id = ANY(%s)"
        ).format(schema, Identifier(COMMANDS_TABLE), Identifier(self.events_table_name))
        self.existing_streams_statement = SQL(
            "SELECT originator_id FROM {0}.{1} WHERE originator_id = ANY(%s)"
            " AND originator_version = 1"
        ).format(schema, Identifier(self.events_table_name))
        # The library sends a batch's events as an array of a composite type, which psycopg
        # dumps in Python, value by value: as one JSON array (state in hex) it is a third of
        # the time. Same columns, same order, same notification ids returned.
        self.insert_events_statement = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state)"
            " SELECT (r->>0)::uuid, (r->>1)::bigint, r->>2, decode(r->>3, 'hex')"
            " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(r, n) ORDER BY n"
            " RETURNING notification_id"
        ).format(schema, Identifier(self.events_table_name))

        self.destroy_keys_statement = SQL(
            DESTROY_KEY.replace("?", "%s").format(keys="{0}.{1}")
        ).format(schema, Identifier(KEYS_TABLE["keys"]))
        self.copy_commands_statement = SQL(
            "COPY {0}.{1} (command_id, fingerprint, originator_id, originator_version, result)"
            " FROM STDIN"
        ).format(schema, Identifier(COMMANDS_TABLE))
        self.copy_events_statement = SQL(
            "COPY {0}.{1} (originator_id, originator_version, topic, state, notification_id)"
            " FROM STDIN (FORMAT BINARY)"
        ).format(schema, Identifier(self.events_table_name))
        self.allocate_ids_statement = SQL(
            "SELECT nextval(pg_get_serial_sequence({0}, 'notification_id')) AS id"
            " FROM generate_series(1, %s)"
        ).format(Literal(f'"{self.datastore.schema}".{self.events_table_name}'))

    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        """A batch of ``COPY_FROM`` events or more is copied in (COPY takes rows for a third
        of the server's time of an INSERT); fewer go the library's way, in one round trip."""
        if len(stored_events) < COPY_FROM:
            return cast(Sequence[int] | None, super().insert_events(stored_events, **kwargs))
        return cast(list[int], self._copy_events(stored_events, **kwargs))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's
    def _copy_events(self, stored_events: Sequence[Any], **kwargs: Any) -> list[int]:
        commands: Sequence[CommandRow] = kwargs.get("commands", ())
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self.lock_table(curs)  # as the library does: commits in the order of their ids
            self.notify_channel(curs)
            if commands:
                with curs.copy(self.copy_commands_statement) as copy:
                    for row in commands:
                        copy.write_row(
                            (
                                row.command_id,
                                row.fingerprint,
                                row.originator_id,
                                row.originator_version,
                                compact(row.result),
                            )
                        )
            self._destroy_keys(curs, **kwargs)
            curs.execute(self.allocate_ids_statement, (len(stored_events),))
            ids = [row["id"] for row in curs.fetchall()]
            with curs.copy(self.copy_events_statement) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea", "int8"])
                for event, id_ in zip(stored_events, ids, strict=True):
                    copy.write_row(
                        (
                            event.originator_id,
                            event.originator_version,
                            event.topic,
                            event.state,
                            id_,
                        )
                    )
        return ids

    def create_table(self) -> None:
        # The schema must exist before the library creates its type in it.
        with creation_lock(self.datastore):
            with self.datastore.transaction(commit=True) as curs:
                curs.execute(self.sql_create_statements[0], prepare=False)
            super().create_table()

    def insert_beside(self, curs: psycopg.Cursor[Any], **kwargs: Any) -> None:
        commands: Sequence[CommandRow] = kwargs.get("commands", ())
        if commands:
            curs.execute(
                self.insert_commands_statement,
                (
                    compact(
                        [
                            (
                                row.command_id,
                                row.fingerprint,
                                str(row.originator_id),
                                row.originator_version,
                                row.result,
                            )
                            for row in commands
                        ]
                    ),
                ),
            )
        self._destroy_keys(curs, **kwargs)

    def _destroy_keys(self, curs: psycopg.Cursor[Any], **kwargs: Any) -> None:
        """Destroy the keys of the customers whose erasure these events record, in the same
        transaction: the erasure is recorded if and only if the key is gone."""
        for stream in kwargs.get("destroy_keys", ()):
            curs.execute(self.destroy_keys_statement, destroyed_key_row(stream))

    def insert_stored(self, curs: psycopg.Cursor[Any], stored_events: Sequence[Any]) -> None:
        rows = compact(
            [
                (str(e.originator_id), e.originator_version, e.topic, e.state.hex())
                for e in stored_events
            ]
        )  # before the lock
        self.lock_table(curs)  # as the library does: commits in the order of their ids
        self.notify_channel(curs)
        curs.execute(self.insert_events_statement, (rows,))

    def existing_streams(self, ids: Sequence[UUID]) -> set[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.existing_streams_statement, (list(ids),))
            return {row["originator_id"] for row in curs.fetchall()}

    def select_commands(self, command_ids: Sequence[str]) -> dict[str, RecordedCommand]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.select_commands_statement, (list(command_ids),))
            return {
                row["command_id"]: RecordedCommand(
                    row["fingerprint"], row["result"], row["position"]
                )
                for row in curs.fetchall()
            }
