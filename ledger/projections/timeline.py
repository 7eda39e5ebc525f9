"""timeline: every event of every customer as one readable line, in business-time order,
with corrections applied to the entry they concern, retractions marked, and the trail of
both kept on the entry.

The view keeps what the log does not say by itself: each entry's place in business time
(as corrected), its rep, whether it was retracted, and the trail of corrections. What an
entry says is not copied: a page reads it from the entry's own event, joined on the event's
primary key, and applies the trail to it. So a row is small (a row per event is the costliest
part of catching up: a batch is one ``executemany``, under the one index the timeline is read
by), and no personal data is copied out of the log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias

from ledger.aggregates import Campaign, Customer, Rep
from ledger.aggregates.base import event_classes
from ledger.history import FORMATS, LATE, OPENING
from ledger.ids import stream_id
from ledger.projections.base import Event, EventClass, Page, Refs, View, decode_cursor, page_of
from ledger.sealing import PERSONAL as SEALED
from ledger.sealing import revealed
from ledger.sql import Database, ViewDb, iso, parse_iso

COLUMNS = ("customer", "version", "kind", "entry_id", "occurred_at", "rep", "trail", "retracted")
CUSTOMER, VERSION, KIND, ENTRY_ID, OCCURRED_AT, REP, TRAIL, RETRACTED = range(len(COLUMNS))

# What every event carries besides its own fields; occurred_at and actor are shown apart.
ENVELOPE = frozenset(
    {"timestamp", "originator_id", "originator_version", "originator_topic", "occurred_at", "actor"}
)
# A judgment an event holds as it was made when recorded: a later-recorded fact can overturn
# it (a touch's opt-out: the violations and the customer's history judge it in business
# time), so a line does not show it.
JUDGED_WHEN_RECORDED = frozenset({"opted_out"})
# What a survivor keeps of a record merged into it (its entries' ids, to reach them): the
# merge's bookkeeping, not news; the line names the record.
BOOKKEEPING = frozenset({"entries"})
# Event class -> the field naming the entry it opens or concerns.
ENTRY_FIELD: dict[EventClass, str] = {
    **OPENING,
    Customer.RequestAnswered: "request_id",
    **dict.fromkeys(
        (
            Customer.QuoteAccepted,
            Customer.QuoteDeclined,
            Customer.QuoteExpired,
            Customer.QuoteWithdrawn,
        ),
        "quote_id",
    ),
    **dict.fromkeys(
        (
            Customer.PromiseKept,
            Customer.PromiseBroken,
            Customer.PromiseCancelled,
            Customer.PromiseMarkedOverdue,
        ),
        "promise_id",
    ),
    **dict.fromkeys(
        (Customer.ComplaintEscalated, Customer.ComplaintResolved, Customer.ComplaintReopened),
        "complaint_id",
    ),
    **dict.fromkeys(
        (
            Customer.RegistrationConfirmed,
            Customer.RegistrationDeclined,
            Customer.AttendanceRecorded,
        ),
        "registration_id",
    ),
    Customer.EntryCorrected: "entry_id",
    Customer.EntryRetracted: "entry_id",
    Customer.DeadlineMissed: "entry_id",
}
REP_FIELD: dict[EventClass, str] = {
    Customer.OwnerAssigned: "to_rep",
    Customer.ResponsibilityMoved: "to_rep",
}
# Profile fields that identify a person, not shown once their personal data is erased.
PERSONAL = ("name", "email", "phone", "address", "company", "title")
PROFILE_KINDS = (Customer.Registered, Customer.ProfileChanged)
PROFILE_NAMES = frozenset(kind.__name__ for kind in PROFILE_KINDS)  # as the view's rows say
AMENDING = (Customer.EntryCorrected, Customer.EntryRetracted)
Amendment: TypeAlias = Customer.EntryCorrected | Customer.EntryRetracted

Row = list[Any]
Key = tuple[str, Any]  # customer, entry id


class Timeline(View):
    name = "timeline"
    tables: ClassVar[dict[str, str]] = {
        "timeline": (
            "customer TEXT NOT NULL, version {int} NOT NULL, kind TEXT NOT NULL, entry_id TEXT,"
            " occurred_at TEXT NOT NULL, rep TEXT, trail TEXT, retracted {bool} NOT NULL"
        )
    }
    # Corrections and retractions find the row they amend by its customer prefix.
    indexes: ClassVar[list[tuple[str, str]]] = [("timeline", "customer, occurred_at, version")]
    version = 2  # 2: the trail's reasons kept sealed
    # A line for every event of a customer; a rep's or a campaign's stream has none.
    sees_every_kind = True
    ignores = (
        Rep.Hired,
        Rep.MovedTeam,
        Rep.Departed,
        Campaign.Launched,
        Campaign.CostRecorded,
        Campaign.Closed,
        Campaign.SeatTaken,  # the customer's own RegistrationConfirmed is their line
        Campaign.SeatReleased,
    )

    @classmethod
    def handled(cls) -> frozenset[EventClass]:
        return frozenset(event_classes(Customer))

    def apply(self, db: ViewDb, events: Sequence[Event], refs: Refs) -> None:
        rows: list[Row] = []
        opened: dict[Key, Row] = {}  # entries opened in this batch
        amendments: list[tuple[Key, Amendment]] = []
        for event in events:
            kind_of_stream, customer = refs.of(event)
            if kind_of_stream != "customer":
                continue
            kind = type(event)
            field = ENTRY_FIELD.get(kind)
            entry_id = None if field is None else getattr(event, field)
            row = [
                customer,
                event.originator_version,
                kind.__name__,
                entry_id,
                iso(event.occurred_at),
                getattr(event, REP_FIELD.get(kind, "rep"), None),
                None,
                False,
            ]
            rows.append(row)
            if kind in OPENING:
                opened[(customer, entry_id)] = row
            elif isinstance(event, AMENDING):
                amendments.append(((customer, entry_id), event))
        # Earlier entries amended in this batch, read in one statement (a read waits for every
        # write sent before it on PostgreSQL).
        stored = load(db, {key for key, _ in amendments if key not in opened})
        for key, amendment in amendments:
            target = opened.get(key) or stored.get(key)
            if target is not None:
                amend(target, amendment)
        for row in rows:
            if row[TRAIL] is not None:
                row[TRAIL] = dumps(row[TRAIL])
        db.executemany(f"INSERT INTO {{timeline}} VALUES ({', '.join('?' * len(COLUMNS))})", rows)
        db.executemany(
            "UPDATE {timeline} SET occurred_at = ?, rep = ?, trail = ?, retracted = ? "
            "WHERE customer = ? AND version = ?",
            [
                (r[OCCURRED_AT], r[REP], dumps(r[TRAIL]), r[RETRACTED], r[CUSTOMER], r[VERSION])
                for r in stored.values()
            ],
        )


LOAD_CHUNK = 400  # entries per statement, well within both engines' limits on parameters


def load(db: ViewDb, keys: set[Key]) -> dict[Key, Row]:
    """The rows that opened these entries (each entry's first row), from earlier batches."""
    found: dict[Key, Row] = {}
    wanted = sorted(keys)
    for start in range(0, len(wanted), LOAD_CHUNK):
        chunk = wanted[start : start + LOAD_CHUNK]
        customers = sorted({customer for customer, _ in chunk})
        entries = sorted({entry for _, entry in chunk})
        for match in db.rows(
            f"SELECT * FROM {{timeline}} WHERE customer IN ({', '.join('?' * len(customers))})"
            f" AND entry_id IN ({', '.join('?' * len(entries))})",
            (*customers, *entries),
        ):
            row = [match[column] for column in COLUMNS]
            key = (row[CUSTOMER], row[ENTRY_ID])
            if key in keys and (key not in found or row[VERSION] < found[key][VERSION]):
                found[key] = row
    for row in found.values():
        row[TRAIL] = json.loads(row[TRAIL]) if row[TRAIL] else None
        row[RETRACTED] = bool(row[RETRACTED])
    return found


def amend(row: Row, event: Amendment) -> None:
    """Apply a correction or retraction to the row of the entry it names: what orders and
    filters the timeline (business time, rep) changes, and the trail records the change;
    the values it replaces are found when the entry is read (``line``)."""
    note: dict[str, Any] = {"version": event.originator_version}
    if isinstance(event, Customer.EntryCorrected):
        if "occurred_at" in event.fields:
            row[OCCURRED_AT] = iso(event.fields["occurred_at"])
        if "rep" in event.fields:
            row[REP] = event.fields["rep"]
        # A personal value is not copied out of the log: a page reads it from the correction.
        note.update(
            kind="corrected",
            fields={
                name: None if name in SEALED else value for name, value in event.fields.items()
            },
        )
    else:
        row[RETRACTED] = True
        note["kind"] = "retracted"
    note.update(reason=event.reason, actor=event.actor, at=iso(event.timestamp))
    row[TRAIL] = [*(row[TRAIL] or ()), note]


def line(
    row: dict[str, Any], event: Any, erased: bool, corrections: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """A timeline row as people read it: the entry's own fields from its event, corrections
    applied in order (each note says what it replaced; personal values come from the
    correction events, ``corrections``), personal data hidden once erased."""
    details = {
        name: plain(value)
        for name, value in vars(event).items()
        if name not in ENVELOPE and name not in JUDGED_WHEN_RECORDED and name not in BOOKKEEPING
    }
    happened, occurred_at = event.occurred_at, iso(event.occurred_at)
    trail = json.loads(row["trail"]) if row["trail"] else []
    for note in trail:
        if note["kind"] != "corrected":
            continue
        previous: dict[str, Any] = {}
        for name in note["fields"].keys() & SEALED:
            note["fields"][name] = plain(corrections.get(note["version"], {}).get(name))
        for name, value in note["fields"].items():
            if name == "occurred_at":
                previous[name], occurred_at = occurred_at, value
                happened = parse_iso(value)
            else:
                previous[name], details[name] = details.get(name), value
        note["previous"] = previous
    if erased and type(event) in PROFILE_KINDS:
        profile = details if type(event) is Customer.Registered else details["changes"]
        for name in PERSONAL:
            if profile.get(name) is not None:
                profile[name] = None
    recorded = event.timestamp
    return {
        "customer": row["customer"],
        "version": row["version"],
        "kind": row["kind"],
        "entry_id": row["entry_id"],
        "occurred_at": row["occurred_at"],
        "recorded_at": iso(recorded),
        "late": recorded - happened > LATE,
        "actor": event.actor,
        "rep": row["rep"],
        "details": details,
        "trail": trail,
        "retracted": bool(row["retracted"]),
        "summary": summary(type(event), details),
    }


# -- details and summaries -------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be shown in the timeline")


def plain(value: Any) -> Any:
    """A field's value as JSON shows it (times as ISO text, money as decimal text)."""
    if isinstance(value, dict):
        return {name: plain(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, datetime | Decimal):
        return _plain(value)
    return value


_ENCODER = json.JSONEncoder(default=_plain, ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


# The helpers below take a value as the event holds it or as JSON gives it back (Decimal or
# its text, datetime or its ISO text), and show both alike.


def _number(value: Any) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def _day(value: Any) -> str:
    return str(iso(value) if isinstance(value, datetime) else value)[:10]


def _cut(text: Any, width: int = 60) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _also(text: Any) -> str:
    return f": {_cut(text)}" if text else ""


def _quote(f: dict[str, Any]) -> str:
    off = Decimal(str(f["discount"]))
    return (
        f"quote {f['quote_id']}: {_number(f['quantity'])} × {f['product']} at "  # noqa: RUF001
        f"{f['unit_price']} {f['currency']}"
        f"{f' ({_number(off * 100)} % off)' if off else ''}, "
        f"valid until {_day(f['valid_until'])}"
    )


def _purchase(f: dict[str, Any]) -> str:
    what = f.get("product") or ""
    if what and f.get("quantity") is not None:
        what = f"{_number(f['quantity'])} × {what}"  # noqa: RUF001
    return f"order {f['order_id']}: {f['amount']} {f['currency']}{', ' + what if what else ''}"


def _registered(f: dict[str, Any]) -> str:
    who = " ".join(str(v) for v in (f.get("name"), f"({f['kind']})") if v)
    return (
        f"registered {who}{', ' + f['company'] if f.get('company') else ''}"
        f"{', owner ' + f['owner'] if f.get('owner') else ''}"
    )


def _touch(f: dict[str, Any]) -> str:
    how = ", ".join(str(v) for v in (f["channel"], f.get("material"), f.get("department")) if v)
    return f"campaign {f['campaign']} ({how})"


def _outcome(
    noun: str, verb: str, id_field: str, note: str | None = None
) -> Callable[[dict[str, Any]], str]:
    return lambda f: f"{noun} {f[id_field]} {verb}{_also(f.get(note)) if note else ''}"


SATISFIED = {None: "", True: " (satisfied)", False: " (not satisfied)"}


# Correctable fields that hold a time (shown as a day).
TIMES = frozenset({"occurred_at", "respond_by", "valid_until", "due_by"})


def _changes(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {_day(v) if name in TIMES else _cut(v, 30)}" for name, v in values.items()
    )


SUMMARIES: dict[EventClass, Callable[[dict[str, Any]], str]] = {
    Customer.Registered: _registered,
    Customer.ProfileChanged: lambda f: f"profile changed: {', '.join(f['changes'])}",
    Customer.OwnerAssigned: lambda f: (
        f"owner {f['from_rep'] or 'none'} → {f['to_rep']}{_also(f['reason'])}"
    ),
    Customer.ResponsibilityMoved: lambda f: (
        f"{', '.join(f['entry_ids'])} handed over "
        f"{'from ' + f['from_rep'] + ' ' if f['from_rep'] else ''}"
        f"to {f['to_rep']}{_also(f['reason'])}"
    ),
    Customer.ContactLogged: lambda f: (
        f"contact {f['contact_id']} ({f['channel']}, {f['direction']}): {_cut(f['subject'])}"
    ),
    Customer.RequestReceived: lambda f: (
        f"request {f['request_id']} ({f['kind']}, {f['channel']}), "
        f"respond by {_day(f['respond_by'])}{_also(f['summary'])}"
    ),
    Customer.RequestAnswered: lambda f: (
        f"request {f['request_id']} answered ({f['channel']}){_also(f['summary'])}"
    ),
    Customer.RegistrationReceived: lambda f: (
        f"registration {f['registration_id']} for {f['campaign']} ({f['channel']}), "
        f"respond by {_day(f['respond_by'])}{_also(f['note'])}"
    ),
    Customer.RegistrationConfirmed: _outcome(
        "registration", "confirmed", "registration_id", "note"
    ),
    Customer.RegistrationDeclined: _outcome(
        "registration", "declined", "registration_id", "reason"
    ),
    Customer.AttendanceRecorded: lambda f: (
        f"registration {f['registration_id']}: "
        f"{'attended' if f['attended'] else 'did not attend (no-show)'}"
    ),
    Customer.QuoteIssued: _quote,
    Customer.QuoteAccepted: _outcome("quote", "accepted", "quote_id", "note"),
    Customer.QuoteDeclined: _outcome("quote", "declined", "quote_id", "reason"),
    Customer.QuoteExpired: _outcome("quote", "expired", "quote_id"),
    Customer.QuoteWithdrawn: _outcome("quote", "withdrawn", "quote_id", "reason"),
    Customer.PromiseMade: lambda f: (
        f"promise {f['promise_id']} ({f['category']}): {_cut(f['text'])}, due {_day(f['due_by'])}"
    ),
    Customer.PromiseKept: _outcome("promise", "kept", "promise_id", "note"),
    Customer.PromiseBroken: _outcome("promise", "broken", "promise_id", "reason"),
    Customer.PromiseCancelled: _outcome("promise", "cancelled", "promise_id", "reason"),
    Customer.PromiseMarkedOverdue: _outcome("promise", "overdue", "promise_id"),
    Customer.CampaignTouched: _touch,
    Customer.ConsentChanged: lambda f: (
        f"consent {f['channel']}/{f['purpose']} {'granted' if f['granted'] else 'withdrawn'}"
    ),
    Customer.ComplaintFiled: lambda f: (
        f"complaint {f['complaint_id']} ({f['category']}, "
        f"{f['severity']}): {_cut(f['description'])}"
    ),
    Customer.ComplaintEscalated: lambda f: (
        f"complaint {f['complaint_id']} escalated to {f['to']}{_also(f['reason'])}"
    ),
    Customer.ComplaintResolved: lambda f: (
        f"complaint {f['complaint_id']} resolved{_also(f['resolution'])}{SATISFIED[f['satisfied']]}"
    ),
    Customer.ComplaintReopened: _outcome("complaint", "reopened", "complaint_id", "reason"),
    Customer.SatisfactionRecorded: lambda f: (
        f"survey {f['survey_id']}: {len(f['items'])} items"
        f"{' on ' + f['product'] if f.get('product') else ''}"
    ),
    Customer.PurchaseRecorded: _purchase,
    Customer.PurchaseRefunded: lambda f: (
        f"refund {f['refund_id']}: {f['amount']} {f['currency']}"
        f"{' of order ' + f['order_id'] if f.get('order_id') else ''}{_also(f.get('reason'))}"
    ),
    Customer.Churned: lambda f: (
        f"churned ({f['defection_type']})"
        f"{' to ' + f['competitor'] if f.get('competitor') else ''}"
        f"{_also(f['reason'])}"
    ),
    Customer.WonBack: lambda f: f"won back{_also(f['reason'])}",
    Customer.EntryCorrected: lambda f: (
        f"correction of {f['entry_id']}: {_changes(f['fields'])} ({_cut(f['reason'], 40)})"
    ),
    Customer.EntryRetracted: lambda f: f"retraction of {f['entry_id']}{_also(f['reason'])}",
    Customer.PersonalDataErased: lambda f: f"personal data erased{_also(f['reason'])}",
    Customer.DeadlineMissed: lambda f: f"{f['entry_id']} not answered by {_day(f['deadline'])}",
    Customer.Lapsed: lambda f: f"lapsed: no purchase or contact for {f['days']} days",
    Customer.MergedInto: lambda f: f"merged into {f['survivor']}{_also(f['reason'])}",
    Customer.Merged: lambda f: f"{f['merged']} merged into this record{_also(f['reason'])}",
    Customer.UnmergedFrom: lambda f: f"unmerged from {f['survivor']}{_also(f['reason'])}",
    Customer.Unmerged: lambda f: f"{f['merged']} unmerged from this record{_also(f['reason'])}",
}


def summary(kind: EventClass, fields: dict[str, Any]) -> str:
    """A short line saying what happened, e.g. ``quote Q-1: 10 × 普洱茶 at 128.00 CNY ...``."""  # noqa: RUF002
    format_line = SUMMARIES.get(kind)
    if format_line is not None:
        return format_line(fields)
    label, shown = FORMATS.get(kind, (kind.__name__, ()))
    return f"{label}{_also(', '.join(str(fields[n]) for n in shown if fields.get(n)))}"


# -- queries ---------------------------------------------------------------------------------


def timeline_of(
    db: Database,
    customer: str,
    *,
    records: Sequence[str] = (),
    kinds: Sequence[str] | None = None,
    rep: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """A customer's history in the order it happened (since <= occurred_at < until), filtered
    by event kind (e.g. ``QuoteIssued``) and rep; corrections applied, trail attached. With
    ``records`` (the records merged into the customer), theirs too, each line saying whose
    (``customer``) it is.

    The view orders and annotates the entries; what each says is read from its event."""
    if db.log is None:
        raise RuntimeError("the timeline is read with the event log: open it with Database.of")
    where: list[str] = ["t.customer = ?"]
    params: list[Any] = []
    if kinds:
        where.append(f"t.kind IN ({', '.join('?' * len(kinds))})")
        params += list(kinds)
    if rep is not None:
        where.append("t.rep = ?")
        params.append(rep)
    if since is not None:
        where.append("t.occurred_at >= ?")
        params.append(iso(since))
    if until is not None:
        where.append("t.occurred_at < ?")
        params.append(iso(until))
    after = decode_cursor(cursor, (str, int, str))  # occurred_at, version, customer
    lines: list[dict[str, Any]] = []
    tables = {**Timeline().table_names(), "events": db.log.table}
    with db.transaction(tables, commit=False, snapshot=bool(records)) as tx:
        for ref in dict.fromkeys([customer, *records]):
            more_where, more = list(where), list(params)
            if after:
                # After (occurred_at, version, customer) in that order; the customer is this one.
                later = ">=" if ref > after[2] else ">"
                more_where.append(
                    f"(t.occurred_at > ? OR (t.occurred_at = ? AND t.version {later} ?))"
                )
                more += [after[0], after[0], after[1]]
            lines += lines_of(db, tx, ref, " AND ".join(more_where), more, limit + 1)
    lines.sort(key=lambda line: (line["occurred_at"], line["version"], line["customer"]))
    return page_of(revealed(db, lines[: limit + 1]), limit, ("occurred_at", "version", "customer"))


def lines_of(
    db: Database, tx: ViewDb, customer: str, where: str, params: list[Any], limit: int
) -> list[dict[str, Any]]:
    """The first ``limit`` lines of one record's history that match ``where``."""
    assert db.log is not None
    stream = stream_id("customer", customer)
    rows = tx.rows(
        "SELECT t.*, e.topic, e.state FROM {timeline} t JOIN {events} e "
        "ON e.originator_id = ? AND e.originator_version = t.version "
        f"WHERE {where} ORDER BY t.occurred_at, t.version LIMIT ?",
        (db.stream_key(stream), customer, *params, limit),
    )
    erased = (
        any(row["kind"] in PROFILE_NAMES for row in rows)
        and tx.one(
            "SELECT 1 AS erased FROM {timeline} WHERE customer = ? AND kind = ? LIMIT 1",
            (customer, Customer.PersonalDataErased.__name__),
        )
        is not None
    )
    wanted = sorted(
        {
            note["version"]
            for row in rows
            if row["trail"]
            for note in json.loads(row["trail"])
            if note["kind"] == "corrected" and note["fields"].keys() & SEALED
        }
    )
    found = (
        tx.rows(
            f"SELECT originator_version, topic, state FROM {{events}} WHERE originator_id = ? "
            f"AND originator_version IN ({', '.join('?' * len(wanted))})",
            (db.stream_key(stream), *wanted),
        )
        if wanted
        else []
    )
    corrections = {
        r["originator_version"]: db.log.decode(
            stream, r["originator_version"], r["topic"], r["state"]
        ).fields
        for r in found
    }
    return [
        line(
            row,
            db.log.decode(stream, row["version"], row["topic"], row["state"]),
            erased,
            corrections,
        )
        for row in rows
    ]
