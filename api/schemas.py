"""What the API answers: models separate from the events and view rows they are built from.
Times are ISO-8601 UTC text, money decimal text (never a float)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ledger import aggregates

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next."""

    data: list[T]
    next_cursor: str | None = Field(description="None on the last page.")


class WrittenEvent(BaseModel):
    version: int
    type: str = Field(examples=[aggregates.Customer.PromiseMade.__name__])
    position: int | None = Field(
        description="Position in the log (None for an event "
        "replayed from an earlier identical request)."
    )


class Written(BaseModel):
    """What a command wrote. ``position`` is what reads take as ``min_position``."""

    command: str = Field(examples=["make_promise"])
    target: str = Field(examples=["customer"])
    ref: str = Field(examples=["CUST-00042"])
    id: str = Field(description="The ledger's stable id of the customer, rep or campaign.")
    version: int = Field(description="The target's version after the command (its ETag).")
    entry_id: str | None = Field(None, examples=["P-7f3a"])
    command_id: str | None = None
    event_ids: list[str] = Field(examples=[["CUST-00042#12"]])
    events: list[WrittenEvent]
    position: int | None


class BatchWritten(BaseModel):
    results: list[Written]


class Customer(BaseModel):
    ref: str
    id: str
    version: int
    profile: dict[str, str | None] = Field(
        description="Name, kind, contact data; all None "
        "once the customer's personal data is erased."
    )
    owner: str | None
    registered_at: str
    churned_at: str | None
    won_back_at: str | None
    erased: bool
    entries: dict[str, int] = Field(description="How many entries of each kind.")
    open: dict[str, list[str]] = Field(
        description="Ids of open requests, quotes, promises and complaints."
    )
    consents: list[dict[str, Any]]
    merged_records: list[str] = Field(
        [],
        description="Records of this customer merged into this one: their history is read "
        "as this customer's (counted once, as one customer's) until unmerged.",
    )
    resolved_from: str | None = Field(
        None,
        description="The reference asked for, when it names a record merged into this "
        "customer: a merged record reads as its survivor.",
    )


class MergeRecord(BaseModel):
    """A merge of two records of one customer, or its undoing, as compliance reviews it."""

    id: str = Field(description="The merged record's reference and the event's version.")
    merged: str = Field(description="The record merged into the survivor (or split off).")
    survivor: str
    action: str = Field(examples=["merged"], description="merged or unmerged")
    occurred_at: str
    recorded_at: str
    actor: str = Field(description="Who recorded it.")
    reason: str | None = Field(description="Why (None once the customer is forgotten).")


class ExportLog(BaseModel):
    position: int = Field(description="The log position the copy was taken at.")
    digest: str | None = Field(
        description="The log's digest there (`ledger digest`); null if the log does not verify."
    )
    verified: bool
    stream: dict[str, int]


class CustomerExport(BaseModel):
    """Everything the ledger holds about one customer (`ledger export`)."""

    format: str
    customer: str
    id: str
    exported_at: str
    log: ExportLog
    profile: dict[str, str | None]
    owner: str | None
    team_members: list[str]
    registered_at: str | None
    erased: bool
    consents: list[dict[str, Any]]
    promises: list[dict[str, Any]]
    quotes: list[dict[str, Any]]
    complaints: list[dict[str, Any]]
    events: list[dict[str, Any]] = Field(description="Every event of the customer's record.")
    accessed_by: list[dict[str, Any]] = Field(description="Who looked at their personal data.")


class Promise(BaseModel):
    customer: str
    origin: str | None = Field(
        None,
        description="The record it was made on: the customer's own, or one merged into it.",
    )
    promise_id: str
    rep: str
    text: str
    category: str
    made_at: str
    due_by: str
    status: str = Field(examples=["open"], description="open, kept, broken, cancelled, overdue")
    closed_at: str | None
    outcome_note: str | None
    quote_id: str | None
    complaint_id: str | None
    retracted: bool
    recorded_at: str


