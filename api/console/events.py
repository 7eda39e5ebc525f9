"""Events (campaigns that are seminars, trade shows, trainings): the list, and an event's
page with its registrations, where a rep or manager registers customers, confirms or
declines their registrations and records who attended."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.console.pages import PAGE, FormSender, looked, now, page, shown_to
from api.deps import Reference, Services, Svc, may_run, team_of, wait_for
from api.keys import ApiKey
from ledger.authorization import READS_CUSTOMERS
from ledger.commands.models import (
    Command,
    ConfirmRegistration,
    DeclineRegistration,
    RecordAttendance,
    RegisterForEvent,
    invalid,
)
from ledger.errors import CommandInvalid
from ledger.projections import events as queries

router = APIRouter(prefix="/console", include_in_schema=False)
Reader = Annotated[
    ApiKey, Depends(shown_to(*sorted(READS_CUSTOMERS), doing="read events' registrations"))
]
VIEWS = ("activity", "service", "timeline")
ACTIONS = ("confirm", "decline", "attended", "no_show")


@router.get("/events", response_class=HTMLResponse)
async def listing(request: Request, svc: Svc, key: Reader) -> Response:
    """Every event, soonest first, with its registrations counted."""
    found = await svc.call(queries.events, svc.db)
    return page(request, "events.html", key, events=found)


@router.get("/events/{ref}", response_class=HTMLResponse)
async def event(
    request: Request,
    svc: Svc,
    key: Reader,
    ref: Reference,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The event and its registrations: a rep's, a manager's team's, or (compliance) all."""
    await wait_for(svc, VIEWS, min_position)
    found = await svc.call(queries.event_of, svc.db, ref)
    reps = None if key.role == "compliance" else await svc.call(team_of, svc, key)
    await looked(request, svc, key, fields=("registrations",))
    rows = await svc.call(
        queries.registrations_of, svc.db, ref, reps=reps, limit=PAGE, cursor=cursor
    )
    more = (
        f"/console/events/{quote(ref)}?{urlencode({'cursor': rows.next_cursor})}"
        if rows.next_cursor
        else None
    )
    return page(
        request,
        "event.html",
        key,
        event=found,
        registrations=rows.items,
        more=more,
        may_write=key.role in ("rep", "manager"),
        today=now().date().isoformat(),
    )


def typed_moment(text: str, where: str, *, at_latest: datetime | None = None) -> datetime | None:
    """A date or instant typed into a form: a date is the end of that day (UTC), an instant
    needs its zone. ``at_latest``: when it happened, which is no later than now (a date today
    means now)."""
    if not text.strip():
        return None
    try:
        if len(text.strip()) == 10:
            end = datetime.combine(date.fromisoformat(text.strip()), time.max, timezone.utc)
            return end if at_latest is None else min(end, at_latest)
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandInvalid(
            f"{text!r} is not a date (2025-03-01) or an instant (2025-03-01T09:00:00+08:00)",
            where=where,
        ) from None
    if found.tzinfo is None:
        raise CommandInvalid("give a date, or an instant with its zone", where=where)
    return found


def command(model: type[Command], **fields: Any) -> Command:
    """The command the form asks for, validated as the API validates it (422 naming the
    field)."""
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as error:
        raise invalid(error) from None


async def execute(svc: Services, key: ApiKey, ref: str, found: Command) -> Response:
    """Run a form's command as the API runs one (the same rule of who may), then show the
    event page once its views have what was written."""
    await svc.call(may_run, svc, key, found)
    result = await svc.call(svc.writer.execute, found, actor=key.actor)
    target = f"/console/events/{quote(ref)}?{urlencode({'min_position': result.position})}"
    return RedirectResponse(target, 303)


@router.post("/events/{ref}/registrations")
async def register(
    svc: Svc,
    key: FormSender,
    ref: Reference,
    customer: Annotated[str, Form(max_length=64)] = "",
    registered_on: Annotated[str, Form(max_length=40)] = "",
    respond_by: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Register a customer for the event, as ``POST /customers/{ref}/registrations``."""
    if not customer.strip():
        raise CommandInvalid("name the customer who registers", where="customer")
    if not respond_by.strip():
        raise CommandInvalid("say by when the registration is to be answered", where="respond_by")
    found = command(
        RegisterForEvent,
        customer=customer,
        campaign=ref,
        channel="event",
        respond_by=typed_moment(respond_by, "respond_by"),
        note=note.strip() or None,
        rep=key.rep if key.role == "rep" else None,
        occurred_at=typed_moment(registered_on, "registered_on", at_latest=now()),
    )
    return await execute(svc, key, ref, found)


@router.post("/events/{ref}/registrations/{customer}/{registration_id}")
async def answer(
    svc: Svc,
    key: FormSender,
    ref: Reference,
    customer: Reference,
    registration_id: Reference,
    action: Annotated[str, Form(max_length=20)] = "",
    on: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Confirm or decline a registration, or record whether its customer came: the same
    commands as the API's ``.../registrations/{id}/confirm|decline|attendance``."""
    when = typed_moment(on, "on", at_latest=now())
    fields: dict[str, Any] = {
        "customer": customer,
        "registration_id": registration_id,
        "occurred_at": when,
    }
    if action == "confirm":
        found = command(ConfirmRegistration, **fields)
    elif action == "decline":
        if not reason.strip():
            raise CommandInvalid("say why the registration is declined", where="reason")
        found = command(DeclineRegistration, **fields, reason=reason.strip())
    elif action in ("attended", "no_show"):
        found = command(RecordAttendance, **fields, attended=action == "attended")
    else:
        raise CommandInvalid(f"the action is one of {', '.join(ACTIONS)}", where="action")
    return await execute(svc, key, ref, found)
