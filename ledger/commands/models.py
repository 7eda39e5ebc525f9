"""One pydantic model per command. A command's JSON form is ``{"type": "<name>", ...fields}``.

Commands are imperative and say what a user wants done; the aggregates decide whether it
may be done. Validation here is about the shape of the input: limits, enums, money,
timezone-aware times, deadlines not before the entry.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ledger.commands.fields import (
    NESTED_TOO_DEEP,
    Amount,
    Channel,
    CommandId,
    ComplaintCategory,
    Corrected,
    Cost,
    Currency,
    CustomerKind,
    DefectionType,
    Direction,
    Email,
    EntryId,
    EventKind,
    Fraction,
    Instant,
    Level,
    Money,
    Name,
    Phone,
    PromiseCategory,
    Purpose,
    Quantity,
    Ref,
    RequestKind,
    Severity,
    Short,
    Text,
    too_deep,
)
from ledger.encoding import compact
from ledger.errors import CommandInvalid


class Command(BaseModel):
    """Fields every command may carry."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    target: ClassVar[Literal["customer", "rep", "campaign"]] = "customer"

    command_id: CommandId | None = Field(
        None,
        description="Makes the command idempotent: running it again returns the first "
        "result and writes nothing.",
    )
    expected_version: int | None = Field(
        None, ge=0, description="Refuse the command unless the target is at this version."
    )
    occurred_at: Instant | None = Field(
        None, description="When it happened in the world (defaults to now)."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """Refuse a NUL character in any text: PostgreSQL cannot store one (SQLite would),
        so a command that one store takes would fail on the other, after validation. Refuse
        first a value nested too deep to be any command's (or to be walked safely)."""
        if isinstance(data, dict):
            for name, value in data.items():
                if type(value) is str and "\x00" not in value:
                    continue
                deep = too_deep(value)
                if deep is not None:
                    raise _refusal(cls, "nested_too_deep", NESTED_TOO_DEEP, (name, *deep), value)
                if _holds_nul(name) or _holds_nul(value):
                    raise _refusal(
                        cls,
                        "nul_character",
                        "text cannot hold a NUL character (\\u0000)",
                        (name,),
                        value,
                    )
        return data

    def target_ref(self) -> str:
        return str(getattr(self, self.target))

    # Keyed hashes of the command, by key (``Ledger.fingerprint``): not a field.
    _fingerprints: dict[bytes, str] = PrivateAttr(default_factory=dict)

    @property
    def fingerprints(self) -> dict[bytes, str]:
        return self._fingerprints

    def __eq__(self, other: object) -> bool:
        """Equal commands say the same (a fingerprint known of one does not count)."""
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = BaseModel.__hash__

    def canonical(self) -> str:
        """The command as one text, the same for equal commands (``Ledger.fingerprint``)."""
        body = self.model_dump(mode="json", exclude={"command_id"}, exclude_none=True)
        return compact(body, sort_keys=True)


def _refusal(
    model: type, kind: str, message: str, loc: tuple[Any, ...], value: Any
) -> ValidationError:
    return ValidationError.from_exception_data(
        model.__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError(kind, message),
                loc=tuple(str(part) for part in loc),
                input=value,
            )
        ],
    )


