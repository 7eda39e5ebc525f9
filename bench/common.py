"""What the benchmarks share: choosing a throwaway store and timing things."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", default=POSTGRES_URL,
                        help=f"PostgreSQL server for --store postgres (default {POSTGRES_URL})")


def throwaway_settings(args: argparse.Namespace, **changes: Any) -> Settings:
    """A fresh, empty store: a temp folder, or a new PostgreSQL schema."""
    if args.store == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
        return Settings(data_dir=folder, database_url=None, **changes)
    return Settings(database_url=args.database_url,
                    database_schema=f"bench_{uuid.uuid4().hex[:10]}", **changes)


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
