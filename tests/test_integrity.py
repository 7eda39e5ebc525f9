"""Proof that nothing was altered: rows changed behind the ledger's back, in SQLite and in
PostgreSQL, are named by `ledger verify`; untouched stores verify clean; a digest kept outside
proves what it covered is unchanged."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.cipher import AESCipher

from ledger.aggregates.customer import Customer
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.ids import stream_id
from ledger.integrity import Integrity
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner

CUSTOMERS = ("CUST-A", "CUST-B", "CUST-C", "CUST-D", "CUST-E")


@pytest.fixture
def shop(store_env: Settings) -> Settings:
    """Five customers of eight events each (registered, seven contacts), views built."""
    app = Ledger(store_env)
    commands = [{"type": "hire_rep", "ref": "REP-1", "name": "Li", "team": "t"}]
    for ref in CUSTOMERS:
        commands.append({"type": "register_customer", "ref": ref, "name": f"Name {ref}"})
        commands += [
            {
                "type": "log_contact",
                "customer": ref,
                "rep": "REP-1",
                "channel": "phone",
                "direction": "out",
                "subject": f"call {n}",
            }
            for n in range(7)
        ]
    outcomes = app.execute_many([parse_command(c) for c in commands], actor="test")
    assert not [o for o in outcomes if isinstance(o, Exception)]
    Runner(app, all_views()).catch_up()
    app.close()
    return store_env


@contextmanager
def raw(store: Settings) -> Iterator[tuple[Callable[..., Any], str, Callable[[UUID], Any]]]:
    """A connection behind the ledger's back: (execute, events table, stream key)."""
    app = Ledger(store)
    name = app.recorder.events_table_name  # type: ignore[attr-defined]
    app.close()
    if store.database_url:
        with psycopg.connect(store.database_url, autocommit=True) as conn:

            def run(sql: str, params: tuple[Any, ...] = ()) -> Any:
                return conn.execute(sql.replace("?", "%s"), params)

            yield run, f'"{store.database_schema}"."{name}"', lambda s: s
        return
    lite = sqlite3.connect(store.sqlite_path, isolation_level=None)
    try:
        yield lite.execute, name, lambda s: s.hex
    finally:
        lite.close()


def state(store: Settings, ref: str, version: int) -> bytes:
    with raw(store) as (run, table, key):
        row = run(
            f"SELECT state FROM {table} WHERE originator_id = ? AND originator_version = ?",
            (key(stream_id("customer", ref)), version),
        ).fetchone()
    return bytes(row[0])


