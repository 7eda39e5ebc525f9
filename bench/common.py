"""What the benchmarks share: choosing a throwaway store and timing things."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.sqlite import SQLiteDatastore

from ledger.application import Ledger
from ledger.config import Settings
from ledger.demo import DemoSummary, build_world

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--database-url",
        default=POSTGRES_URL,
        help=f"PostgreSQL server for --store postgres (default {POSTGRES_URL})",
    )


def store_env(settings: Settings) -> dict[str, str]:
    """This process's environment, pointing a ``ledger`` subprocess at the store of ``settings``."""
    env = {**os.environ, "LEDGER_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env.update(
            LEDGER_DATABASE_URL=settings.database_url,
            LEDGER_DATABASE_SCHEMA=settings.database_schema,
        )
    return env


def throwaway_settings(args: argparse.Namespace, **changes: Any) -> Settings:
    """A fresh, empty store: a temp folder, or a new PostgreSQL schema."""
    if args.store == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
        return Settings(data_dir=folder, database_url=None, **changes)
    return Settings(
        database_url=args.database_url, database_schema=f"bench_{uuid.uuid4().hex[:10]}", **changes
    )


@contextmanager
def demo_world(description: str | None) -> Iterator[tuple[Ledger, Settings, DemoSummary]]:
    """The demo world in a throwaway store chosen on the command line (``--store``,
    ``--customers``), settled; dropped afterwards."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    store_arguments(parser)
    parser.add_argument("--customers", type=int, default=3000)
    args = parser.parse_args()
    settings = throwaway_settings(args)
    try:
        app = Ledger(settings)
        summary = build_world(app, customers=args.customers)
        settle(app)
        yield app, settings, summary
        app.close()
    finally:
        drop(settings)


def settle(app: Ledger) -> None:
    datastore = app.recorder.datastore  # type: ignore[attr-defined]
    if isinstance(datastore, SQLiteDatastore):
        with datastore.get_connection(commit=True) as conn:
            conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    table = app.recorder.events_table_name  # type: ignore[attr-defined]
    with datastore.get_connection() as conn:
        conn.execute(f'VACUUM ANALYZE "{datastore.schema or "public"}"."{table}"')


def read_log(
    app: Ledger, *, page: int = 10_000, end: int | None = None, decode: bool = True
) -> int:
    """Read the log in pages from its start (to position ``end``), decoding each event into
    its domain event unless ``decode`` is False; the raw baseline of the benchmarks. Returns
    how many events it read."""
    position, count = 0, 0
    while end is None or position < end:
        limit = page if end is None else min(page, end - position)
        notifications = app.recorder.select_notifications(
            start=position, limit=limit, inclusive_of_start=False
        )
        if not notifications:
            break
        if decode:
            for notification in notifications:
                app.mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id
    return count


def kept_store(args: argparse.Namespace, name: str) -> tuple[Settings, bool]:
    """The store a benchmark keeps between runs under ``name`` (a folder of ``args.worlds``
    or a PostgreSQL schema), and whether an earlier run finished building it."""
    if args.store == "sqlite":
        folder = Path(args.worlds) / name
        return Settings(data_dir=folder, database_url=None), (folder / "built").exists()
    settings = Settings(database_url=args.database_url, database_schema=f"bench_{name}")
    with psycopg.connect(args.database_url) as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name = 'bench_built'",
            (settings.database_schema,),
        ).fetchone()
    return settings, found is not None


def mark_built(args: argparse.Namespace, settings: Settings, count: int) -> None:
    """Say that the kept store is built (``count``: what it holds), for ``kept_store``."""
    if args.store == "sqlite":
        assert settings.data_dir is not None
        (Path(settings.data_dir) / "built").write_text(f"{count}\n")
    else:
        with psycopg.connect(args.database_url) as conn:
            conn.execute(f'CREATE TABLE "{settings.database_schema}".bench_built (n bigint)')


def drop(settings: Settings) -> None:
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE')


def timings(action: Callable[[], object], repeat: int) -> list[float]:
    """Seconds per call, ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.2f} ms"