def _holds_nul(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return "\x00" in value
    if kind is dict:
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return any(map(_holds_nul, value))
    return False


def _check_due(due_field: str) -> Any:
    def check(self: Any) -> Any:
        due = getattr(self, due_field)
        if due is not None and self.occurred_at is not None and due < self.occurred_at:
            raise ValueError(
                f"{due_field} ({due.isoformat()}) is before occurred_at "
                f"({self.occurred_at.isoformat()})"
            )
        return self

    return model_validator(mode="after")(check)


# -- customers -------------------------------------------------------------------------------


class RegisterCustomer(Command):
    type: Literal["register_customer"] = "register_customer"
    ref: Ref = Field(description="The customer's reference in your systems, e.g. CUST-00042.")
    name: Name
    kind: CustomerKind = CustomerKind.person
    email: Email | None = None
    phone: Phone | None = None
    address: Text | None = None
    company: Name | None = None
    segment: Short | None = None
    locale: Short | None = None
    owner: Ref | None = Field(None, description="Rep who owns the relationship.")
    title: Short | None = Field(None, description="Their job title, e.g. 采购经理.")
    source: Short | None = Field(
        None,
        description="Where the record came from: a list, a fair's business cards "
        '("trade show 2025"). Not personal data: kept unsealed, shown to whoever sees '
        "the customer.",
    )

    def target_ref(self) -> str:
        return self.ref


class UpdateProfile(Command):
    type: Literal["update_profile"] = "update_profile"
    customer: Ref
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    address: Text | None = None
    company: Name | None = None
    segment: Short | None = None
    locale: Short | None = None
    title: Short | None = None

    PROFILE_FIELDS: ClassVar[tuple[str, ...]] = (
        "name",
        "email",
        "phone",
        "address",
        "company",
        "segment",
        "locale",
        "title",
    )

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.changes():
            raise ValueError(
                f"give at least one of {', '.join(self.PROFILE_FIELDS)} (null clears a field)"
            )
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be cleared")
        return self

    def changes(self) -> dict[str, str | None]:
        return {f: getattr(self, f) for f in self.PROFILE_FIELDS if f in self.model_fields_set}


class AssignOwner(Command):
    type: Literal["assign_owner"] = "assign_owner"
    customer: Ref
    rep: Ref = Field(description="The new owner.")
    reason: Text
    open_items: Literal["move", "keep"] | None = Field(
        None,
        description="The previous owner's open items: move them to the new owner, or "
        "keep them where they are. Default: move them if the previous owner has departed.",
    )


class MoveResponsibility(Command):
    """Hand a customer's open work to another rep: the items named, or every open item
    ``from_rep`` is responsible for. Who made each item never changes ("what did REP-A
    promise" stays REP-A's); who is responsible for it now does."""

    type: Literal["move_responsibility"] = "move_responsibility"
    customer: Ref
    to_rep: Ref = Field(description="The rep responsible from now on.")
    from_rep: Ref | None = Field(
        None,
        description="Move every open item this rep is "
        "responsible for (when no entry_ids are named).",
    )
    entry_ids: list[EntryId] | None = Field(
        None, min_length=1, max_length=1000, description="The open items to move."
    )
    reason: Text


class AddTeamMember(Command):
    """Give a rep of the manager's team the customer to work on, beside its owner: they may
    then read and write it, until removed."""

    type: Literal["add_team_member"] = "add_team_member"
    customer: Ref
    rep: Ref = Field(description="The rep who joins the customer's team.")
    reason: Text


class RemoveTeamMember(Command):
    """Take a rep off the customer's team: they no longer reach the customer through it."""

    type: Literal["remove_team_member"] = "remove_team_member"
    customer: Ref
    rep: Ref
    reason: Text


class LogContact(Command):
    type: Literal["log_contact"] = "log_contact"
    customer: Ref
    rep: Ref
    channel: Channel
    direction: Direction
    subject: Short
    summary: Text | None = None
    contact_id: EntryId | None = None


class ReceiveRequest(Command):
    type: Literal["receive_request"] = "receive_request"
    customer: Ref
    kind: RequestKind
    channel: Channel
    respond_by: Instant
    summary: Text | None = None
    rep: Ref | None = Field(None, description="Rep who should answer.")
    request_id: EntryId | None = None

    _due = _check_due("respond_by")


class AnswerRequest(Command):
    type: Literal["answer_request"] = "answer_request"
    customer: Ref
    request_id: EntryId
    rep: Ref
    channel: Channel
    summary: Text | None = None


class RegisterForEvent(Command):
    """Register the customer for an event (a campaign launched as one): open until it is
    confirmed or declined, and in the service inbox once ``respond_by`` passes unanswered."""

    type: Literal["register_for_event"] = "register_for_event"
    customer: Ref
    campaign: Ref = Field(description="The event: a campaign launched with a kind and a date.")
    channel: Channel = Field(Channel.web, description="How the registration came in.")
    respond_by: Instant = Field(description="Confirm or decline it by then.")
    note: Text | None = None
    rep: Ref | None = Field(
        None, description="Rep who answers it (defaults to the customer's owner)."
    )
    registration_id: EntryId | None = None

    _due = _check_due("respond_by")


class ConfirmRegistration(Command):
    """Confirm a registration: it takes one of the event's seats (refused when the event is
    full; the registration then stays open, waiting for a seat)."""

    type: Literal["confirm_registration"] = "confirm_registration"
    customer: Ref
    registration_id: EntryId
    note: Text | None = None


class DeclineRegistration(Command):
    """Decline a registration, saying why; a confirmed one declined is cancelled, and frees
    its seat."""

    type: Literal["decline_registration"] = "decline_registration"
    customer: Ref
    registration_id: EntryId
    reason: Text


class RecordAttendance(Command):
    """Whether the customer of a confirmed registration came to the event (attended) or did
    not (a no-show); recorded once, once the event has begun."""

    type: Literal["record_attendance"] = "record_attendance"
    customer: Ref
    registration_id: EntryId
    attended: bool


class IssueQuote(Command):
    type: Literal["issue_quote"] = "issue_quote"
    customer: Ref
    rep: Ref
    product: Short
    quantity: Quantity = Decimal(1)
    unit_price: Money
    currency: Currency
    discount: Fraction = Decimal(0)
    valid_until: Instant
    quote_id: EntryId | None = None

    _due = _check_due("valid_until")


class AcceptQuote(Command):
    type: Literal["accept_quote"] = "accept_quote"
    customer: Ref
    quote_id: EntryId
    note: Text | None = None


class DeclineQuote(Command):
    type: Literal["decline_quote"] = "decline_quote"
    customer: Ref
    quote_id: EntryId
    reason: Text | None = None


class ExpireQuote(Command):
    type: Literal["expire_quote"] = "expire_quote"
    customer: Ref
    quote_id: EntryId


class WithdrawQuote(Command):
    type: Literal["withdraw_quote"] = "withdraw_quote"
    customer: Ref
    quote_id: EntryId
    reason: Text | None = None


class MakePromise(Command):
    type: Literal["make_promise"] = "make_promise"
    customer: Ref
    rep: Ref
    text: Text
    category: PromiseCategory = PromiseCategory.other
    due_by: Instant
    quote_id: EntryId | None = None
    complaint_id: EntryId | None = None
    promise_id: EntryId | None = None

    _due = _check_due("due_by")


class KeepPromise(Command):
    type: Literal["keep_promise"] = "keep_promise"
    customer: Ref
    promise_id: EntryId
    note: Text | None = None


class BreakPromise(Command):
    type: Literal["break_promise"] = "break_promise"
    customer: Ref
    promise_id: EntryId
    reason: Text | None = None


class CancelPromise(Command):
    type: Literal["cancel_promise"] = "cancel_promise"
    customer: Ref
    promise_id: EntryId
    reason: Text | None = None


class MarkPromiseOverdue(Command):
    type: Literal["mark_promise_overdue"] = "mark_promise_overdue"
    customer: Ref
    promise_id: EntryId


class FlagMissedDeadline(Command):
    """A request or complaint still open past its respond-by time (the scheduler's job)."""

    type: Literal["flag_missed_deadline"] = "flag_missed_deadline"
    customer: Ref
    entry_id: EntryId
    deadline: Instant = Field(description="The respond-by time that was missed.")


class MarkLapsed(Command):
    """No purchase and no contact for ``days`` (the scheduler's job); a purchase ends it."""

    type: Literal["mark_lapsed"] = "mark_lapsed"
    customer: Ref
    days: int = Field(ge=1, le=36500)


class ErasePersonalData(Command):
    """Forget a customer's personal data (the right to erasure): recorded, with a reason; the
    key that sealed their personal fields is destroyed (``ledger forget``)."""

    type: Literal["erase_personal_data"] = "erase_personal_data"
    customer: Ref
    reason: Text


class MergeCustomers(Command):
    """Merge two records of one customer: ``merged`` then reads as the survivor
    (``customer``), and the views and reports count both records' history once, as one
    customer's. Recorded on both records; nothing is rewritten, and an unmerge restores both.
    Into a record that was itself merged: into that record's survivor."""

    type: Literal["merge_customers"] = "merge_customers"
    customer: Ref = Field(description="The survivor: the record that remains.")
    merged: Ref = Field(description="The record merged into the survivor.")
    reason: Text


class UnmergeCustomers(Command):
    """Undo a merge: the merged record (``customer``) is its own customer again, with its own
    history; what was recorded on the survivor after the merge stays the survivor's."""

    type: Literal["unmerge_customers"] = "unmerge_customers"
    customer: Ref = Field(description="The record that was merged into another.")
    reason: Text


class TouchCampaign(Command):
    type: Literal["touch_campaign"] = "touch_campaign"
    customer: Ref
    campaign: Ref
    channel: Channel | None = Field(None, description="Defaults to the campaign's channel.")
    material: Short | None = Field(None, description="Defaults to the campaign's material.")
    department: Short | None = Field(None, description="Defaults to the campaign's department.")
    touch_id: EntryId | None = None


class ChangeConsent(Command):
    type: Literal["change_consent"] = "change_consent"
    customer: Ref
    channel: Channel
    purpose: Purpose = Purpose.marketing
    granted: bool
    consent_id: EntryId | None = None


class FileComplaint(Command):
    type: Literal["file_complaint"] = "file_complaint"
    customer: Ref
    category: ComplaintCategory
    severity: Severity
    description: Text
    respond_by: Instant | None = None
    rep: Ref | None = Field(None, description="Rep responsible for handling it.")
    complaint_id: EntryId | None = None

    _due = _check_due("respond_by")


class EscalateComplaint(Command):
    type: Literal["escalate_complaint"] = "escalate_complaint"
    customer: Ref
    complaint_id: EntryId
    to: Short = Field(description="Who takes it over: a person, team or rep reference.")
    reason: Text | None = None


class ResolveComplaint(Command):
    type: Literal["resolve_complaint"] = "resolve_complaint"
    customer: Ref
    complaint_id: EntryId
    resolution: Text
    satisfied: bool | None = None


class ReopenComplaint(Command):
    type: Literal["reopen_complaint"] = "reopen_complaint"
    customer: Ref
    complaint_id: EntryId
    reason: Text


SurveyItems = Annotated[dict[Short, Level], Field(min_length=1, max_length=50)]


class RecordSatisfaction(Command):
    type: Literal["record_satisfaction"] = "record_satisfaction"
    customer: Ref
    items: SurveyItems = Field(description="Survey item -> level on the 7-level scale.")
    product: Short | None = None
    rep: Ref | None = None
    survey_id: EntryId | None = None


class RecordPurchase(Command):
    type: Literal["record_purchase"] = "record_purchase"
    customer: Ref
    order_id: EntryId
    amount: Amount
    currency: Currency
    cost: Cost | None = None
    rep: Ref | None = None
    product: Short | None = None
    quantity: Quantity | None = None
    quote_id: EntryId | None = None


class RecordRefund(Command):
    """Money given back to the customer (a return, a complaint settled), linked to the
    purchase when ``order_id`` says which; the value reports net it, purchase counts leave it
    out."""

    type: Literal["record_refund"] = "record_refund"
    customer: Ref
    amount: Amount = Field(description="What was given back, a positive amount.")
    currency: Currency
    order_id: EntryId | None = None
    quantity: Quantity | None = None
    rep: Ref | None = None
    reason: Text | None = None
    refund_id: EntryId | None = None


class RecordChurn(Command):
    type: Literal["record_churn"] = "record_churn"
    customer: Ref
    defection_type: DefectionType
    competitor: Short | None = None
    reason: Text | None = None
    churn_id: EntryId | None = None


class RecordWinBack(Command):
    type: Literal["record_win_back"] = "record_win_back"
    customer: Ref
    rep: Ref | None = None
    reason: Text | None = None


class CorrectEntry(Command):
    type: Literal["correct_entry"] = "correct_entry"
    customer: Ref
    entry_id: EntryId
    fields: dict[Short, Corrected] = Field(min_length=1, description="Field -> corrected value.")
    reason: Text


class RetractEntry(Command):
    type: Literal["retract_entry"] = "retract_entry"
    customer: Ref
    entry_id: EntryId
    reason: Text


# -- reps --------------------------------------------------------------------------------------


class HireRep(Command):
    type: Literal["hire_rep"] = "hire_rep"
    target: ClassVar[Literal["customer", "rep", "campaign"]] = "rep"
    ref: Ref = Field(description="The rep's reference, e.g. REP-7.")
    name: Name
    team: Short
    manager: Ref | None = Field(None, description="The rep who manages this one.")
    email: Email | None = None

    def target_ref(self) -> str:
        return self.ref


class MoveRep(Command):
    type: Literal["move_rep"] = "move_rep"
    target: ClassVar[Literal["customer", "rep", "campaign"]] = "rep"
    rep: Ref
    team: Short
    manager: Ref | None = None
    reason: Text | None = None


class DepartRep(Command):
    type: Literal["depart_rep"] = "depart_rep"
    target: ClassVar[Literal["customer", "rep", "campaign"]] = "rep"
    rep: Ref
    reason: Text


# -- campaigns -------------------------------------------------------------------------------


class LaunchCampaign(Command):
    type: Literal["launch_campaign"] = "launch_campaign"
    target: ClassVar[Literal["customer", "rep", "campaign"]] = "campaign"
    ref: Ref = Field(description="The campaign's reference, e.g. CMP-2025-EXPO.")
    name: Name
    channel: Channel
    budget: Money
    currency: Currency
    starts_at: Instant
    ends_at: Instant
    material: Short | None = None
    department: Short | None = None
    kind: EventKind | None = Field(
        None, description="For an event: seminar, trade_show or training (needs event_at)."
    )
    event_at: Instant | None = Field(None, description="When the event takes place.")
    capacity: int | None = Field(
        None, ge=1, le=1_000_000, description="The most registrations confirmed (no limit if none)."
    )

    @model_validator(mode="after")
    def _period(self) -> Self:
        if self.ends_at < self.starts_at:
            raise ValueError(
                f"ends_at ({self.ends_at.isoformat()}) is before starts_at "
                f"({self.starts_at.isoformat()})"
            )
        missing = "event_at" if self.event_at is None else "kind"
        if (self.kind is None) != (self.event_at is None):
            raise _refusal(
                type(self),
                "event_incomplete",
                "an event takes both kind (seminar, trade_show, training) and event_at "
                "(when it takes place); a campaign that is not an event takes neither",
                (missing,),
                None,
            )
        if self.capacity is not None and self.kind is None:
            raise _refusal(
                type(self),
                "event_incomplete",
                "capacity is for events: give kind and event_at too",
                ("capacity",),
                self.capacity,
            )
        return self

    def target_ref(self) -> str:
        return self.ref


class RecordCampaignCost(Command):
    type: Literal["record_campaign_cost"] = "record_campaign_cost"
    target: ClassVar[Literal["customer", "rep", "campaign"]] = "campaign"
    campaign: Ref
    amount: Money
    currency: Currency
    note: Text | None = None


class CloseCampaign(Command):
    type: Literal["close_campaign"] = "close_campaign"
    target: ClassVar[Literal["customer", "rep", "campaign"]] = "campaign"
    campaign: Ref
    reason: Text | None = None


AnyCommand = Annotated[
    RegisterCustomer
    | UpdateProfile
    | AssignOwner
    | MoveResponsibility
    | AddTeamMember
    | RemoveTeamMember
    | LogContact
    | ReceiveRequest
    | AnswerRequest
    | RegisterForEvent
    | ConfirmRegistration
    | DeclineRegistration
    | RecordAttendance
    | IssueQuote
    | AcceptQuote
    | DeclineQuote
    | ExpireQuote
    | WithdrawQuote
    | MakePromise
    | KeepPromise
    | BreakPromise
    | CancelPromise
    | MarkPromiseOverdue
    | FlagMissedDeadline
    | MarkLapsed
    | ErasePersonalData
    | MergeCustomers
    | UnmergeCustomers
    | TouchCampaign
    | ChangeConsent
    | FileComplaint
    | EscalateComplaint
    | ResolveComplaint
    | ReopenComplaint
    | RecordSatisfaction
    | RecordPurchase
    | RecordRefund
    | RecordChurn
    | RecordWinBack
    | CorrectEntry
    | RetractEntry
    | HireRep
    | MoveRep
    | DepartRep
    | LaunchCampaign
    | RecordCampaignCost
    | CloseCampaign,
    Field(discriminator="type"),
]

COMMANDS: dict[str, type[Command]] = {
    model.model_fields["type"].default: model for model in Command.__subclasses__()
}

_VALUES = ConfigDict(use_enum_values=True)

# Where the fields a correction may change were first given, per kind of entry.
_ENTRY_SOURCES: dict[str, type[Command]] = {
    "contact": LogContact,
    "request": ReceiveRequest,
    "quote": IssueQuote,
    "promise": MakePromise,
    "touch": TouchCampaign,
    "complaint": FileComplaint,
    "satisfaction": RecordSatisfaction,
    "purchase": RecordPurchase,
    "refund": RecordRefund,
    "consent": ChangeConsent,
    "churn": RecordChurn,
}


def validate_correction(
    kind: str, fields: dict[str, Any], allowed: frozenset[str], *, where: str = ""
) -> dict[str, Any]:
    """Corrected values, checked against the same limits as when the entry was first written."""
    refused = sorted(set(fields) - allowed)
    if refused:
        raise CommandInvalid(
            f"a {kind} entry cannot have {', '.join(refused)} corrected; correctable fields are "
            f"{', '.join(sorted(allowed))}",
            where=where,
            errors=[{"field": f"fields.{name}", "message": "not correctable"} for name in refused],
        )
    source = _ENTRY_SOURCES[kind].model_fields
    values: dict[str, Any] = {}
    for name, value in fields.items():
        info = source[name]
        if value is None and info.is_required():
            raise CommandInvalid(
                f"fields.{name}: cannot be cleared",
                where=f"{where}.{name}",
                errors=[{"field": f"fields.{name}", "message": "required"}],
            )
        annotation = Instant if name == "occurred_at" else info.rebuild_annotation()
        try:
            values[name] = TypeAdapter(annotation, config=_VALUES).validate_python(value)
        except ValidationError as exc:
            raise invalid(exc, where=f"{where}.{name}", loc=("fields", name)) from None
    return values


def parse_command(data: dict[str, Any] | str | bytes, *, where: str = "") -> Command:
    """A validated command from its JSON form; ``CommandInvalid`` says what and where."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise CommandInvalid(
                f"not valid JSON: {exc.msg} at column {exc.colno}", where=where
            ) from None
        except RecursionError:
            raise CommandInvalid(f"the JSON {NESTED_TOO_DEEP}", where=where) from None
        except ValueError:  # Python reads no integer of more than 4,300 digits
            raise CommandInvalid(
                "not valid JSON: it holds a number too long to read (over 4,300 digits)",
                where=where,
            ) from None
    if not isinstance(data, dict):
        raise CommandInvalid('a command is a JSON object with a "type" field', where=where)
    kind = data.get("type")
    if kind not in COMMANDS:
        known = ", ".join(sorted(COMMANDS))
        raise CommandInvalid(
            f"unknown command type {kind!r}; known types: {known}",
            where=where,
            errors=[{"field": "type", "message": "unknown command type"}],
        )
    try:
        return COMMANDS[kind].model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, where=where, prefix=f"{kind}: ") from None


def invalid(
    exc: ValidationError, *, where: str = "", prefix: str = "", loc: tuple[str, ...] = ()
) -> CommandInvalid:
    errors = [
        {
            "field": ".".join(str(p) for p in (*loc, *err["loc"])) or "(command)",
            "message": err["msg"].removeprefix("Value error, "),
        }
        for err in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    if not where and errors[0]["field"] != "(command)":
        where = errors[0]["field"]  # a single command: the first invalid field
    return CommandInvalid(prefix + summary, where=where, errors=errors)
