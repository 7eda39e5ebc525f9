"""One short handler per command: load what the command names, call one aggregate method.

A handler returns the aggregate it changed and the id of the entry it created (if any).
Rules live in the aggregates; handlers only resolve references and fill in defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from ledger import clock
from ledger.aggregates import Campaign, Customer, Rep
from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.customer import CONFIRMED, CORRECTABLE, UnknownEntry
from ledger.commands import models as m
from ledger.ids import Kind, entry_id


class UnitOfWork(Protocol):
    """What a handler may do: read and change aggregates of one batch, saved together
    (``ledger.application.UnitOfWork``)."""

    actor: str

    def get(self, kind: Kind, ref: str) -> LedgerAggregate:
        """An aggregate to change (loaded once a batch)."""

    def peek(self, kind: Kind, ref: str) -> LedgerAggregate:
        """An aggregate only read (a rep the command names): not copied."""

    def target(self, command: m.Command) -> LedgerAggregate:
        """The aggregate the command is addressed to, at its expected version."""

    def create(self, aggregate: LedgerAggregate) -> LedgerAggregate:
        """A new aggregate, saved with the batch."""

    def check_new(self, command: m.Command) -> None:
        """Refuse a command that would create a stream that exists."""


Handled = tuple[LedgerAggregate, str | None]
C = TypeVar("C", bound=m.Command)
HANDLERS: dict[type[m.Command], Callable[[Any, UnitOfWork], Handled]] = {}


def handles(
    command_class: type[C],
) -> Callable[[Callable[[C, UnitOfWork], Handled]], Callable[[C, UnitOfWork], Handled]]:
    def register(handler: Callable[[C, UnitOfWork], Handled]) -> Callable[[C, UnitOfWork], Handled]:
        HANDLERS[command_class] = handler
        return handler

    return register


def when(command: m.Command) -> datetime:
    return command.occurred_at or clock.now()


def new_id(command: m.Command, given: str | None) -> str:
    return given or entry_id(command.command_id)


def customer(command: m.Command, batch: UnitOfWork) -> Customer:
    """The customer the command is for: the record it names or, if that record was merged
    into another, the survivor (a new fact about the customer is the survivor's)."""
    named = cast(Customer, batch.target(command))
    if named.merged_into is None:
        return named
    return cast(Customer, batch.get("customer", named.merged_into))


def holder(command: m.Command, batch: UnitOfWork, entry_id: str) -> Customer:
    """The record holding the entry a command names: the customer's own, or a record merged
    into it (an outcome or amendment of an entry stays with the entry, so that an unmerge
    gives it back with the entry)."""
    found = customer(command, batch)
    ref = found.holding(entry_id)
    return found if ref == found.ref else cast(Customer, batch.get("customer", ref))


def group(found: Customer, batch: UnitOfWork) -> list[Customer]:
    """A survivor and the records merged into it."""
    return [found, *(cast(Customer, batch.get("customer", ref)) for ref in found.merged_records)]


def acting_rep(batch: UnitOfWork, ref: str | None, at: datetime) -> None:
    """The rep exists and had not departed when they acted."""
    if ref is not None:
        cast(Rep, batch.peek("rep", ref)).check_active_at(at)


def known_rep(batch: UnitOfWork, ref: str | None) -> None:
    if ref is not None:
        batch.peek("rep", ref)


# -- customers -------------------------------------------------------------------------------


@handles(m.RegisterCustomer)
def register_customer(c: m.RegisterCustomer, batch: UnitOfWork) -> Handled:
    batch.check_new(c)
    acting_rep(batch, c.owner, when(c))
    return batch.create(
        Customer(
            ref=c.ref,
            name=c.name,
            kind=c.kind,
            email=c.email,
            phone=c.phone,
            address=c.address,
            company=c.company,
            segment=c.segment,
            locale=c.locale,
            owner=c.owner,
            title=c.title,
            source=c.source,
            occurred_at=when(c),
            actor=batch.actor,
        )
    ), None


@handles(m.UpdateProfile)
def update_profile(c: m.UpdateProfile, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    agg.change_profile(changes=c.changes(), occurred_at=when(c), actor=batch.actor)
    return agg, None


@handles(m.AssignOwner)
def assign_owner(c: m.AssignOwner, batch: UnitOfWork) -> Handled:
    """A new owner; the previous owner's open items go with the customer if asked, and by
    default when the previous owner has departed."""
    agg = customer(c, batch)
    acting_rep(batch, c.rep, when(c))
    previous = agg.owner
    agg.assign_owner(
        from_rep=previous, to_rep=c.rep, reason=c.reason, occurred_at=when(c), actor=batch.actor
    )
    moving = c.open_items
    if moving is None and previous is not None:
        departed = cast(Rep, batch.peek("rep", previous)).departed_at
        moving = "move" if departed is not None and departed <= when(c) else "keep"
    if moving == "move" and previous is not None and agg.open_work(previous):
        agg.hand_over(
            c.rep,
            entry_ids=None,
            from_rep=previous,
            reason=c.reason,
            occurred_at=when(c),
            actor=batch.actor,
        )
    return agg, None


@handles(m.MoveResponsibility)
def move_responsibility(c: m.MoveResponsibility, batch: UnitOfWork) -> Handled:
    """Each item moves on the record that holds it (the survivor's, or a merged record's)."""
    agg = customer(c, batch)
    acting_rep(batch, c.to_rep, when(c))
    known_rep(batch, c.from_rep)
    named: dict[str, list[str] | None] = {}
    if c.entry_ids is None:
        named = dict.fromkeys([agg.ref, *agg.merged_records])
    else:
        for entry in c.entry_ids:
            listed = named.setdefault(agg.holding(entry), [])
            assert listed is not None
            listed.append(entry)
    plans = []
    for ref, entry_ids in named.items():
        record = agg if ref == agg.ref else cast(Customer, batch.get("customer", ref))
        plans.append(
            (record, record.handing_over(c.to_rep, entry_ids=entry_ids, from_rep=c.from_rep))
        )
    agg.check_something_moves(
        [entry for _, moving in plans for entry in moving], c.to_rep, c.from_rep
    )
    for record, moving in plans:
        if moving:
            record.hand_over(
                c.to_rep,
                entry_ids=moving,
                from_rep=c.from_rep,
                reason=c.reason,
                occurred_at=when(c),
                actor=batch.actor,
            )
    return agg, None


@handles(m.AddTeamMember)
def add_team_member(c: m.AddTeamMember, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    acting_rep(batch, c.rep, when(c))
    agg.add_team_member(rep=c.rep, reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return agg, None


@handles(m.RemoveTeamMember)
def remove_team_member(c: m.RemoveTeamMember, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    agg.remove_team_member(rep=c.rep, reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return agg, None


@handles(m.LogContact)
def log_contact(c: m.LogContact, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    acting_rep(batch, c.rep, when(c))
    contact_id = new_id(c, c.contact_id)
    agg.log_contact(
        contact_id=contact_id,
        rep=c.rep,
        channel=c.channel,
        direction=c.direction,
        subject=c.subject,
        summary=c.summary,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, contact_id


@handles(m.ReceiveRequest)
def receive_request(c: m.ReceiveRequest, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    acting_rep(batch, c.rep, when(c))
    request_id = new_id(c, c.request_id)
    agg.receive_request(
        request_id=request_id,
        kind=c.kind,
        channel=c.channel,
        summary=c.summary,
        respond_by=c.respond_by,
        rep=c.rep,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, request_id


@handles(m.AnswerRequest)
def answer_request(c: m.AnswerRequest, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.request_id)
    acting_rep(batch, c.rep, when(c))
    agg.answer_request(
        request_id=c.request_id,
        rep=c.rep,
        channel=c.channel,
        summary=c.summary,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, c.request_id


def campaign_of(batch: UnitOfWork, ref: str) -> Campaign:
    return cast(Campaign, batch.get("campaign", ref))


@handles(m.RegisterForEvent)
def register_for_event(c: m.RegisterForEvent, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    acting_rep(batch, c.rep, when(c))
    cast(Campaign, batch.peek("campaign", c.campaign)).check_takes_registrations(when(c))
    registration_id = new_id(c, c.registration_id)
    agg.receive_registration(
        registration_id=registration_id,
        campaign=c.campaign,
        channel=c.channel,
        respond_by=c.respond_by,
        rep=c.rep or agg.owner,
        note=c.note,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, registration_id


# A confirmation (or a cancellation) changes the customer and the campaign, saved together:
# every check of both comes before either changes, so a refusal leaves neither changed.


@handles(m.ConfirmRegistration)
def confirm_registration(c: m.ConfirmRegistration, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.registration_id)
    agg.check_confirmable(c.registration_id, when(c))
    campaign = campaign_of(batch, agg.registration(c.registration_id)["campaign"])
    campaign.take_seat(
        customer=agg.ref, registration_id=c.registration_id, occurred_at=when(c), actor=batch.actor
    )
    agg.confirm_registration(
        registration_id=c.registration_id, note=c.note, occurred_at=when(c), actor=batch.actor
    )
    return agg, c.registration_id


@handles(m.DeclineRegistration)
def decline_registration(c: m.DeclineRegistration, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.registration_id)
    agg.check_declinable(c.registration_id, when(c))
    registration = agg.registration(c.registration_id)
    if registration["status"] == CONFIRMED:
        campaign_of(batch, registration["campaign"]).release_seat(
            customer=agg.ref,
            registration_id=c.registration_id,
            occurred_at=when(c),
            actor=batch.actor,
        )
    agg.decline_registration(
        registration_id=c.registration_id, reason=c.reason, occurred_at=when(c), actor=batch.actor
    )
    return agg, c.registration_id


@handles(m.RecordAttendance)
def record_attendance(c: m.RecordAttendance, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.registration_id)
    campaign = agg.registration(c.registration_id)["campaign"]
    cast(Campaign, batch.peek("campaign", campaign)).check_held_by(when(c))
    agg.record_attendance(
        registration_id=c.registration_id,
        attended=c.attended,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, c.registration_id


@handles(m.IssueQuote)
def issue_quote(c: m.IssueQuote, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    acting_rep(batch, c.rep, when(c))
    quote_id = new_id(c, c.quote_id)
    agg.issue_quote(
        quote_id=quote_id,
        rep=c.rep,
        product=c.product,
        quantity=c.quantity,
        unit_price=c.unit_price,
        currency=c.currency,
        discount=c.discount,
        valid_until=c.valid_until,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, quote_id


@handles(m.AcceptQuote)
def accept_quote(c: m.AcceptQuote, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.quote_id)
    agg.accept_quote(quote_id=c.quote_id, note=c.note, occurred_at=when(c), actor=batch.actor)
    return agg, c.quote_id


@handles(m.DeclineQuote)
def decline_quote(c: m.DeclineQuote, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.quote_id)
    agg.decline_quote(quote_id=c.quote_id, reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return agg, c.quote_id


@handles(m.ExpireQuote)
def expire_quote(c: m.ExpireQuote, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.quote_id)
    agg.expire_quote(quote_id=c.quote_id, occurred_at=when(c), actor=batch.actor)
    return agg, c.quote_id


@handles(m.WithdrawQuote)
def withdraw_quote(c: m.WithdrawQuote, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.quote_id)
    agg.withdraw_quote(quote_id=c.quote_id, reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return agg, c.quote_id


@handles(m.MakePromise)
def make_promise(c: m.MakePromise, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    acting_rep(batch, c.rep, when(c))
    promise_id = new_id(c, c.promise_id)
    agg.make_promise(
        promise_id=promise_id,
        rep=c.rep,
        text=c.text,
        category=c.category,
        due_by=c.due_by,
        quote_id=c.quote_id,
        complaint_id=c.complaint_id,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, promise_id


@handles(m.KeepPromise)
def keep_promise(c: m.KeepPromise, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.promise_id)
    agg.keep_promise(promise_id=c.promise_id, note=c.note, occurred_at=when(c), actor=batch.actor)
    return agg, c.promise_id


@handles(m.BreakPromise)
def break_promise(c: m.BreakPromise, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.promise_id)
    agg.break_promise(
        promise_id=c.promise_id, reason=c.reason, occurred_at=when(c), actor=batch.actor
    )
    return agg, c.promise_id


@handles(m.CancelPromise)
def cancel_promise(c: m.CancelPromise, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.promise_id)
    agg.cancel_promise(
        promise_id=c.promise_id, reason=c.reason, occurred_at=when(c), actor=batch.actor
    )
    return agg, c.promise_id


@handles(m.MarkPromiseOverdue)
def mark_promise_overdue(c: m.MarkPromiseOverdue, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.promise_id)
    agg.mark_promise_overdue(promise_id=c.promise_id, occurred_at=when(c), actor=batch.actor)
    return agg, c.promise_id


@handles(m.FlagMissedDeadline)
def flag_missed_deadline(c: m.FlagMissedDeadline, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.entry_id)
    agg.flag_missed_deadline(
        entry_id=c.entry_id, deadline=c.deadline, occurred_at=when(c), actor=batch.actor
    )
    return agg, c.entry_id


@handles(m.MarkLapsed)
def mark_lapsed(c: m.MarkLapsed, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    agg.lapse(
        days=c.days, last_activity_at=agg.last_activity_at, occurred_at=when(c), actor=batch.actor
    )
    return agg, None


@handles(m.ErasePersonalData)
def erase_personal_data(c: m.ErasePersonalData, batch: UnitOfWork) -> Handled:
    """Forget the customer: every record of them, the survivor and those merged into it, is
    one person's (an unmerge later restores two forgotten records)."""
    agg = customer(c, batch)
    records = group(agg, batch)
    if all(record.erased for record in records):
        agg.check_not_erased()
    for record in records:
        if not record.erased:
            record.erase_personal_data(reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return agg, None


@handles(m.MergeCustomers)
def merge_customers(c: m.MergeCustomers, batch: UnitOfWork) -> Handled:
    survivor = customer(c, batch)
    merged = cast(Customer, batch.get("customer", c.merged))
    survivor.absorb(merged, reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return survivor, None


@handles(m.UnmergeCustomers)
def unmerge_customers(c: m.UnmergeCustomers, batch: UnitOfWork) -> Handled:
    merged = cast(Customer, batch.target(c))
    merged.check_merged()
    assert merged.merged_into is not None
    survivor = cast(Customer, batch.get("customer", merged.merged_into))
    survivor.release(merged, reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return merged, None


@handles(m.TouchCampaign)
def touch_campaign(c: m.TouchCampaign, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    campaign = cast(Campaign, batch.get("campaign", c.campaign))
    campaign.check_open_at(when(c))
    touch_id = new_id(c, c.touch_id)
    agg.touch_by_campaign(
        touch_id=touch_id,
        campaign=c.campaign,
        channel=c.channel or campaign.channel,
        material=c.material or campaign.material,
        department=c.department or campaign.department,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, touch_id


@handles(m.ChangeConsent)
def change_consent(c: m.ChangeConsent, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    consent_id = new_id(c, c.consent_id)
    agg.change_consent(
        consent_id=consent_id,
        channel=c.channel,
        purpose=c.purpose,
        granted=c.granted,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, consent_id


@handles(m.FileComplaint)
def file_complaint(c: m.FileComplaint, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    acting_rep(batch, c.rep, when(c))
    complaint_id = new_id(c, c.complaint_id)
    agg.file_complaint(
        complaint_id=complaint_id,
        category=c.category,
        severity=c.severity,
        description=c.description,
        respond_by=c.respond_by,
        rep=c.rep,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, complaint_id


@handles(m.EscalateComplaint)
def escalate_complaint(c: m.EscalateComplaint, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.complaint_id)
    agg.escalate_complaint(
        complaint_id=c.complaint_id,
        to=c.to,
        reason=c.reason,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, c.complaint_id


@handles(m.ResolveComplaint)
def resolve_complaint(c: m.ResolveComplaint, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.complaint_id)
    agg.resolve_complaint(
        complaint_id=c.complaint_id,
        resolution=c.resolution,
        satisfied=c.satisfied,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, c.complaint_id


@handles(m.ReopenComplaint)
def reopen_complaint(c: m.ReopenComplaint, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.complaint_id)
    agg.reopen_complaint(
        complaint_id=c.complaint_id, reason=c.reason, occurred_at=when(c), actor=batch.actor
    )
    return agg, c.complaint_id


@handles(m.RecordSatisfaction)
def record_satisfaction(c: m.RecordSatisfaction, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    known_rep(batch, c.rep)
    survey_id = new_id(c, c.survey_id)
    agg.record_satisfaction(
        survey_id=survey_id,
        items=dict(c.items),
        product=c.product,
        rep=c.rep,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, survey_id


@handles(m.RecordPurchase)
def record_purchase(c: m.RecordPurchase, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    known_rep(batch, c.rep)
    agg.record_purchase(
        order_id=c.order_id,
        amount=c.amount,
        currency=c.currency,
        cost=c.cost,
        rep=c.rep,
        product=c.product,
        quantity=c.quantity,
        quote_id=c.quote_id,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, c.order_id


@handles(m.RecordRefund)
def record_refund(c: m.RecordRefund, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    known_rep(batch, c.rep)
    refund_id = new_id(c, c.refund_id)
    agg.record_refund(
        refund_id=refund_id,
        order_id=c.order_id,
        amount=c.amount,
        currency=c.currency,
        quantity=c.quantity,
        rep=c.rep,
        reason=c.reason,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, refund_id


@handles(m.RecordChurn)
def record_churn(c: m.RecordChurn, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    churn_id = new_id(c, c.churn_id)
    agg.churn(
        churn_id=churn_id,
        defection_type=c.defection_type,
        competitor=c.competitor,
        reason=c.reason,
        occurred_at=when(c),
        actor=batch.actor,
    )
    return agg, churn_id


@handles(m.RecordWinBack)
def record_win_back(c: m.RecordWinBack, batch: UnitOfWork) -> Handled:
    agg = customer(c, batch)
    acting_rep(batch, c.rep, when(c))
    agg.win_back(rep=c.rep, reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return agg, None


@handles(m.CorrectEntry)
def correct_entry(c: m.CorrectEntry, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.entry_id)
    kind = agg.entry_kind(c.entry_id)
    if kind not in CORRECTABLE:
        raise UnknownEntry(f"customer {agg.ref} has no correctable entry {c.entry_id}")
    fields = m.validate_correction(kind, c.fields, CORRECTABLE[kind], where="fields")
    known_rep(batch, fields.get("rep"))
    agg.check_amends_in_time(c.entry_id, when(c), "correction")
    agg.correct_entry(
        entry_id=c.entry_id, fields=fields, reason=c.reason, occurred_at=when(c), actor=batch.actor
    )
    return agg, c.entry_id


@handles(m.RetractEntry)
def retract_entry(c: m.RetractEntry, batch: UnitOfWork) -> Handled:
    agg = holder(c, batch, c.entry_id)
    agg.check_amends_in_time(c.entry_id, when(c), "retraction")
    agg.retract_entry(entry_id=c.entry_id, reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return agg, c.entry_id


# -- reps ---------------------------------------------------------------------------------------


@handles(m.HireRep)
def hire_rep(c: m.HireRep, batch: UnitOfWork) -> Handled:
    batch.check_new(c)
    acting_rep(batch, c.manager, when(c))
    return batch.create(
        Rep(
            ref=c.ref,
            name=c.name,
            team=c.team,
            manager=c.manager,
            email=c.email,
            occurred_at=when(c),
            actor=batch.actor,
        )
    ), None


@handles(m.MoveRep)
def move_rep(c: m.MoveRep, batch: UnitOfWork) -> Handled:
    rep = cast(Rep, batch.target(c))
    acting_rep(batch, c.manager, when(c))
    rep.move(
        team=c.team, manager=c.manager, reason=c.reason, occurred_at=when(c), actor=batch.actor
    )
    return rep, None


@handles(m.DepartRep)
def depart_rep(c: m.DepartRep, batch: UnitOfWork) -> Handled:
    rep = cast(Rep, batch.target(c))
    rep.depart(reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return rep, None


# -- campaigns -------------------------------------------------------------------------------


@handles(m.LaunchCampaign)
def launch_campaign(c: m.LaunchCampaign, batch: UnitOfWork) -> Handled:
    batch.check_new(c)
    return batch.create(
        Campaign(
            ref=c.ref,
            name=c.name,
            channel=c.channel,
            budget=c.budget,
            currency=c.currency,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            material=c.material,
            department=c.department,
            kind=c.kind,
            event_at=c.event_at,
            capacity=c.capacity,
            occurred_at=when(c),
            actor=batch.actor,
        )
    ), None


@handles(m.RecordCampaignCost)
def record_campaign_cost(c: m.RecordCampaignCost, batch: UnitOfWork) -> Handled:
    campaign = cast(Campaign, batch.target(c))
    campaign.record_cost(
        amount=c.amount, currency=c.currency, note=c.note, occurred_at=when(c), actor=batch.actor
    )
    return campaign, None


@handles(m.CloseCampaign)
def close_campaign(c: m.CloseCampaign, batch: UnitOfWork) -> Handled:
    campaign = cast(Campaign, batch.target(c))
    campaign.close(reason=c.reason, occurred_at=when(c), actor=batch.actor)
    return campaign, None


assert set(HANDLERS) == set(m.COMMANDS.values()), "every command needs a handler"
