"""promises: every promise by customer and rep, with its status and links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ledger.projections.base import (
    FOLLOWS_REP,
    RESPONSIBLE,
    Page,
    Refs,
    View,
    event_type,
    hand_over,
    keyset_page,
)
from ledger.sql import Database, ViewDb, Writes, iso

OUTCOMES = {
    "PromiseKept": "kept",
    "PromiseBroken": "broken",
    "PromiseCancelled": "cancelled",
    "PromiseMarkedOverdue": "overdue",
}
CORRECTABLE = {
    "rep": "rep",
    "text": "text",
    "category": "category",
    "due_by": "due_by",
    "occurred_at": "made_at",
}


class Promises(View):
    name = "promises"
    tables: ClassVar[dict[str, str]] = {
        "promises": (
            "customer TEXT NOT NULL, promise_id TEXT NOT NULL, rep TEXT NOT NULL,"
            " text TEXT NOT NULL,"
            " category TEXT NOT NULL, made_at TEXT NOT NULL, due_by TEXT NOT NULL,"
            " status TEXT NOT NULL, closed_at TEXT, outcome_note TEXT, quote_id TEXT,"
            " complaint_id TEXT, retracted {bool} NOT NULL, recorded_at TEXT NOT NULL,"
            f" {RESPONSIBLE}, PRIMARY KEY (customer, promise_id)"
        )
    }
    indexes: ClassVar[list[tuple[str, str]]] = [
        ("promises", "rep, status"),
        ("promises", "responsible, status"),
        ("promises", "status, due_by"),
    ]
    version = 3  # 2: free text kept sealed; 3: responsibility apart from who promised

    def apply(self, view_db: ViewDb, events: Sequence[Any], refs: Refs) -> None:
        # Inserts wait and go out together; an update first sends them (log order kept).
        db = Writes(view_db)
        for event in events:
            kind = event_type(event)
            if kind == "PromiseMade":
                db.later(
                    "INSERT INTO {promises} VALUES (?, ?, ?, ?, ?, ?, ?, 'open', NULL, NULL, ?, ?,"
                    " ?, ?, ?, NULL, NULL)",
                    (
                        refs.ref(event),
                        event.promise_id,
                        event.rep,
                        event.text,
                        event.category,
                        iso(event.occurred_at),
                        iso(event.due_by),
                        event.quote_id,
                        event.complaint_id,
                        False,
                        iso(event.timestamp),
                        event.rep,
                    ),
                )
            elif kind in OUTCOMES:
                closed = None if kind == "PromiseMarkedOverdue" else iso(event.occurred_at)
                note = getattr(event, "note", None) or getattr(event, "reason", None)
                db.execute(
                    "UPDATE {promises} SET status = ?, closed_at = ?, outcome_note = ? "
                    "WHERE customer = ? AND promise_id = ?",
                    (OUTCOMES[kind], closed, note, refs.ref(event), event.promise_id),
                )
            elif kind == "EntryCorrected":
                changes = {CORRECTABLE[k]: v for k, v in event.fields.items() if k in CORRECTABLE}
                if changes:
                    sets = ", ".join(f"{column} = ?" for column in changes)
                    values = [
                        iso(v) if column.endswith(("_at", "_by")) else v
                        for column, v in changes.items()
                    ]
                    if "rep" in changes:
                        sets += f", {FOLLOWS_REP}"
                        values.append(changes["rep"])
                    db.execute(
                        f"UPDATE {{promises}} SET {sets} WHERE customer = ? AND promise_id = ?",
                        (*values, refs.ref(event), event.entry_id),
                    )
            elif kind == "EntryRetracted":
                db.execute(
                    "UPDATE {promises} SET retracted = ? WHERE customer = ? AND promise_id = ?",
                    (True, refs.ref(event), event.entry_id),
                )
            elif kind == "ResponsibilityMoved":
                hand_over(db, "promises", "promise_id", refs.ref(event), event)
        db.flush()


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
