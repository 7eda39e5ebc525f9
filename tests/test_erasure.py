"""Erasure that keeps the books: after `ledger forget`, no personal data of the customer can
be read from the store (its raw bytes searched), a rebuild or a replay; the views show the
customer as erased; counts, amounts and chains are as before."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.aggregates.customer import Customer
from ledger.application import Ledger
from ledger.chain import ChainedMapper
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.ids import stream_id
from ledger.projections.dossier import find_customers
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.sql import Database
from replay.core import Reading, Replay

NAME, EMAIL, PHONE = "Margarethe Quistorp", "m.quistorp@example.org", "+49 40 555 0199"
OTHER = "Bartholomew Oyelaran"  # a customer not forgotten: the search must find them


@pytest.fixture
def shop(store_env: Settings) -> Settings:
    app = Ledger(store_env)
    commands: list[dict[str, Any]] = [
        {"type": "hire_rep", "ref": "REP-1", "name": "Li", "team": "t"},
        {
            "type": "register_customer",
            "ref": "CUST-Q",
            "name": NAME,
            "email": EMAIL,
            "phone": PHONE,
            "owner": "REP-1",
        },
        {"type": "update_profile", "customer": "CUST-Q", "address": "Elbchaussee 1, Hamburg"},
        {"type": "register_customer", "ref": "CUST-O", "name": OTHER},
        {
            "type": "log_contact",
            "customer": "CUST-Q",
            "rep": "REP-1",
            "channel": "phone",
            "direction": "in",
            "subject": "order",
            "summary": f"{NAME} asked for the catalogue",
            "contact_id": "K-1",
        },
        {
            "type": "receive_request",
            "customer": "CUST-Q",
            "kind": "callback",
            "channel": "email",
            "respond_by": "2030-01-01T00:00:00Z",
            "request_id": "R-1",
            "summary": f"please call {PHONE}",
        },
        {
            "type": "file_complaint",
            "customer": "CUST-Q",
            "category": "delivery",
            "severity": "low",
            "description": f"write to {EMAIL}",
            "complaint_id": "C-1",
        },
        {
            "type": "correct_entry",
            "customer": "CUST-Q",
            "entry_id": "R-1",
            "fields": {"summary": f"please call {NAME} on {PHONE}"},
            "reason": "typo",
        },
        {
            "type": "record_purchase",
            "customer": "CUST-Q",
            "order_id": "O-1",
            "amount": "250.00",
            "currency": "EUR",
        },
    ]
    outcomes = app.execute_many([parse_command(c) for c in commands], actor="test")
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    runner = Runner(app, all_views())
    runner.catch_up()
    runner.close()
    app.close()
    return store_env


def stored_bytes(store: Settings) -> bytes:
    """Every byte the store holds: the SQLite file and its write-ahead log, or every value of
    every table of the PostgreSQL schema (binary values as they are)."""
    if not store.database_url:
        files = [store.sqlite_path, Path(f"{store.sqlite_path}-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    found = []
    with psycopg.connect(store.database_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (store.database_schema,),
        ).fetchall()
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM "{store.database_schema}"."{table}"'):
                for value in row:
                    found.append(
                        bytes(value)
                        if isinstance(value, bytes | memoryview)
                        else str(value).encode()
                    )
    return b"\n".join(found)


def test_before_forgetting_every_reading_shows_the_personal_data(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["customer", "show", "CUST-Q", "--json"]) == 0
    shown = capsys.readouterr().out
    assert NAME in shown and EMAIL in shown
    assert f"please call {NAME} on {PHONE}" in shown  # the correction, from its event
    stored = stored_bytes(shop)  # events, views and the command log hold it sealed
    for secret in (NAME, EMAIL, PHONE, OTHER, "Elbchaussee", "catalogue"):
        assert secret.encode() not in stored, secret


def test_a_forgotten_customers_personal_data_cannot_be_read_from_the_store(
    shop: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with raw_keys(shop) as execute:
        [(key_before,)] = execute(
            "SELECT key FROM customer_keys WHERE stream = ?",
            (str(stream_id("customer", "CUST-Q")),),
        )
    assert found_by_name(shop, "quistorp MARGARETHE") == ["CUST-Q"]  # the blind index
    assert main(["forget", "CUST-Q", "--reason", "asked to be forgotten"]) == 0
    capsys.readouterr()
    stored = stored_bytes(shop)
    for secret in (NAME, EMAIL, PHONE, "Elbchaussee"):
        assert secret.encode() not in stored, secret
    # Every reading of the log: the history, the views, a rebuild, a replay.
    assert main(["customer", "show", "CUST-Q", "--json"]) == 0
    shown = capsys.readouterr().out
    assert NAME not in shown and EMAIL not in shown and "250.00" in shown
    assert main(["projections", "rebuild"]) == 0
    capsys.readouterr()
    out = tmp_path / "replay.sqlite"
    app = Ledger(shop)
    with Replay(app, all_views(), Reading(), out=out) as replay:
        replay.run()
    assert NAME.encode() not in out.read_bytes() and EMAIL.encode() not in out.read_bytes()
    for secret in (NAME, EMAIL, PHONE):
        assert secret.encode() not in stored_bytes(shop), secret
    assert found_by_name(shop, "Quistorp") == [] and found_by_name(shop, OTHER) == ["CUST-O"]
    with raw_keys(shop) as execute:
        assert execute(
            "SELECT COUNT(*) FROM view_customer_index WHERE customer = ?", ("CUST-Q",)
        ) == [(0,)]
    # The books: the customer is erased, the purchase counts, the chains verify.
    dossier = app.customer("CUST-Q")
    assert dossier.erased and dossier.profile["name"] is None
    app.close()
    assert (
        main(
            [
                "report",
                "value",
                "--period",
                f"{__import__('datetime').date.today().year}",
                "--format",
                "json",
            ]
        )
        == 0
    )
    value = json.loads(capsys.readouterr().out)
    assert [(r["customer"], r["revenue"]) for r in value["data"]] == [("CUST-Q", "250.00")]
    assert main(["verify"]) == 0
    # Forgetting again does what is left to do, and says the same: a key found again (a key
    # table restored from a backup taken before the forget) is destroyed again.
    stream = str(stream_id("customer", "CUST-Q"))
    with raw_keys(shop) as execute:
        execute(
            "UPDATE customer_keys SET key = ?, destroyed_at = NULL WHERE stream = ?",
            (key_before, stream),
        )
    assert main(["forget", "CUST-Q", "--reason", "again"]) == 0
    with raw_keys(shop) as execute:
        assert execute("SELECT key FROM customer_keys WHERE stream = ?", (stream,)) == [(None,)]


def found_by_name(store: Settings, text: str) -> list[str]:
    """The customers a search for ``text`` finds (as the console searches)."""
    app = Ledger(store)
    db = Database.of(app)
    try:
        return [row["ref"] for row in find_customers(db, text, index_key=app.index_key)]
    finally:
        db.close()
        app.close()


@contextmanager
def raw_keys(store: Settings) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
    """Plain SQL on the store's tables, as an administrator restoring a backup would."""
    if not store.database_url:
        with sqlite3.connect(store.sqlite_path) as conn:
            yield lambda sql, params: conn.execute(sql, params).fetchall()
        return
    with psycopg.connect(store.database_url) as pg:
        pg.execute(f'SET search_path TO "{store.database_schema}"')
        yield lambda sql, params: (lambda c: c.fetchall() if c.description else [])(
            pg.execute(sql.replace("?", "%s"), params)
        )


