"""The record of who looked (ledger/access_log.py), on SQLite and PostgreSQL: appends from
many threads and another process keep one chain; concurrent callers share transactions; a
failed append raises; lists filter and page newest first; a record changed, deleted, inserted
or moved behind the ledger's back is named by position, by `verify` and by `ledger verify`;
`ledger audit access` prints the records; the 90-day question is answered from an index."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.problems import status_of
from ledger.access_log import GENESIS, Access, AccessLog, cli_key, link
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.config import Settings
from ledger.errors import AccessNotRecorded, CommandInvalid
from ledger.sql import Database
from tests.conftest import fresh_store

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
TIMELINE = "GET /customers/{ref}/timeline"


class Clock:
    """A clock that moves on ``step`` each time it is read (once per transaction)."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(minutes=1)) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def access(n: int = 0, **fields: Any) -> Access:
    """The n-th read of a story: three keys, five customers."""
    return Access(
        **{
            "key": f"key-{n % 3}",
            "role": "compliance",
            "what": TIMELINE,
            "interface": "api",
            "customer": f"CUST-{n % 5}",
            "fields": ("profile", "timeline"),
            **fields,
        }
    )


@contextmanager
def opened(settings: Settings, **options: Any) -> Iterator[AccessLog]:
    app = Ledger(settings)
    db = Database.of(app)
    log = AccessLog(db, **options)
    try:
        yield log
    finally:
        log.close()
        db.close()
        app.close()


@pytest.fixture
def log(store: Settings) -> Iterator[AccessLog]:
    with opened(store, clock=Clock()) as found:
        yield found


@contextmanager
def raw(store: Settings) -> Iterator[tuple[Callable[..., Any], str]]:
    """A connection behind the ledger's back: (execute, the access log's table)."""
    if store.database_url:
        with psycopg.connect(store.database_url, autocommit=True) as conn:

            def run(sql: str, params: tuple[Any, ...] = ()) -> Any:
                return conn.execute(sql.replace("?", "%s"), params)

            yield run, f'"{store.database_schema}".access_log'
        return
    lite = sqlite3.connect(store.sqlite_path, isolation_level=None)
    try:
        yield lite.execute, "access_log"
    finally:
        lite.close()


def named(log: AccessLog) -> set[tuple[int, str]]:
    return {(p.position, p.what) for p in log.verify().problems}


# -- recording -----------------------------------------------------------------------------


def test_records_are_chained_from_one_head_and_listed_newest_first(log: AccessLog) -> None:
    assert log.record([access(0), access(1)]) == [1, 2]
    assert log.record([access(2, purpose="  complaint 7 review  ", customer=None)]) == [3]
    assert log.record([]) == []

    async def begun_then_settled() -> tuple[list[int], list[int]]:
        started = log.begin([access(3)])
        await asyncio.sleep(0)  # a read path's query runs meanwhile
        return await log.settled(started), await log.settled(started)

    assert asyncio.run(begun_then_settled()) == ([4], [4])
    items = log.list().items[1:]
    assert [i["position"] for i in items] == [3, 2, 1]
    assert items[-1]["previous"] == GENESIS
    assert [i["previous"] for i in items[:-1]] == [i["hash"] for i in items[1:]]
    assert items[0]["purpose"] == "complaint 7 review" and items[0]["customer"] is None
    assert items[1]["fields"] == ["profile", "timeline"] and items[1]["what"] == TIMELINE
    assert items[0]["at"] > items[1]["at"] == items[2]["at"]  # one transaction, one time
    check = log.verify()
    assert (check.ok, check.records, check.position) == (True, 4, 4)
    assert cli_key().startswith("cli:")


