"""quotes: every quote by customer and rep, with its net price and status, and the pairs of
quotes that contradict each other (same customer and product, overlapping validity,
different price)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias

from ledger.aggregates import Customer
from ledger.projections.base import (
    FOLLOWS_REP,
    MERGES,
    ORIGIN,
    RESPONSIBLE,
    Event,
    EventClass,
    Page,
    Refs,
    View,
    decode_cursor,
    hand_over,
    handles,
    keyset_page,
    merges_of,
    move_records,
    page_of,
)
from ledger.sql import Database, ViewDb, iso, money

Outcome: TypeAlias = (
    Customer.QuoteAccepted
    | Customer.QuoteDeclined
    | Customer.QuoteExpired
    | Customer.QuoteWithdrawn
)
OUTCOMES: dict[EventClass, str] = {
    Customer.QuoteAccepted: "accepted",
    Customer.QuoteDeclined: "declined",
    Customer.QuoteExpired: "expired",
    Customer.QuoteWithdrawn: "withdrawn",
}
# Corrected field -> column, and how its value is stored.
CORRECTABLE = {
    "rep": "rep",
    "product": "product",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "currency": "currency",
    "discount": "discount",
    "valid_until": "valid_until",
    "occurred_at": "issued_at",
}
TIMES = frozenset({"valid_until", "issued_at"})
NUMBERS = frozenset({"quantity", "unit_price", "discount"})
FOUR_PLACES = Decimal("0.0001")


def net_price(unit_price: Decimal, discount: Decimal) -> Decimal:
    """The unit price after discount, to four places, so that equal prices read alike."""
    return (unit_price * (1 - discount)).quantize(FOUR_PLACES)


class Quotes(View):
    name = "quotes"
    tables: ClassVar[dict[str, str]] = {
        "quotes": (
            "customer TEXT NOT NULL, quote_id TEXT NOT NULL, rep TEXT NOT NULL,"
            " product TEXT NOT NULL, quantity TEXT NOT NULL, unit_price TEXT NOT NULL,"
            " currency TEXT NOT NULL, discount TEXT NOT NULL, net_price TEXT NOT NULL,"
            " issued_at TEXT NOT NULL, valid_until TEXT NOT NULL, status TEXT NOT NULL,"
            " closed_at TEXT, retracted {bool} NOT NULL, recorded_at TEXT NOT NULL,"
            f" {RESPONSIBLE}, {ORIGIN}, PRIMARY KEY (customer, quote_id)"
        ),
        "quotes_merges": MERGES,
    }
    merging = ("quotes",)
    indexes: ClassVar[list[tuple[str, str]]] = [
        ("quotes", "customer, product"),
        ("quotes", "rep, status"),
        ("quotes", "responsible, retracted, status, valid_until"),  # a rep's, in order
    ]
    version = 3  # 2: responsibility apart from who quoted; 3: merged records' quotes

    def apply(self, db: ViewDb, events: Sequence[Event], refs: Refs) -> None:
        # Issues, outcomes, retractions and corrections write disjoint columns, and an
        # outcome or retraction always follows its issue: so all issues of the batch go in
        # first, then the rest, each kind in log order, in as few statements as possible. A
        # merge or unmerge moves rows between customers: what comes before it is written
        # first.
        pending = Pending()
        handlers = self.handlers
        merges = merges_of(db, self)
        for event in events:
            if isinstance(event, Customer.Merged | Customer.Unmerged):
                self.write(db, pending)
                pending = Pending()
                move_records(db, self, merges, event, refs.ref(event))
                continue
            handler = handlers.get(type(event))
            if handler is not None:
                ref = refs.ref(event)
                handler(self, pending, event, merges.get(ref, ref), ref)
        self.write(db, pending)

    @staticmethod
    def write(db: ViewDb, pending: Pending) -> None:
        db.executemany(
            "INSERT INTO {quotes} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open',"
            " NULL, ?, ?, ?, NULL, NULL, ?)",
            pending.issued,
        )
        db.executemany(
            "UPDATE {quotes} SET status = ?, closed_at = ? WHERE customer = ? AND quote_id = ?",
            pending.closed,
        )
        db.executemany(
            "UPDATE {quotes} SET retracted = ? WHERE customer = ? AND quote_id = ?",
            pending.retracted,
        )
        for customer, corrected in pending.corrections:  # (of who quoted: before a hand-over)
            correct(db, customer, corrected.entry_id, corrected.fields)
        for customer, moved in pending.handed:
            hand_over(db, "quotes", "quote_id", customer, moved)

    @handles(Customer.QuoteIssued)
    def quote_issued(
        self, pending: Pending, e: Customer.QuoteIssued, customer: str, origin: str
    ) -> None:
        pending.issued.append(
            (
                customer,
                e.quote_id,
                e.rep,
                e.product,
                money(e.quantity),
                money(e.unit_price),
                e.currency,
                money(e.discount),
                money(net_price(e.unit_price, e.discount)),
                iso(e.occurred_at),
                iso(e.valid_until),
                False,
                iso(e.timestamp),
                e.rep,
                origin,
            )
        )

    @handles(*OUTCOMES)
    def quote_closed(self, pending: Pending, e: Outcome, customer: str, origin: str) -> None:
        pending.closed.append((OUTCOMES[type(e)], iso(e.occurred_at), customer, e.quote_id))

    @handles(Customer.EntryRetracted)
    def entry_retracted(
        self, pending: Pending, e: Customer.EntryRetracted, customer: str, origin: str
    ) -> None:
        pending.retracted.append((True, customer, e.entry_id))

    @handles(Customer.EntryCorrected)
    def entry_corrected(
        self, pending: Pending, e: Customer.EntryCorrected, customer: str, origin: str
    ) -> None:
        if not CORRECTABLE.keys().isdisjoint(e.fields):
            pending.corrections.append((customer, e))

    @handles(Customer.ResponsibilityMoved)
    def responsibility_moved(
        self, pending: Pending, e: Customer.ResponsibilityMoved, customer: str, origin: str
    ) -> None:
        pending.handed.append((customer, e))


@dataclass
class Pending:
    """What the batch of events being applied writes, statement by statement."""

    issued: list[tuple[Any, ...]] = field(default_factory=list)
    closed: list[tuple[str, str | None, str, str]] = field(default_factory=list)
    retracted: list[tuple[bool, str, str]] = field(default_factory=list)
    corrections: list[tuple[str, Customer.EntryCorrected]] = field(default_factory=list)
    handed: list[tuple[str, Customer.ResponsibilityMoved]] = field(default_factory=list)


def correct(db: ViewDb, customer: str, quote_id: str, fields: dict[str, Any]) -> None:
    """Apply a correction to a quote (a correction of another kind of entry finds no row)."""
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        column = CORRECTABLE.get(name)
        if column in TIMES:
            changes[column] = iso(value)
        elif column in NUMBERS:
            changes[column] = money(value)
        elif column is not None:
            changes[column] = value
    if "unit_price" in fields or "discount" in fields:
        row = db.one(
            "SELECT unit_price, discount FROM {quotes} WHERE customer = ? AND quote_id = ?",
            (customer, quote_id),
        )
        if row is None:
            return
        price = fields.get("unit_price", Decimal(row["unit_price"]))
        discount = fields.get("discount", Decimal(row["discount"]))
        changes["net_price"] = money(net_price(price, discount))
    sets = ", ".join(f"{column} = ?" for column in changes)
    values = list(changes.values())
    if "rep" in changes:
        sets += f", {FOLLOWS_REP}"
        values.append(changes["rep"])
    db.execute(
        f"UPDATE {{quotes}} SET {sets} WHERE customer = ? AND quote_id = ?",
        (*values, customer, quote_id),
    )


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    row["retracted"] = bool(row["retracted"])
    return row


def quotes_of(
    db: Database,
    customer: str,
    *,
    rep: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """The quotes given to this customer, oldest first (filter by rep and status)."""
    page = keyset_page(
        db,
        Quotes().table_names(),
        "quotes",
        {"customer": customer, "rep": rep, "status": status},
        ("issued_at", "quote_id"),
        limit,
        cursor,
    )
    page.items = [_decoded(row) for row in page.items]
    return page


def open_quotes_of_rep(db: Database, rep: str) -> list[dict[str, Any]]:
    """Every quote this rep has open (and not retracted), the soonest to lapse first."""
    with db.transaction(Quotes().table_names(), commit=False) as tx:
        rows = tx.rows(
            "SELECT * FROM {quotes} WHERE rep = ? AND status = 'open' AND "
            "retracted = ? ORDER BY valid_until, customer, quote_id",
            (rep, False),
        )
    return [_decoded(row) for row in rows]


# Column -> its name in a pair, after "first_" or "second_" (prices are net prices).
SIDE = {
    "quote_id": "quote",
    "rep": "rep",
    "net_price": "price",
    "currency": "currency",
    "issued_at": "issued_at",
    "valid_until": "valid_until",
    "status": "status",
}


def conflicting_quotes(
    db: Database, *, customer: str | None = None, limit: int = 100, cursor: str | None = None
) -> Page:
    """Pairs of live quotes to one customer for one product, valid at the same time, at
    different net prices (or in different currencies); each pair once, the lower quote id
    first: ``first_quote``, ``first_rep``, ``first_price`` (net), ``first_currency``,
    ``first_issued_at``, ``first_valid_until``, ``first_status``, the same for ``second_``,
    and ``reps_differ``."""
    where = [
        "a.retracted = ?",
        "b.retracted = ?",
        "a.status <> 'withdrawn'",
        "b.status <> 'withdrawn'",
        "a.issued_at <= b.valid_until",
        "b.issued_at <= a.valid_until",
        "(a.net_price <> b.net_price OR a.currency <> b.currency)",
    ]
    params: list[Any] = [False, False]
    if customer is not None:
        where.append("a.customer = ?")
        params.append(customer)
    after = decode_cursor(cursor, (str,) * 4)  # customer, product, both quote ids
    if after:
        where.append(
            "(a.customer > ? OR (a.customer = ? AND (a.product > ? OR (a.product = ? "
            "AND (a.quote_id > ? OR (a.quote_id = ? AND b.quote_id > ?))))))"
        )
        params += [after[0], after[0], after[1], after[1], after[2], after[2], after[3]]
    columns = ", ".join(
        f"{side}.{column} AS {prefix}_{name}"
        for side, prefix in (("a", "first"), ("b", "second"))
        for column, name in SIDE.items()
    )
    with db.transaction(Quotes().table_names(), commit=False) as tx:
        rows = tx.rows(
            f"SELECT a.customer, a.product, {columns} FROM {{quotes}} a JOIN {{quotes}} b "
            "ON b.customer = a.customer AND b.product = a.product AND b.quote_id > a.quote_id "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY a.customer, a.product, a.quote_id, b.quote_id LIMIT ?",
            (*params, limit + 1),
        )
    for row in rows:
        row["reps_differ"] = row["first_rep"] != row["second_rep"]
    return page_of(rows, limit, ("customer", "product", "first_quote", "second_quote"))
