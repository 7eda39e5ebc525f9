"""What a view is: tables, and a pure function from a batch of events to changes in them.

A view never reads the aggregates or the clock: everything it writes follows from the
events, so that the live view, a rebuild from scratch and a replay into a throwaway store
are one and the same computation.
"""

from __future__ import annotations

import base64
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias, TypeVar, cast
from uuid import UUID

from ledger.aggregates import Campaign, Customer, Rep
from ledger.aggregates.base import LedgerAggregate
from ledger.errors import CommandInvalid
from ledger.ids import Kind
from ledger.sealing import CustomerKeys, blind_tokens, reveal, revealed
from ledger.sql import Database, ViewDb, Writes, iso

Event: TypeAlias = LedgerAggregate.Event
EventClass: TypeAlias = type[LedgerAggregate.Event]
Beginning: TypeAlias = Customer.Registered | Rep.Hired | Campaign.Launched

# The event that begins each kind of stream.
CREATED: dict[EventClass, Kind] = {
    Customer.Registered: "customer",
    Rep.Hired: "rep",
    Campaign.Launched: "campaign",
}


class Refs:
    """Stream id -> (kind, reference), so views can name what an event belongs to.

    Keyed by the id's integer: a ``UUID`` hashes and compares in Python code, and every
    view looks up every event it handles."""

    def __init__(self, keys: CustomerKeys | None = None, index_key: bytes = b"") -> None:
        self.by_id: dict[int, tuple[str, str]] = {}
        self.keys = keys
        self.index_key = index_key

    def blind_tokens(self, value: Any) -> set[str]:
        """Keyed hashes of a sealed value's tokens, for a view that must find customers by
        it (none once the customer is forgotten: their key opens nothing)."""
        text = reveal(value, self.keys)
        return blind_tokens(self.index_key, text) if isinstance(text, str) else set()

    def learn(self, events: Sequence[Event]) -> list[tuple[str, str, str]]:
        """The streams these events create, all of them: a rolled-back batch may have
        taught them to memory already, and the table must still get them."""
        created: list[tuple[str, str, str]] = []
        for event in events:
            kind = CREATED.get(type(event))
            if kind is not None:
                ref = cast(Beginning, event).ref
                self.by_id[event.originator_id.int] = (kind, ref)
                created.append((str(event.originator_id), kind, ref))
        return created

    def load(self, tx: ViewDb) -> None:
        for row in tx.rows("SELECT id, kind, ref FROM {streams}"):
            self.by_id[UUID(row["id"]).int] = (row["kind"], row["ref"])

    def of(self, event: Event) -> tuple[str, str]:
        """The kind and reference of the stream the event belongs to."""
        return self.by_id[event.originator_id.int]

    def ref(self, event: Event) -> str:
        return self.by_id[event.originator_id.int][1]


Handler = TypeVar("Handler", bound=Callable[..., None])
_HANDLED: dict[Callable[..., None], tuple[EventClass, ...]] = {}


def handles(*classes: EventClass) -> Callable[[Handler], Handler]:
    """Register a view's method as the one that handles events of these classes."""

    def register(method: Handler) -> Handler:
        _HANDLED[method] = classes
        return method

    return register


