"""An analyst's purchase history (CSV, whitespace-separated text or an .xlsx sheet, read by
``ledger.files``) as ledger commands.

Each row is one purchase: a customer, a date, an amount, and optionally an order id and a
quantity; a negative amount is a refund (of the order the row names, if it names one).
Customers the ledger does not know are registered first (their reference as their name).
Every command's id follows from the row, so importing the same file again writes nothing new.
A row without an order id is identified by what it says (customer, date, amount, quantity,
currency) and which occurrence of that it is, never by its place in the file or by which other
rows were accepted: a fixed file writes only the rows that were missing, a reordered one
nothing (``entry_of``). Rows an earlier version numbered per customer and day are recognised
(``earlier_numbers``).

``import_purchases`` shares the customers among several processes (by a hash of their
reference), so that each customer's rows are still written by one writer, in file order.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
import queue
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ledger.application import Ledger
from ledger.commands.fields import currency_code, reference
from ledger.commands.models import Command, parse_command
from ledger.config import Settings
from ledger.errors import CommandInvalid, LedgerError
from ledger.files import Table, read_rows, spreadsheet_day
from ledger.ids import stream_id
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
    encoding: str | None = None  # None: detected (ledger.files)
    sheet: str | None = None  # of a workbook; None: its first

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

    def read(self, path: Path | str) -> Table:
        """The file's rows; a line that cannot be decoded is left for its row's error."""
        return read_rows(
            path,
            encoding=self.encoding,
            sheet=self.sheet,
            header=self.header,
            delimiter=self.delimiter,
            strict=False,
        )

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
    source: Table | Path | str,
    columns: PurchaseColumns,
    *,
    workers: int = 1,
    actor: str = "import",
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a purchase history (a file, or its ``Table`` as ``columns.read`` gives it)
    with ``workers`` processes, each writing the purchases of its share of the customers in
    batches of ``batch_size`` rows, one transaction each.

    Settings that would refuse every row (a column the header lacks) are refused before any
    process starts. A process that stops (killed, the database gone) leaves its committed
    batches written; importing the file again writes the rest and nothing twice."""
    table = source if isinstance(source, Table) else columns.read(source)
    columns.positions(table.header)
    app = Ledger(settings)  # makes the tables once, not in processes racing to
    try:
        if workers <= 1:
            return import_commands(
                app,
                purchase_commands(table, columns, app=app, chunk=batch_size),
                actor=actor,
                batch_size=batch_size,
                progress=progress,
            )
    finally:
        app.close()
    # Forked, the processes inherit the table instead of being sent it.
    context = multiprocessing.get_context("fork")
    messages = context.Queue()
    # Made above: processes creating them at once would wait on each other's writes.
    made = settings.model_copy(update={"create_tables": False})
    processes = [
        context.Process(
            target=_import_share,
            daemon=True,
            args=(made, table, columns, (k, workers), actor, batch_size, messages),
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
    table: Table,
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
                purchase_commands(table, columns, share=share, app=app, chunk=batch_size),
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


@dataclass
class Row:
    """One accepted row of a purchase history, before it becomes a command."""

    line: int
    customer: str
    occurred: datetime
    amount: str  # as written, less a minus sign (a refund's)
    quantity: str | None
    order: str | None  # from the order column
    refund: bool
    entry: str = ""  # the order or refund id: from the file, else from the row's content
    earlier: int | None = None  # the n the ledger's earlier versions numbered it by


def purchase_commands(
    table: Table,
    columns: PurchaseColumns,
    *,
    share: tuple[int, int] = (0, 1),
    app: Ledger | None = None,
    chunk: int = 5000,
) -> Iterator[tuple[int, list[Command] | LedgerError]]:
    """(line number, the commands of that row, or why it is refused).

    Rows come customer by customer (customers in order of first appearance; each one's
    purchases in file order, then their refunds, so that a refund finds the order it names),
    so that a batch loads each customer once; a customer's first row registers them (the
    importer counts one the ledger knows already as a duplicate). ``share`` (k, n): only the
    customers whose reference hashes to k of n, and the rows that name no customer if k is 0
    (for n processes importing one file). With ``app``, a row an earlier version of the
    importer recorded under its old number is recognised (``earlier_numbers``), ``chunk``
    rows' customers at a time."""
    positions = columns.positions(table.header)
    widest = max(positions.values())
    mine, shares = share
    if mine == 0:
        yield from ((error.line, error) for error in table.unreadable)
    by_customer: dict[str, list[Row]] = {}
    dates: dict[str, datetime] = {}  # a history repeats its dates: each is parsed once
    numbered: Counter[tuple[str, str]] = Counter()  # as versions before 0.22 numbered orders
    occurrences: Counter[str] = Counter()
    for number, fields in table.rows():
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
                    values["date"], columns.date_format, number, spreadsheet=table.spreadsheet
                )
            earlier = None
            if not values.get("order"):
                numbered[(customer, f"{occurred:%Y%m%d}")] += 1
                earlier = numbered[(customer, f"{occurred:%Y%m%d}")]
            amount, refund = signed(values["amount"], number)
            quantity = values.get("quantity") or None
            if quantity is not None:
                quantity = decimal(quantity, "quantity", number)
                if refund:
                    quantity = quantity.lstrip("-")
        except LedgerError as error:
            yield number, error
            continue
        row = Row(number, customer, occurred, amount, quantity, values.get("order"), refund)
        row.earlier = earlier
        content = row_content(row, columns.currency)
        occurrences[content] += 1
        row.entry = entry_of(row, content, occurrences[content])
        by_customer.setdefault(customer, []).append(row)
    pending: list[list[Row]] = []
    size = 0
    for rows in by_customer.values():
        rows.sort(key=lambda row: row.refund)  # stable: file order within each kind
        pending.append(rows)
        size += len(rows)
        if size >= chunk:
            yield from customers_commands(pending, columns, app)
            pending, size = [], 0
    yield from customers_commands(pending, columns, app)


def customers_commands(
    customers: list[list[Row]], columns: PurchaseColumns, app: Ledger | None
) -> Iterator[tuple[int, list[Command] | LedgerError]]:
    earlier = earlier_numbers(app, customers, columns) if app is not None and customers else {}
    for rows in customers:
        first = min(rows, key=lambda row: (row.occurred, row.line))
        customer = first.customer
        register = parse_command(
            {
                "type": "register_customer",
                "ref": customer,
                "name": customer,
                "occurred_at": first.occurred,
                # Registered as of their first row: a file fixed or reordered registers
                # them at the same time, or (an earlier row found) is a duplicate.
                "command_id": command_id(f"register:{customer}:{first.occurred.isoformat()}"),
            },
            where=f"line {rows[0].line}",
        )
        registered = False
        for row in rows:
            try:
                command = row_command(row, columns, earlier.get(id(row)))
            except LedgerError as error:
                yield row.line, error
                continue
            yield row.line, [command] if registered else [register, command]
            registered = True


def row_content(row: Row, currency: str) -> str:
    """What a row says, the same however its numbers are written (20, 20.0, 20.00)."""
    return "\x1f".join(
        (
            "refund" if row.refund else "purchase",
            row.customer,
            row.occurred.isoformat(),
            plain_number(row.amount),
            plain_number(row.quantity) if row.quantity else "",
            currency,
            row.order or "",
        )
    )


def entry_of(row: Row, content: str, occurrence: int) -> str:
    """The row's entry id: its order id when the file gives one (a purchase); otherwise from
    what the row says and which occurrence of it this is among the file's rows that say the
    same (identical rows on one day stay distinct, and the same on every run), never from
    which other rows there are or their order."""
    if row.order and not row.refund:
        return row.order
    digest = hashlib.sha256(f"{content}\x1f{occurrence}".encode()).hexdigest()[:12]
    mark = "R" if row.refund else ""
    base = row.order or f"{row.customer}-{row.occurred:%Y%m%d}"
    entry = f"{base}-{mark}{digest}"
    return entry if len(entry) <= MAX_ID else f"{row.occurred:%Y%m%d}-{mark}{digest}"


MAX_ID = 64  # an entry id's longest (commands.fields.EntryId)
SLACK = 2  # numbers looked up past a day's rows, for rows a fixed file no longer has


def row_command(row: Row, columns: PurchaseColumns, earlier: int | None) -> Command:
    where = f"line {row.line}"
    if row.refund:
        refund: dict[str, Any] = {
            "type": "record_refund",
            "customer": row.customer,
            "refund_id": row.entry,
            "order_id": row.order,
            "amount": money(row.amount),
            "currency": columns.currency,
            "occurred_at": row.occurred,
            "command_id": command_id(f"refund:{row.customer}:{row.entry}"),
        }
        if row.quantity:
            refund["quantity"] = plain_number(row.quantity)
        return parse_command(refund, where=where)
    if earlier is None:
        order, amount, quantity = row.entry, money(row.amount), row.quantity
        quantity = plain_number(quantity) if quantity else None
    else:  # as the earlier version wrote it
        order = f"{row.customer}-{row.occurred:%Y%m%d}-{earlier}"
        amount, quantity = row.amount, row.quantity
    purchase: dict[str, Any] = {
        "type": "record_purchase",
        "customer": row.customer,
        "order_id": order,
        "amount": amount,
        "currency": columns.currency,
        "occurred_at": row.occurred,
        "command_id": command_id(f"purchase:{row.customer}:{order}"),
    }
    if quantity:
        purchase["quantity"] = quantity
    return parse_command(purchase, where=where)


def earlier_numbers(
    app: Ledger, customers: list[list[Row]], columns: PurchaseColumns
) -> dict[int, int]:
    """The rows an earlier version of this importer recorded, and the number it gave each.

    Before identities came from content, a row without an order id was numbered by its
    customer, day and how many rows of both before it had a date that could be read
    (``C9-19970113-2``). A row is taken as recorded under number k when the ledger's command
    log holds the command that version would have written for this row as k (its command id
    and its fingerprint both match): importing that file again then writes nothing, and a
    fixed file writes only the rows that are missing. Only customers the ledger knows are
    asked about; a number is matched to one row at most."""
    known = app.ledger_recorder.existing_streams(
        sorted({stream_id("customer", rows[0].customer) for rows in customers})
    )
    days: dict[tuple[str, str], list[Row]] = {}
    for rows in customers:
        if stream_id("customer", rows[0].customer) not in known:
            continue
        for row in rows:
            if row.earlier is not None and not row.refund:
                days.setdefault((row.customer, f"{row.occurred:%Y%m%d}"), []).append(row)
    if not days:
        return {}
    # A fixed file may have lost a row or two of a day since: a few numbers past its own.
    most = {key: max(row.earlier or 0 for row in rows) + SLACK for key, rows in days.items()}
    ids = {
        command_id(f"purchase:{customer}:{customer}-{day}-{k}"): (customer, day, k)
        for (customer, day), top in most.items()
        for k in range(1, top + 1)
    }
    recorded = app.ledger_recorder.select_commands(list(ids))
    found: dict[int, int] = {}
    taken: set[tuple[str, str, int]] = set()
    for key, rows in days.items():
        for row in rows:
            for k in range(1, most[key] + 1):
                if (*key, k) in taken:
                    continue
                fingerprint = recorded.get(command_id(f"purchase:{key[0]}:{key[0]}-{key[1]}-{k}"))
                if fingerprint is None:
                    continue
                try:
                    old = row_command(row, columns, k)
                except LedgerError:
                    break
                if app.same_command(old, fingerprint.fingerprint):
                    found[id(row)] = k
                    taken.add((*key, k))
                    break
    return found


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


def parse_date(text: str, form: str, line: int, *, spreadsheet: bool = False) -> datetime:
    """The row's date in ``form``; in a workbook also as Excel holds dates (an ISO date from
    a date cell, or a serial day number from a cell formatted as a number)."""
    try:
        moment = datetime.strptime(text, form)
    except ValueError:
        found = spreadsheet_date(text) if spreadsheet else None
        if found is None:
            raise CommandInvalid(
                f"date {text!r} does not match the format {form!r}", where=f"line {line}"
            ) from None
        moment = found
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def spreadsheet_date(text: str) -> datetime | None:
    try:
        moment: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        moment = spreadsheet_day(text)
    return moment


def decimal(text: str, name: str, line: int) -> str:
    try:
        finite = Decimal(text).is_finite()
    except InvalidOperation:
        finite = False
    if not finite:
        raise CommandInvalid(f"{name} {text!r} is not a number", where=f"line {line}")
    return text


MINUS = ("-", "\u2212", "\uff0d")  # hyphen-minus, the minus sign, the full-width hyphen-minus


def signed(text: str, line: int) -> tuple[str, bool]:
    """The amount without its sign, and whether it was negative: a refund."""
    if text.startswith(MINUS):
        return decimal(text[1:].strip(), "amount", line), True
    return decimal(text, "amount", line), False


def plain_number(text: str) -> str:
    """One way to write a number (20.0 and 20 are 20): a re-export that writes it another
    way is the same row, with the same command."""
    return format(Decimal(text).normalize(), "f")


CENTS = Decimal("0.01")


def money(text: str) -> str:
    """An amount written one way, to at least two places (20 and 20.000 are 20.00)."""
    amount = Decimal(text).normalize()
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(CENTS)
    return format(amount, "f")


def command_id(key: str) -> str:
    return "purchases:" + hashlib.sha256(key.encode()).hexdigest()[:32]
