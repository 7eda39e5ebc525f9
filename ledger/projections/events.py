"""Events (campaigns that are seminars, trade shows, trainings) and the registrations for
them: what an event page and ``GET /campaigns/{ref}`` show.

Reads two views' tables in one transaction: the activity view's campaigns (kind, date,
capacity) and the service view's registrations (who registered, by when they are to be
answered, confirmed or declined, attended).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ledger.errors import UnknownReference
from ledger.projections.activity import Activity
from ledger.projections.base import Page, after_key, decode_cursor, page_of
from ledger.projections.service import Service
from ledger.sealing import revealed
from ledger.sql import Database, ViewDb

REGISTRATION_KEY = ("registered_at", "customer", "registration_id")
COUNTS = """
SELECT COUNT(*) AS registrations,
  COALESCE(SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), 0) AS open,
  COALESCE(SUM(CASE WHEN status = 'confirmed' THEN 1 ELSE 0 END), 0) AS confirmed,
  COALESCE(SUM(CASE WHEN status = 'declined' THEN 1 ELSE 0 END), 0) AS declined,
  COALESCE(SUM(CASE WHEN attended = ? THEN 1 ELSE 0 END), 0) AS attended,
  COALESCE(SUM(CASE WHEN attended = ? THEN 1 ELSE 0 END), 0) AS no_shows
FROM {registrations} WHERE campaign = ?"""


def tables() -> dict[str, str]:
    return {**Activity().table_names(), **Service().table_names()}


def summary(tx: ViewDb, campaign: dict[str, Any]) -> dict[str, Any]:
    """A campaign row with its registrations counted, and the seats left."""
    counts = tx.one(COUNTS, (True, False, campaign["campaign"])) or {}
    found = {
        "campaign": campaign["campaign"],
        "name": campaign["name"],
        "kind": campaign["kind"],
        "event_at": campaign["event_at"],
        "capacity": campaign["capacity"],
        "starts_at": campaign["starts_at"],
        "ends_at": campaign["ends_at"],
        **{name: int(counts.get(name) or 0) for name in COUNT_NAMES},
    }
    capacity = campaign["capacity"]
    found["seats_left"] = None if capacity is None else max(capacity - found["confirmed"], 0)
    return found


COUNT_NAMES = ("registrations", "open", "confirmed", "declined", "attended", "no_shows")


def event_of(db: Database, ref: str) -> dict[str, Any]:
    """The campaign, with its registrations counted; ``UnknownReference`` if the views
    know no campaign ``ref``."""
    with db.transaction(tables(), commit=False) as tx:
        row = tx.one("SELECT * FROM {campaigns} WHERE campaign = ?", (ref,))
        if row is None:
            raise UnknownReference(f"no campaign with reference {ref!r}", where="ref")
        return summary(tx, row)


def events(db: Database) -> list[dict[str, Any]]:
    """Every campaign that is an event, soonest first, with its registrations counted."""
    with db.transaction(tables(), commit=False) as tx:
        rows = tx.rows(
            "SELECT * FROM {campaigns} WHERE kind IS NOT NULL ORDER BY event_at, campaign"
        )
        return [summary(tx, row) for row in rows]


def registrations_of(
    db: Database,
    campaign: str,
    *,
    reps: Collection[str] | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """The registrations for an event, in the order they were made; with ``reps``, only
    those these reps answer for (a registration is its customer's owner's unless it named a
    rep)."""
    where, params = ["campaign = ?"], [campaign]
    if reps is not None:
        chosen = sorted(reps) or [""]
        where.append(f"responsible IN ({', '.join('?' * len(chosen))})")
        params += chosen
    if status is not None:
        where.append("status = ?")
        params.append(status)
    after = decode_cursor(cursor, (str, str, str))
    if after:
        condition, more = after_key(REGISTRATION_KEY, after)
        where.append(condition)
        params += more
    with db.transaction(Service().table_names(), commit=False) as tx:
        rows = tx.rows(
            f"SELECT * FROM {{registrations}} WHERE {' AND '.join(where)} "
            f"ORDER BY {', '.join(REGISTRATION_KEY)} LIMIT ?",
            (*params, limit + 1),
        )
    for row in rows:
        if row["attended"] is not None:
            row["attended"] = bool(row["attended"])
    return page_of(revealed(db, rows), limit, REGISTRATION_KEY)