class View(ABC):
    name: ClassVar[str]
    # logical table name -> column definitions; types may use {int}, {text}, {bool}
    tables: ClassVar[dict[str, str]]
    # (logical table, columns) for each index
    indexes: ClassVar[list[tuple[str, str]]] = []
    # Raise when the view's rows come to mean something else with the same tables: a runner
    # then rebuilds it (as it does when the tables change; runner.shape).
    version: ClassVar[int] = 1
    # Event class -> the method registered for it (``@handles``), found once per view class.
    handlers: ClassVar[dict[EventClass, Callable[..., None]]] = {}
    # A view that must see every kind of event names each event class of the aggregates as
    # one it handles or one it ignores, so that a new event is a decision, not a silent gap
    # (tests/projections/test_handled.py).
    sees_every_kind: ClassVar[bool] = False
    ignores: ClassVar[tuple[EventClass, ...]] = ()
    # Tables of a view whose rows belong to a customer (``customer``) and came from one of
    # their records (``origin``): while a record is merged into another its rows read as the
    # survivor's, so every query and report takes the two as one customer (``merging``).
    merging: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Find the methods registered with ``@handles``, by name, so that a subclass
        overrides a handler as it overrides any method."""
        super().__init_subclass__(**kwargs)
        names: dict[EventClass, str] = {}
        for klass in reversed(cls.__mro__[: cls.__mro__.index(View)]):
            found: dict[EventClass, str] = {}
            for name, method in vars(klass).items():
                if name.startswith("on_") and name[3:4].isupper() and method not in _HANDLED:
                    raise TypeError(
                        f"{klass.__name__}.{name}: a view's handler is registered for the event "
                        "classes it handles, with @handles(...); its name does not choose them"
                    )
                for event_class in _HANDLED.get(method, ()) if callable(method) else ():
                    if event_class in found:
                        raise TypeError(
                            f"{klass.__name__} handles {event_class.__qualname__} twice: in "
                            f"{found[event_class]} and {name}"
                        )
                    found[event_class] = name
            names.update(found)
        cls.handlers = {event_class: getattr(cls, name) for event_class, name in names.items()}

    @classmethod
    def handled(cls) -> frozenset[EventClass]:
        """The event classes this view handles."""
        return frozenset(cls.handlers)

    @abstractmethod
    def apply(self, db: ViewDb, events: Sequence[Event], refs: Refs) -> None:
        """Change the view's tables for these events, in log order."""

    def table_names(self, suffix: str = "") -> dict[str, str]:
        return {logical: f"view_{logical}{suffix}" for logical in self.tables}


class HandlerView(View):
    """A view whose methods, each registered with ``@handles(EventClass, ...)``, are called
    as ``method(writes, event, ref)`` for the events of their classes; inserts are grouped
    (see ``Writes``) and other events pass by.

    With ``merging`` tables, ``ref`` is the customer the event's record belongs to now (the
    survivor, while the record is merged into it) and ``self.origin(event)`` the record."""

    refs: Refs  # of the batch being applied (handlers name streams and index values by it)
    merges: dict[str, str]  # merged record -> survivor, as the view stands in this batch

    def apply(self, db: ViewDb, events: Sequence[Event], refs: Refs) -> None:
        self.refs = refs
        self.merges = merges_of(db, self) if self.merging else {}
        writes = Writes(db)
        handlers = self.handlers
        merges = self.merges
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                kind, ref = refs.of(event)
                handler(self, writes, event, merges.get(ref, ref) if kind == "customer" else ref)
        writes.flush()

    def origin(self, event: Event) -> str:
        """The record (customer reference) the event was recorded on."""
        return self.refs.ref(event)


# Two records of one customer: a view with ``merging`` tables keeps which records are merged
# (as of the events it has applied: a replay's reading, or a rebuild part way) in a table of
# its own, ``<view>_merges`` (``MERGES``), and moves the merged record's rows to the survivor
# and back. Each such table has an ``origin`` column (``ORIGIN``): the record a row came from.
MERGES = "merged TEXT PRIMARY KEY, survivor TEXT NOT NULL"
ORIGIN = "origin TEXT NOT NULL"


def merges_table(view: type[View] | View) -> str:
    """The logical name of the view's table of merged records."""
    return f"{view.name}_merges"


def merges_of(db: ViewDb, view: View) -> dict[str, str]:
    """Merged record -> survivor, as the view stands."""
    rows = db.rows(f"SELECT merged, survivor FROM {{{merges_table(view)}}}")
    return {row["merged"]: row["survivor"] for row in rows}


def move_records(
    db: ViewDb | Writes,
    view: View,
    merges: dict[str, str],
    event: Customer.Merged | Customer.Unmerged,
    survivor: str,
) -> None:
    """A merge (recorded on the survivor's stream) moves the merged record's rows to the
    survivor; an unmerge moves them back. ``merges`` follows."""
    table = merges_table(view)
    if isinstance(event, Customer.Merged):
        merges[event.merged] = survivor
        db.execute(
            f"INSERT INTO {{{table}}} VALUES (?, ?) ON CONFLICT (merged) DO UPDATE "
            "SET survivor = excluded.survivor",
            (event.merged, survivor),
        )
        moved = "UPDATE {%s} SET customer = ? WHERE origin = ?"
        for rows in view.merging:
            db.execute(moved % rows, (survivor, event.merged))
    else:
        merges.pop(event.merged, None)
        db.execute(f"DELETE FROM {{{table}}} WHERE merged = ?", (event.merged,))
        back = "UPDATE {%s} SET customer = origin WHERE origin = ?"
        for rows in view.merging:
            db.execute(back % rows, (event.merged,))


