"""The person's own copy: everything the ledger holds about one customer, as one document.

The profile, every event of their stream (what it said, when it happened, when it was
recorded, who recorded it), their promises, quotes, consents and complaints as the views hold
them now, and who has looked at their personal data; with the log position it was taken at
and the log's digest there (``ledger digest``), so that anyone can tell later whether the log
it came from has changed. Personal fields are opened for the copy; once the customer is
forgotten they read as nothing, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledger.application import Ledger
from ledger.integrity import Integrity
from ledger.projections.base import Page
from ledger.projections.promises import promises_of
from ledger.projections.quotes import quotes_of
from ledger.projections.service import complaints_of
from ledger.projections.timeline import ENVELOPE, plain
from ledger.sql import Database, iso

FORMAT = "ledger-customer-export/1"
TEMPLATES = Path(__file__).parent / "templates"


def export_customer(
    ledger: Ledger, ref: str, *, accesses: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The document for customer ``ref`` (``UnknownReference`` if there is none).
    ``accesses``: the records of who looked at the customer, from the access log."""
    customer = ledger.customer(ref)
    integrity = Integrity(ledger)
    try:
        checked = integrity.verify(incremental=True)  # what is new since the last run
    finally:
        integrity.close()
    events = [
        event
        for event in ledger.history("customer", ref)
        if event.originator_version <= customer.version
    ]  # (as the profile has it)
    db = Database.of(ledger)
    try:
        listed = {
            "promises": every(promises_of, db, ref),
            "quotes": every(quotes_of, db, ref),
            "complaints": complaints_of(db, ref),
        }
    finally:
        db.close()
    return {
        "format": FORMAT,
        "customer": ref,
        "id": str(customer.id),
        "exported_at": iso(datetime.now(timezone.utc)),
        "log": {
            "position": checked.position,
            "digest": checked.digest() if checked.ok else None,
            "verified": checked.ok,
            "stream": {"version": customer.version, "events": len(events)},
        },
        "profile": dict(customer.profile),
        "owner": customer.owner,
        "team_members": list(customer.team_members),
        "registered_at": iso(customer.registered_at),
        "erased": customer.erased,
        "consents": [plain(dict(c)) for c in customer.consents],
        **listed,
        "events": [event_of(event) for event in events],
        "accessed_by": list(accesses),
    }


PagedQuery = Callable[..., Page]  # (db, ref, *, limit, cursor) -> a page


def every(query: PagedQuery, db: Database, ref: str) -> list[dict[str, Any]]:
    """Every row of a paged query about one customer."""
    return list(_pages(query, db, ref))


def _pages(query: PagedQuery, db: Database, ref: str) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        page: Page = query(db, ref, limit=500, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def event_of(event: Any) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "type": type(event).__name__,
        "occurred_at": iso(event.occurred_at),
        "recorded_at": iso(event.timestamp),
        "actor": event.actor,
        "fields": {
            name: plain(value) for name, value in vars(event).items() if name not in ENVELOPE
        },
    }


def export_html(document: dict[str, Any]) -> str:
    """The document as a page a person can read (and print)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
    )
    return environment.get_template("export.html").render(d=document)
