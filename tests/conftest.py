"""Fixtures: every store-facing test runs on SQLite and on a real PostgreSQL server.

Tiers: a test that needs no PostgreSQL server (directly or through a store's ``postgres``
parameter), no browser and no live API server, and is not marked ``slow``, is marked ``fast``
at collection: ``pytest -m fast`` runs that tier in seconds, with neither PostgreSQL nor
Chromium installed. The full suite (CI) runs everything. A run that needs PostgreSQL or
Chromium while it is missing stops once, before any test, saying what to start or install."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from ledger.aggregates.base import LedgerAggregate
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.config import Settings

POSTGRES_URL = os.environ.get(
    "LEDGER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# Each ledger's pool opens this many connections at once and grows on demand: the suite runs
# many ledgers side by side (servers, runners, CLI calls), and a server's default of 100
# connections is shared by every worker.
os.environ.setdefault("LEDGER_POOL_SIZE", "2")
# The console's tests drive Debian's Chromium; LEDGER_TEST_CHROMIUM points them elsewhere.
CHROMIUM = os.environ.get("LEDGER_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
E = TypeVar("E", bound=LedgerAggregate.Event)


def at(days: float = 0, hours: float = 0) -> str:
    """An ISO instant ``days`` after T0, as a command would carry it."""
    return (T0 + timedelta(days=days, hours=hours)).isoformat()


def pytest_configure(config: pytest.Config) -> None:
    """``tmp_path`` on a RAM disk where there is one with room: on a disk, each commit of a
    SQLite store waits for the write to reach it (fsync), so a test's first few commands take
    ~100 ms instead of ~10. ``--basetemp`` or PYTEST_DEBUG_TEMPROOT choose another place."""
    if config.option.basetemp or "PYTEST_DEBUG_TEMPROOT" in os.environ:
        return  # chosen, or an xdist worker (under its controller's)
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2**31:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(shm)


def needs_postgres(item: pytest.Item) -> bool:
    """The test uses the PostgreSQL server: it asks for ``postgres_server`` (so does any
    fixture opening a PostgreSQL store of its own: ``fresh_store`` checks) or a fixture it
    uses, such as ``store``, is parametrized with ``postgres``."""
    if "postgres_server" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return False
    direct = given_by_parametrize(item)
    return any(
        isinstance(value, str) and value == "postgres"
        for name, value in callspec.params.items()
        if name not in direct
    )


def given_by_parametrize(item: pytest.Item) -> set[str]:
    """The arguments ``@pytest.mark.parametrize`` gives the test itself, not a fixture (a
    value "postgres" there is only a word, as in tests/test_docs.py)."""
    names: set[str] = set()
    for mark in item.iter_markers("parametrize"):
        argnames = mark.args[0] if mark.args else mark.kwargs["argnames"]
        if isinstance(argnames, str):
            argnames = [name.strip() for name in argnames.split(",")]
        indirect = mark.kwargs.get("indirect", False)
        names.update(
            name
            for name in argnames
            if not (indirect is True or (isinstance(indirect, list | tuple) and name in indirect))
        )
    return names


def needs_browser(item: pytest.Item) -> bool:
    return "browser" in getattr(item, "fixturenames", ())


# Fixtures that start a live API server (a uvicorn thread, with a world to serve): a second
# or more each even on SQLite, so the tests using them are left out of the fast tier.
SERVER_FIXTURES = {"api", "store_kind", "console"}


def is_fast(item: pytest.Item) -> bool:
    """Needs no database server and no browser, and takes a fraction of a second on SQLite:
    not marked ``slow`` and starting no live server."""
    return not (
        needs_postgres(item)
        or needs_browser(item)
        or item.get_closest_marker("slow")
        or SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    )


@pytest.hookimpl(tryfirst=True)  # before -m selects by the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if is_fast(item):
            item.add_marker(pytest.mark.fast)


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot be used, and what to do about it; None if it can."""
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        return (
            f"PostgreSQL is not reachable at {POSTGRES_URL}: {reason}\n"
            f"Start it:  {START_POSTGRES}\n"
            "or point LEDGER_TEST_DATABASE_URL at a server (database `test`, trust auth),\n"
            "or run the tier that needs no server:  pytest -m fast"
        )
    return None


def chromium_missing() -> str | None:
    if Path(CHROMIUM).exists():
        return None
    return (
        f"Chromium is not installed (no {CHROMIUM}); the console's tests drive it.\n"
        "Install it:  apt-get install chromium  (.ci/run does)\n"
        "or point LEDGER_TEST_CHROMIUM at one,\n"
        "or run the tier that needs no browser:  pytest -m fast"
    )


@pytest.hookimpl(tryfirst=True)  # on an xdist worker: before it reports what it collected
def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop once, before any test runs, if the selected tests need what is missing."""
    if session.config.option.collectonly:
        return
    missing = "\n\n".join(
        why
        for needed, check in (
            (any(map(needs_postgres, session.items)), postgres_missing),
            (any(map(needs_browser, session.items)), chromium_missing),
        )
        if needed and (why := check())
    )
    if not missing:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is None:
        pytest.exit(missing, returncode=pytest.ExitCode.USAGE_ERROR)
    # An xdist worker: it runs nothing and tells the controller, which stops the run once.
    workeroutput["missing"] = missing
    session.items.clear()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    """xdist's controller: a worker found something missing (above)."""
    missing = getattr(node, "workeroutput", {}).get("missing")
    if missing:
        pytest.exit(missing, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if why := postgres_missing():  # reachable when the run began (above), gone since
        pytest.fail(why)
    return POSTGRES_URL


def fresh_store(
    request: pytest.FixtureRequest, folder: Path, kind: str | None = None
) -> Iterator[Settings]:
    """Settings for a fresh, empty store of the ``kind`` (default: ``request.param``)."""
    test = request.node
    if kind == "postgres" and isinstance(test, pytest.Item) and not needs_postgres(test):
        raise RuntimeError(f"{test.nodeid} opens PostgreSQL: ask for postgres_server")
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


def of_type(events: Iterable[LedgerAggregate.Event], event_type: type[E]) -> list[E]:
    """The events, each checked to be an ``event_type`` (whose fields mypy then knows)."""
    given = list(events)
    found = [e for e in given if isinstance(e, event_type)]
    assert len(found) == len(given), f"not all {event_type.__name__}: {given}"
    return found


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