@pytest.mark.slow  # threads and another process
def test_appends_from_many_threads_and_another_process_keep_one_chain(
    store: Settings, log: AccessLog
) -> None:
    env = {**os.environ, "LEDGER_DATA_DIR": str(store.data_dir)}
    if store.database_url:
        env.update(
            LEDGER_DATABASE_URL=store.database_url, LEDGER_DATABASE_SCHEMA=store.database_schema
        )
    other = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS], env=env)
    with opened(store) as second:  # another connection of this process, its own writer
        found: dict[str, list[int]] = {}

        def reader(name: str, target: AccessLog) -> None:
            found[name] = [
                p for _ in range(25) for p in target.record([access(len(name), key=name)])
            ]

        threads = [
            threading.Thread(target=reader, args=(f"thread-{n}", log if n < 6 else second))
            for n in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert other.wait(timeout=120) == 0
    for positions in found.values():
        assert positions == sorted(positions)  # each caller's reads in its own order
    check = log.verify()
    assert check.ok, check.problems
    assert check.records == check.position == 8 * 25 + 50
    ours = {p for positions in found.values() for p in positions}
    assert len(ours) == 200
    theirs = log.list(key="other-process", limit=1000).items
    assert {i["position"] for i in theirs}.isdisjoint(ours) and len(theirs) == 50


OTHER_PROCESS = """
from ledger.access_log import Access, AccessLog
from ledger.application import Ledger
from ledger.sql import Database
from tests.conftest import fresh_store
app = Ledger()
log = AccessLog(Database.of(app))
for n in range(50):
    log.record([Access(key="other-process", role="compliance", what="GET /reports/{name}",
                       interface="api")])
log.close()
app.close()
"""


def test_callers_waiting_together_share_one_transaction(store: Settings, log: AccessLog) -> None:
    log.record([access()])  # the writer is running and the tables are there
    commits = log.commits
    with held_head(store):  # the next transaction waits for the head's lock
        futures = [log.submit([access(n)]) for n in range(10)]
        time.sleep(0.3)
        assert not any(f.done() for f in futures)
    assert sorted(p for f in futures for p in f.result(timeout=30)) == list(range(2, 12))
    assert log.commits - commits <= 2  # the one that waited for the lock, and the rest
    assert log.verify().ok


def test_reads_on_an_event_loop_are_recorded_and_never_block_it(
    store: Settings, log: AccessLog
) -> None:
    log.record([access()])
    commits = log.commits

    async def together() -> list[list[int]]:
        return await asyncio.gather(*(log.record_async([access(n)]) for n in range(10)))

    assert sorted(p for ps in asyncio.run(together()) for p in ps) == list(range(2, 12))
    if not store.database_url:  # written by the loop itself, each at once, no thread waits
        assert log.commits == commits + 10

    async def while_locked() -> tuple[list[int], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        beside = asyncio.create_task(ticker())
        found = await log.record_async([access()])
        beside.cancel()
        return found, ticks

    with held_head(store) as release:  # another writer holds the lock for 0.5 s
        threading.Timer(0.5, release).start()
        positions, ticks = asyncio.run(while_locked())
    assert positions == [12] and ticks >= 10  # the loop went on meanwhile
    assert log.verify().ok


@contextmanager
def held_head(store: Settings) -> Iterator[Callable[[], None]]:
    """Hold the lock an append takes, as a writer in another process would, until the
    block ends or the function it gives is called (from any thread)."""
    if store.database_url:
        with psycopg.connect(store.database_url, autocommit=True) as conn:
            conn.execute("BEGIN")
            conn.execute(f'SELECT * FROM "{store.database_schema}".access_log_head FOR UPDATE')
            lock = threading.Lock()

            def release() -> None:
                with lock:
                    if not conn.closed:
                        conn.execute("ROLLBACK")

            yield release
            release()
        return
    lite = sqlite3.connect(store.sqlite_path, isolation_level=None, check_same_thread=False)
    lite.execute("BEGIN IMMEDIATE")
    try:
        yield lite.rollback
    finally:
        lite.rollback()
        lite.close()


def test_an_append_that_fails_raises_so_that_the_read_is_refused(
    store: Settings, log: AccessLog
) -> None:
    log.record([access()])
    with raw(store) as (run, table):
        run(f"DROP TABLE {table}")
    with pytest.raises(AccessNotRecorded) as refused:
        log.record([access()])
    assert status_of(refused.value) == 503 and refused.value.where == "access_log"
    with pytest.raises(AccessNotRecorded):
        asyncio.run(log.record_async([access()]))
    log.create_tables()  # the writer lives on: the next read is recorded
    assert asyncio.run(log.record_async([access()])) == [2]


@pytest.mark.usefixtures("postgres_server")
def test_a_writer_whose_connection_was_cut_opens_another(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """PostgreSQL: the writer keeps a connection of its own. Cut while in use, it fails that
    append (the read is refused) and the next one reconnects; cut while idle, the ping before
    the next append finds out and nothing fails."""
    for settings in fresh_store(request, tmp_path, "postgres"):
        assert settings.database_url is not None
        with (
            opened(settings) as log,
            psycopg.connect(settings.database_url, autocommit=True) as admin,
        ):

            def cut() -> None:
                assert log.connection is not None
                admin.execute("SELECT pg_terminate_backend(%s)", (log.connection.info.backend_pid,))

            log.record([access()])
            cut()
            with pytest.raises(AccessNotRecorded):
                log.record([access()])
            assert log.record([access()]) == [2]
            cut()
            log.used = 0.0  # as if idle for a while
            assert log.record([access()]) == [3]
            assert log.verify().ok


@pytest.mark.usefixtures("postgres_server")
def test_a_loop_whose_connection_was_cut_opens_another(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """PostgreSQL: an event loop's records go through a connection of the loop's own, with
    the same care as the writer thread's."""
    for settings in fresh_store(request, tmp_path, "postgres"):
        assert settings.database_url is not None
        with (
            opened(settings) as log,
            psycopg.connect(settings.database_url, autocommit=True) as admin,
        ):

            async def reads() -> list[list[int]]:
                def cut() -> Any:
                    [state] = log.on_loop.values()
                    assert state.connection is not None
                    admin.execute(
                        "SELECT pg_terminate_backend(%s)", (state.connection.info.backend_pid,)
                    )
                    return state

                found = [await log.record_async([access()])]
                cut()
                with pytest.raises(AccessNotRecorded):
                    await log.record_async([access()])
                found.append(await log.record_async([access()]))
                cut().used = 0.0  # as if idle for a while
                found.append(await log.record_async([access()]))
                together = await asyncio.gather(*(log.record_async([access(n)]) for n in range(5)))
                return found + sorted(together)

            commits = log.commits
            assert asyncio.run(reads()) == [[1], [2], [3], [4], [5], [6], [7], [8]]
            assert log.commits - commits <= 5  # the five read together share a commit or two
            assert log.verify().ok


def test_entries_are_checked_when_made() -> None:
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"purpose": "x" * 501}, "purpose"),
        ({"purpose": "a\x00b"}, "purpose"),
        ({"interface": "fax"}, "interface"),
        ({"key": " "}, "key"),
        ({"customer": ""}, "customer"),
        ({"fields": "profile"}, "fields"),
        ({"fields": ["x"] * 21}, "fields"),
        ({"what": "w" * 201}, "what"),
        ({"purpose": "lone \udc80"}, "purpose"),
    ]
    for fields, where in refusals:
        with pytest.raises(CommandInvalid) as refused:
            access(**fields)
        assert refused.value.where == where, fields
    assert access(purpose="   ").purpose is None
    assert access(fields=["profile"]).fields == ("profile",)


# -- listing -------------------------------------------------------------------------------


def test_lists_filter_by_customer_key_and_time_newest_first_and_page(log: AccessLog) -> None:
    for n in range(30):  # one a minute from T0 + 1 minute
        log.record([access(n)])
    log.record([access(n, customer="CUST-9") for n in range(5)])  # five at one instant
    everything = log.list(limit=1000).items
    assert [i["position"] for i in everything] == list(range(35, 0, -1))

    of_one = log.list(customer="CUST-1", limit=1000).items
    assert [i["position"] for i in of_one] == [27, 22, 17, 12, 7, 2]
    by_key = log.list(key="key-2", customer="CUST-1", limit=1000).items
    assert [i["position"] for i in by_key] == [27, 12]
    since, until = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    window = log.list(since=since, until=until, limit=1000).items
    assert [i["position"] for i in window] == list(range(19, 9, -1))
    assert log.list(customer="CUST-1", since=T0 + timedelta(minutes=25)).items == of_one[:1]
    assert log.list(customer="CUST-NOBODY").items == []

    for query in ({}, {"customer": "CUST-9"}, {"key": "key-0"}, {"since": since}):
        paged, cursor = [], None
        while True:
            page = log.list(limit=2, cursor=cursor, **query)
            paged += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        assert paged == log.list(limit=1000, **query).items, query

    for options, where in (
        ({"cursor": "nonsense!"}, "cursor"),
        ({"cursor": "WzFd"}, "cursor"),
        ({"since": T0.replace(tzinfo=None)}, "since"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"customer": "a\x00"}, "customer"),
    ):
        with pytest.raises(CommandInvalid) as refused:
            log.list(**options)
        assert refused.value.where == where


