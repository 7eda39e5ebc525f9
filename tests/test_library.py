"""What the ledger relies on in ``eventsourcing`` beyond its public interface (ledger/library.py).

One test per behaviour relied on: when a new release of the library changes one, the test
that names it fails, rather than a view, an import or the command log somewhere far off."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, Recording, Transcoding
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from ledger import library
from ledger.application import Ledger
from ledger.config import Settings
from ledger.encoding import Transcoder
from tests.conftest import fresh_store


class Thing(Aggregate):
    @event("Made")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


@pytest.fixture
def app(store: Settings) -> Iterator[Ledger]:
    ledger = Ledger(store)
    yield ledger
    ledger.close()


def saving(*things: Thing, **kwargs: Any) -> ProcessingEvent[UUID]:
    processing: ProcessingEvent[UUID] = ProcessingEvent()
    processing.collect_events(*things, **kwargs)
    return processing


def test_record_stores_the_events_and_hands_saved_kwargs_to_the_hook(
    app: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, Any]] = []
    recorder = app.recorder
    monkeypatch.setattr(recorder, "insert_beside", lambda c, **kw: calls.append(("beside", kw)))
    if isinstance(recorder, library.PostgresRecorder):
        stored = recorder.insert_stored

        def insert_stored(curs: Any, events: Any) -> None:
            calls.append(("events", len(events)))
            stored(curs, events)

        monkeypatch.setattr(recorder, "insert_stored", insert_stored)
    thing = Thing("one")
    thing.rename("two")
    recordings = library.record(app, saving(thing, rows=["r"]))

    assert [r.domain_event.originator_version for r in recordings] == [1, 2]
    positions = [r.notification.id for r in recordings]
    assert positions == [n.id for n in app.recorder.select_notifications(start=1, limit=10)]
    assert calls[0][0] == "beside" and calls[0][1]["rows"] == ["r"]
    if isinstance(recorder, library.PostgresRecorder):  # beside first, outside the lock
        assert [c[0] for c in calls] == ["beside", "events"] and calls[1][1] == 2
    else:  # after the events
        assert len(calls) == 1


def test_a_failing_hook_leaves_nothing_written(
    app: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(c: Any, **kwargs: Any) -> None:
        raise RuntimeError("refused")

    monkeypatch.setattr(app.recorder, "insert_beside", refuse)
    thing = Thing("one")
    with pytest.raises(RuntimeError, match="refused"):
        library.record(app, saving(thing))
    assert app.recorder.select_events(thing.id) == []


def test_take_snapshots_snapshots_at_the_interval(app: Ledger) -> None:
    app.snapshotting_intervals[Thing] = 2
    thing = Thing("one")
    thing.rename("two")
    thing.rename("three")
    processing = saving(thing)
    library.record(app, processing)
    library.take_snapshots(app, processing)
    assert app.snapshots is not None
    assert [s.originator_version for s in app.snapshots.get(thing.id)] == [2]


def test_save_calls_the_recorded_hook(app: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[int]] = []

    def recorded(recordings: list[Recording[UUID]]) -> None:
        seen.append([r.domain_event.originator_version for r in recordings])

    monkeypatch.setattr(app, "recorded", recorded)
    thing = Thing("one")
    app.save(thing)
    thing.rename("two")
    app.save(thing)
    assert seen == [[1], [2]]


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


class PointAsDict(Transcoding):
    type = Point
    name = "point"

    def encode(self, obj: Point) -> int:
        return obj.x

    def decode(self, data: int) -> Point:
        return Point(data)


@pytest.mark.fast
@pytest.mark.parametrize("big", [1, 2**70], ids=["orjson", "the library's json fallback"])
def test_the_transcoder_hook_encodes_what_json_has_no_type_for(big: int) -> None:
    transcoder = Transcoder()
    for transcoding in (DecimalAsStr(), DatetimeAsISO(), PointAsDict()):
        transcoder.register(transcoding)
    seen: list[type] = []
    encode_object = transcoder.encode_object

    def spy(o: Any) -> dict[str, Any]:
        seen.append(type(o))
        return encode_object(o)

    transcoder.encode_object = spy  # type: ignore[method-assign]
    value = {"p": Point(3), "n": big, "d": Decimal("1.50")}
    back = transcoder.decode(transcoder.encode(value))
    assert (back["p"].x, back["n"], back["d"]) == (3, big, Decimal("1.50"))
    assert Point in seen


def test_the_sqlite_pool_opens_the_ledger_file_with_its_settings(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url=None, sqlite_lock_timeout=7)
    ledger = Ledger(settings)
    try:
        datastore = getattr(ledger.recorder, "datastore", None)
        assert isinstance(datastore, SQLiteDatastore)
        assert library.sqlite_path(datastore) == str(settings.sqlite_path)
        assert library.sqlite_lock_timeout(datastore) == 7
        library.size_sqlite_pool(datastore, kept=3, overflow_at_least=99)
        assert (datastore.pool.pool_size, datastore.pool.max_overflow) == (3, 99)
        with datastore.transaction(commit=False) as c:  # the pool still hands connections out
            c.execute("SELECT 1 AS one")
            assert c.fetchone()["one"] == 1
    finally:
        ledger.close()


@pytest.fixture
def on_postgres(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: str
) -> Iterator[Ledger]:
    for settings in fresh_store(request, tmp_path, "postgres"):
        ledger = Ledger(settings)
        yield ledger
        ledger.close()


def postgres(app: Ledger) -> tuple[library.PostgresRecorder, PostgresDatastore]:
    recorder = app.recorder
    assert isinstance(recorder, library.PostgresRecorder)
    return recorder, recorder.datastore


def test_postgres_connect_options_open_the_same_database(on_postgres: Ledger) -> None:
    _, datastore = postgres(on_postgres)
    with psycopg.connect(**library.postgres_connect_options(datastore)) as conn:
        found = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
            (datastore.schema,),
        ).fetchone()
        assert found is not None and next(iter(found.values())) > 0


def test_lock_table_holds_the_events_table_until_the_transaction_ends(on_postgres: Ledger) -> None:
    recorder, datastore = postgres(on_postgres)
    with datastore.transaction(commit=False) as curs:
        recorder.lock_table(curs)
        curs.execute(
            "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE l.pid = pg_backend_pid() AND c.relname = %s",
            (recorder.events_table_name.split(".")[-1],),
        )
        assert "ExclusiveLock" in {row["mode"] for row in curs.fetchall()}


def test_notify_channel_wakes_a_listener_when_the_transaction_commits(on_postgres: Ledger) -> None:
    recorder, datastore = postgres(on_postgres)
    options = library.postgres_connect_options(datastore)
    with psycopg.connect(**options, autocommit=True) as listener:
        listener.execute(f'LISTEN "{recorder.channel_name}"')
        with datastore.transaction(commit=True) as curs:
            recorder.notify_channel(curs)
        heard = [n.channel for n in listener.notifies(timeout=5, stop_after=1)]
    assert heard == [recorder.channel_name]
