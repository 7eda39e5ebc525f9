"""Erasure that keeps the books: forgetting a customer records the erasure and destroys the
key that sealed their personal data, in one transaction (``ledger/sealing.py``).

The events stay as they were stored (so their chains still verify and their counts and amounts
still add up), and the views hold only what the events hold, sealed: after the erasure, every
reading of the log (views, rebuilds, replays, the history, exports) sees those fields as None.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore

from ledger.application import Ledger
from ledger.chain import ChainedMapper
from ledger.commands.models import ErasePersonalData
from ledger.errors import RuleViolation
from ledger.ids import stream_id
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.sealing import TABLE
from ledger.sql import Database


def forget(ledger: Ledger, ref: str, *, reason: str, actor: str) -> dict[str, Any]:
    """Forget a customer: record the erasure (which destroys their key), let the views drop
    what they found the customer by, and clear what the database keeps of overwritten pages.
    Forgetting twice only repeats the last steps.

    A customer whose records were merged is one person: every record of theirs (the survivor
    and those merged into it, whichever is named) is erased, and each record's key destroyed,
    in one transaction."""
    records = [record.ref for record in ledger.records_as_stored(ledger.survivor_as_stored(ref))]
    try:
        result = ledger.execute(ErasePersonalData(customer=ref, reason=reason), actor=actor)
        recorded: int | None = result.position
    except RuleViolation as error:
        if error.rule != "customer_erased":
            raise
        recorded = None  # erased before; make sure of the rest, the keys' end included
        mapper = ledger.mapper
        assert isinstance(mapper, ChainedMapper) and mapper.keys is not None
        for record in records:
            mapper.keys.destroy(stream_id("customer", record))
    runner = Runner(ledger, all_views())
    try:
        runner.catch_up()
    finally:
        runner.close()
    scrub(Database.of(ledger))
    return {
        "customer": ref,
        "records": records,
        "erased_at_position": recorded,
        "key": "destroyed",
    }


# The tables whose overwritten rows held a forgotten customer's key or blind index.
SCRUBBED = (TABLE["keys"], "view_customer_index")


def scrub(db: Database) -> None:
    """Overwritten rows leave their old bytes behind until the database reclaims them: SQLite
    zeroes them (secure_delete) and the write-ahead log is folded in and emptied; PostgreSQL
    rewrites the tables that held them (VACUUM FULL) and checkpoints, so that the write-ahead
    segments holding them can be recycled."""
    datastore = db.datastore
    try:
        if isinstance(datastore, PostgresDatastore):
            with datastore.get_connection() as conn:
                conn.autocommit = True
                try:
                    for table in SCRUBBED:
                        conn.execute(f'VACUUM FULL "{db.schema}"."{table}"')
                    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
                        conn.execute("CHECKPOINT")  # (a superuser's, or pg_checkpoint's)
                finally:
                    conn.autocommit = False
            return
        db.sqlite_writer(datastore).execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