# -- verifying -----------------------------------------------------------------------------


def ten_reads(store: Settings) -> None:
    with opened(store, clock=Clock()) as log:
        for n in range(10):
            log.record([access(n)])


def row(store: Settings, position: int) -> dict[str, Any]:
    with raw(store) as (run, table):
        cursor = run(f"SELECT * FROM {table} WHERE position = ?", (position,))
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def put(store: Settings, position: int, values: dict[str, Any]) -> None:
    """Write a row's columns (all but its position) behind the ledger's back."""
    columns = [c for c in values if c != "position"]
    with raw(store) as (run, table):
        run(
            f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE position = ?",
            (*(values[c] for c in columns), position),
        )


def insert(store: Settings, values: dict[str, Any]) -> None:
    with raw(store) as (run, table):
        run(
            f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
            tuple(values.values()),
        )


def forged(store: Settings, after: int, position: int) -> dict[str, Any]:
    """A record that follows position ``after`` as the ledger would have chained it."""
    entry = access(0, key="intruder")
    at = row(store, after)["at"]
    return {
        "position": position,
        "at": at,
        "key": entry.key,
        "role": entry.role,
        "customer": entry.customer,
        "what": entry.what,
        "fields": json.dumps(list(entry.fields)),
        "purpose": None,
        "interface": entry.interface,
        "previous": row(store, after)["hash"],
        "hash": link(row(store, after)["hash"], at, entry),
    }


