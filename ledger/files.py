"""Rows of the files people keep lists in: CSV, whitespace-separated text, and Excel .xlsx.

One reader for every import of a table (purchases, customers)::

    table = read_rows(path, encoding=None, sheet=None, header=True, delimiter=",")
    table.header        # the first non-blank row's cells, trimmed; None with header=False
    for number, cells in table.rows():   # (line or sheet row number from 1, list[str])
        ...
    table.unreadable    # lines that could not be decoded, each a CommandInvalid (strict=False)

``path`` is a file, or ``-`` for standard input. Blank rows are skipped but keep their numbers,
so a number is the line an editor shows (the sheet row Excel shows). ``rows()`` may be called
again (in each of several processes, say); the file is read once, by ``read_rows``.

Text: a byte-order mark is dropped, with or without a header. ``encoding=None`` detects UTF-8
(with or without its mark), UTF-16 with its mark (Notepad's "Unicode") and GB18030 (GBK's
superset, what Chinese office software saves). A line that cannot be decoded is named: with
``strict=True`` (for an import that writes all or nothing) ``read_rows`` raises for the first
one; with ``strict=False`` it is skipped and listed in ``unreadable`` for the importer to report
with its line, the others are read. One ``csv.reader`` reads the whole text, so a quoted cell
may hold a line break; ``delimiter=None`` splits at runs of spaces or tabs, without quoting.

.xlsx (by its suffix, or by content, for standard input): the sheet named ``sheet``, or the
workbook's first. Cells become text as Excel shows them unformatted: whole numbers without
``.0``, other numbers to Excel's 15 significant digits, dates as ISO 8601 (``1997-01-13``, or
``1997-01-13T10:30:00`` with a time), TRUE/FALSE. A date Excel keeps as a plain number (a
serial day) is read back by ``spreadsheet_day``.

Every refusal is a ``CommandInvalid`` whose ``where`` names the file (and line, or option).
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ledger.errors import CommandInvalid

DETECTED = ("utf-8", "gb18030")  # tried in this order when no encoding is given
UTF16_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
ZIP_MAGIC = b"PK\x03\x04"
SPREADSHEETS = (".xlsx", ".xlsm")
EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=timezone.utc)  # serial day 0, as Excel counts
LAST_SERIAL_DAY = 2_958_465  # 9999-12-31

Row = tuple[int, list[str]]


@dataclass
class Table:
    """A file's rows, read by ``read_rows``."""

    name: str
    header: list[str] | None
    encoding: str | None  # None for a workbook
    spreadsheet: bool
    unreadable: list[UnreadableLine] = field(default_factory=list)
    _text: str = ""
    _workbook: bytes = b""
    _sheet: str | None = None
    _delimiter: str | None = ","
    _skip: int = 0  # the header's number: rows() starts after it

    def rows(self) -> Iterator[Row]:
        """(number, cells) of every non-blank row after the header."""
        source = self._sheet_rows() if self.spreadsheet else self._text_rows()
        for number, cells in source:
            if number > self._skip:
                yield number, cells

    def _text_rows(self) -> Iterator[Row]:
        if self._delimiter is None:
            for number, line in enumerate(self._text.split("\n"), start=1):
                cells = line.split()
                if cells:
                    yield number, cells
            return
        reader = csv.reader(io.StringIO(self._text, newline=""), delimiter=self._delimiter)
        ended = 0  # the line the previous row ended on
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise CommandInvalid(
                    f"cannot be split into columns: {error}", where=f"{self.name}, line {ended + 1}"
                ) from None
            number, ended = ended + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                yield number, cells

    def _sheet_rows(self) -> Iterator[Row]:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(self._workbook), read_only=True, data_only=True)
        try:
            sheet = book[self._sheet] if self._sheet is not None else book.worksheets[0]
            for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), 1):
                cells = [cell_text(value) for value in values]
                if any(cell.strip() for cell in cells):
                    yield number, cells
        finally:
            book.close()


class UnreadableLine(CommandInvalid):
    """A line of a text file that is not text in the file's encoding."""

    def __init__(self, line: int, message: str, where: str = "") -> None:
        super().__init__(message, where=where)
        self.line = line

    def __reduce__(self) -> tuple[type[UnreadableLine], tuple[int, str, str]]:
        return type(self), (self.line, self.message, self.where)  # to a parent process