class MergingView(HandlerView):
    """A handler view whose ``merging`` tables read a merged record's rows as the
    survivor's."""

    @handles(Customer.Merged, Customer.Unmerged)
    def records_merged(
        self, db: Writes, e: Customer.Merged | Customer.Unmerged, survivor: str
    ) -> None:
        move_records(db, self, self.merges, e, survivor)


# An open item's responsibility, beside who made it (``rep``): the rep responsible now, and
# when and by whom it was handed to them (NULL: never handed over).
RESPONSIBLE = "responsible TEXT, handed_at TEXT, handed_by TEXT"
# With a correction of who made an item: responsibility follows, unless it was handed over.
FOLLOWS_REP = "responsible = CASE WHEN handed_at IS NULL THEN ? ELSE responsible END"


def hand_over(
    db: ViewDb | Writes,
    table: str,
    id_column: str,
    customer: str,
    event: Customer.ResponsibilityMoved,
) -> None:
    """A ResponsibilityMoved event on the view's table of open items (rows of other kinds of
    items are not found)."""
    marks = ", ".join("?" for _ in event.entry_ids)
    db.execute(
        f"UPDATE {{{table}}} SET responsible = ?, handed_at = ?, handed_by = ? "
        f"WHERE customer = ? AND {id_column} IN ({marks})",
        (event.to_rep, iso(event.occurred_at), event.actor, customer, *event.entry_ids),
    )


@dataclass
class Page:
    """One page of a list; ``next_cursor`` fetches the next (None: this is the last)."""

    items: list[dict[str, Any]]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.items, "next_cursor": self.next_cursor}


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kinds: Sequence[type]) -> list[Any] | None:
    """The sort key of the last row of the previous page, whose columns are of ``kinds``
    (``str``, ``int``). A cursor is only ever one this ledger gave out, so it holds one value
    of each kind: any other is a clear error here, not a comparison the database fails on
    (text with a number, a NUL, a number past 64 bits) or a key read short."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, RecursionError):
        values = None
    if not (
        isinstance(values, list) and len(values) == len(kinds) and all(map(_fits, values, kinds))
    ):
        raise CommandInvalid(
            "the cursor is not one this ledger gave out; pass the "
            "next_cursor of the previous page, or start from the first page",
            where="cursor",
        )
    return values


def _fits(value: Any, kind: type) -> bool:
    """A value of this kind that both databases can compare with a column of it."""
    if type(value) is not kind:  # not isinstance: true is not a number here
        return False
    if isinstance(value, int):
        return -(1 << 63) <= value < 1 << 63
    text = str(value)
    try:
        text.encode()  # a lone surrogate cannot be sent
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def page_of(rows: list[dict[str, Any]], limit: int, key: Sequence[str]) -> Page:
    """Cut ``limit + 1`` rows fetched in ``key`` order into a page and the cursor after it."""
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items, encode_cursor([items[-1][k] for k in key]) if more and items else None)


def keyset_page(
    db: Database,
    tables: dict[str, str],
    table: str,
    filters: dict[str, Any],
    order: tuple[str, str],
    limit: int,
    cursor: str | None,
) -> Page:
    """Rows of ``table`` matching the non-None ``filters``, in ``order`` (two text columns),
    one page at a time."""
    where = [f"{column} = ?" for column, value in filters.items() if value is not None]
    params: list[Any] = [value for value in filters.values() if value is not None]
    first, second = order
    after = decode_cursor(cursor, (str, str))
    if after:
        where.append(f"({first} > ? OR ({first} = ? AND {second} > ?))")
        params += [after[0], after[0], after[1]]
    with db.transaction(tables, commit=False, snapshot=False) as tx:
        rows = tx.rows(
            f"SELECT * FROM {{{table}}} WHERE {' AND '.join(where) or '1 = 1'} "
            f"ORDER BY {first}, {second} LIMIT ?",
            (*params, limit + 1),
        )
    return page_of(revealed(db, rows), limit, order)


def after_key(columns: Sequence[str], values: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQL for "sorts after ``values``" on ``columns`` (row comparison, spelled out)."""
    column, *rest = columns
    if not rest:
        return f"{column} > ?", [values[0]]
    inner, params = after_key(rest, values[1:])
    return f"({column} > ? OR ({column} = ? AND {inner}))", [values[0], values[0], *params]
