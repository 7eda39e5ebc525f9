"""Keeps every view current: reads the log in batches, applies each batch to each view in
one transaction together with the view's new position (exactly once), resumes where it
stopped, and stops a view that cannot process an event at that event, saying why.

The library's ``ProjectionRunner`` commits one transaction per event and tracks a single
view; catching up a million events needs batches, and a rebuild must swap a whole view
at once, so positions live in ``view_positions`` written beside the view's rows.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from ledger.application import Ledger
from ledger.chain import ChainedMapper
from ledger.collector import collector_paused
from ledger.projections.base import Refs, View
from ledger.sql import Database, ViewDb, column_types, iso

# Errors of the database rather than of an event: a view is not stopped for them.
TRANSIENT = (
    OperationalError,
    InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
# Events per transaction when catching up. Larger batches commit less often and spill less,
# but hold SQLite's write lock longer (about half a second at this size).
BATCH_SIZE = 10_000
SHARED_TABLES = {
    "positions": "view_positions",
    "streams": "view_streams",
    "shapes": "view_shapes",
}
SHARED_COLUMNS = {
    "positions": "view TEXT PRIMARY KEY, position {int} NOT NULL, error TEXT, "
    "error_position {int}, updated_at TEXT NOT NULL",
    "streams": "id TEXT PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL",
    # each view's tables and indexes as they were built (``shape``)
    "shapes": "view TEXT PRIMARY KEY, shape TEXT NOT NULL",
}


@dataclass
class ViewStatus:
    view: str
    position: int
    head: int
    error: str | None = None
    error_position: int | None = None
    rebuild_pending: bool = False  # built by an earlier version of the view: rebuilt next run

    @property
    def lag(self) -> int:
        return self.head - self.position

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "position": self.position,
            "head": self.head,
            "lag": self.lag,
            "error": self.error,
            "error_position": self.error_position,
            "rebuild_pending": self.rebuild_pending,
        }


Batch = list[tuple[int, Any]]  # (log position, domain event), in log order


class Runner:
    def __init__(
        self,
        app: Ledger,
        views: Sequence[View],
        *,
        batch_size: int = BATCH_SIZE,
        database: Database | None = None,
        keep: Callable[[Any], bool] | None = None,
    ) -> None:
        """Keep ``views`` (in ``database``, by default the ledger's own) from the ledger's
        log; with ``keep``, only the events it accepts (a replay's reading of the log)."""
        self.app = app
        self.views = list(views)
        self.batch_size = batch_size
        self.db = database or Database.of(app)
        self.keep = keep
        self.last_kept = 0  # with ``keep``: the log position of the last event it accepted
        assert isinstance(app.mapper, ChainedMapper)
        self.mapper = app.mapper  # views take events as stored: personal fields sealed
        self.refs = Refs(app.mapper.keys, app.index_key)
        self.failed: dict[str, str] = {}
        self.outdated: list[View] = []  # tables of an earlier shape: rebuilt by ``catch_up``
        self.created: list[tuple[str, str, str]] = []  # streams created in the current batch
        self.wakeup = threading.Event()
        app.listeners.append(self.wakeup)
        self.ensure_tables()

    def close(self) -> None:
        """Stop listening for new events and close the connection views are written through."""
        if self.wakeup in self.app.listeners:
            self.app.listeners.remove(self.wakeup)
        self.db.close()

    # -- tables ------------------------------------------------------------------------------

    def ensure_tables(self, views: Sequence[View] | None = None, suffix: str = "") -> None:
        """Create what is missing. On PostgreSQL runners starting together (``ledger serve``
        with its scheduler, several processes) take turns: two CREATE TABLE IF NOT EXISTS at
        once can both try to create the table's type, and one fails."""
        types = self.db.ddl_types()
        with self.db.transaction(SHARED_TABLES) as tx:
            tx.ddl_turn()
            for logical, columns in SHARED_COLUMNS.items():
                self.db.columns[SHARED_TABLES[logical]] = column_types(columns, types)
                tx.execute(f"CREATE TABLE IF NOT EXISTS {{{logical}}} ({columns.format(**types)})")
        for view in views if views is not None else self.views:
            names = view.table_names(suffix)
            with self.db.transaction({**SHARED_TABLES, **names}) as tx:
                tx.ddl_turn()
                existed = create_view_tables(self.db, tx, view, types, names, suffix)
                tx.execute(
                    "INSERT INTO {positions} (view, position, updated_at) "
                    "VALUES (?, 0, ?) ON CONFLICT (view) DO NOTHING",
                    (view.name + suffix, iso(datetime.now(timezone.utc))),
                )
                if suffix:
                    continue
                built = tx.one("SELECT shape FROM {shapes} WHERE view = ?", (view.name,))
                if not existed:
                    record_shape(tx, view)
                elif built is None or built["shape"] != shape(view):
                    # Built by an earlier version of the code: its rows may lack a column or
                    # mean something else. Rebuilt beside the live tables and swapped in.
                    self.outdated.append(view)
        with self.db.transaction(SHARED_TABLES, commit=False) as tx:
            self.refs.load(tx)

    # -- positions -----------------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        with self.db.transaction(SHARED_TABLES, commit=False, snapshot=False) as tx:
            rows = tx.rows("SELECT view, position FROM {positions}")
        found = {row["view"]: int(row["position"]) for row in rows}
        return {view.name: found.get(view.name, 0) for view in self.views}

    def status(self) -> list[ViewStatus]:
        head = self.app.recorder.max_notification_id() or 0
        with self.db.transaction(SHARED_TABLES, commit=False) as tx:
            rows = {r["view"]: r for r in tx.rows("SELECT * FROM {positions}")}
        return [
            ViewStatus(
                view.name,
                int(rows[view.name]["position"]) if view.name in rows else 0,
                head,
                (rows.get(view.name) or {}).get("error"),
                (rows.get(view.name) or {}).get("error_position"),
                view in self.outdated,
            )
            for view in self.views
        ]

    # -- processing --------------------------------------------------------------------------

    def catch_up(
        self, *, until: int | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Process every event written so far (or up to ``until``); return how many.

        A view whose tables an earlier version of the code built is rebuilt first."""
        while self.outdated:
            view = self.outdated.pop(0)
            # Its live tables do not fit its code: it waits (as if stopped) until swapped.
            self.failed[view.name] = "being rebuilt: an earlier version of the code built it"
            self.rebuild(view, progress=progress)
        processed = 0
        positions = self.positions()
        ahead: tuple[int, int, Future[Batch]] | None = None  # the next batch, being read
        with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as reader:
            while True:
                active = [v for v in self.views if v.name not in self.failed]
                if not active:
                    return processed
                start = min(positions[v.name] for v in active)
                limit = self.batch_size if until is None else min(self.batch_size, until - start)
                if limit <= 0:
                    return processed
                with collector_paused():
                    if ahead is not None and ahead[:2] == (start, limit):
                        batch = self.learn(ahead[2].result())
                    else:
                        batch = self.read(start, limit, until)
                    count = len(batch)
                    ahead = None
                    if self.db.postgres and count == limit:
                        # Read and decode the next batch while this one is written: on
                        # PostgreSQL the runner would otherwise sit idle while the server
                        # works. (On SQLite it is slower: see ``read``.)
                        after = batch[-1][0]
                        following = (
                            self.batch_size
                            if until is None
                            else min(self.batch_size, until - after)
                        )
                        if following > 0:
                            ahead = (
                                after,
                                following,
                                reader.submit(self.decoded, after, following, until),
                            )
                    if count:
                        self.process(batch, active, positions, start)
                    del batch  # freed while the collector is off, so that it never walks it
                if not count:
                    return processed
                processed += count
                if progress is not None:
                    progress(count)

    def process(
        self, batch: Batch, active: list[View], positions: dict[str, int], start: int
    ) -> None:
        """Apply a batch that follows log position ``start`` to the active views: those in
        step together, any behind alone; ``positions`` moves with them."""
        in_step = [v for v in active if positions[v.name] == start]
        positions.update(self.apply_together(in_step, batch))
        for view in active:
            if positions[view.name] >= batch[-1][0]:
                continue
            todo = [(p, e) for p, e in batch if p > positions[view.name]]
            if todo:
                positions[view.name] = self.apply(view, todo)

    def read(self, start: int, limit: int, until: int | None = None) -> Batch:
        """Up to ``limit`` events after log position ``start``, decoded; learns the streams
        they create (views name events by their stream's ref).

        (Reading the next batch on another thread while this one is applied is slower on
        SQLite: its cursor releases the GIL for every row it writes and then waits to get it
        back from the decoding thread.)
        """
        return self.learn(self.decoded(start, limit, until))

    def decoded(self, start: int, limit: int, until: int | None = None) -> Batch:
        """Up to ``limit`` events after log position ``start`` (and at most at ``until``: the
        log's positions can have gaps, so ``limit`` alone could read past it), decoded."""
        notifications = self.app.recorder.select_notifications(
            start=start, limit=limit, stop=until, inclusive_of_start=False
        )
        decode = self.mapper.decode
        return [(n.id, decode(n, opened=False)) for n in notifications]

    def learn(self, batch: Batch) -> Batch:
        """Learn the streams the batch creates (views name events by their stream's ref)."""
        self.created = self.refs.learn([event for _, event in batch])
        if not {e.originator_id.int for _, e in batch} <= self.refs.by_id.keys():
            # Created before this runner started, by a batch another runner applied.
            with self.db.transaction(SHARED_TABLES, commit=False) as tx:
                self.refs.load(tx)
        return batch

    def apply_together(self, views: list[View], batch: Batch) -> dict[str, int]:
        """Views in step take the batch in one transaction (one commit, not one per view);
        if any of them fails, each takes it alone, and only the failing one stops."""
        tables = dict(SHARED_TABLES)
        for view in views:
            tables.update(view.table_names())
        try:
            with self.db.transaction(tables) as tx:
                done = self.lock_positions(tx, [view.name for view in views])
                self.record_streams(tx)
                return {view.name: self.write(tx, view, batch, done[view.name]) for view in views}
        except TRANSIENT:
            raise
        except Exception:
            return {view.name: self.apply(view, batch) for view in views}

    def apply(self, view: View, batch: Batch, suffix: str = "") -> int:
        """Apply a batch to one view; on failure, find the event and stop the view there."""
        tables = {**SHARED_TABLES, **view.table_names(suffix)}
        try:
            with self.db.transaction(tables) as tx:
                done = self.lock_positions(tx, [view.name + suffix])[view.name + suffix]
                self.record_streams(tx)
                return self.write(tx, view, batch, done, suffix)
        except TRANSIENT:
            raise  # the database, not the event: the caller retries later
        except Exception:
            if len(batch) == 1:
                self.record_failure(view, batch[0][0], suffix)
                return self.position_of(view, suffix)
        position = self.position_of(view, suffix)
        for item in batch:
            position = self.apply(view, [item], suffix)
            if view.name + suffix in self.failed:
                break
        return position

    @staticmethod
    def lock_positions(tx: ViewDb, names: list[str]) -> dict[str, int]:
        """The views' positions, read (and on PostgreSQL locked) first in the transaction that
        moves them, so two runners, or a runner and a rebuild's swap, never apply an event
        twice or skip one. One statement for all: on PostgreSQL every read waits for the
        statements sent before it, and the views' writes should not wait for one another."""
        lock = " FOR UPDATE" if tx.postgres else ""
        rows = tx.rows(
            f"SELECT view, position FROM {{positions}} WHERE view IN "
            f"({', '.join('?' * len(names))}) ORDER BY view{lock}",
            names,
        )
        found = {row["view"]: int(row["position"]) for row in rows}
        return {name: found.get(name, 0) for name in names}

    def write(self, tx: ViewDb, view: View, batch: Batch, done: int, suffix: str = "") -> int:
        """Apply what the view has not seen yet (it is at ``done``); return its position
        after the batch."""
        if batch[-1][0] <= done:
            return done
        if self.keep is not None:
            chosen = [
                (position, event)
                for position, event in batch
                if position > done and self.keep(event)
            ]
            if chosen:
                self.last_kept = max(self.last_kept, chosen[-1][0])
            events = [event for _, event in chosen]
        else:
            events = (
                [event for _, event in batch]
                if batch[0][0] > done
                else [event for position, event in batch if position > done]
            )
        if events:
            view.apply(tx, events, self.refs)
        set_position(tx, view.name + suffix, batch[-1][0])
        return batch[-1][0]

    def record_streams(self, tx: ViewDb) -> None:
        """Every stream the batch creates, also those another runner already applied."""
        tx.executemany(
            "INSERT INTO {streams} (id, kind, ref) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            self.created,
        )

    def record_failure(self, view: View, position: int, suffix: str) -> None:
        error = traceback.format_exc(limit=3)
        self.failed[view.name + suffix] = error
        with self.db.transaction(SHARED_TABLES) as tx:
            tx.execute(
                "INSERT INTO {positions} (view, position, error, error_position, updated_at) "
                "VALUES (?, 0, ?, ?, ?) ON CONFLICT (view) DO UPDATE SET error = excluded.error, "
                "error_position = excluded.error_position, updated_at = excluded.updated_at",
                (view.name + suffix, error, position, iso(datetime.now(timezone.utc))),
            )

    def position_of(self, view: View, suffix: str = "") -> int:
        with self.db.transaction(SHARED_TABLES, commit=False) as tx:
            row = tx.one("SELECT position FROM {positions} WHERE view = ?", (view.name + suffix,))
        return int(row["position"]) if row else 0

    # -- following the log ---------------------------------------------------------------------

    def run(self, stop: threading.Event, *, poll: float = 0.5) -> None:
        """Follow the log until ``stop`` is set: catch up, then wait for a wake-up or a poll."""
        while not stop.is_set():
            try:
                processed = self.catch_up()
            except TRANSIENT as error:
                print(f"database unavailable ({error}); retrying", file=sys.stderr)
                processed = 0
            if processed == 0:
                self.wakeup.wait(poll)
                self.wakeup.clear()

    # -- rebuilding ------------------------------------------------------------------------------

    def rebuild(
        self, view: View, *, progress: Callable[[int], None] | None = None, verify: bool = False
    ) -> bool | None:
        """Build the view afresh beside the live one and swap it in when it has caught up.

        With ``verify``, compare the rebuilt tables with the live ones first and return
        whether they were identical.
        """
        suffix = f"__rebuild_{uuid.uuid4().hex[:6]}"
        self.ensure_tables([view], suffix)
        position = 0
        while True:
            head = self.app.recorder.max_notification_id() or 0
            while position < head:
                batch = self.read(position, self.batch_size)
                if not batch:
                    break
                position = self.apply(view, batch, suffix)
                if view.name + suffix in self.failed:
                    error = self.failed.pop(view.name + suffix)
                    self.drop(view, suffix)
                    raise RuntimeError(
                        f"rebuilding {view.name} failed after position {position}:\n{error}"
                    )
                if progress is not None:
                    progress(len(batch))
            self.catch_up(until=position)
            if self.position_of(view) <= position:
                break
        identical = self.compare(view, suffix) if verify else None
        self.swap(view, suffix, position)
        return identical

    def compare(self, view: View, suffix: str) -> bool:
        tables = {
            **{f"live_{k}": v for k, v in view.table_names().items()},
            **{f"built_{k}": v for k, v in view.table_names(suffix).items()},
        }
        with self.db.transaction(tables, commit=False) as tx:
            for logical in view.tables:
                a = tx.rows(f"SELECT * FROM {{live_{logical}}}")
                b = tx.rows(f"SELECT * FROM {{built_{logical}}}")
                if sorted(map(repr, a)) != sorted(map(repr, b)):
                    return False
        return True

    def swap(self, view: View, suffix: str, position: int) -> None:
        """In one transaction: drop the live tables, rename the rebuilt ones, move the position."""
        live = view.table_names()
        tables = {
            **SHARED_TABLES,
            **{f"live_{k}": v for k, v in live.items()},
            **{f"built_{k}": v for k, v in view.table_names(suffix).items()},
        }
        with self.db.transaction(tables) as tx:
            for logical in view.tables:
                tx.execute(f"DROP TABLE IF EXISTS {{live_{logical}}}")
                tx.execute(f"ALTER TABLE {{built_{logical}}} RENAME TO {live[logical]}")
            set_position(tx, view.name, position)
            tx.execute("DELETE FROM {positions} WHERE view = ?", (view.name + suffix,))
            record_shape(tx, view)
        self.db.forget_tables(view.table_names(suffix).values())
        self.failed.pop(view.name, None)

    def drop(self, view: View, suffix: str) -> None:
        with self.db.transaction({**SHARED_TABLES, **view.table_names(suffix)}) as tx:
            for logical in view.tables:
                tx.execute(f"DROP TABLE IF EXISTS {{{logical}}}")
            tx.execute("DELETE FROM {positions} WHERE view = ?", (view.name + suffix,))
            tx.execute("DELETE FROM {shapes} WHERE view = ?", (view.name + suffix,))
        self.db.forget_tables(view.table_names(suffix).values())


def create_view_tables(
    db: Database, tx: ViewDb, view: View, types: dict[str, str], names: dict[str, str], suffix: str
) -> bool:
    """Create what is missing; indexes come with a new table (their names stay unique).
    Whether any of the view's tables existed already."""
    token = suffix.rsplit("_", 1)[-1] if suffix else uuid.uuid4().hex[:6]
    existed = False
    for logical, columns in view.tables.items():
        db.columns[names[logical]] = column_types(columns, types)
        if db.table_exists(tx, names[logical]):
            existed = True
            continue
        tx.execute(f"CREATE TABLE {{{logical}}} ({columns.format(**types)})")
        for n, (table, indexed) in enumerate(view.indexes):
            if table == logical:
                tx.execute(f"CREATE INDEX ix_{logical}_{n}_{token} ON {{{logical}}} ({indexed})")
    return existed


def shape(view: View) -> str:
    """A digest of the view's tables, indexes and version: it changes when a new version of
    the code defines the view differently."""
    definition = json.dumps([view.tables, view.indexes, view.version], sort_keys=True)
    return hashlib.sha256(definition.encode()).hexdigest()[:16]


def record_shape(tx: ViewDb, view: View) -> None:
    tx.execute(
        "INSERT INTO {shapes} (view, shape) VALUES (?, ?) ON CONFLICT (view) DO UPDATE "
        "SET shape = excluded.shape",
        (view.name, shape(view)),
    )


def set_position(tx: ViewDb, view: str, position: int) -> None:
    tx.execute(
        "INSERT INTO {positions} (view, position, error, error_position, updated_at) "
        "VALUES (?, ?, NULL, NULL, ?) ON CONFLICT (view) DO UPDATE SET "
        "position = excluded.position, error = NULL, error_position = NULL, "
        "updated_at = excluded.updated_at",
        (view, position, iso(datetime.now(timezone.utc))),
    )
