"""Fixtures: every store-facing test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.ids import Kind

POSTGRES_URL = os.environ.get(
    "LEDGER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# Each ledger's pool opens this many connections at once and grows on demand: the suite runs
# many ledgers side by side (servers, runners, CLI calls), and a server's default of 100
# connections is shared by every worker.
os.environ.setdefault("LEDGER_POOL_SIZE", "2")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def at(days: float = 0, hours: float = 0) -> str:
    """An ISO instant ``days`` after T0, as a command would carry it."""
    return (T0 + timedelta(days=days, hours=hours)).isoformat()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL}: {error}. Start it (see "
            "docs/operators.md, Tests; .ci/run starts it) or point LEDGER_TEST_DATABASE_URL at "
            "a server."
        )
    return POSTGRES_URL


def fresh_store(
    request: pytest.FixtureRequest, folder: Path, kind: str | None = None
) -> Iterator[Settings]:
    """Settings for a fresh, empty store of the ``kind`` (default: ``request.param``)."""
    if (kind or request.param) == "sqlite":
        yield Settings(data_dir=folder / "var", database_url=None)
        return
    request.getfixturevalue("postgres_server")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield Settings(database_url=POSTGRES_URL, database_schema=schema, data_dir=folder / "var")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    yield from fresh_store(request, tmp_path)


@pytest.fixture
def ledger(store: Settings) -> Iterator[Ledger]:
    app = Ledger(store)
    yield app
    app.close()


@pytest.fixture
def store_env(store: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The same store, selected through the environment as a user of the CLI would."""
    monkeypatch.setenv("LEDGER_DATA_DIR", str(store.data_dir))
    if store.database_url:
        monkeypatch.setenv("LEDGER_DATABASE_URL", store.database_url)
        monkeypatch.setenv("LEDGER_DATABASE_SCHEMA", store.database_schema)
    else:
        monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    return store


def run(app: Ledger, **command: Any) -> Any:
    """Execute one command given as keyword fields, as a test's story step."""
    return app.execute(parse_command(command), actor="test")


def recorded(app: Ledger, kind: Kind, ref: str) -> list[Any]:
    """``app.history``: the library makes each event's class from an aggregate's ``@event``
    method at run time, so their fields are not known to the type checker."""
    return list(app.history(kind, ref))


def stored_event_count(app: Ledger) -> int:
    return app.recorder.max_notification_id() or 0


@pytest.fixture
def world(ledger: Ledger) -> Ledger:
    """Two reps, a campaign and a customer, CUST-1, owned by REP-1."""
    run(ledger, type="hire_rep", ref="REP-1", name="李娜", team="east", occurred_at=at(-30))
    run(
        ledger,
        type="hire_rep",
        ref="REP-2",
        name="Tom Baker",
        team="east",
        manager="REP-1",
        occurred_at=at(-30),
    )
    run(
        ledger,
        type="launch_campaign",
        ref="CMP-EXPO",
        name="Spring expo",
        channel="email",
        budget="50000",
        currency="CNY",
        starts_at=at(-10),
        ends_at=at(60),
        material="brochure-2025",
        department="marketing",
        occurred_at=at(-10),
    )
    run(
        ledger,
        type="register_customer",
        ref="CUST-1",
        name="王伟",
        email="wang@example.cn",
        phone="+86 21 5555 0101",
        owner="REP-1",
        occurred_at=at(-5),
    )
    return ledger
