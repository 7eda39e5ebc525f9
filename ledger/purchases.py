"""An analyst's purchase history (a CSV or whitespace-separated file) as ledger commands.

Each row is one purchase: a customer, a date, an amount, and optionally an order id and a
quantity. Customers the ledger does not know are registered first (their reference as their
name). Every command's id follows from the row, so importing the same file again writes
nothing new; a row without an order id gets one from its customer, its date and how many
rows before it had both (``CUST-7-19970101-2``).

``import_purchases`` shares the customers among several processes (by a hash of their
reference), so that each customer's rows are still written by one writer, in file order.
"""

from __future__ import annotations

import csv
import hashlib
import multiprocessing
import pickle
import queue
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.application import Ledger
from ledger.commands.fields import currency_code, reference
from ledger.commands.models import Command, parse_command
from ledger.config import Settings
from ledger.errors import CommandInvalid, LedgerError
from ledger.importer import ImportReport, import_commands


@dataclass(frozen=True)
class PurchaseColumns:
    """Where each field is: a header name, or a column number counted from 1."""

    customer: str
    date: str
    amount: str
    order: str | None = None
    quantity: str | None = None
    date_format: str = "%Y-%m-%d"
    currency: str = "USD"
    delimiter: str | None = ","  # None: any run of whitespace
    header: bool = True

    def __post_init__(self) -> None:
        """Settings that would refuse every row are refused once, before any row."""
        try:
            object.__setattr__(self, "currency", currency_code(self.currency))
        except ValueError as error:
            raise CommandInvalid(str(error), where="--currency") from None
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise CommandInvalid(
                f"the delimiter is one character, not {self.delimiter!r} "
                "(--whitespace for runs of spaces or tabs)",
                where="--delimiter",
            )
        for name in ("customer", "date", "amount", "order", "quantity"):
            spec = getattr(self, name)
            if spec is not None and spec.isdigit() and int(spec) < 1:
                raise CommandInvalid("columns are counted from 1", where=f"--{name}-column")

    def positions(self, header: Sequence[str] | None) -> dict[str, int]:
        found = {}
        for name in ("customer", "date", "amount", "order", "quantity"):
            spec = getattr(self, name)
            if spec is None:
                continue
            if spec.isdigit():
                found[name] = int(spec) - 1
            elif header is not None and spec in header:
                found[name] = list(header).index(spec)
            else:
                known = (
                    f"; the header has {', '.join(header)}"
                    if header
                    else " (the file has no header: give column numbers, from 1)"
                )
                raise CommandInvalid(
                    f"no column {spec!r} for the {name}{known}", where=f"--{name}-column"
                )
        return found