def read_rows(
    path: Path | str,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    header: bool = True,
    delimiter: str | None = ",",
    strict: bool = True,
) -> Table:
    """The rows of the file at ``path`` (``-``: standard input); see the module's docstring."""
    name = str(path)
    data = read_bytes(name)
    if name.lower().endswith(SPREADSHEETS) or data.startswith(ZIP_MAGIC):
        if encoding is not None:
            raise CommandInvalid(
                "an .xlsx workbook has no text encoding to give", where="--encoding"
            )
        table = workbook_table(name, data, sheet)
    else:
        if sheet is not None:
            raise CommandInvalid(
                f"{name} is a text file, not a workbook: it has no sheets", where="--sheet"
            )
        if name.lower().endswith(".xls"):
            raise CommandInvalid(
                "an old-style .xls workbook cannot be read: save it as .xlsx or CSV", where=name
            )
        table = text_table(name, data, encoding, delimiter)
    if strict and table.unreadable:
        first = table.unreadable[0]
        more = len(table.unreadable) - 1
        raise CommandInvalid(
            first.message + (f" ({more:,} more lines like it)" if more else ""),
            where=first.where,
        )
    if header:
        first_row = next(table.rows(), None)
        if first_row is None:
            raise CommandInvalid("the file has no rows, not even a header", where=name)
        before = [error for error in table.unreadable if error.line < first_row[0]]
        if before:  # the header is that line: without it no column can be found
            raise before[0]
        table._skip = first_row[0]
        table.header = [cell.strip() for cell in first_row[1]]
    return table


def read_bytes(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    path = Path(name)
    if not path.is_file():
        raise CommandInvalid("no such file", where=name)
    return path.read_bytes()


def text_table(name: str, data: bytes, encoding: str | None, delimiter: str | None) -> Table:
    if delimiter is not None and len(delimiter) != 1:
        raise CommandInvalid(
            f"the delimiter is one character, not {delimiter!r} "
            "(--whitespace for runs of spaces or tabs)",
            where="--delimiter",
        )
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise CommandInvalid(
                f"{encoding!r} is not an encoding Python knows (try utf-8, gb18030, cp1252)",
                where="--encoding",
            ) from None
        candidates: tuple[str, ...] = (encoding,)
    elif data.startswith(UTF16_MARKS):
        candidates = ("utf-16",)
    else:
        candidates = DETECTED
    for candidate in candidates:
        try:
            text = data.decode("utf-8-sig" if candidate == "utf-8" else candidate)
        except UnicodeDecodeError:
            continue
        return Table(
            name,
            None,
            candidate,
            False,
            _text=text.removeprefix("\ufeff"),
            _delimiter=delimiter,
        )
    # No candidate reads every line: the one that reads the most, the others named.
    best: tuple[int, str, list[str], list[UnreadableLine]] | None = None
    for candidate in candidates:
        lines, unreadable = decode_lines(name, data, candidate, len(candidates) > 1)
        if best is None or len(unreadable) < best[0]:
            best = (len(unreadable), candidate, lines, unreadable)
    assert best is not None
    _, chosen, lines, unreadable = best
    text = "\n".join(lines).removeprefix("\ufeff")
    return Table(name, None, chosen, False, unreadable, _text=text, _delimiter=delimiter)


def decode_lines(
    name: str, data: bytes, encoding: str, detected: bool
) -> tuple[list[str], list[UnreadableLine]]:
    """Each line decoded alone; an undecodable one is left blank and named."""
    lines: list[str] = []
    unreadable: list[UnreadableLine] = []
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    said = " or ".join(e.upper() for e in DETECTED) if detected else encoding
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode(codec))
        except UnicodeDecodeError as error:
            lines.append("")
            unreadable.append(
                UnreadableLine(
                    number,
                    f"cannot be read as {said} text (byte 0x{raw[error.start]:02x} at byte "
                    f"{error.start + 1} of the line): give the file's encoding with --encoding, "
                    "or save it as UTF-8",
                    where=f"{name}, line {number}",
                )
            )
        codec = encoding if codec == "utf-8-sig" else codec  # a mark only opens a file
    return lines, unreadable


def workbook_table(name: str, data: bytes, sheet: str | None) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise CommandInvalid(
            f"not an .xlsx workbook that can be read ({error}); save it again from Excel, "
            "or as CSV",
            where=name,
        ) from None
    try:
        names = book.sheetnames
    finally:
        book.close()
    if sheet is not None and sheet not in names:
        raise CommandInvalid(
            f"the workbook has no sheet {sheet!r}; its sheets: {', '.join(names)}",
            where="--sheet",
        )
    if not names:
        raise CommandInvalid("the workbook has no sheets", where=name)
    return Table(name, None, None, True, _workbook=data, _sheet=sheet)


def cell_text(value: object) -> str:
    """A cell's value as text, as Excel would show it without a number format."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.15g}"  # Excel's precision: 0.1 + 0.2 is 0.3
        return format(Decimal(text), "f") if "e" in text else text  # not 1e+20
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def spreadsheet_day(text: str) -> datetime | None:
    """The day a serial number stands for in a workbook (Excel's 1900 system: 35443 is
    1997-01-13), at midnight UTC, or None if ``text`` is not such a number."""
    try:
        serial = Decimal(text)
    except InvalidOperation:
        return None
    if not serial.is_finite() or not 1 <= serial <= LAST_SERIAL_DAY:
        return None
    return EXCEL_EPOCH + timedelta(days=float(serial))