def verify(capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    status = main(["verify", "--json", *options])
    return status, json.loads(capsys.readouterr().out)


def named(found: dict[str, Any]) -> set[tuple[str, int, str]]:
    return {(p["ref"], p["version"], p["what"]) for p in found["problems"]}


def test_an_untouched_store_verifies_clean(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, found = verify(capsys)
    assert status == 0 and found["ok"] and found["problems"] == []
    assert (found["events"], found["streams"], found["unchained"]) == (41, 6, 0)
    assert verify(capsys, "--customer", "CUST-A")[1]["events"] == 8


def test_changed_reordered_deleted_and_inserted_rows_are_each_named(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c, d = (stream_id("customer", ref) for ref in CUSTOMERS[:4])
    with raw(shop) as (run, table, key):
        where = f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = ?"
        changed = state(shop, "CUST-A", 3).replace(b'"phone"', b'"email"')
        run(where, (changed, key(a), 3))
        fourth, fifth = state(shop, "CUST-B", 4), state(shop, "CUST-B", 5)
        run(where, (fifth, key(b), 4))
        run(where, (fourth, key(b), 5))
        run(f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = ?", (key(c), 6))
        copied = state(shop, "CUST-D", 8)
        run(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
            f"SELECT originator_id, 9, topic, ? FROM {table} WHERE originator_id = ? "
            "AND originator_version = 8",
            (copied, key(d)),
        )
    status, found = verify(capsys)
    assert status == 1 and not found["ok"]
    assert named(found) == {
        ("CUST-A", 3, "changed"),
        ("CUST-B", 4, "reordered"),
        ("CUST-C", 6, "missing"),
        ("CUST-D", 9, "inserted"),
    }
    assert named(verify(capsys, "--customer", "CUST-A")[1]) == {("CUST-A", 3, "changed")}
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert "4 streams do NOT match" in out and "CUST-C" in out and "missing" in out


def test_incremental_runs_check_only_what_is_new(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(capsys)[0] == 0
    app = Ledger(shop)
    app.execute(
        parse_command(
            {
                "type": "log_contact",
                "customer": "CUST-E",
                "rep": "REP-1",
                "channel": "email",
                "direction": "in",
                "subject": "new",
            }
        ),
        actor="test",
    )
    app.close()
    status, found = verify(capsys, "--incremental")
    assert status == 0 and found["events"] == 1
    # A row slipped in after the verified head is caught by the next incremental run...
    e = stream_id("customer", "CUST-E")
    with raw(shop) as (run, table, key):
        run(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
            f"SELECT originator_id, 10, topic, ? FROM {table} WHERE originator_id = ? "
            "AND originator_version = 9",
            (state(shop, "CUST-A", 2), key(e)),
        )
    assert named(verify(capsys, "--incremental")[1]) == {("CUST-E", 10, "inserted")}
    # ...while a change to what was verified before waits for a full run.
    with raw(shop) as (run, table, key):
        run(
            f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 2",
            (state(shop, "CUST-E", 2).replace(b'"phone"', b'"email"'), key(e)),
        )
    assert named(verify(capsys)[1]) == {("CUST-E", 2, "changed")}


def test_a_digest_proves_what_it_covered_is_unchanged(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["digest"]) == 0
    digest = capsys.readouterr().out.strip()
    assert digest.startswith("ldg1:41:")
    app = Ledger(shop)  # the log grows: what the digest covered is still there
    app.execute(
        parse_command(
            {
                "type": "log_contact",
                "customer": "CUST-A",
                "rep": "REP-1",
                "channel": "visit",
                "direction": "out",
                "subject": "later",
            }
        ),
        actor="test",
    )
    app.close()
    status, found = verify(capsys, "--against", digest)
    assert status == 0 and found["digest_matches"]
    with raw(shop) as (run, table, key):  # the last event of a stream goes: no chain shows it
        run(
            f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = 8",
            (key(stream_id("customer", "CUST-E")),),
        )
    assert verify(capsys)[0] == 0
    status, found = verify(capsys, "--against", digest)
    assert status == 1 and not found["digest_matches"]
    assert main(["verify", "--against", "nonsense"]) == 2
    assert "is not a digest this ledger printed" in capsys.readouterr().err


def test_whole_events_can_be_encrypted_at_rest_and_still_verify(store: Settings) -> None:
    sealed = store.model_copy(update={"cipher_key": AESCipher.create_key(32)})
    app = Ledger(sealed)
    app.execute_many(
        [
            parse_command(c)
            for c in (
                {"type": "hire_rep", "ref": "REP-1", "name": "Li", "team": "t"},
                {"type": "register_customer", "ref": "CUST-X", "name": "N"},
                {
                    "type": "log_contact",
                    "customer": "CUST-X",
                    "rep": "REP-1",
                    "channel": "phone",
                    "direction": "out",
                    "subject": "plain-subject-words",
                },
            )
        ],
        actor="test",
    )
    states = b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=10))
    assert b"plain-subject-words" not in states and b"REP-1" not in states
    contact = app.history("customer", "CUST-X")[-1]
    assert isinstance(contact, Customer.ContactLogged)
    assert contact.subject == "plain-subject-words"
    app.close()
    app = Ledger(sealed)
    integrity = Integrity(app)
    assert integrity.verify().ok
    integrity.close()
    app.close()