def change(store: Settings) -> None:
    put(store, 4, {"customer": "CUST-SOMEONE-ELSE"})


def change_purpose_and_hash(store: Settings) -> None:
    put(store, 4, {"purpose": "made up later", "hash": "ab" * 32})


def delete(store: Settings) -> None:
    with raw(store) as (run, table):
        run(f"DELETE FROM {table} WHERE position = 6")


def delete_newest(store: Settings) -> None:
    with raw(store) as (run, table):
        run(f"DELETE FROM {table} WHERE position >= 9")


def insert_after_head(store: Settings) -> None:
    insert(store, forged(store, 10, 11))


def insert_copy(store: Settings) -> None:
    insert(store, {**row(store, 3), "position": 11})


def reorder(store: Settings) -> None:
    third, fourth = row(store, 3), row(store, 4)
    put(store, 3, fourth)
    put(store, 4, third)


def replace(store: Settings) -> None:
    """A record put in the place of another, chained to the one before it: the record after
    it no longer follows it."""
    put(store, 5, forged(store, 4, 5))


ALTERATIONS: dict[str, tuple[Callable[[Settings], None], set[tuple[int, str]]]] = {
    "changed": (change, {(4, "changed")}),
    "changed, its hash too": (change_purpose_and_hash, {(4, "changed")}),
    "deleted": (delete, {(6, "missing")}),
    "deleted newest": (delete_newest, {(9, "missing")}),
    "inserted after the head": (insert_after_head, {(11, "inserted")}),
    "inserted copy": (insert_copy, {(11, "inserted")}),
    "reordered": (reorder, {(3, "reordered"), (4, "reordered")}),
    "replaced": (replace, {(5, "changed")}),
}


