"""activity: what the analytics figures are computed from: every purchase, and every change of
a customer's standing (churned, won back), in business time, corrections applied.

The figures themselves (retention per period, ...) are computed from these rows when they are
asked for (replay/reports.py), for any period and from the live view or a replay alike.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ledger.projections.base import HandlerView
from ledger.projections.db import Writes, iso, money

# Corrected field -> column of the purchases and changes tables.
PURCHASE_FIELDS = {"amount": "amount", "currency": "currency", "cost": "cost", "rep": "rep",
                   "occurred_at": "occurred_at"}
CHANGE_FIELDS = {"defection_type": "defection_type", "competitor": "competitor",
                 "occurred_at": "occurred_at"}


class Activity(HandlerView):
    name = "activity"
    tables: ClassVar[dict[str, str]] = {
        "purchases": (
            "customer TEXT NOT NULL, order_id TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " amount TEXT NOT NULL, currency TEXT NOT NULL, cost TEXT, rep TEXT,"
            " retracted {bool} NOT NULL, PRIMARY KEY (customer, order_id)"),
        # kind: churned (entry_id: the churn's id) or won_back (no id of its own)
        "standing": (
            "customer TEXT NOT NULL, version {int} NOT NULL, kind TEXT NOT NULL,"
            " entry_id TEXT, occurred_at TEXT NOT NULL, defection_type TEXT,"
            " competitor TEXT, PRIMARY KEY (customer, version)"),
    }

    def on_PurchaseRecorded(self, db: Writes, e: Any, customer: str) -> None:
        db.later("INSERT INTO {purchases} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (customer, e.order_id, iso(e.occurred_at), money(e.amount), e.currency,
                  money(e.cost), e.rep, False))

    def on_Churned(self, db: Writes, e: Any, customer: str) -> None:
        db.later("INSERT INTO {standing} VALUES (?, ?, 'churned', ?, ?, ?, ?)",
                 (customer, e.originator_version, e.churn_id, iso(e.occurred_at),
                  e.defection_type, e.competitor))

    def on_WonBack(self, db: Writes, e: Any, customer: str) -> None:
        db.later("INSERT INTO {standing} VALUES (?, ?, 'won_back', NULL, ?, NULL, NULL)",
                 (customer, e.originator_version, iso(e.occurred_at)))

    def on_EntryCorrected(self, db: Writes, e: Any, customer: str) -> None:
        for table, id_column, fields in (("purchases", "order_id", PURCHASE_FIELDS),
                                         ("standing", "entry_id", CHANGE_FIELDS)):
            changes = [(fields[name], plain(name, value)) for name, value in e.fields.items()
                       if name in fields]
            if changes:
                sets = ", ".join(f"{column} = ?" for column, _ in changes)
                db.execute(f"UPDATE {{{table}}} SET {sets} WHERE customer = ? AND "
                           f"{id_column} = ?", (*(v for _, v in changes), customer, e.entry_id))

    def on_EntryRetracted(self, db: Writes, e: Any, customer: str) -> None:
        db.execute("UPDATE {purchases} SET retracted = ? WHERE customer = ? AND order_id = ?",
                   (True, customer, e.entry_id))


def plain(name: str, value: Any) -> Any:
    if name == "occurred_at":
        return iso(value)
    return money(value) if name in ("amount", "cost") else value
