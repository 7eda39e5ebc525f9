"""What the command-line modules share: opening the ledger, progress, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from ledger.application import Ledger
from ledger.commands.fields import reference
from ledger.config import Settings


def settings_of(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by --data-dir and --database-url."""
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.database_url is not None:
        overrides["database_url"] = args.database_url
    return Settings(**overrides)


MOST = 10**9  # a count no store holds as many of, and a number both databases take


def positive(text: str) -> int:
    """An argparse type: a whole number, at least 1 and at most ``MOST`` (a limit past 64
    bits overflows in SQLite and PostgreSQL)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    if value > MOST:
        raise argparse.ArgumentTypeError(f"{value} is more than {MOST:,}")
    return value


def reference_arg(text: str) -> str:
    """An argparse type: a customer's or rep's reference, as the ledger keeps references
    (``fields.reference``: look-alike spellings are one; none may hold an unseen character)."""
    try:
        return reference(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def open_ledger(args: argparse.Namespace) -> Ledger:
    return Ledger(settings_of(args))


def new_bar(total: int | None, unit: str, *, leave: bool = True) -> tqdm[Any]:
    """A progress bar on standard error (none when it is not a terminal)."""
    return tqdm(total=total, unit=unit, unit_scale=True, file=sys.stderr, dynamic_ncols=True,
                disable=None, leave=leave)


@contextmanager
def progress_bar(total: int | None, unit: str) -> Iterator[Callable[[int], None]]:
    with new_bar(total, unit) as bar:
        def advance(done: int) -> None:
            bar.update(done)

        yield advance


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
