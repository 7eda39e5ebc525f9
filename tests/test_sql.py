"""The views' transaction: statements written once for both engines behave alike."""

from __future__ import annotations

import sqlite3

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.application import Ledger
from ledger.sql import Database


def test_a_read_after_batched_writes_sees_them_in_the_same_transaction(ledger: Ledger) -> None:
    # On PostgreSQL the transaction pipelines its statements; a read must still get its own
    # rows, not the status of an insert sent before it.
    db = Database(ledger.recorder.datastore)  # type: ignore[attr-defined]
    tables = {"notes": "view_test_notes"}
    with db.transaction(tables) as tx:
        tx.execute("CREATE TABLE {notes} (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
    with db.transaction(tables) as tx:
        tx.executemany("INSERT INTO {notes} VALUES (?, ?)", [("a", "first"), ("b", "second")])
        tx.execute("UPDATE {notes} SET body = ? WHERE id = ?", ("changed", "a"))
        assert tx.one("SELECT body FROM {notes} WHERE id = ?", ("a",)) == {"body": "changed"}
        tx.executemany("INSERT INTO {notes} VALUES (?, ?)", [("c", "third")])
        assert [r["id"] for r in tx.rows("SELECT id FROM {notes} ORDER BY id")] == ["a", "b", "c"]
    with db.transaction(tables, commit=False) as tx:
        assert tx.one("SELECT COUNT(*) AS n FROM {notes}") == {"n": 3}
    db.close()


def test_statements_that_failed_in_a_transaction_run_again_in_the_next(ledger: Ledger) -> None:
    # On PostgreSQL statements are prepared on first use, inside a pipeline; when the pipeline
    # fails, what was queued after the failure (its Parse messages too) never reached the
    # server, and the next transaction must not count on it.
    db = Database(ledger.recorder.datastore)  # type: ignore[attr-defined]
    tables = {"notes": "view_test_retried"}
    insert = "INSERT INTO {notes} VALUES (?, ?)"
    update = "UPDATE {notes} SET body = ? WHERE id = ?"
    with db.transaction(tables) as tx:
        tx.execute("CREATE TABLE {notes} (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
    for _ in range(3):
        with pytest.raises((sqlite3.IntegrityError, IntegrityError)), db.transaction(tables) as tx:
            tx.executemany(insert, [("a", "first"), ("a", "again")])
            tx.execute(update, ("changed", "a"))
            tx.one("SELECT body FROM {notes} WHERE id = ?", ("a",))
    for n in range(3):
        with db.transaction(tables) as tx:
            tx.executemany(insert, [(f"b{n}", "first")])
            tx.execute(update, ("changed", f"b{n}"))
    with db.transaction(tables, commit=False) as tx:
        assert tx.rows("SELECT * FROM {notes} ORDER BY id") == [
            {"id": f"b{n}", "body": "changed"} for n in range(3)
        ]
    db.close()


def test_a_read_sees_one_snapshot_while_the_runner_commits(ledger: Ledger) -> None:
    # A query of several statements (a dossier, a report) must not mix two states of the views.
    db = Database(ledger.recorder.datastore)  # type: ignore[attr-defined]
    tables = {"notes": "view_test_snapshot"}
    with db.transaction(tables) as tx:
        tx.execute("CREATE TABLE {notes} (id TEXT PRIMARY KEY)")
        tx.executemany("INSERT INTO {notes} VALUES (?)", [("a",)])
    with db.transaction(tables, commit=False) as reader:
        assert reader.one("SELECT COUNT(*) AS n FROM {notes}") == {"n": 1}
        with db.transaction(tables) as writer:
            writer.executemany("INSERT INTO {notes} VALUES (?)", [("b",)])
        assert reader.one("SELECT COUNT(*) AS n FROM {notes}") == {"n": 1}
    with db.transaction(tables, commit=False) as reader:
        assert reader.one("SELECT COUNT(*) AS n FROM {notes}") == {"n": 2}
    db.close()
