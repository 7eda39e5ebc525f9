"""The code, tests and benchmarks included, is formatted by ``ruff format``, passes ``ruff
check`` and ``mypy`` (strict), each as configured in pyproject.toml: CI runs them here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One of the virtual environment's tools, run over the project."""
    return subprocess.run(
        [str(Path(sys.executable).with_name(name)), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_is_formatted_by_ruff_format() -> None:
    done = tool("ruff", "format", "--check", "--diff")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_ruff_check_finds_nothing() -> None:
    done = tool("ruff", "check")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.mark.slow  # tens of seconds for a first run (then its cache, .mypy_cache)
def test_mypy_finds_nothing() -> None:
    done = tool("mypy")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