def import_purchases(
    settings: Settings,
    lines: Sequence[str],
    columns: PurchaseColumns,
    *,
    workers: int = 1,
    actor: str = "import",
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a purchase history with ``workers`` processes, each writing the purchases of
    its share of the customers in batches of ``batch_size`` rows, one transaction each.

    Settings that would refuse every row (a column the header lacks) are refused before any
    process starts. A process that stops (killed, the database gone) leaves its committed
    batches written; importing the file again writes the rest and nothing twice."""
    header = next((fields for _, fields in rows_of(lines, columns)), None)
    columns.positions(header if columns.header else None)
    app = Ledger(settings)  # makes the tables once, not in processes racing to
    try:
        if workers <= 1:
            return import_commands(
                app,
                purchase_commands(lines, columns),
                actor=actor,
                batch_size=batch_size,
                progress=progress,
            )
    finally:
        app.close()
    # Forked, the processes inherit the lines instead of being sent them.
    context = multiprocessing.get_context("fork")
    messages = context.Queue()
    # Made above: processes creating them at once would wait on each other's writes.
    made = settings.model_copy(update={"create_tables": False})
    processes = [
        context.Process(
            target=_import_share,
            daemon=True,
            args=(made, lines, columns, (k, workers), actor, batch_size, messages),
        )
        for k in range(workers)
    ]
    reports: dict[int, ImportReport] = {}
    try:
        for process in processes:
            process.start()
        while len(reports) < workers:
            try:
                kind, share, payload = messages.get(timeout=1)
            except queue.Empty:
                for k, process in enumerate(processes):
                    if k not in reports and process.exitcode is not None:
                        raise RuntimeError(
                            f"import process {k + 1} of {workers} stopped "
                            f"(exit code {process.exitcode})"
                        ) from None
                continue
            if kind == "rows" and progress:
                progress(payload)
            elif kind == "report":
                reports[share] = payload
            elif kind == "failed":
                raise payload
    finally:
        for process in processes:
            if process.is_alive() and len(reports) < workers:
                process.terminate()
            process.join()
    return ImportReport.merged(reports.values())


def _import_share(
    settings: Settings,
    lines: Sequence[str],
    columns: PurchaseColumns,
    share: tuple[int, int],
    actor: str,
    batch_size: int,
    messages: multiprocessing.Queue[tuple[str, int, object]],
) -> None:
    mine = share[0]
    try:
        app = Ledger(settings)
        try:
            report = import_commands(
                app,
                purchase_commands(lines, columns, share=share),
                actor=actor,
                batch_size=batch_size,
                progress=lambda rows: messages.put(("rows", mine, rows)),
            )
        finally:
            app.close()
        messages.put(("report", mine, report))
    except Exception as error:  # handed to the parent, which raises it
        messages.put(
            (
                "failed",
                mine,
                error if _picklable(error) else RuntimeError(f"{type(error).__name__}: {error}"),
            )
        )


def _picklable(error: Exception) -> bool:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return False
    return True


def rows_of(lines: Iterable[str], columns: PurchaseColumns) -> Iterator[tuple[int, Any]]:
    """(line number, fields) for each non-empty row (the header too, if there is one)."""
    numbered = ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
    if columns.delimiter is None:
        split: Iterator[tuple[int, list[str]]] = ((n, line.split()) for n, line in numbered)
    else:
        delimiter = columns.delimiter
        # A line without a quote is split as the csv module would split it, four times faster.
        split = (
            (
                n,
                line.split(delimiter)
                if '"' not in line
                else next(csv.reader([line], delimiter=delimiter)),
            )
            for n, line in numbered
        )
    yield from split


def purchase_commands(
    lines: Iterable[str], columns: PurchaseColumns, *, share: tuple[int, int] = (0, 1)
) -> Iterator[tuple[int, list[Command] | LedgerError]]:
    """(line number, the commands of that row, or why it is refused).

    Rows come customer by customer (customers in order of first appearance, each one's rows
    in file order), so that a batch loads each customer once; a customer's first row
    registers them (the importer counts one the ledger knows already as a duplicate).
    ``share`` (k, n): only the customers whose reference hashes to k of n, and the rows that
    name no customer if k is 0 (for n processes importing one file)."""
    by_customer: dict[str, list[tuple[int, Command, datetime]]] = {}
    seen: Counter[tuple[str, str]] = Counter()
    dates: dict[str, datetime] = {}  # a history repeats its dates: each is parsed once
    positions: dict[str, int] | None = None
    mine, shares = share
    for number, fields in rows_of(lines, columns):
        if positions is None:
            header = fields if columns.header else None
            positions = columns.positions(header)
            widest = max(positions.values())
            if header is not None:
                continue
        try:
            customer = customer_of(fields, positions["customer"], number)
        except LedgerError as error:
            if mine == 0:
                yield number, error
            continue
        if shares > 1 and zlib.crc32(customer.encode()) % shares != mine:
            continue
        try:
            if len(fields) > widest:
                values = {name: fields[at].strip() for name, at in positions.items()}
            else:  # says which column is missing
                values = {name: cell(fields, at, name, number) for name, at in positions.items()}
            occurred = dates.get(values["date"])
            if occurred is None:
                occurred = dates[values["date"]] = parse_date(
                    values["date"], columns.date_format, number
                )
            order = values.get("order") or next_order(values["customer"], occurred, seen)
            purchase: dict[str, Any] = {
                "type": "record_purchase",
                "customer": customer,
                "order_id": order,
                "amount": decimal(values["amount"], "amount", number),
                "currency": columns.currency,
                "occurred_at": occurred,
                "command_id": command_id(f"purchase:{customer}:{order}"),
            }
            if values.get("quantity"):
                purchase["quantity"] = decimal(values["quantity"], "quantity", number)
            command = parse_command(purchase, where=f"line {number}")
        except LedgerError as error:
            yield number, error
            continue
        by_customer.setdefault(customer, []).append((number, command, occurred))
    for customer, rows in by_customer.items():
        first_line, first, first_at = rows[0]
        register = parse_command(
            {
                "type": "register_customer",
                "ref": customer,
                "name": customer,
                "occurred_at": first_at,
                "command_id": command_id(f"register:{customer}"),
            },
            where=f"line {first_line}",
        )
        yield first_line, [register, first]
        yield from ((number, [command]) for number, command, _ in rows[1:])


def customer_of(fields: Sequence[str], at: int, line: int) -> str:
    """The row's customer, as the ledger keeps references: a history that spells one customer
    two ways (full-width digits) gives their purchases one customer, one process, one id."""
    try:
        return reference(cell(fields, at, "customer", line))
    except ValueError as error:
        raise CommandInvalid(f"customer: {error}", where=f"line {line}") from None


def cell(fields: Sequence[str], at: int, name: str, line: int) -> str:
    if at >= len(fields):
        raise CommandInvalid(
            f"the row has {len(fields)} columns, the {name} is column {at + 1}",
            where=f"line {line}",
        )
    return fields[at].strip()


def parse_date(text: str, form: str, line: int) -> datetime:
    try:
        moment = datetime.strptime(text, form)
    except ValueError:
        raise CommandInvalid(
            f"date {text!r} does not match the format {form!r}", where=f"line {line}"
        ) from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def decimal(text: str, name: str, line: int) -> str:
    try:
        Decimal(text)
    except InvalidOperation:
        raise CommandInvalid(f"{name} {text!r} is not a number", where=f"line {line}") from None
    return text


def next_order(customer: str, occurred: datetime, seen: Counter[tuple[str, str]]) -> str:
    day = f"{occurred:%Y%m%d}"
    seen[(customer, day)] += 1
    return f"{customer}-{day}-{seen[(customer, day)]}"


def command_id(key: str) -> str:
    return "purchases:" + hashlib.sha256(key.encode()).hexdigest()[:32]
