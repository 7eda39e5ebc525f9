"""promises: every promise by customer and rep, with its status and links."""

from __future__ import annotations

from typing import ClassVar

from ledger.aggregates import Customer
from ledger.projections.base import (
    FOLLOWS_REP,
    MERGES,
    ORIGIN,
    RESPONSIBLE,
    MergingView,
    Page,
    hand_over,
    handles,
    keyset_page,
)
from ledger.sql import Database, Writes, iso

CORRECTABLE = {
    "rep": "rep",
    "text": "text",
    "category": "category",
    "due_by": "due_by",
    "occurred_at": "made_at",
}


class Promises(MergingView):
    name = "promises"
    tables: ClassVar[dict[str, str]] = {
        "promises": (
            "customer TEXT NOT NULL, promise_id TEXT NOT NULL, rep TEXT NOT NULL,"
            " text TEXT NOT NULL,"
            " category TEXT NOT NULL, made_at TEXT NOT NULL, due_by TEXT NOT NULL,"
            " status TEXT NOT NULL, closed_at TEXT, outcome_note TEXT, quote_id TEXT,"
            " complaint_id TEXT, retracted {bool} NOT NULL, recorded_at TEXT NOT NULL,"
            f" {RESPONSIBLE}, {ORIGIN}, PRIMARY KEY (customer, promise_id)"
        ),
        "promises_merges": MERGES,
    }
    merging = ("promises",)
    indexes: ClassVar[list[tuple[str, str]]] = [
        ("promises", "rep, status"),
        ("promises", "responsible, retracted, status, due_by"),  # a rep's, counted from it
        ("promises", "status, due_by"),
    ]
    # 2: free text kept sealed; 3: responsibility apart from who promised; 4: a merged
    # record's promises are the survivor's
    version = 4

    @handles(Customer.PromiseMade)
    def promise_made(self, db: Writes, e: Customer.PromiseMade, customer: str) -> None:
        db.later(
            "INSERT INTO {promises} VALUES (?, ?, ?, ?, ?, ?, ?, 'open', NULL, NULL, ?, ?,"
            " ?, ?, ?, NULL, NULL, ?)",
            (
                customer,
                e.promise_id,
                e.rep,
                e.text,
                e.category,
                iso(e.occurred_at),
                iso(e.due_by),
                e.quote_id,
                e.complaint_id,
                False,
                iso(e.timestamp),
                e.rep,
                self.origin(e),
            ),
        )

    @handles(Customer.PromiseKept)
    def promise_kept(self, db: Writes, e: Customer.PromiseKept, customer: str) -> None:
        set_outcome(db, customer, e.promise_id, "kept", iso(e.occurred_at), e.note or None)

    @handles(Customer.PromiseBroken)
    def promise_broken(self, db: Writes, e: Customer.PromiseBroken, customer: str) -> None:
        set_outcome(db, customer, e.promise_id, "broken", iso(e.occurred_at), e.reason)

    @handles(Customer.PromiseCancelled)
    def promise_cancelled(self, db: Writes, e: Customer.PromiseCancelled, customer: str) -> None:
        set_outcome(db, customer, e.promise_id, "cancelled", iso(e.occurred_at), e.reason)

    @handles(Customer.PromiseMarkedOverdue)
    def promise_overdue(self, db: Writes, e: Customer.PromiseMarkedOverdue, customer: str) -> None:
        set_outcome(db, customer, e.promise_id, "overdue", None, None)

    @handles(Customer.EntryCorrected)
    def entry_corrected(self, db: Writes, e: Customer.EntryCorrected, customer: str) -> None:
        changes = {CORRECTABLE[k]: v for k, v in e.fields.items() if k in CORRECTABLE}
        if changes:
            sets = ", ".join(f"{column} = ?" for column in changes)
            values = [
                iso(v) if column.endswith(("_at", "_by")) else v for column, v in changes.items()
            ]
            if "rep" in changes:
                sets += f", {FOLLOWS_REP}"
                values.append(changes["rep"])
            db.execute(
                f"UPDATE {{promises}} SET {sets} WHERE customer = ? AND promise_id = ?",
                (*values, customer, e.entry_id),
            )

    @handles(Customer.EntryRetracted)
    def entry_retracted(self, db: Writes, e: Customer.EntryRetracted, customer: str) -> None:
        db.execute(
            "UPDATE {promises} SET retracted = ? WHERE customer = ? AND promise_id = ?",
            (True, customer, e.entry_id),
        )

    @handles(Customer.ResponsibilityMoved)
    def responsibility_moved(
        self, db: Writes, e: Customer.ResponsibilityMoved, customer: str
    ) -> None:
        hand_over(db, "promises", "promise_id", customer, e)


def set_outcome(
    db: Writes, customer: str, promise_id: str, status: str, at: str | None, note: str | None
) -> None:
    """A promise's outcome (overdue: not closed, and no note)."""
    db.execute(
        "UPDATE {promises} SET status = ?, closed_at = ?, outcome_note = ? "
        "WHERE customer = ? AND promise_id = ?",
        (status, at, note, customer, promise_id),
    )


def promises_of(
    db: Database,
    customer: str,
    *,
    rep: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """What each rep promised this customer, oldest first (filter by rep and status)."""
    page = keyset_page(
        db,
        Promises().table_names(),
        "promises",
        {"customer": customer, "rep": rep, "status": status},
        ("made_at", "promise_id"),
        limit,
        cursor,
    )
    for row in page.items:
        row["retracted"] = bool(row["retracted"])
    return page


def promises_with_status(
    db: Database, status: str, *, limit: int = 100, cursor: str | None = None
) -> Page:
    """Every customer's promises in this status (overdue, broken, ...), soonest due first;
    retracted ones left out."""
    return keyset_page(
        db,
        Promises().table_names(),
        "promises",
        {"status": status, "retracted": False},
        ("due_by", "promise_id"),
        limit,
        cursor,
    )
