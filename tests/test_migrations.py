"""The authoritative tables' schema version (ledger/migrations.py): a store made before
versions were recorded opens, is stamped version 1 as it is, and reads and writes as before;
steps run once, whole or not at all; a store newer than the code is refused."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.keys import KeyStore
from ledger import migrations
from ledger.access_log import AccessLog
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from ledger.integrity import Integrity
from ledger.migrations import STEPS, TABLE, Step, StepFailed, StepTx, StoreBehind, StoreTooNew
from tests.conftest import fresh_store, run

STORES = Path(__file__).parent / "data" / "stores"


@dataclass
class OldStore:
    settings: Settings
    made: dict[str, Any]  # what the store was made with (store.json)


@pytest.fixture(autouse=True)
def checked_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's ledgers check their store, as a new process would."""
    monkeypatch.setattr(migrations, "_CHECKED", set())


@pytest.fixture(params=["sqlite", "postgres"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OldStore]:
    """The store made by the code before versions were recorded (tests/data/README.md): a
    copy of the SQLite file, or the PostgreSQL dump loaded into this test's own schema."""
    stores = fresh_store(request, tmp_path)
    settings = next(stores)
    made = json.loads((STORES / f"v1-{request.param}" / "store.json").read_text())
    if settings.database_url:
        load_dump(settings, made["schema"])
    else:
        settings.data_dir.mkdir(parents=True)
        shutil.copyfile(STORES / "v1-sqlite" / "ledger.sqlite", settings.sqlite_path)
    yield OldStore(settings, made)
    next(stores, None)  # drops the schema


def load_dump(settings: Settings, schema: str) -> None:
    """The plain SQL dump, its schema renamed to the test's; psql's own commands (pg_dump's
    \\restrict lines) left out: psycopg runs the rest as it is."""
    text = (STORES / "v1-postgres" / "store.sql").read_text()
    psql = ("\\restrict ", "\\unrestrict ")
    lines = [line for line in text.splitlines() if not line.startswith(psql)]
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("\n".join(lines).replace(schema, settings.database_schema).encode())


def status(settings: Settings) -> migrations.Status:
    with migrations.session_of(settings, create=False) as session:
        return migrations.read_status(session)


def applied(settings: Settings) -> list[tuple[int, str]]:
    return [(a.version, a.how) for a in status(settings).applied]


def shape(settings: Settings) -> list[tuple[Any, ...]]:
    """Every table, column and index of the store but the version table, and each table's
    row count."""
    with migrations.session_of(settings, create=False) as session, session.reading() as tx:
        if tx.postgres:
            found = tx.rows(
                "SELECT table_name, column_name, data_type, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_schema = %s AND table_name != %s "
                "ORDER BY table_name, ordinal_position",
                (tx.schema, TABLE),
            ) + tx.rows(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = %s AND tablename != %s ORDER BY indexname",
                (tx.schema, TABLE),
            )
            tables = [
                row[0]
                for row in tx.rows(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename != %s",
                    (tx.schema, TABLE),
                )
            ]
            schema = f'"{tx.schema}".'
        else:
            found = tx.rows(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name != ? "
                "ORDER BY name",
                (TABLE,),
            )
            tables = [row[1] for row in found if row[0] == "table"]
            schema = ""
        counts = [(t, tx.rows(f'SELECT count(*) FROM {schema}"{t}"')[0][0]) for t in tables]
        return found + sorted(counts)


def use_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Select the store through the environment, as a user of the CLI would."""
    monkeypatch.setenv("LEDGER_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("LEDGER_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("LEDGER_DATABASE_SCHEMA", settings.database_schema)
    else:
        monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def contact(ref: str, command_id: str) -> dict[str, Any]:
    return {
        "type": "log_contact",
        "customer": ref,
        "rep": "REP-1",
        "channel": "email",
        "direction": "in",
        "subject": "asked for the new catalogue",
        "command_id": command_id,
        "occurred_at": "2025-03-01T09:00:00+00:00",
    }


def side_by_side(work: Callable[[], None], count: int) -> None:
    errors: list[BaseException] = []

    def one() -> None:
        try:
            work()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def opened_together(settings: Settings, count: int) -> None:
    """``count`` ledgers opening the store at the same moment, as processes starting
    together would (each checks the store: none has yet in this process)."""
    barrier = threading.Barrier(count)

    def open_one() -> None:
        barrier.wait()
        Ledger(settings).close()

    side_by_side(open_one, count)


# -- the store made by the code before ------------------------------------------------------


def test_an_old_store_is_stamped_version_1_and_left_as_it_was(old_store: OldStore) -> None:
    settings = old_store.settings
    before = status(settings)
    assert (before.state, before.version, before.applied, before.pending) == (
        "unversioned",
        1,
        [],
        [],
    )
    tables = shape(settings)
    Ledger(settings).close()
    after = status(settings)
    assert (after.state, after.version, after.pending) == ("current", 1, [])
    assert [(a.version, a.how, a.code_version) for a in after.applied] == [
        (1, "stamped", migrations.release())
    ]
    assert shape(settings) == tables  # not a column, index or row changed


def test_an_old_store_reads_as_it_was_written(old_store: OldStore) -> None:
    made = old_store.made
    app = Ledger(old_store.settings)
    try:
        assert app.recorder.max_notification_id() == made["events"]
        # Profiles are sealed under each customer's key: the keys came through...
        customer = app.customer(made["customer"]["ref"])
        assert customer.profile["name"] == made["customer"]["name"]
        # ... and so did the forgotten customer's destroyed one.
        assert app.customer(made["forgotten"]).profile["name"] is None
        # Customers with snapshots load from them (then their later events).
        assert app.snapshots is not None
        for ref in made["snapshotted"]:
            found = app.customer(ref)
            assert list(app.snapshots.get(found.id, desc=True, limit=1))
            assert found.version == len(app.history("customer", ref))
        key = KeyStore(app).authenticate(made["api_key"]["token"])
        assert key is not None
        assert (key.name, key.role) == (made["api_key"]["name"], made["api_key"]["role"])
        # The command log (and the secret its fingerprints are keyed with) knows the command.
        again = app.execute(parse_command(made["command"]), actor="test")
        assert again.duplicate
        assert app.recorder.max_notification_id() == made["events"]
    finally:
        app.close()


def test_a_new_command_on_an_old_store_is_written_and_read_back(old_store: OldStore) -> None:
    made = old_store.made
    ref = made["customer"]["ref"]
    app = Ledger(old_store.settings)
    try:
        before = app.customer(ref).version
        written = app.execute(parse_command(contact(ref, "after-v1-1")), actor="test")
        assert not written.duplicate
        assert (written.version, written.position) == (before + 1, made["events"] + 1)
    finally:
        app.close()
    migrations._CHECKED.clear()
    reopened = Ledger(old_store.settings)
    try:
        last = reopened.history("customer", ref)[-1]
        assert (type(last).__name__, last.originator_version) == ("ContactLogged", before + 1)
        again = reopened.execute(parse_command(contact(ref, "after-v1-1")), actor="test")
        assert again.duplicate and again.position == written.position
    finally:
        reopened.close()


def test_ledger_verify_on_an_old_store_uses_its_integrity_state(
    old_store: OldStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env(monkeypatch, old_store.settings)
    code, found = cli_json(capsys, "verify", "--json")
    assert code == 0 and found["ok"] and found["access_log"]["ok"]
    assert found["events"] == old_store.made["events"]
    # Incremental: from the last good run the old code recorded; nothing since.
    code, found = cli_json(capsys, "verify", "--incremental", "--json")
    assert code == 0 and found["ok"] and found["events"] == 0
    app = Ledger(old_store.settings)
    try:
        app.execute(parse_command(contact("CUST-00002", "after-v1-2")), actor="test")
    finally:
        app.close()
    code, found = cli_json(capsys, "verify", "--incremental", "--json")
    assert code == 0 and found["ok"] and found["events"] == 1  # chained to the kept head


def test_ledger_migrations_shows_the_version_and_pending_steps(
    old_store: OldStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env(monkeypatch, old_store.settings)
    code, found = cli_json(capsys, "migrations", "--json")
    assert code == 0
    assert (found["state"], found["version"], found["pending"]) == ("unversioned", 1, [])
    monkeypatch.setattr(migrations, "STEPS", (*STEPS, Step(2, "test: an index", *INDEX)))
    assert main(["migrations"]) == 0
    out = capsys.readouterr().out
    assert "version  1: made before versions were recorded" in out
    assert "pending  2: test: an index" in out
    code, found = cli_json(capsys, "migrations", "--apply", "--json")
    assert code == 0 and (found["state"], found["version"], found["pending"]) == ("current", 2, [])
    assert [(a["version"], a["how"]) for a in found["applied"]] == [(1, "stamped"), (2, "applied")]


# -- steps ------------------------------------------------------------------------------------

INDEX = (
    ["CREATE INDEX commands_by_stream ON ledger_commands (originator_id)"],
    ["CREATE INDEX commands_by_stream ON ledger_commands (originator_id)"],
)


def indexes(settings: Settings) -> set[str]:
    with migrations.session_of(settings, create=False) as session, session.reading() as tx:
        if tx.postgres:
            rows = tx.rows("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (tx.schema,))
        else:
            rows = tx.rows("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {row[0] for row in rows}


def test_an_extra_step_runs_once_and_is_recorded(
    old_store: OldStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []

    def add_index(tx: StepTx) -> None:
        ran.append(1)
        assert tx.has_table("ledger_commands") and not tx.has_table("no_such_table")
        tx.execute(INDEX[tx.postgres][0])

    step = Step(2, "test: an index", add_index, add_index)
    monkeypatch.setattr(migrations, "STEPS", (*STEPS, step))
    opened_together(old_store.settings, 3)
    assert ran == [1]
    assert applied(old_store.settings) == [(1, "stamped"), (2, "applied")]
    assert "commands_by_stream" in indexes(old_store.settings)
    migrations._CHECKED.clear()
    app = Ledger(old_store.settings)  # a later start: nothing left to do
    try:
        assert ran == [1]
        assert app.customer(old_store.made["customer"]["ref"]).profile["name"]
    finally:
        app.close()


@pytest.mark.parametrize("failing", ["python", "sql"])
def test_a_failing_step_leaves_nothing_of_itself(
    old_store: OldStore, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    settings = old_store.settings
    tables = shape(settings)

    def half_done(tx: StepTx) -> None:
        tx.execute("CREATE TABLE half_done (id INTEGER PRIMARY KEY)")
        tx.execute("ALTER TABLE api_secrets ADD COLUMN note TEXT")
        tx.execute("DELETE FROM api_keys")
        if failing == "sql":
            tx.execute("INSERT INTO the_disk_is_on_fire VALUES (1)")
        raise RuntimeError("the disk is on fire")

    steps = (*STEPS, Step(2, "test: fails half way", half_done, half_done))
    monkeypatch.setattr(migrations, "STEPS", steps)
    with pytest.raises(
        StepFailed, match=r"schema step 2 \(test: fails half way\) failed on .*the.disk.is.on.fire"
    ) as failed:
        Ledger(settings)
    assert "the store stays at version 1" in str(failed.value)
    assert applied(settings) == [(1, "stamped")]  # the stamp is true; version 2 is not
    assert shape(settings) == tables
    monkeypatch.setattr(migrations, "STEPS", STEPS)
    app = Ledger(settings)
    try:
        assert KeyStore(app).authenticate(old_store.made["api_key"]["token"]) is not None
    finally:
        app.close()


def test_a_store_that_needs_a_step_is_refused_without_the_right_to_change_tables(
    old_store: OldStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(migrations, "STEPS", (*STEPS, Step(2, "test: an index", *INDEX)))
    read_only = old_store.settings.model_copy(update={"create_tables": False})
    tables = shape(read_only)
    with pytest.raises(StoreBehind, match="at schema version 1; this code .* needs version 2"):
        Ledger(read_only)
    assert shape(read_only) == tables and status(read_only).state == "unversioned"
    use_env(monkeypatch, old_store.settings)
    monkeypatch.setenv("LEDGER_CREATE_TABLES", "false")
    assert main(["customer", "show", "CUST-00001"]) == 1
    assert "LEDGER_CREATE_TABLES=true" in capsys.readouterr().err
    assert main(["migrations", "--apply"]) == 0
    assert applied(read_only) == [(1, "stamped"), (2, "applied")]
    Ledger(read_only).close()


# -- any store ------------------------------------------------------------------------------


def test_a_new_store_is_made_at_the_current_version_once(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ledgers opening a new store at once (an API server and a scheduler starting together)
    all open, and record each version once: every table is made under the creation lock."""
    ran: list[int] = []
    step = Step(2, "test: never run on a new store", *[lambda tx: ran.append(1)] * 2)
    monkeypatch.setattr(migrations, "STEPS", (*STEPS, step))
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        Ledger(store).close()

    side_by_side(start, 4)
    assert applied(store) == [(1, "created"), (2, "created")]  # one row per version
    assert ran == []  # its tables are made in the current shape
    assert status(store).state == "current"


def test_a_store_newer_than_the_code_is_refused(
    store: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Ledger(store)
    run(app, type="hire_rep", ref="REP-1", name="Ana", team="east")
    app.close()
    newer = Step(2, "a step of a later release")
    with migrations.session_of(store) as session, session.locked() as tx:
        migrations.record(session, tx, newer, "applied")
    tables = shape(store)
    migrations._CHECKED.clear()
    with pytest.raises(StoreTooNew) as refused:
        Ledger(store)
    message = str(refused.value)
    assert "is at schema version 2, recorded by customer-ledger" in message
    assert "knows versions up to 1" in message
    use_env(monkeypatch, store)
    assert main(["keys", "list"]) == 1  # refused, as the ledger refuses anything
    assert "error: the store (" in capsys.readouterr().err
    assert main(["migrations"]) == 1
    assert "NEWER than this code" in capsys.readouterr().out
    assert shape(store) == tables


def test_every_authoritative_table_is_known(store: Settings) -> None:
    """Every table the code makes that is not a view's is one whose version is kept: a new
    one belongs in migrations.AUTHORITATIVE (and a store holding it is not new)."""
    app = Ledger(store)
    try:
        run(app, type="hire_rep", ref="REP-1", name="Ana", team="east")
        KeyStore(app).create("probe", "admin")
        integrity = Integrity(app)
        integrity.verify()
        AccessLog(integrity.db).close()  # (the database is the caller's)
        integrity.close()
    finally:
        app.close()
    with migrations.session_of(store, create=False) as session, session.reading() as tx:
        if tx.postgres:
            rows = tx.rows("SELECT tablename FROM pg_tables WHERE schemaname = %s", (tx.schema,))
        else:
            rows = tx.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
    made = {row[0] for row in rows} - {TABLE}
    kind = "postgres" if store.database_url else "sqlite"
    assert {t for t in made if not t.startswith("view_")} == set(migrations.AUTHORITATIVE[kind])
