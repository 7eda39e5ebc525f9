"""What the command-line modules share: opening the ledger, progress, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

from pydantic import ValidationError
from tqdm import tqdm

from ledger.access_log import Access, AccessLog, cli_key
from ledger.application import Ledger
from ledger.commands.fields import reference
from ledger.config import Settings
from ledger.errors import CommandInvalid
from ledger.sql import Database


def settings_of(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by --data-dir and --database-url."""
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.database_url is not None:
        overrides["database_url"] = args.database_url
    try:
        return Settings(**overrides)
    except ValidationError as error:  # a bad LEDGER_... variable: named, not a traceback
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        raise CommandInvalid(
            first["msg"].removeprefix("Value error, "), where=f"LEDGER_{name.upper()}"
        ) from None


MOST = 10**9  # a count no store holds as many of, and a number both databases take
CENTURY = 36_500  # days: the longest span of days an option takes (the commands' limit)
YEAR = 365 * 86_400  # seconds: the longest wait between runs an option takes


def whole(least: int = 1, most: int = MOST) -> Callable[[str], int]:
    """An argparse type: a whole number from ``least`` to ``most`` (a number past 64 bits
    overflows in the databases; a span of days past the calendar, in Python)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is less than {least:,}")
        if value > most:
            raise argparse.ArgumentTypeError(f"{value} is more than {most:,}")
        return value

    return parse


positive = whole()


def seconds(text: str) -> float:
    """An argparse type: a wait in seconds, finite, above 0 and at most a year (a scheduler
    given nan or inf stopped on its first run)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= YEAR:  # false for nan
        raise argparse.ArgumentTypeError(
            f"{text} seconds: give a number above 0, at most {YEAR:,} (a year)"
        )
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
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        dynamic_ncols=True,
        disable=None,
        leave=leave,
    )


@contextmanager
def progress_bar(total: int | None, unit: str) -> Iterator[Callable[[int], None]]:
    with new_bar(total, unit) as bar:

        def advance(done: int) -> None:
            bar.update(done)

        yield advance


# What ``add_commands`` functions add their subcommands to (``add_subparsers()``).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def looked(
    app: Ledger,
    what: str,
    *,
    customer: str | None = None,
    fields: tuple[str, ...],
    purpose: str | None = None,
) -> None:
    """Record in the access log what a command is about to show (as ``cli:<os user>``);
    ``AccessNotRecorded`` if it cannot be, and then nothing is shown."""
    log = AccessLog(Database.of(app), create=app.settings.create_tables)
    try:
        log.record(
            [
                Access(
                    key=cli_key(),
                    role="operator",
                    what=what,
                    interface="cli",
                    customer=customer,
                    fields=fields,
                    purpose=purpose,
                )
            ]
        )
    finally:
        log.close()
        log.db.close()