def test_a_process_that_held_the_key_loses_it_when_another_forgets_the_customer(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    serving = Ledger(shop)  # a long-running process (the API) that has read the customer
    registered = serving.history("customer", "CUST-Q")[0]
    assert isinstance(registered, Customer.Registered)
    assert registered.name == NAME
    assert main(["forget", "CUST-Q", "--reason", "asked"]) == 0  # another process
    mapper = serving.mapper
    assert isinstance(mapper, ChainedMapper) and mapper.keys is not None
    mapper.keys.ttl = 0  # (instead of waiting out the seconds between its checks)
    registered = serving.history("customer", "CUST-Q")[0]
    assert isinstance(registered, Customer.Registered)
    assert registered.name is None  # the key is gone here too
    serving.close()
    assert main(["forget", "CUST-NOBODY", "--reason", "x"]) == 1
    assert "no customer with reference 'CUST-NOBODY'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("state", "personal"),
    [
        ({"order_id": "SO-1", "amount": "9.50", "name": None}, False),
        ({"order_id": "SO-1", "email": "a@example.org"}, True),
        ({"changes": {"segment": "retail"}}, False),
        ({"changes": {"segment": "retail", "phone": "+1 555"}}, True),
        ({"state": {"fields": {"summary": "called back"}}}, True),
        ({"kinds": {"name": "purchase"}, "retracted": {"description": "x"}}, False),
        ({"contact_id": "K-1", "subject": "order"}, True),
        ({"promise_id": "P-1", "text": "send the catalogue"}, True),
        ({"fields": {"resolution": "refunded"}}, True),
    ],
)
def test_fields_to_seal_are_found_at_any_depth(state: dict[str, Any], personal: bool) -> None:
    from ledger.sealing import has_personal

    assert has_personal(state) is personal
