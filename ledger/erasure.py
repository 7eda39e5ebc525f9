"""Erasure that keeps the books: a customer's personal fields are sealed with a key of their
own, kept apart from the events (``customer_keys``); forgetting the customer destroys the key.

The events stay as they were stored (so their chains still verify and their counts and amounts
still add up), but the sealed values can no longer be opened: after ``forget``, every reading
of the log (views, rebuilds, replays, the history) sees those fields as None.

Personal fields are a person's name and contact details and the free text they wrote:
``name``, ``email``, ``phone``, ``address``, ``company``, ``summary``, ``description``, in a
customer's events, in the changes and corrections they carry, and in the customer's snapshots.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.postgres import PostgresDatastore

from ledger.errors import rule
from ledger.projections.db import Database, iso

PERSONAL = frozenset({"name", "email", "phone", "address", "company", "summary",
                      "description"})
CUSTOMER_TOPIC = "ledger.aggregates.customer:Customer"
SEALED = "sealed1:"
TABLE = {"keys": "customer_keys"}
KEY_CHUNK = 500  # customers per statement when keys are made in bulk
CustomerForgotten = rule("customer_forgotten")


class CustomerKeys:
    """One AES-256 key per customer stream, created when first needed; a destroyed key
    leaves a row without a key, so that readers know it is gone rather than not yet made.

    A process keeps the keys it has read, and every ``ttl`` seconds asks the store (once, for
    all customers) which keys were destroyed since: a key destroyed by another process is gone
    from this one within that time (at once if it reads the erasure)."""

    ttl = 2.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self.known: dict[str, AESGCM] = {}
        self.destroyed: set[str] = set()
        self.checked = 0.0  # when the destroyed keys were last asked for
        self.lock = threading.Lock()

    def create_table(self) -> None:
        with self.db.transaction(TABLE) as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS {keys} (stream TEXT PRIMARY KEY, key TEXT, "
                       "destroyed_at TEXT)")

    def cipher(self, stream: UUID | str, *, create: bool) -> AESGCM | None:
        """The customer's cipher; None if their key was destroyed (or, without ``create``,
        never made: nothing was sealed for them)."""
        name = str(stream)
        self.refresh()
        with self.lock:
            if name in self.destroyed:
                return None
            if name in self.known:
                return self.known[name]
        if create:
            self.prepare([name])
        else:
            self.remember(self.read([name]))
        with self.lock:
            return self.known.get(name)

    def prepare(self, streams: Iterable[UUID | str]) -> None:
        """Read, and make where missing, the keys of these customers at once (a statement or
        two for all), so that sealing a batch's events asks the store nothing more: a batch
        that registers a thousand customers would otherwise make a thousand keys one
        transaction at a time. (A key made for a batch that then fails is unused; harmless.)"""
        self.refresh()
        with self.lock:
            names = sorted({str(s) for s in streams} - self.known.keys() - self.destroyed)
        for start in range(0, len(names), KEY_CHUNK):
            chunk = names[start:start + KEY_CHUNK]
            found = self.read(chunk)
            missing = [name for name in chunk if name not in found]
            if missing:
                with self.db.transaction(TABLE) as tx:
                    tx.executemany("INSERT INTO {keys} (stream, key) VALUES (?, ?) "
                                   "ON CONFLICT (stream) DO NOTHING",
                                   [(name, base64.b64encode(AESGCM.generate_key(256)).decode())
                                    for name in missing])
                found.update(self.read(missing))  # another process may have made one first
            self.remember(found)

    def remember(self, found: dict[str, str | None]) -> None:
        with self.lock:
            for name, key in found.items():
                if key:
                    self.known[name] = AESGCM(base64.b64decode(key))
                else:
                    self.destroyed.add(name)

    def read(self, names: list[str]) -> dict[str, str | None]:
        """The stored keys of these customers (None: destroyed); absent: never made."""
        with self.db.transaction(TABLE, commit=False, snapshot=False) as tx:
            rows = tx.rows(f"SELECT stream, key FROM {{keys}} WHERE stream IN "
                           f"({', '.join('?' * len(names))})", names)
        return {row["stream"]: row["key"] for row in rows}

    def refresh(self) -> None:
        if time.monotonic() < self.checked + self.ttl:
            return
        with self.db.transaction(TABLE, commit=False, snapshot=False) as tx:
            gone = {row["stream"] for row in tx.rows("SELECT stream FROM {keys} "
                                                     "WHERE key IS NULL")}
        with self.lock:
            self.destroyed |= gone
            for name in gone:
                self.known.pop(name, None)
            self.checked = time.monotonic()

    def forgotten(self, stream: UUID | str) -> None:
        """This process learnt (from the log) that the customer was forgotten: drop the key
        it may hold, without asking the store."""
        with self.lock:
            self.destroyed.add(str(stream))
            self.known.pop(str(stream), None)

    def destroy(self, stream: UUID | str) -> None:
        with self.db.transaction(TABLE) as tx:
            tx.execute("INSERT INTO {keys} (stream, key, destroyed_at) VALUES (?, NULL, ?) "
                       "ON CONFLICT (stream) DO UPDATE SET key = NULL, "
                       "destroyed_at = excluded.destroyed_at",
                       (str(stream), iso(datetime.now(timezone.utc))))
        self.forgotten(stream)


def seal(value: Any, cipher: AESGCM) -> str:
    nonce = secrets.token_bytes(12)
    sealed = cipher.encrypt(nonce, json.dumps(value, ensure_ascii=False).encode(), None)
    return SEALED + base64.b64encode(nonce + sealed).decode()


def unseal(text: str, cipher: AESGCM | None) -> Any:
    if cipher is None:
        return None  # forgotten
    data = base64.b64decode(text[len(SEALED):])
    return json.loads(cipher.decrypt(data[:12], data[12:], None))


# Maps of a customer's state keyed by entry id, holding no personal data (an entry's kind, a
# retraction's reason): never sealed, never walked when opening (a snapshot of a customer
# with 10,000 entries spent most of its loading time walking them).
OPAQUE = frozenset({"kinds", "retracted"})


def sealed_fields(state: Any, key: AESGCM) -> Any:
    """The state with every personal field's value sealed (recursively through dicts)."""
    if isinstance(state, dict):
        return {name: (value if name in OPAQUE
                       else seal(value, key) if name in PERSONAL and value is not None
                       and not isinstance(value, dict) else sealed_fields(value, key))
                for name, value in state.items()}
    return state