class Quote(BaseModel):
    customer: str
    origin: str | None = Field(
        None,
        description="The record it was made on: the customer's own, or one merged into it.",
    )
    quote_id: str
    rep: str
    product: str
    quantity: str
    unit_price: str
    currency: str
    discount: str
    net_price: str = Field(description="Unit price after discount, to four places.")
    issued_at: str
    valid_until: str
    status: str
    closed_at: str | None
    retracted: bool
    recorded_at: str


class TimelineLine(BaseModel):
    customer: str
    version: int
    kind: str = Field(examples=[aggregates.Customer.QuoteIssued.__name__])
    entry_id: str | None
    occurred_at: str
    recorded_at: str
    late: bool = Field(description="Recorded more than a day after it happened.")
    actor: str
    rep: str | None
    summary: str = Field(examples=["quote Q-1: 10 × 普洱茶 at 128.00 CNY, valid until 2025-03-13"])  # noqa: RUF001
    details: dict[str, Any]
    trail: list[dict[str, Any]] = Field(
        description="Corrections and retractions of this entry, oldest first."
    )
    retracted: bool


class ConflictingQuotes(BaseModel):
    customer: str
    product: str
    first_quote: str
    first_rep: str
    first_price: str
    first_currency: str
    first_issued_at: str
    first_valid_until: str
    first_status: str
    second_quote: str
    second_rep: str
    second_price: str
    second_currency: str
    second_issued_at: str
    second_valid_until: str
    second_status: str
    reps_differ: bool


class Violation(BaseModel):
    kind: str = Field(examples=["touch_after_opt_out"])
    customer: str
    at: str
    why: str
    entries: list[dict[str, Any]]


class OrphanedItem(BaseModel):
    item: str = Field(examples=["promise"])
    customer: str
    id: str
    made_by: str | None = Field(description="Who made or took it (never changes).")
    responsible: str | None = Field(description="The departed rep still responsible for it.")
    departed_at: str
    manager: str | None = Field(description="The departed rep's manager.")
    due: str | None
    overdue: bool


class InboxItem(BaseModel):
    item: str = Field(
        examples=["request"],
        description="request, complaint, or card: a customer from a source (`what`) whom "
        "nobody had contacted within the follow-up days (the customer's ref is the `id`).",
    )
    customer: str
    id: str
    what: str
    rep: str | None = Field(description="Who took it (never changes).")
    responsible: str | None = Field(None, description="Who answers for it now.")
    orphaned: bool = Field(
        False, description="Its responsible rep has departed and nobody took it over."
    )
    escalated_to: str | None
    opened_at: str
    due: str
    overdue_days: int
    overdue_hours: int


class DuplicatePair(BaseModel):
    customer: str
    name: str | None
    owner: str | None
    source: str | None
    other: str
    other_name: str | None
    other_owner: str | None
    other_source: str | None
    score: float = Field(description="How sure, from 0 to 1: the reasons combined.")
    reasons: list[str] = Field(
        description="phone, email (the same), company_name (the same company and name, "
        "in characters or pinyin), company_similar_name (the same company, a similar name).",
        examples=[["phone", "company_name"]],
    )
    why: str = Field(examples=["same phone, same company and name"])


class Duplicates(BaseModel):
    """Pairs of customers likely to be one, most likely first."""

    total: int = Field(description="Pairs in all.")
    offset: int
    data: list[DuplicatePair]


class Event(BaseModel):
    """A campaign, and if it is an event its registrations counted as they stand."""

    campaign: str = Field(examples=["CMP-2025-SEMINAR"])
    name: str
    kind: str | None = Field(description="seminar, trade_show or training; None: not an event.")
    event_at: str | None = Field(description="When the event takes place.")
    capacity: int | None = Field(description="The most confirmed registrations (None: no limit).")
    starts_at: str
    ends_at: str
    registrations: int
    open: int = Field(description="Neither confirmed nor declined yet (waiting, when full).")
    confirmed: int
    declined: int = Field(description="Declined, or confirmed and then cancelled.")
    attended: int
    no_shows: int
    seats_left: int | None


