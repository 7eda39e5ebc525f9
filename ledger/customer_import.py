"""A list of customers — a stack of business cards, a fair's registrations, another system's
export — registered in the ledger, one customer a row: all of them, or none.

Columns are found by their header: the usual Chinese and English names of each field
(姓名 or Name, 手机 or Phone, ...), or the mapping given (``name=联系人``, or a column number
from 1). A row without a reference gets one from what it says (``CARD-`` and a hash of its
values), and every command an id from its content, so importing the same file again writes
nothing; a customer the ledger has already is left as it is. Every row is checked before
anything is written; one bad row refuses the file, naming its line, and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.application import Ledger
from ledger.commands.models import Command, parse_command
from ledger.errors import BatchRefused, CommandInvalid, LedgerError
from ledger.ids import stream_id
from ledger.importer import ImportReport, LineError, content_id, fewer_collections

# Each field of a customer, and the headers it is recognised by (compared without case,
# spaces or signs, full-width forms as half-width).
HEADERS: dict[str, tuple[str, ...]] = {
    "ref": ("ref", "reference", "customer id", "customer ref", "客户编号", "编号", "客户代码"),
    "name": ("name", "full name", "contact", "contact name", "姓名", "名字", "联系人", "客户姓名"),
    "company": (
        "company",
        "company name",
        "organisation",
        "organization",
        "employer",
        "公司",
        "公司名称",
        "单位",
        "工作单位",
        "企业",
        "企业名称",
    ),
    "title": ("title", "job title", "position", "role", "职位", "职务", "头衔", "岗位"),
    "phone": (
        "phone",
        "mobile",
        "cell",
        "tel",
        "telephone",
        "phone number",
        "mobile phone",
        "电话",
        "手机",
        "手机号",
        "手机号码",
        "联系电话",
        "移动电话",
        "电话号码",
    ),
    "email": ("email", "e-mail", "mail", "email address", "邮箱", "电子邮件", "电子邮箱", "邮件"),
    "address": ("address", "postal address", "地址", "通讯地址", "联系地址", "公司地址"),
    "owner": (
        "owner",
        "rep",
        "sales rep",
        "account manager",
        "负责人",
        "业务员",
        "销售",
        "客户经理",
        "跟进人",
    ),
    "source": ("source", "lead source", "来源", "渠道", "客户来源"),
}
FIELDS = tuple(HEADERS)
REQUIRED = ("name",)


def folded(header: str) -> str:
    text = unicodedata.normalize("NFKC", header).casefold()
    return "".join(ch for ch in text if ch.isalnum())


KNOWN = {folded(header): name for name, headers in HEADERS.items() for header in headers}


def mapping(given: Iterable[str]) -> dict[str, str]:
    """``--column FIELD=HEADER`` options as a mapping; CommandInvalid names a bad one."""
    found: dict[str, str] = {}
    for option in given:
        name, sign, column = option.partition("=")
        name, column = name.strip().lower().replace("-", ""), column.strip()
        if not sign or not column:
            raise CommandInvalid(
                f"{option!r} is not FIELD=COLUMN (e.g. name=姓名, or phone=3 for the third column)",
                where="--column",
            )
        if name not in FIELDS:
            raise CommandInvalid(
                f"no field {name!r}; the fields are {', '.join(FIELDS)}", where="--column"
            )
        found[name] = column
    return found


@dataclass(frozen=True)
class CustomerColumns:
    """Which column holds each field: ``given`` (field -> header or number from 1), else
    the header the field is recognised by. ``source``: for rows that name none."""

    given: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None

    def positions(self, header: Sequence[str] | None) -> dict[str, int]:
        found: dict[str, int] = {}
        for name, spec in self.given.items():
            if spec.isdigit():
                if int(spec) < 1:
                    raise CommandInvalid("columns are counted from 1", where=f"--column {name}")
                found[name] = int(spec) - 1
            elif header is not None and spec in header:
                found[name] = list(header).index(spec)
            elif header is not None and folded(spec) in map(folded, header):
                found[name] = [folded(h) for h in header].index(folded(spec))
            else:
                raise CommandInvalid(
                    f"no column {spec!r} for the {name}{known_columns(header)}",
                    where=f"--column {name}",
                )
        taken = set(found.values())
        for at, text in enumerate(header or ()):
            known = KNOWN.get(folded(text))
            if known is not None and known not in found and at not in taken:
                found[known] = at
                taken.add(at)
        for name in REQUIRED:
            if name not in found:
                raise CommandInvalid(
                    f"no column for the {name}{known_columns(header)}; name it with "
                    f"--column {name}=COLUMN",
                    where="--column",
                )
        return found


def known_columns(header: Sequence[str] | None) -> str:
    if not header:
        return " (the file has no header: give column numbers, from 1)"
    return f"; the header has {', '.join(header)}"


@dataclass
class Prepared:
    """The commands of a file's rows, with their lines; or why rows were refused."""

    commands: list[tuple[int, Command]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    repeated: int = 0  # rows saying again what an earlier row said
    lines: int = 0


def prepared(
    app: Ledger,
    rows: Iterable[tuple[int, list[str]]],
    positions: dict[str, int],
    columns: CustomerColumns,
    *,
    progress: Callable[[int], None] | None = None,
) -> Prepared:
    """Every row as a ``register_customer`` command (its ``command_id`` from its content),
    or the error that refuses it."""
    found = Prepared()
    first: dict[str, tuple[int, Command]] = {}
    for number, cells in rows:
        found.lines += 1
        if progress and found.lines % 1000 == 0:
            progress(1000)
        values = row_values(cells, positions)
        if not values:
            continue
        where = f"line {number}"
        try:
            if "name" not in values:
                raise CommandInvalid("the row has no name", where=where)
            command = parse_command(
                {
                    "type": "register_customer",
                    **values,
                    "ref": ref_of(values),
                    "source": values.get("source") or columns.source,
                },
                where=where,
            )
        except LedgerError as error:
            found.errors.append(LineError(number, error))
            continue
        command = command.model_copy(update={"command_id": content_id(app, command)})
        ref = command.target_ref()
        if ref in first:
            earlier, said = first[ref]
            if said == command:
                found.repeated += 1
                continue
            found.errors.append(
                LineError(
                    number,
                    CommandInvalid(
                        f"customer {ref} is on line {earlier} already, with other values",
                        where=where,
                    ),
                )
            )
            continue
        first[ref] = (number, command)
        found.commands.append((number, command))
    if progress:
        progress(found.lines % 1000)
    return found


def card_ref(values: Mapping[str, str]) -> str:
    """A reference for a row that has none, from what it says (its source aside: the same
    card from another fair is the same customer)."""
    said = {name: value for name, value in values.items() if name not in ("ref", "source")}
    digest = hashlib.sha256(json.dumps(said, sort_keys=True, ensure_ascii=False).encode())
    return f"CARD-{digest.hexdigest()[:16]}"


def import_customers(
    app: Ledger,
    rows: Iterable[tuple[int, list[str]]],
    positions: dict[str, int],
    columns: CustomerColumns,
    *,
    actor: str = "import",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Register a customer for each row, in one transaction: all of them, or none if any
    row is refused (the report names each refused row by its line). Customers the ledger
    has already are counted as ``duplicates`` and left as they are."""
    found = prepared(app, rows, positions, columns, progress=progress)
    report = ImportReport(lines=found.lines, duplicates=found.repeated, errors=found.errors)
    if report.errors:
        return report
    streams = {stream_id("customer", c.target_ref()): (n, c) for n, c in found.commands}
    known = app.ledger_recorder.existing_streams(sorted(streams))
    report.duplicates += len(known)
    new = [(n, c) for stream, (n, c) in streams.items() if stream not in known]
    if not new:
        return report
    try:
        with fewer_collections():
            outcomes = app.execute_many([c for _, c in new], actor=actor, atomic=True)
    except BatchRefused as refused:
        report.errors = [LineError(new[index][0], error) for index, error in refused.failures]
        for error in report.errors:
            error.error.where = error.error.where or f"line {error.line}"
        return report
    for outcome in outcomes:
        if isinstance(outcome, LedgerError):  # (not with atomic: refused above)
            continue
        if outcome.duplicate:
            report.duplicates += 1
        else:
            report.written += 1
            report.events += len(outcome.events)
            report.last_position = max(report.last_position or 0, outcome.position or 0)
    return report


def row_values(cells: Sequence[str], positions: Mapping[str, int]) -> dict[str, str]:
    """A row's values by field, trimmed; empty ones left out."""
    values = {name: cells[at].strip() for name, at in positions.items() if at < len(cells)}
    return {name: value for name, value in values.items() if value}


def ref_of(values: Mapping[str, str]) -> str:
    """The reference a row (``row_values``) is registered under."""
    return values.get("ref") or card_ref(values)
