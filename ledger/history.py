"""A customer's history as lines a person can read: what happened, when, who, and the trail.

Entries are ordered by business time (when they happened); an entry recorded more than a
day after it happened says so; corrections and retractions are shown where they were made
and also marked on the entry they concern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from ledger.aggregates import Customer
from ledger.aggregates.base import LedgerAggregate

EventClass: TypeAlias = type[LedgerAggregate.Event]

LATE = timedelta(days=1)

# Event class -> (label, fields shown in the line, in order).
FORMATS: dict[EventClass, tuple[str, tuple[str, ...]]] = {
    Customer.Registered: (
        "registered",
        ("name", "kind", "title", "company", "email", "phone", "owner", "source"),
    ),
    Customer.ProfileChanged: ("profile changed", ("changes",)),
    Customer.OwnerAssigned: ("owner assigned", ("from_rep", "to_rep", "reason")),
    Customer.ResponsibilityMoved: (
        "work handed over",
        ("entry_ids", "from_rep", "to_rep", "reason"),
    ),
    Customer.ContactLogged: ("contact", ("rep", "channel", "direction", "subject", "summary")),
    Customer.RequestReceived: ("request", ("kind", "channel", "respond_by", "rep", "summary")),
    Customer.RequestAnswered: ("request answered", ("request_id", "rep", "channel", "summary")),
    Customer.RegistrationReceived: (
        "registration",
        ("registration_id", "campaign", "channel", "respond_by", "rep", "note"),
    ),
    Customer.RegistrationConfirmed: ("registration confirmed", ("registration_id", "note")),
    Customer.RegistrationDeclined: ("registration declined", ("registration_id", "reason")),
    Customer.AttendanceRecorded: ("attendance", ("registration_id", "attended")),
    Customer.QuoteIssued: (
        "quote",
        (
            "quote_id",
            "rep",
            "product",
            "quantity",
            "unit_price",
            "currency",
            "discount",
            "valid_until",
        ),
    ),
    Customer.QuoteAccepted: ("quote accepted", ("quote_id", "note")),
    Customer.QuoteDeclined: ("quote declined", ("quote_id", "reason")),
    Customer.QuoteExpired: ("quote expired", ("quote_id",)),
    Customer.QuoteWithdrawn: ("quote withdrawn", ("quote_id", "reason")),
    Customer.PromiseMade: (
        "promise",
        ("promise_id", "rep", "category", "text", "due_by", "quote_id", "complaint_id"),
    ),
    Customer.PromiseKept: ("promise kept", ("promise_id", "note")),
    Customer.PromiseBroken: ("promise broken", ("promise_id", "reason")),
    Customer.PromiseCancelled: ("promise cancelled", ("promise_id", "reason")),
    Customer.PromiseMarkedOverdue: ("promise overdue", ("promise_id",)),
    Customer.CampaignTouched: ("campaign touch", ("campaign", "channel", "material", "department")),
    Customer.ConsentChanged: ("consent", ("channel", "purpose", "granted")),
    Customer.ComplaintFiled: (
        "complaint",
        ("complaint_id", "category", "severity", "description", "respond_by", "rep"),
    ),
    Customer.ComplaintEscalated: ("complaint escalated", ("complaint_id", "to", "reason")),
    Customer.ComplaintResolved: ("complaint resolved", ("complaint_id", "resolution", "satisfied")),
    Customer.ComplaintReopened: ("complaint reopened", ("complaint_id", "reason")),
    Customer.SatisfactionRecorded: ("satisfaction", ("items", "product", "rep")),
    Customer.PurchaseRecorded: (
        "purchase",
        ("order_id", "amount", "currency", "cost", "product", "quantity", "rep", "quote_id"),
    ),
    Customer.PurchaseRefunded: (
        "refund",
        ("refund_id", "order_id", "amount", "currency", "quantity", "rep", "reason"),
    ),
    Customer.Churned: ("churned", ("defection_type", "competitor", "reason")),
    Customer.WonBack: ("won back", ("rep", "reason")),
    Customer.EntryCorrected: ("correction", ("entry_id", "fields", "reason")),
    Customer.EntryRetracted: ("retraction", ("entry_id", "reason")),
    Customer.PersonalDataErased: ("personal data erased", ("reason",)),
    Customer.MergedInto: ("merged into", ("survivor", "reason")),
    Customer.Merged: ("record merged in", ("merged", "reason")),
    Customer.UnmergedFrom: ("unmerged from", ("survivor", "reason")),
    Customer.Unmerged: ("record unmerged", ("merged", "reason")),
}
# Events that open an entry, and the field holding the entry's id.
OPENING: dict[EventClass, str] = {
    Customer.ContactLogged: "contact_id",
    Customer.RequestReceived: "request_id",
    Customer.RegistrationReceived: "registration_id",
    Customer.QuoteIssued: "quote_id",
    Customer.PromiseMade: "promise_id",
    Customer.CampaignTouched: "touch_id",
    Customer.ConsentChanged: "consent_id",
    Customer.ComplaintFiled: "complaint_id",
    Customer.SatisfactionRecorded: "survey_id",
    Customer.PurchaseRecorded: "order_id",
    Customer.PurchaseRefunded: "refund_id",
    Customer.Churned: "churn_id",
}


@dataclass
class Line:
    version: int
    event: EventClass
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    details: dict[str, Any]
    entry_id: str | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.event.__name__

    @property
    def late(self) -> bool:
        return self.recorded_at - self.occurred_at > LATE

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind,
            "entry_id": self.entry_id,
            "occurred_at": self.occurred_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "actor": self.actor,
            "late": self.late,
            "flags": self.flags,
            "details": self.details,
        }


def history_lines(events: Sequence[LedgerAggregate.Event]) -> list[Line]:
    """One line per event, oldest first by business time, with the correction trail marked."""
    lines: list[Line] = []
    by_entry: dict[str, Line] = {}
    retracted: set[str] = set()
    for event in events:
        kind = type(event)
        _, shown = FORMATS.get(kind, (kind.__name__, ()))
        details = {
            name: getattr(event, name) for name in shown if getattr(event, name, None) is not None
        }
        line = Line(
            event.originator_version,
            kind,
            event.occurred_at,
            event.timestamp,
            event.actor,
            details,
            getattr(event, OPENING[kind]) if kind in OPENING else None,
        )
        if line.entry_id:
            by_entry[line.entry_id] = line
        target = by_entry.get(getattr(event, "entry_id", "") or "")
        if isinstance(event, Customer.EntryCorrected) and target is not None:
            for name, value in event.fields.items():
                old = target.details.get(
                    name, target.occurred_at if name == "occurred_at" else None
                )
                target.flags.append(
                    f"{name} corrected from {_text(old)} to {_text(value)} "
                    f"(v{event.originator_version}: {event.reason})"
                )
                if name == "occurred_at":
                    target.occurred_at = value
                else:
                    target.details[name] = value
        elif isinstance(event, Customer.EntryRetracted) and target is not None:
            target.flags.append(f"RETRACTED (v{event.originator_version}: {event.reason})")
            retracted.add(target.entry_id or "")
        lines.append(line)
    lines.sort(key=lambda line: (line.occurred_at, line.version))
    flag_opted_out(lines, retracted)
    return lines


def flag_opted_out(lines: list[Line], retracted: set[str]) -> None:
    """Mark each campaign touch made when the customer had withdrawn consent to marketing on
    its channel: the last change of consent on or before the touch decides, in business time
    (as corrected), whenever either was recorded. (The touch event's own ``opted_out`` says
    what was known when it was recorded; a later-recorded change of consent re-judges it.)"""
    granted: dict[str, bool] = {}
    # In business time; at one instant, changes of consent first, in the order recorded.
    for line in sorted(
        lines,
        key=lambda line: (
            line.occurred_at,
            line.event is not Customer.ConsentChanged,
            line.version,
        ),
    ):
        if line.event is Customer.ConsentChanged and line.details.get("purpose") == "marketing":
            granted[line.details.get("channel", "")] = bool(line.details.get("granted"))
        elif (
            line.event is Customer.CampaignTouched
            and line.entry_id not in retracted
            and not granted.get(line.details.get("channel", ""), True)
        ):
            line.flags.append(f"sent after opt-out on {line.details['channel']}")


def render(lines: list[Line], *, zone: Any = None) -> str:
    out = []
    for line in lines:
        when = line.occurred_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        label = FORMATS.get(line.event, (line.kind, ()))[0]
        detail = "  ".join(f"{k}={_text(v, zone)}" for k, v in line.details.items())
        late = (
            f"  [recorded {line.recorded_at.astimezone(zone):%Y-%m-%d}, "
            f"{(line.recorded_at - line.occurred_at).days} days late]"
            if line.late
            else ""
        )
        out.append(f"{when}  #{line.version:<4} {label:<20} {detail}{late}  by {line.actor}")
        out.extend(f"{'':>24}! {flag}" for flag in line.flags)
    return "\n".join(out)


def _text(value: Any, zone: Any = None) -> str:
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_text(v, zone)}" for k, v in value.items()) + "}"
    return str(value)