def opened_fields(state: Any, key: AESGCM | None) -> Any:
    if isinstance(state, dict):
        return {name: value if name in OPAQUE else opened_fields(value, key)
                for name, value in state.items()}
    if isinstance(state, str) and state.startswith(SEALED):
        return unseal(state, key)
    return state


def has_personal(state: Any) -> bool:
    """Whether the state holds a personal value to seal."""
    if not isinstance(state, dict):
        return False
    for name in PERSONAL.intersection(state):
        value = state[name]
        if isinstance(value, dict):
            if has_personal(value):
                return True
        elif value is not None:
            return True
    # Called for every event written: most hold no nested fields, which this tells at C speed.
    if dict not in map(type, state.values()):
        return False
    return any(has_personal(value) for name, value in state.items()
               if isinstance(value, dict) and name not in PERSONAL and name not in OPAQUE)


def has_sealed(state: Any) -> bool:
    if isinstance(state, dict):
        return any(has_sealed(value) for name, value in state.items() if name not in OPAQUE)
    return isinstance(state, str) and state.startswith(SEALED)


def forget(ledger: Any, ref: str, *, reason: str, actor: str) -> dict[str, Any]:
    """Forget a customer: record the erasure, destroy their key, let the views blank their
    copies, and clear what the database keeps of overwritten pages (SQLite's write-ahead
    log; PostgreSQL's dead rows). Forgetting twice only repeats the last steps."""
    from ledger.commands.models import ErasePersonalData
    from ledger.errors import RuleViolation
    from ledger.ids import stream_id
    from ledger.projections.registry import all_views
    from ledger.projections.runner import Runner

    ledger.customer(ref)  # an unknown reference is an error before anything is destroyed
    keys = ledger.mapper.keys
    # The key goes first: a process that reads the erasure event forgets the key it holds,
    # and must not find it still in the store.
    keys.destroy(stream_id("customer", ref))
    try:
        result = ledger.execute(ErasePersonalData(customer=ref, reason=reason), actor=actor)
        recorded: int | None = result.position
    except RuleViolation as error:
        if error.rule != "customer_erased":
            raise
        recorded = None  # erased before; make sure of the rest
    runner = Runner(ledger, all_views())
    try:
        runner.catch_up()
    finally:
        runner.close()
    scrub(keys.db)
    return {"customer": ref, "erased_at_position": recorded, "key": "destroyed"}


# The tables that held a forgotten customer's personal data or key (small ones: rewriting
# them takes a moment).
SCRUBBED = ("view_customers", "view_requests", "view_complaints", TABLE["keys"])


def scrub(db: Database) -> None:
    """Overwritten rows leave their old bytes behind until the database reclaims them: SQLite
    zeroes them (secure_delete) and the write-ahead log is folded in; PostgreSQL rewrites the
    tables that held them (VACUUM FULL; its own write-ahead log keeps them until it recycles
    its segments, as with any other deleted data)."""
    datastore = db.datastore
    if isinstance(datastore, PostgresDatastore):
        with datastore.get_connection() as conn:
            conn.autocommit = True
            try:
                for table in SCRUBBED:
                    conn.execute(f'VACUUM FULL "{db.schema}"."{table}"')
            finally:
                conn.autocommit = False
        return
    db.sqlite_writer(datastore).execute("PRAGMA wal_checkpoint(TRUNCATE)")
