"""The customer: one stream per customer, holding every interaction with them.

The state kept here is only what the rules need (statuses, deadlines, consent); the
views rebuild everything else from the events.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.aggregates.base import LedgerAggregate
from ledger.authorization import Holders
from ledger.errors import CommandInvalid, UnknownReference, rule
from ledger.ids import stream_id

EntryIdTaken = rule("entry_id_taken")


class UnknownEntry(UnknownReference):
    """No entry with that id (or not of that kind) in the customer's history."""

    code = "unknown_entry"


EntryRetracted = rule("entry_retracted")
EntryNotCorrectable = rule("field_not_correctable")
EntryNotRetractable = rule("entry_not_retractable")
EntryClosed = rule("entry_closed")
DueBeforeMade = rule("due_before_made")
CorrectionBeforeEntry = rule("correction_before_entry")
NothingToHandOver = rule("nothing_to_hand_over")
QuoteExpired = rule("quote_expired")
QuoteStillValid = rule("quote_still_valid")
PromiseNotDue = rule("promise_not_yet_due")
LinkedEntryMissing = rule("linked_entry_missing")
AlreadyChurned = rule("already_churned")
NotChurned = rule("not_churned")
CustomerErased = rule("customer_erased")
OwnerUnchanged = rule("owner_unchanged")
DeadlineNotMissed = rule("deadline_not_missed")
DeadlineFlagged = rule("deadline_already_flagged")
NotLapsing = rule("not_lapsing")
AlreadyTeamMember = rule("already_team_member")
NotTeamMember = rule("not_team_member")
AlreadyRegistered = rule("already_registered")
RegistrationNotConfirmed = rule("registration_not_confirmed")
AttendanceKnown = rule("attendance_already_recorded")


class MergeRefused(CommandInvalid):
    """A merge or unmerge that cannot be: refused as invalid input (422; the CLI exits 2),
    saying what to do instead. ``code`` names the case."""

    code = "merge_refused"


def _merge_refusal(code: str) -> type[MergeRefused]:
    name = "".join(part.title() for part in code.split("_")) + "Error"
    return type(name, (MergeRefused,), {"code": code})


MergeIntoItself = _merge_refusal("merge_into_itself")
MergeWithForgotten = _merge_refusal("merge_with_forgotten")
AlreadyMerged = _merge_refusal("already_merged")
MergedHasRecords = _merge_refusal("merged_has_records")
EntryIdsShared = _merge_refusal("entry_ids_shared")
NotMerged = _merge_refusal("not_merged")

OPEN = "open"
OVERDUE = "overdue"
CONFIRMED = "confirmed"
DECLINED = "declined"

# Which fields of which kind of entry a correction may change.
CORRECTABLE: dict[str, frozenset[str]] = {
    "contact": frozenset({"rep", "channel", "direction", "subject", "summary", "occurred_at"}),
    "request": frozenset({"kind", "channel", "summary", "respond_by", "occurred_at"}),
    "quote": frozenset(
        {
            "rep",
            "product",
            "quantity",
            "unit_price",
            "currency",
            "discount",
            "valid_until",
            "occurred_at",
        }
    ),
    "promise": frozenset({"rep", "text", "category", "due_by", "occurred_at"}),
    "touch": frozenset({"channel", "material", "department", "occurred_at"}),
    "complaint": frozenset({"category", "severity", "description", "respond_by", "occurred_at"}),
    "satisfaction": frozenset({"items", "product", "rep", "occurred_at"}),
    "purchase": frozenset(
        {"amount", "currency", "cost", "rep", "product", "quantity", "occurred_at"}
    ),
    "refund": frozenset({"amount", "currency", "quantity", "rep", "reason", "occurred_at"}),
    "consent": frozenset({"occurred_at"}),
    "churn": frozenset({"defection_type", "competitor", "reason", "occurred_at"}),
}
RETRACTABLE = frozenset(
    {
        "contact",
        "request",
        "quote",
        "promise",
        "touch",
        "complaint",
        "satisfaction",
        "purchase",
        "refund",
    }
)
# Entry kinds whose open/closed state the aggregate tracks, and the state fields a
# correction keeps in step. Other entries are remembered by id and kind alone, so that a
# customer with thousands of contacts stays small to snapshot and quick to load.
STATEFUL = frozenset({"request", "quote", "promise", "complaint", "registration"})
_TRACKED_FIELDS = {
    "respond_by",
    "valid_until",
    "due_by",
    "unit_price",
    "currency",
    "product",
    "discount",
    "rep",
    "occurred_at",
}


def responsible_for(entry: dict[str, Any]) -> str | None:
    """The rep responsible for an open item now: who it was handed to, else who made it."""
    found: str | None = entry.get("responsible") or entry.get("rep")
    return found


