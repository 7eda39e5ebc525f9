"""What this code relies on in ``eventsourcing`` beyond the library's public interface.

The public interface does not offer what the ledger needs in four places: saving a batch of
aggregates with other rows in the same transaction (the command log, destroyed keys), its
own SQL for inserting events on PostgreSQL (one JSON array, or COPY), a faster encoding of
instants and amounts, and the sizes of the SQLite connection pool. For these the code uses
ten of the library's private methods and its pools' attributes, each reached only through
this module. ``tests/test_library.py`` pins every behaviour relied on: to adopt a new release,
read its changes to the names below and run that test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import JSONTranscoder, Recording, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from psycopg import Cursor
from psycopg.rows import DictRow

# -- the application: what ``Application.save`` does, step by step -------------------------


class SavingApplication(Application[UUID]):
    """The library's application, with a hook called after events are recorded."""

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        self.recorded(recordings)

    def recorded(self, recordings: list[Recording[UUID]]) -> None:
        """Called once events are stored (by ``save``; a ledger's batch calls it itself)."""


def record(app: Application[UUID], processing: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
    """Store the events of ``processing`` in one transaction, handing its ``saved_kwargs`` to
    the recorder's ``insert_events`` (where ``insert_beside`` below sees them); the events'
    recordings, with their log positions, in order."""
    return app._record(processing)


def take_snapshots(app: Application[UUID], processing: ProcessingEvent[UUID]) -> None:
    """Snapshot the aggregates of ``processing`` whose new version reaches their interval."""
    app._take_snapshots(processing)


# -- the recorders: their hooks inside ``insert_events``' transaction ------------------------


class SQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, with a hook to write other rows in the events'
    transaction (after them)."""

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        self.insert_beside(c, **kwargs)
        return notification_ids

    def insert_beside(self, c: SQLiteCursor, **kwargs: Any) -> None:
        """Write what goes with the events (``kwargs`` are the ``saved_kwargs``)."""


class PostgresRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, with hooks to write other rows in the events'
    transaction (before them, outside the table lock) and to insert the events with other
    SQL. The library then reads the events' notification ids from the cursor the insert
    ran on (``_fetch_ids_after_insert_events``): the SQL must return them."""

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        self.insert_beside(curs, **kwargs)
        super()._insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        self.insert_stored(curs, stored_events)

    def insert_beside(self, curs: Cursor[DictRow], **kwargs: Any) -> None:
        """Write what goes with the events (``kwargs`` are the ``saved_kwargs``)."""

    def insert_stored(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent]) -> None:
        """Insert the events, returning their notification ids (the library's way here)."""
        PostgresApplicationRecorder._insert_stored_events(self, curs, stored_events)

    def lock_table(self, curs: Cursor[DictRow]) -> None:
        """Lock the events table until the transaction ends, as the library does before it
        inserts: transactions then commit in the order of their notification ids."""
        self._lock_table(curs)

    def notify_channel(self, curs: Cursor[DictRow]) -> None:
        """Wake the library's subscribers (LISTEN) when the transaction commits."""
        self._notify_channel(curs)


# -- the transcoder --------------------------------------------------------------------------


class Transcoder(JSONTranscoder):
    """The library's JSON transcoder, with a hook for objects JSON has no type for."""

    def _encode_obj(self, o: Any) -> dict[str, Any]:
        return self.encode_object(o)

    def encode_object(self, o: Any) -> dict[str, Any]:
        """``{"_type_": name, "_data_": …}`` for an object of a registered transcoding."""
        return JSONTranscoder._encode_obj(self, o)


# -- the pools --------------------------------------------------------------------------------


def sqlite_path(datastore: SQLiteDatastore) -> str:
    """The SQLite database the pool connects to (a file name or a URI)."""
    return datastore.pool.db_name


def sqlite_lock_timeout(datastore: SQLiteDatastore) -> float | None:
    """How long the pool's connections wait for SQLite's lock (None: the library's default)."""
    return cast(float | None, datastore.pool.lock_timeout)


def size_sqlite_pool(datastore: SQLiteDatastore, *, kept: int, overflow_at_least: int) -> None:
    """Keep ``kept`` connections open, and allow at least ``overflow_at_least`` more at once."""
    datastore.pool.pool_size = kept
    datastore.pool.max_overflow = max(datastore.pool.max_overflow, overflow_at_least)


def postgres_connect_options(datastore: PostgresDatastore) -> dict[str, Any]:
    """The keyword arguments the pool opens its connections with: every setting (the library
    passes none in a connection string)."""
    return dict(cast(dict[str, Any], datastore.pool.kwargs))