@pytest.mark.parametrize("alteration", ALTERATIONS)
def test_an_altered_record_is_named_by_position_by_verify_and_ledger_verify(
    store_env: Settings, capsys: pytest.CaptureFixture[str], alteration: str
) -> None:
    ten_reads(store_env)
    assert main(["verify"]) == 0
    assert (
        "verified 10 records of the access log up to position 10: its chain holds"
        in capsys.readouterr().out
    )
    alter, expected = ALTERATIONS[alteration]
    alter(store_env)
    with opened(store_env) as log:
        assert named(log) == expected
    assert main(["verify", "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert not found["ok"] and found["problems"] == []  # the events are untouched
    assert {(p["position"], p["what"]) for p in found["access_log"]["problems"]} == expected
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert f"{len(expected)} record{'s are' if len(expected) > 1 else ' is'} NOT as written" in out
    position, what = min(expected)
    assert any(line.split()[:2] == [str(position), what] for line in out.splitlines()), out


# -- the command line ---------------------------------------------------------------------------


def test_ledger_audit_access_prints_records_newest_first(
    store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ten_reads(store_env)
    capsys.readouterr()
    assert main(["audit", "access", "--customer", "CUST-1", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [r["position"] for r in found["data"]] == [7, 2] and found["next_cursor"] is None
    assert found["data"][0]["fields"] == ["profile", "timeline"]
    assert main(["audit", "access", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == [
        "at",
        "key",
        "role",
        "customer",
        "what",
        "fields",
        "purpose",
        "interface",
        "position",
    ]
    assert "2025-03-01 09:10" in lines[2] and "GET /customers/{ref}/timeline" in lines[2]
    assert "profile, timeline" in lines[2] and lines[2].split()[-1] == "10"
    cursor = lines[-1].removeprefix("more: --cursor ")
    assert main(["audit", "access", "--limit", "3", "--cursor", cursor, "--json"]) == 0
    assert [r["position"] for r in json.loads(capsys.readouterr().out)["data"]] == [7, 6, 5]
    assert (
        main(
            [
                "audit",
                "access",
                "--key",
                "key-1",
                "--since",
                "2025-03-01T09:05:00Z",
                "--until",
                "2025-03-01T09:09:00Z",
                "--json",
            ]
        )
        == 0
    )
    assert [r["position"] for r in json.loads(capsys.readouterr().out)["data"]] == [8, 5]
    assert main(["audit", "access", "--cursor", "nonsense!"]) == 2  # invalid input
    assert "the cursor is not one this ledger gave out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["audit", "access", "--since", "2025-03-01"])
    assert exited.value.code == 2
    assert "needs a zone" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["audit", "access", "--help"])
    assert exited.value.code == 0
    assert "--customer REF" in capsys.readouterr().out


# -- at size ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_90_day_question_is_answered_from_an_index(store: Settings) -> None:
    """Who looked at one customer (or with one key) in the last 90 days, at 100,000 records
    of two years: the plan reads the customer's (the key's) index, not the table."""
    customers, batch, clock = 5_000, 1_000, Clock(step=timedelta(days=7))
    with opened(store, clock=clock) as log:
        for start in range(0, 100_000, batch):
            log.record(
                [
                    Access(
                        key=f"key-{n % 40}",
                        role="rep",
                        what=TIMELINE,
                        interface="api",
                        customer=f"CUST-{n % customers:05d}",
                        fields=("timeline",),
                    )
                    for n in range(start, start + batch)
                ]
            )
        if store.database_url:  # as autovacuum would have by now
            with raw(store) as (run, table):
                run(f"ANALYZE {table}")
        since = clock.now - timedelta(days=90)
        for plan, index in (
            (log.plan(customer="CUST-00042", since=since), "access_log_customer"),
            (log.plan(key="key-7", since=since), "access_log_key"),
        ):
            assert index in plan, plan
            assert "Seq Scan" not in plan and "SCAN access_log\n" not in plan + "\n", plan
        found = log.list(customer="CUST-00042", since=since).items
        # The last 13 weekly batches are the last 90 days; each read each customer once.
        assert [i["position"] for i in found] == [
            p for p in range(100_000, 87_000, -1) if (p - 1) % customers == 42
        ]