class Customer(LedgerAggregate):
    # Kept since lapses were recorded; class defaults serve snapshots taken before that.
    lapsed_at: datetime | None = None
    last_activity_at: datetime | None = None
    team_members: tuple[str, ...] = ()
    # Entry id -> when it happened (as corrected), for every entry made since this was kept.
    entry_times: dict[str, datetime] | None = None
    owner_since: datetime | None = None  # when the owner now became the owner
    # A record merged into another: the survivor's reference (``absorb``).
    merged_into: str | None = None
    # A survivor: the records merged into it, and each of their entries (entry id ->
    # (record, kind)), so that a command naming the survivor reaches an entry of theirs and
    # no new entry takes one's id.
    merged_records: tuple[str, ...] = ()
    foreign: dict[str, tuple[str, str]] | None = None

    @staticmethod
    def create_id(ref: str, **_: Any) -> UUID:
        return stream_id("customer", ref)

    class Registered(LedgerAggregate.Created):
        # 2: a title and where the record came from (a list, a fair's cards); registrations
        # stored before have neither.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["title"] = None
            state["source"] = None

        ref: str
        name: str
        kind: str
        email: str | None
        phone: str | None
        address: str | None
        company: str | None
        segment: str | None
        locale: str | None
        owner: str | None
        title: str | None
        source: str | None
        occurred_at: datetime
        actor: str

    @event(Registered)
    def __init__(
        self,
        ref: str,
        name: str,
        kind: str,
        email: str | None,
        phone: str | None,
        address: str | None,
        company: str | None,
        segment: str | None,
        locale: str | None,
        owner: str | None,
        title: str | None,
        source: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.ref = ref
        self.profile: dict[str, str | None] = {
            "name": name,
            "kind": kind,
            "email": email,
            "phone": phone,
            "address": address,
            "company": company,
            "segment": segment,
            "locale": locale,
            "title": title,
            "source": source,
        }
        self.owner = owner
        self.registered_at = occurred_at
        self.kinds: dict[str, str] = {}
        self.entries: dict[str, dict[str, Any]] = {}
        self.retracted: dict[str, str] = {}  # entry id -> when it was retracted
        self.consents: list[dict[str, Any]] = []
        self.churned_at: datetime | None = None
        self.won_back_at: datetime | None = None
        self.erased = False

    # -- profile and ownership ---------------------------------------------------------

    class ProfileChanged(LedgerAggregate.Event):
        changes: dict[str, str | None]
        occurred_at: datetime
        actor: str

    @event(ProfileChanged)
    def change_profile(
        self, changes: dict[str, str | None], occurred_at: datetime, actor: str
    ) -> None:
        self.check_not_erased()
        self.profile.update(changes)

    class OwnerAssigned(LedgerAggregate.Event):
        from_rep: str | None
        to_rep: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(OwnerAssigned)
    def assign_owner(
        self, from_rep: str | None, to_rep: str, reason: str, occurred_at: datetime, actor: str
    ) -> None:
        if to_rep == self.owner:
            raise OwnerUnchanged(f"{to_rep} already owns customer {self.ref}")
        # In business time: an assignment recorded late, dated before the current owner's,
        # is history, not the owner now.
        since = self.owner_since or self.registered_at
        if occurred_at >= since or self.owner is None:
            self.owner, self.owner_since = to_rep, occurred_at

    class TeamMemberAdded(LedgerAggregate.Event):
        rep: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(TeamMemberAdded)
    def add_team_member(self, rep: str, reason: str, occurred_at: datetime, actor: str) -> None:
        if rep in self.team_members:
            raise AlreadyTeamMember(f"{rep} is on customer {self.ref}'s team already")
        self.team_members = (*self.team_members, rep)

    class TeamMemberRemoved(LedgerAggregate.Event):
        rep: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(TeamMemberRemoved)
    def remove_team_member(self, rep: str, reason: str, occurred_at: datetime, actor: str) -> None:
        if rep not in self.team_members:
            raise NotTeamMember(f"{rep} is not on customer {self.ref}'s team")
        self.team_members = tuple(member for member in self.team_members if member != rep)

    def holders(self) -> Holders:
        """Who holds the customer now: its owner, the reps responsible for its open work,
        and the reps on its team (``ledger/authorization.py``)."""
        responsible = {responsible_for(entry) for entry in self.open_work().values()}
        return Holders(
            self.owner, frozenset(r for r in responsible if r), frozenset(self.team_members)
        )

    # -- responsibility for open work ----------------------------------------------------

    def open_work(self, rep: str | None = None) -> dict[str, dict[str, Any]]:
        """Open requests, quotes, promises and complaints (of which ``rep`` is responsible
        now, if given), by entry id."""
        return {
            entry_id: entry
            for entry_id, entry in self.entries.items()
            if entry["status"] in (OPEN, OVERDUE)
            and entry_id not in self.retracted
            and (rep is None or responsible_for(entry) == rep)
        }

    def hand_over(
        self,
        to_rep: str,
        *,
        entry_ids: list[str] | None,
        from_rep: str | None,
        reason: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """Make ``to_rep`` responsible for the open items named, or for every open item
        ``from_rep`` is responsible for. Who made each item does not change."""
        moving = self.handing_over(to_rep, entry_ids=entry_ids, from_rep=from_rep)
        self.check_something_moves(moving, to_rep, from_rep)
        self._responsibility_moved(
            entry_ids=moving,
            from_rep=from_rep,
            to_rep=to_rep,
            reason=reason,
            occurred_at=occurred_at,
            actor=actor,
        )

    def handing_over(
        self, to_rep: str, *, entry_ids: list[str] | None, from_rep: str | None
    ) -> list[str]:
        """The open items a hand-over to ``to_rep`` moves (none may be): refused if one named
        is not open work, or not ``from_rep``'s."""
        if entry_ids is None:
            if from_rep is None:
                raise NothingToHandOver(
                    "name the items (entry_ids) or the rep whose open items move (from_rep)"
                )
            entry_ids = sorted(self.open_work(from_rep))
        moving = []
        for entry_id in dict.fromkeys(entry_ids):
            entry = self._entry(entry_id)
            if entry["kind"] not in STATEFUL or entry["status"] not in (OPEN, OVERDUE):
                raise NothingToHandOver(
                    f"{entry['kind']} {entry_id} is not open work: only "
                    "open requests, quotes, promises, complaints and "
                    "registrations move"
                )
            if from_rep is not None and responsible_for(entry) != from_rep:
                raise NothingToHandOver(
                    f"{from_rep} is not responsible for {entry['kind']} "
                    f"{entry_id}; {responsible_for(entry)} is"
                )
            if responsible_for(entry) != to_rep:
                moving.append(entry_id)
        return moving

    def check_something_moves(self, moving: list[str], to_rep: str, from_rep: str | None) -> None:
        if not moving:
            raise NothingToHandOver(
                f"nothing to hand to {to_rep}: no open item of customer "
                f"{self.ref} " + (f"is {from_rep}'s" if from_rep else "named moves")
            )

    class ResponsibilityMoved(LedgerAggregate.Event):
        entry_ids: list[str]
        from_rep: str | None
        to_rep: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(ResponsibilityMoved)
    def _responsibility_moved(
        self,
        entry_ids: list[str],
        from_rep: str | None,
        to_rep: str,
        reason: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        for entry_id in entry_ids:
            self.entries[entry_id]["responsible"] = to_rep

    # -- contacts and requests ------------------------------------------------------------

    class ContactLogged(LedgerAggregate.Event):
        contact_id: str
        rep: str
        channel: str
        direction: str
        subject: str
        summary: str | None
        occurred_at: datetime
        actor: str

    @event(ContactLogged)
    def log_contact(
        self,
        contact_id: str,
        rep: str,
        channel: str,
        direction: str,
        subject: str,
        summary: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self._open_entry(contact_id, "contact", occurred_at)
        self._active(occurred_at)

    def _active(self, occurred_at: datetime) -> None:
        if self.last_activity_at is None or occurred_at > self.last_activity_at:
            self.last_activity_at = occurred_at

    class RequestReceived(LedgerAggregate.Event):
        request_id: str
        kind: str
        channel: str
        summary: str | None
        respond_by: datetime
        rep: str | None
        occurred_at: datetime
        actor: str

    @event(RequestReceived)
    def receive_request(
        self,
        request_id: str,
        kind: str,
        channel: str,
        summary: str | None,
        respond_by: datetime,
        rep: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_due_not_before(respond_by, occurred_at, "respond_by")
        self._open_entry(
            request_id, "request", occurred_at, status=OPEN, respond_by=respond_by, rep=rep
        )

    class RequestAnswered(LedgerAggregate.Event):
        request_id: str
        rep: str
        channel: str
        summary: str | None
        occurred_at: datetime
        actor: str

    @event(RequestAnswered)
    def answer_request(
        self,
        request_id: str,
        rep: str,
        channel: str,
        summary: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self._close_entry(request_id, "request", "answered", occurred_at, "answer")

    # -- registrations for events -------------------------------------------------------------

    class RegistrationReceived(LedgerAggregate.Event):
        registration_id: str
        campaign: str
        channel: str
        respond_by: datetime
        rep: str | None
        note: str | None
        occurred_at: datetime
        actor: str

    @event(RegistrationReceived)
    def receive_registration(
        self,
        registration_id: str,
        campaign: str,
        channel: str,
        respond_by: datetime,
        rep: str | None,
        note: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """The customer registers for an event (a campaign that is one): open until
        confirmed or declined by ``respond_by``."""
        self.check_due_not_before(respond_by, occurred_at, "respond_by")
        for entry_id, entry in self.entries.items():
            if (
                entry["kind"] == "registration"
                and entry["campaign"] == campaign
                and entry["status"] != DECLINED
            ):
                raise AlreadyRegistered(
                    f"customer {self.ref} is registered for {campaign} already "
                    f"({entry_id}, {entry['status']}); confirm or decline that one"
                )
        self._open_entry(
            registration_id,
            "registration",
            occurred_at,
            status=OPEN,
            respond_by=respond_by,
            rep=rep,
            campaign=campaign,
        )

    def registration(self, registration_id: str) -> dict[str, Any]:
        """A registration as it stands (a copy): its campaign, status and times."""
        return dict(self._entry(registration_id, "registration"))

    def check_confirmable(self, registration_id: str, occurred_at: datetime) -> None:
        registration = self._open(registration_id, "registration")
        self.check_not_before(
            registration["occurred_at"], occurred_at, f"the confirmation of {registration_id}"
        )

    class RegistrationConfirmed(LedgerAggregate.Event):
        registration_id: str
        note: str | None
        occurred_at: datetime
        actor: str

    @event(RegistrationConfirmed)
    def confirm_registration(
        self, registration_id: str, note: str | None, occurred_at: datetime, actor: str
    ) -> None:
        self._close_entry(registration_id, "registration", CONFIRMED, occurred_at, "confirmation")

    def check_declinable(self, registration_id: str, occurred_at: datetime) -> None:
        """Open or confirmed, with no attendance known yet: a confirmed registration declined
        is a cancellation, and frees its seat."""
        registration = self._entry(registration_id, "registration")
        if registration["status"] not in (OPEN, CONFIRMED) or "attended" in registration:
            raise EntryClosed(
                f"registration {registration_id} is "
                f"{'attended' if registration.get('attended') else registration['status']}"
                "; it can no longer be declined"
            )
        self.check_not_before(
            registration.get("closed_at") or registration["occurred_at"],
            occurred_at,
            f"the decline of {registration_id}",
        )

    class RegistrationDeclined(LedgerAggregate.Event):
        registration_id: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(RegistrationDeclined)
    def decline_registration(
        self, registration_id: str, reason: str, occurred_at: datetime, actor: str
    ) -> None:
        self.check_declinable(registration_id, occurred_at)
        registration = self.entries[registration_id]
        registration["status"] = DECLINED
        registration["closed_at"] = occurred_at

    class AttendanceRecorded(LedgerAggregate.Event):
        registration_id: str
        attended: bool
        occurred_at: datetime
        actor: str

    @event(AttendanceRecorded)
    def record_attendance(
        self, registration_id: str, attended: bool, occurred_at: datetime, actor: str
    ) -> None:
        registration = self._entry(registration_id, "registration")
        if registration["status"] != CONFIRMED:
            raise RegistrationNotConfirmed(
                f"registration {registration_id} is {registration['status']}, not confirmed: "
                "attendance is recorded for confirmed registrations"
            )
        if "attended" in registration:
            raise AttendanceKnown(
                f"the attendance of registration {registration_id} was recorded already "
                f"({'attended' if registration['attended'] else 'no-show'})"
            )
        self.check_not_before(
            registration["closed_at"], occurred_at, f"the attendance of {registration_id}"
        )
        registration["attended"] = attended

    # -- quotes --------------------------------------------------------------------------------

    class QuoteIssued(LedgerAggregate.Event):
        quote_id: str
        rep: str
        product: str
        quantity: Decimal
        unit_price: Decimal
        currency: str
        discount: Decimal
        valid_until: datetime
        occurred_at: datetime
        actor: str

    @event(QuoteIssued)
    def issue_quote(
        self,
        quote_id: str,
        rep: str,
        product: str,
        quantity: Decimal,
        unit_price: Decimal,
        currency: str,
        discount: Decimal,
        valid_until: datetime,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_due_not_before(valid_until, occurred_at, "valid_until")
        self._open_entry(
            quote_id,
            "quote",
            occurred_at,
            status=OPEN,
            rep=rep,
            product=product,
            unit_price=unit_price,
            currency=currency,
            discount=discount,
            valid_until=valid_until,
        )

    class QuoteAccepted(LedgerAggregate.Event):
        quote_id: str
        note: str | None
        occurred_at: datetime
        actor: str

    @event(QuoteAccepted)
    def accept_quote(
        self, quote_id: str, note: str | None, occurred_at: datetime, actor: str
    ) -> None:
        quote = self._open(quote_id, "quote")
        if occurred_at > quote["valid_until"]:
            raise QuoteExpired(
                f"quote {quote_id} was valid until {quote['valid_until'].isoformat()}; it cannot "
                f"be accepted on {occurred_at.isoformat()}. Issue a new quote instead"
            )
        self._close_entry(quote_id, "quote", "accepted", occurred_at, "acceptance")

    class QuoteDeclined(LedgerAggregate.Event):
        quote_id: str
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(QuoteDeclined)
    def decline_quote(
        self, quote_id: str, reason: str | None, occurred_at: datetime, actor: str
    ) -> None:
        self._close_entry(quote_id, "quote", "declined", occurred_at, "decline")

    class QuoteExpired(LedgerAggregate.Event):
        quote_id: str
        occurred_at: datetime
        actor: str

    @event(QuoteExpired)
    def expire_quote(self, quote_id: str, occurred_at: datetime, actor: str) -> None:
        quote = self._open(quote_id, "quote")
        if occurred_at <= quote["valid_until"]:
            raise QuoteStillValid(
                f"quote {quote_id} is valid until {quote['valid_until'].isoformat()}; it cannot "
                f"expire on {occurred_at.isoformat()}"
            )
        self._close_entry(quote_id, "quote", "expired", occurred_at, "expiry")

    class QuoteWithdrawn(LedgerAggregate.Event):
        quote_id: str
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(QuoteWithdrawn)
    def withdraw_quote(
        self, quote_id: str, reason: str | None, occurred_at: datetime, actor: str
    ) -> None:
        self._close_entry(quote_id, "quote", "withdrawn", occurred_at, "withdrawal")

    # -- promises -----------------------------------------------------------------------------

    class PromiseMade(LedgerAggregate.Event):
        promise_id: str
        rep: str
        text: str
        category: str
        due_by: datetime
        quote_id: str | None
        complaint_id: str | None
        occurred_at: datetime
        actor: str

    @event(PromiseMade)
    def make_promise(
        self,
        promise_id: str,
        rep: str,
        text: str,
        category: str,
        due_by: datetime,
        quote_id: str | None,
        complaint_id: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_due_not_before(due_by, occurred_at, "due_by", DueBeforeMade)
        for linked, kind in ((quote_id, "quote"), (complaint_id, "complaint")):
            if linked is not None:
                self.check_linked(linked, kind)
        self._open_entry(promise_id, "promise", occurred_at, status=OPEN, rep=rep, due_by=due_by)

    class PromiseKept(LedgerAggregate.Event):
        promise_id: str
        note: str | None
        occurred_at: datetime
        actor: str

    @event(PromiseKept)
    def keep_promise(
        self, promise_id: str, note: str | None, occurred_at: datetime, actor: str
    ) -> None:
        self._close_entry(promise_id, "promise", "kept", occurred_at, "outcome")

    class PromiseBroken(LedgerAggregate.Event):
        promise_id: str
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(PromiseBroken)
    def break_promise(
        self, promise_id: str, reason: str | None, occurred_at: datetime, actor: str
    ) -> None:
        self._close_entry(promise_id, "promise", "broken", occurred_at, "outcome")

    class PromiseCancelled(LedgerAggregate.Event):
        promise_id: str
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(PromiseCancelled)
    def cancel_promise(
        self, promise_id: str, reason: str | None, occurred_at: datetime, actor: str
    ) -> None:
        self._close_entry(promise_id, "promise", "cancelled", occurred_at, "cancellation")

    class PromiseMarkedOverdue(LedgerAggregate.Event):
        promise_id: str
        occurred_at: datetime
        actor: str

    @event(PromiseMarkedOverdue)
    def mark_promise_overdue(self, promise_id: str, occurred_at: datetime, actor: str) -> None:
        promise = self._entry(promise_id, "promise")
        if promise["status"] != OPEN:
            raise EntryClosed(f"promise {promise_id} is {promise['status']}, not open")
        if occurred_at <= promise["due_by"]:
            raise PromiseNotDue(
                f"promise {promise_id} is due by {promise['due_by'].isoformat()}; it is not "
                f"overdue on {occurred_at.isoformat()}"
            )
        promise["status"] = OVERDUE

    class DeadlineMissed(LedgerAggregate.Event):
        entry_id: str
        deadline: datetime
        occurred_at: datetime
        actor: str

    @event(DeadlineMissed)
    def flag_missed_deadline(
        self, entry_id: str, deadline: datetime, occurred_at: datetime, actor: str
    ) -> None:
        """A request or complaint still open after its respond-by time: flagged once per
        deadline (a corrected deadline can be missed, and flagged, again)."""
        entry = self._entry(entry_id)
        if entry["kind"] not in ("request", "complaint"):
            raise UnknownEntry(f"customer {self.ref} has no request or complaint {entry_id}")
        if entry["status"] not in (OPEN, OVERDUE):
            raise EntryClosed(f"{entry['kind']} {entry_id} is {entry['status']}")
        if entry.get("respond_by") != deadline:
            raise DeadlineNotMissed(
                f"{entry['kind']} {entry_id} is due by "
                f"{entry.get('respond_by')}, not {deadline.isoformat()}"
            )
        if occurred_at <= deadline:
            raise DeadlineNotMissed(
                f"{entry['kind']} {entry_id} is due by "
                f"{deadline.isoformat()}; on {occurred_at.isoformat()} it "
                "is not late"
            )
        if entry.get("flagged") == deadline:
            raise DeadlineFlagged(
                f"{entry['kind']} {entry_id} was flagged for missing {deadline.isoformat()} already"
            )
        entry["flagged"] = deadline

    # -- marketing and consent --------------------------------------------------------------

    def touch_by_campaign(
        self,
        touch_id: str,
        campaign: str,
        channel: str,
        material: str | None,
        department: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self._campaign_touched(
            touch_id=touch_id,
            campaign=campaign,
            channel=channel,
            material=material,
            department=department,
            opted_out=not self.consents_to(channel, "marketing", occurred_at),
            occurred_at=occurred_at,
            actor=actor,
        )

    class CampaignTouched(LedgerAggregate.Event):
        touch_id: str
        campaign: str
        channel: str
        material: str | None
        department: str | None
        opted_out: bool
        occurred_at: datetime
        actor: str

    @event(CampaignTouched)
    def _campaign_touched(
        self,
        touch_id: str,
        campaign: str,
        channel: str,
        material: str | None,
        department: str | None,
        opted_out: bool,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self._open_entry(touch_id, "touch", occurred_at)

    class ConsentChanged(LedgerAggregate.Event):
        consent_id: str
        channel: str
        purpose: str
        granted: bool
        occurred_at: datetime
        actor: str

    @event(ConsentChanged)
    def change_consent(
        self,
        consent_id: str,
        channel: str,
        purpose: str,
        granted: bool,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self._open_entry(consent_id, "consent", occurred_at)
        self.consents.append(
            {
                "id": consent_id,
                "channel": channel,
                "purpose": purpose,
                "granted": granted,
                "at": occurred_at,
            }
        )
        self.consents.sort(key=lambda c: c["at"])

    def consents_to(self, channel: str, purpose: str, when: datetime) -> bool:
        """Consent in business time: the last change on or before ``when`` decides.

        With no change on record, consent is assumed.
        """
        granted = True
        for change in self.consents:
            if change["at"] > when:
                break
            if change["channel"] == channel and change["purpose"] == purpose:
                granted = change["granted"]
        return granted

    # -- complaints and satisfaction ----------------------------------------------------------

    class ComplaintFiled(LedgerAggregate.Event):
        complaint_id: str
        category: str
        severity: str
        description: str
        respond_by: datetime | None
        rep: str | None
        occurred_at: datetime
        actor: str

    @event(ComplaintFiled)
    def file_complaint(
        self,
        complaint_id: str,
        category: str,
        severity: str,
        description: str,
        respond_by: datetime | None,
        rep: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        if respond_by is not None:
            self.check_due_not_before(respond_by, occurred_at, "respond_by")
        self._open_entry(
            complaint_id, "complaint", occurred_at, status=OPEN, respond_by=respond_by, rep=rep
        )

    class ComplaintEscalated(LedgerAggregate.Event):
        complaint_id: str
        to: str
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(ComplaintEscalated)
    def escalate_complaint(
        self, complaint_id: str, to: str, reason: str | None, occurred_at: datetime, actor: str
    ) -> None:
        complaint = self._open(complaint_id, "complaint")
        self.check_not_before(complaint["occurred_at"], occurred_at, "escalation")
        complaint["escalated"] = True

    class ComplaintResolved(LedgerAggregate.Event):
        complaint_id: str
        resolution: str
        satisfied: bool | None
        occurred_at: datetime
        actor: str

    @event(ComplaintResolved)
    def resolve_complaint(
        self,
        complaint_id: str,
        resolution: str,
        satisfied: bool | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self._close_entry(complaint_id, "complaint", "resolved", occurred_at, "resolution")

    class ComplaintReopened(LedgerAggregate.Event):
        complaint_id: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(ComplaintReopened)
    def reopen_complaint(
        self, complaint_id: str, reason: str, occurred_at: datetime, actor: str
    ) -> None:
        complaint = self._entry(complaint_id, "complaint")
        if complaint["status"] != "resolved":
            raise EntryClosed(
                f"complaint {complaint_id} is {complaint['status']}; only a "
                "resolved complaint can be reopened"
            )
        self.check_not_before(complaint["closed_at"], occurred_at, "reopening")
        complaint["status"] = OPEN

    class SatisfactionRecorded(LedgerAggregate.Event):
        survey_id: str
        items: dict[str, str]
        product: str | None
        rep: str | None
        occurred_at: datetime
        actor: str

    @event(SatisfactionRecorded)
    def record_satisfaction(
        self,
        survey_id: str,
        items: dict[str, str],
        product: str | None,
        rep: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self._open_entry(survey_id, "satisfaction", occurred_at)

    # -- purchases and churn ---------------------------------------------------------------

    class PurchaseRecorded(LedgerAggregate.Event):
        order_id: str
        amount: Decimal
        currency: str
        cost: Decimal | None
        rep: str | None
        product: str | None
        quantity: Decimal | None
        quote_id: str | None
        occurred_at: datetime
        actor: str

    @event(PurchaseRecorded)
    def record_purchase(
        self,
        order_id: str,
        amount: Decimal,
        currency: str,
        cost: Decimal | None,
        rep: str | None,
        product: str | None,
        quantity: Decimal | None,
        quote_id: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        if quote_id is not None:
            self.check_linked(quote_id, "quote")
        self._open_entry(order_id, "purchase", occurred_at)
        self._active(occurred_at)
        self.lapsed_at = None

    class PurchaseRefunded(LedgerAggregate.Event):
        refund_id: str
        order_id: str | None
        amount: Decimal
        currency: str
        quantity: Decimal | None
        rep: str | None
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(PurchaseRefunded)
    def record_refund(
        self,
        refund_id: str,
        order_id: str | None,
        amount: Decimal,
        currency: str,
        quantity: Decimal | None,
        rep: str | None,
        reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """Money given back, for a return or a complaint; of the purchase ``order_id`` when
        it is known which. Not a purchase: the customer did not buy again."""
        if order_id is not None:
            self.check_linked(order_id, "purchase")
            bought = (self.entry_times or {}).get(order_id)
            if bought is not None:
                self.check_not_before(bought, occurred_at, f"the refund of purchase {order_id}")
        self._open_entry(refund_id, "refund", occurred_at)

    class Churned(LedgerAggregate.Event):
        churn_id: str
        defection_type: str
        competitor: str | None
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(Churned)
    def churn(
        self,
        churn_id: str,
        defection_type: str,
        competitor: str | None,
        reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        if self.churned_at is not None:
            raise AlreadyChurned(
                f"customer {self.ref} churned on {self.churned_at.isoformat()} "
                "and has not been won back"
            )
        if self.won_back_at is not None:
            self.check_not_before(self.won_back_at, occurred_at, "churn")
        self._open_entry(churn_id, "churn", occurred_at)
        self.churned_at = occurred_at

    class WonBack(LedgerAggregate.Event):
        rep: str | None
        reason: str | None
        occurred_at: datetime
        actor: str

    @event(WonBack)
    def win_back(
        self, rep: str | None, reason: str | None, occurred_at: datetime, actor: str
    ) -> None:
        if self.churned_at is None:
            raise NotChurned(f"customer {self.ref} has not churned; there is nothing to win back")
        self.check_not_before(self.churned_at, occurred_at, "win-back")
        self.churned_at = None
        self.won_back_at = occurred_at

    class Lapsed(LedgerAggregate.Event):
        days: int
        last_activity_at: datetime | None
        occurred_at: datetime
        actor: str

    @event(Lapsed)
    def lapse(
        self, days: int, last_activity_at: datetime | None, occurred_at: datetime, actor: str
    ) -> None:
        """No purchase and no contact for ``days``: the customer has lapsed (until they buy)."""
        if self.churned_at is not None:
            raise NotLapsing(f"customer {self.ref} churned on {self.churned_at.isoformat()}")
        if self.lapsed_at is not None:
            raise NotLapsing(
                f"customer {self.ref} lapsed on {self.lapsed_at.isoformat()} and "
                "has not bought since"
            )
        since = self.last_activity_at or self.registered_at
        if (occurred_at - since).days < days:
            raise NotLapsing(
                f"customer {self.ref} was last active on {since.isoformat()}, "
                f"less than {days} days before {occurred_at.isoformat()}"
            )
        self.lapsed_at = occurred_at

    # -- corrections, retractions, erasure -----------------------------------------------------

    class EntryCorrected(LedgerAggregate.Event):
        entry_id: str
        fields: dict[str, Any]
        reason: str
        occurred_at: datetime
        actor: str

    @event(EntryCorrected)
    def correct_entry(
        self, entry_id: str, fields: dict[str, Any], reason: str, occurred_at: datetime, actor: str
    ) -> None:
        entry = self._entry(entry_id)
        allowed = CORRECTABLE[entry["kind"]]
        refused = sorted(set(fields) - allowed)
        if refused:
            raise EntryNotCorrectable(
                f"a {entry['kind']} entry cannot have {', '.join(refused)} corrected; "
                f"correctable fields are {', '.join(sorted(allowed))}"
            )
        if entry["kind"] in STATEFUL:
            merged = {**entry, **{k: v for k, v in fields.items() if k in _TRACKED_FIELDS}}
            for due in ("respond_by", "valid_until", "due_by"):
                if merged.get(due) is not None:
                    self.check_due_not_before(merged[due], merged["occurred_at"], due)
            entry.update(merged)
        if (
            "occurred_at" in fields
            and self.entry_times is not None
            and entry_id in self.entry_times
        ):
            self.entry_times[entry_id] = fields["occurred_at"]
        if entry["kind"] == "consent" and "occurred_at" in fields:
            for change in self.consents:
                if change["id"] == entry_id:
                    change["at"] = fields["occurred_at"]
            self.consents.sort(key=lambda c: c["at"])

    class EntryRetracted(LedgerAggregate.Event):
        entry_id: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(EntryRetracted)
    def retract_entry(self, entry_id: str, reason: str, occurred_at: datetime, actor: str) -> None:
        entry = self._entry(entry_id)
        if entry["kind"] not in RETRACTABLE:
            raise EntryNotRetractable(
                f"a {entry['kind']} entry cannot be retracted; record a new one that supersedes it"
            )
        self.retracted[entry_id] = occurred_at.isoformat()  # (the reason is the event's)

    class PersonalDataErased(LedgerAggregate.Event):
        reason: str
        occurred_at: datetime
        actor: str

    @event(PersonalDataErased)
    def erase_personal_data(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.check_not_erased()
        self.profile = dict.fromkeys(self.profile)
        self.erased = True

    # -- two records of one customer ------------------------------------------------------------

    def absorb(self, other: Customer, reason: str, occurred_at: datetime, actor: str) -> None:
        """Merge ``other``, a second record of this customer, into this one (the survivor):
        recorded on both. Nothing of either is rewritten; reads, views and reports take the
        two as one customer until ``release``."""
        self.check_may_absorb(other)
        other._merged_into(survivor=self.ref, reason=reason, occurred_at=occurred_at, actor=actor)
        self._merged(
            merged=other.ref,
            entries=dict(other.kinds),
            reason=reason,
            occurred_at=occurred_at,
            actor=actor,
        )

    def check_may_absorb(self, other: Customer) -> None:
        if other.ref == self.ref:
            raise MergeIntoItself(
                f"customer {self.ref} cannot be merged into itself; name two records",
                where="merged",
            )
        for record in (self, other):
            if record.erased:
                raise MergeWithForgotten(
                    f"customer {record.ref} was forgotten (personal data erased): a forgotten "
                    "record cannot be merged, nor another merged into it",
                    where="merged" if record is other else "customer",
                )
        if other.merged_into is not None:
            raise AlreadyMerged(
                f"customer {other.ref} was merged into {other.merged_into} already; unmerge it "
                "first to merge it elsewhere",
                where="merged",
            )
        if self.merged_into is not None:
            raise AlreadyMerged(
                f"customer {self.ref} was merged into {self.merged_into}: merge into "
                f"{self.merged_into} instead",
                where="customer",
            )
        if other.merged_records:
            raise MergedHasRecords(
                f"customer {other.ref} has {', '.join(other.merged_records)} merged into it: "
                f"merge {self.ref} into {other.ref} instead, or unmerge those first",
                where="merged",
            )
        shared = sorted((self.kinds.keys() | (self.foreign or {}).keys()) & other.kinds.keys())
        if shared:
            raise EntryIdsShared(
                f"customers {self.ref} and {other.ref} both have entries with the ids "
                f"{', '.join(shared[:5])}{' ...' if len(shared) > 5 else ''}: merged, one id "
                "would name two entries. Retract or correct one record's entries first",
                where="merged",
            )

    class MergedInto(LedgerAggregate.Event):
        survivor: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(MergedInto)
    def _merged_into(self, survivor: str, reason: str, occurred_at: datetime, actor: str) -> None:
        self.merged_into = survivor

    class Merged(LedgerAggregate.Event):
        merged: str
        entries: dict[str, str]
        reason: str
        occurred_at: datetime
        actor: str

    @event(Merged)
    def _merged(
        self, merged: str, entries: dict[str, str], reason: str, occurred_at: datetime, actor: str
    ) -> None:
        self.merged_records = (*self.merged_records, merged)
        foreign = dict(self.foreign or {})
        foreign.update((entry_id, (merged, kind)) for entry_id, kind in entries.items())
        self.foreign = foreign

    def release(self, other: Customer, reason: str, occurred_at: datetime, actor: str) -> None:
        """Unmerge ``other``: it is its own customer again, with its own history; what was
        recorded on this survivor after the merge stays with the survivor."""
        other.check_merged()
        for record in (self, other):
            if record.erased:
                raise MergeWithForgotten(
                    f"customer {record.ref} was forgotten (personal data erased): its records "
                    "stay as they are",
                    where="customer",
                )
        if other.merged_into != self.ref:
            raise NotMerged(
                f"customer {other.ref} was merged into {other.merged_into}, not {self.ref}",
                where="customer",
            )
        other._unmerged_from(survivor=self.ref, reason=reason, occurred_at=occurred_at, actor=actor)
        self._unmerged(merged=other.ref, reason=reason, occurred_at=occurred_at, actor=actor)

    def check_merged(self) -> None:
        if self.merged_into is None:
            raise NotMerged(
                f"customer {self.ref} is not merged into another record; there is nothing to "
                "unmerge",
                where="customer",
            )

    class UnmergedFrom(LedgerAggregate.Event):
        survivor: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(UnmergedFrom)
    def _unmerged_from(self, survivor: str, reason: str, occurred_at: datetime, actor: str) -> None:
        self.merged_into = None

    class Unmerged(LedgerAggregate.Event):
        merged: str
        reason: str
        occurred_at: datetime
        actor: str

    @event(Unmerged)
    def _unmerged(self, merged: str, reason: str, occurred_at: datetime, actor: str) -> None:
        self.merged_records = tuple(ref for ref in self.merged_records if ref != merged)
        self.foreign = {
            entry_id: held for entry_id, held in (self.foreign or {}).items() if held[0] != merged
        } or None

    def holding(self, entry_id: str) -> str:
        """The record that holds an entry: this one, or a record merged into it."""
        held = (self.foreign or {}).get(entry_id)
        return self.ref if held is None else held[0]

    # -- queries used by handlers and views ------------------------------------------------

    def entry_kind(self, entry_id: str) -> str:
        return str(self._entry(entry_id)["kind"])

    def entry(self, entry_id: str) -> dict[str, Any]:
        return dict(self._entry(entry_id))

    def open_entries(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            entry_id: dict(entry)
            for entry_id, entry in self.entries.items()
            if entry["kind"] == kind
            and entry["status"] in (OPEN, OVERDUE)
            and entry_id not in self.retracted
        }

    # -- guards --------------------------------------------------------------------------

    def check_not_erased(self) -> None:
        if self.erased:
            raise CustomerErased(f"customer {self.ref}'s personal data was erased")

    def check_amends_in_time(self, entry_id: str, occurred_at: datetime, what: str) -> None:
        """A correction or retraction amends its entry as of the entry's own time: it cannot
        be dated before the entry happened. (Checked when commanded, not when an amendment
        recorded before this rule is read back.)"""
        at = (self.entry_times or {}).get(entry_id)
        if at is not None and occurred_at < at:
            raise CorrectionBeforeEntry(
                f"the {what} of {self._entry(entry_id)['kind']} {entry_id} is dated "
                f"{occurred_at.isoformat()}, before the entry itself ({at.isoformat()}): an "
                "amendment applies from its entry's time and cannot be dated earlier"
            )

    def check_linked(self, entry_id: str, kind: str) -> None:
        held = (self.foreign or {}).get(entry_id)
        if self.kinds.get(entry_id, held[1] if held else None) != kind:
            raise LinkedEntryMissing(f"customer {self.ref} has no {kind} {entry_id}")

    @staticmethod
    def check_due_not_before(
        due: datetime, occurred_at: datetime, field: str, error: type[Exception] | None = None
    ) -> None:
        if due < occurred_at:
            raise (error or DueBeforeMade)(
                f"{field} {due.isoformat()} is before the entry itself ({occurred_at.isoformat()})"
            )

    def _entry(self, entry_id: str, kind: str | None = None) -> dict[str, Any]:
        found = self.kinds.get(entry_id)
        if found is None or (kind is not None and found != kind):
            raise UnknownEntry(f"customer {self.ref} has no {kind or 'entry'} {entry_id}")
        if entry_id in self.retracted:
            raise EntryRetracted(f"{found} {entry_id} was retracted")
        return self.entries.get(entry_id) or {"kind": found}

    def _open(self, entry_id: str, kind: str) -> dict[str, Any]:
        entry = self._entry(entry_id, kind)
        if entry["status"] not in (OPEN, OVERDUE):
            raise EntryClosed(f"{kind} {entry_id} is already {entry['status']}")
        return entry

    def _open_entry(self, entry_id: str, kind: str, occurred_at: datetime, **state: Any) -> None:
        if entry_id in self.kinds:
            raise EntryIdTaken(
                f"customer {self.ref} already has an entry {entry_id} "
                f"(a {self.kinds[entry_id]}); use a new id"
            )
        held = (self.foreign or {}).get(entry_id)
        if held is not None:
            raise EntryIdTaken(
                f"customer {self.ref} already has an entry {entry_id} (a {held[1]} of "
                f"{held[0]}, merged into it); use a new id"
            )
        self.kinds[entry_id] = kind
        if self.entry_times is None:
            self.entry_times = {}
        self.entry_times[entry_id] = occurred_at
        if kind in STATEFUL:
            self.entries[entry_id] = {"kind": kind, "occurred_at": occurred_at, **state}

    def _close_entry(
        self, entry_id: str, kind: str, status: str, occurred_at: datetime, what: str
    ) -> None:
        entry = self._open(entry_id, kind)
        self.check_not_before(entry["occurred_at"], occurred_at, f"the {what} of {kind} {entry_id}")
        entry["status"] = status
        entry["closed_at"] = occurred_at