class Registration(BaseModel):
    customer: str
    registration_id: str
    campaign: str
    channel: str
    rep: str | None = Field(description="Who answers it: named, or the customer's owner.")
    responsible: str | None = Field(None, description="Who answers for it now.")
    note: str | None
    registered_at: str
    respond_by: str
    status: str = Field(examples=["open", "confirmed", "declined"])
    answered_at: str | None = Field(description="When it was first confirmed or declined.")
    confirmed_at: str | None
    declined_at: str | None
    reason: str | None = Field(description="Why it was declined.")
    attended: bool | None = Field(description="Came (true), a no-show (false), not yet known.")
    attended_at: str | None


class Dossier(BaseModel):
    model_config = ConfigDict(extra="allow")

    rep: dict[str, Any]
    as_of: str
    last_contact_at: str | None
    customers_owned: list[dict[str, Any]]
    customers_handed_on: list[dict[str, Any]]
    customers_touched: list[dict[str, Any]]
    open_promises: list[dict[str, Any]]
    open_quotes: list[dict[str, Any]]
    open_complaints: list[dict[str, Any]]
    unanswered_requests: list[dict[str, Any]]
    cards_not_followed_up: list[dict[str, Any]] = Field(
        description="Customers the rep owns from a source (a stack of cards, a fair's list) "
        "whom nobody had contacted within 14 days of their registration."
    )
    handover: list[dict[str, Any]] = Field(
        description="For a departed rep: everything that needs a new owner, most urgent first."
    )
    totals: dict[str, int] = Field(
        description="How many rows each list has in all (each "
        "carries the first `limit`; /dossier/{list} pages on)."
    )


class DossierPage(BaseModel):
    """Rows of one list of a rep's dossier."""

    rep: str
    section: str
    as_of: str
    offset: int
    total: int = Field(description="Rows in the whole list.")
    items: list[dict[str, Any]]
    next_offset: int | None = Field(description="None on the last page.")


class HandoverProgress(BaseModel):
    remaining: int = Field(description="Items still the departed rep's (the list).")
    handed_on: int = Field(
        description="Open work they made that another rep answers for "
        "now, and customers they owned that have a new owner."
    )


class Handover(BaseModel):
    rep: dict[str, Any]
    as_of: str
    handover: list[dict[str, Any]]
    handover_progress: HandoverProgress | None = Field(
        None, description="For a departed rep: how far the hand-over has come."
    )


class Key(BaseModel):
    id: str
    name: str
    role: str
    rep: str | None
    created_at: str
    revoked_at: str | None


class NewKey(Key):
    token: str = Field(description="The key itself. Shown this once; only its hash is kept.")


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["telephony"])
    role: str = Field(examples=["rep"], description="rep, manager, compliance, analyst, admin")
    rep: str | None = Field(None, description="For rep and manager keys: the rep it acts as.")


class ViewState(BaseModel):
    view: str
    position: int
    head: int
    lag: int
    error: str | None
    error_position: int | None


class Ready(BaseModel):
    store: str = Field(examples=["reachable"])
    head: int = Field(description="The log's last position.")
    views: list[ViewState]


class AccessRecord(BaseModel):
    """One read recorded in the access log (who looked at which customer's data)."""

    position: int = Field(description="Its place in the log, in commit order.")
    at: str = Field(examples=["2025-06-10T07:20:00.000000Z"])
    key: str = Field(
        description="The API key's name, or cli:USER for the command line.", examples=["audit"]
    )
    role: str = Field(examples=["compliance"])
    customer: str | None = Field(
        description="The customer's reference; None for a read of no one customer (a report).",
        examples=["CUST-00042"],
    )
    what: str = Field(
        description="The endpoint or page.", examples=["GET /customers/{ref}/timeline"]
    )
    fields: list[str] = Field(
        description="The kinds of personal data it showed.", examples=[["profile", "timeline"]]
    )
    purpose: str | None = Field(description="Why, as given (X-Purpose, or the console's field).")
    interface: str = Field(examples=["api"], description="api, console or cli")
    previous: str = Field(description="SHA-256 (hex) of the record before it.")
    hash: str = Field(description="SHA-256 (hex) of the previous hash and this record.")
