"""The tiers: ``pytest -m fast`` needs no database server and no browser; a run that needs
PostgreSQL or Chromium while it is missing stops once, before any test, saying what to do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import START_POSTGRES

pytestmark = pytest.mark.slow  # each runs pytest in a process of its own

ROOT = Path(__file__).resolve().parent.parent
NOWHERE = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1


def pytest_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest in a process of its own (its results kept out of this run's cache)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_missing_postgres_stops_the_run_once_saying_how_to_start_it(
    workers: list[str],
) -> None:
    done = pytest_run("tests/test_sql.py", *workers, LEDGER_TEST_DATABASE_URL=NOWHERE)
    out = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert out.count(f"PostgreSQL is not reachable at {NOWHERE}: ") == 1, out
    assert "Connection refused" in out
    assert f"Start it:  {START_POSTGRES}\n" in out
    assert "or point LEDGER_TEST_DATABASE_URL at a server" in out
    assert "or run the tier that needs no server:  pytest -m fast" in out
    assert re.search(r"\n=+ no tests ran in [\d.]+s =+\n", out), out  # the summary: nothing ran


def test_the_fast_tier_asks_for_no_server() -> None:
    done = pytest_run("-m", "fast", "tests/test_sql.py", LEDGER_TEST_DATABASE_URL=NOWHERE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed, 3 deselected" in done.stdout


def test_a_missing_chromium_stops_the_run_once_saying_how_to_install_it() -> None:
    done = pytest_run(
        "tests/console",
        "-k",
        "sqlite",
        LEDGER_TEST_DATABASE_URL=NOWHERE,  # not needed on SQLite: not checked
        LEDGER_TEST_CHROMIUM="/nowhere/chromium",
    )
    out = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert out.count("Chromium is not installed (no /nowhere/chromium)") == 1, out
    assert "Install it:  apt-get install chromium" in out
    assert "PostgreSQL" not in out
