"""Finding a customer, their timeline and open promises, and (compliance) erasing their
personal data."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.pages import PAGE, FormSender, Visitor, looked, moment, page, shown_to
from api.deps import Reference, Services, Svc, may_read_customer, may_run, team_of, wait_for
from api.keys import ApiKey
from ledger.aggregates import Customer
from ledger.authorization import READS_CUSTOMERS
from ledger.commands.models import ErasePersonalData
from ledger.errors import CommandInvalid
from ledger.projections import queries
from ledger.projections.dossier import find_customers

router = APIRouter(prefix="/console", include_in_schema=False)
# The kinds of entry the timeline page can be filtered by, in the order its menu shows them.
TIMELINE_KINDS = tuple(
    kind.__name__
    for kind in (
        Customer.Registered,
        Customer.ContactLogged,
        Customer.RequestReceived,
        Customer.RequestAnswered,
        Customer.QuoteIssued,
        Customer.QuoteAccepted,
        Customer.QuoteDeclined,
        Customer.PromiseMade,
        Customer.PromiseKept,
        Customer.PromiseBroken,
        Customer.ComplaintFiled,
        Customer.ComplaintResolved,
        Customer.PurchaseRecorded,
        Customer.PurchaseRefunded,
        Customer.CampaignTouched,
        Customer.ConsentChanged,
        Customer.OwnerAssigned,
        Customer.EntryCorrected,
        Customer.EntryRetracted,
        Customer.Churned,
        Customer.WonBack,
    )
)


@router.get("/customers", response_class=HTMLResponse)
async def customers(
    request: Request,
    svc: Svc,
    key: Annotated[ApiKey, Depends(shown_to(*sorted(READS_CUSTOMERS), doing="read customers"))],
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    found = await svc.call(search, svc, key, q.strip()) if q.strip() else []
    if found:
        await looked(request, svc, key, fields=("search",))
    return page(request, "customers.html", key, q=q, found=found)


def search(svc: Services, key: ApiKey, text: str) -> list[dict[str, Any]]:
    """Customers found by reference, name, e-mail, phone or company, those the key may
    read: a rep's and a manager's team's own, or all for compliance."""
    reps = None if key.role == "compliance" else sorted(team_of(svc, key))
    return find_customers(svc.db, text, index_key=svc.ledger.index_key, reps=reps, limit=PAGE)


@router.get("/customers/{ref}", response_class=HTMLResponse)
async def timeline(
    request: Request,
    svc: Svc,
    key: Visitor,
    ref: Reference,
    kind: Annotated[str, Query(max_length=60)] = "",
    rep: Annotated[Reference, Query(max_length=60)] = "",
    since: Annotated[str, Query(max_length=30)] = "",
    until: Annotated[str, Query(max_length=30)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """Whoever may read the customer (``may_read_customer``: the rule the API follows)."""
    await wait_for(svc, ("timeline", "dossier", "promises", "quotes"), min_position)
    customer = await svc.call(may_read_customer, svc, key, ref)
    asked, ref = ref, customer.ref  # a merged record is shown as its survivor, saying so
    await looked(request, svc, key, customer=ref, fields=("timeline", "promises"))
    lines = await svc.call(
        queries.timeline_of,
        svc.db,
        ref,
        records=customer.merged_records,
        kinds=[kind] if kind else None,
        rep=rep or None,
        since=moment(since, "since"),
        until=moment(until, "until"),
        limit=PAGE,
        cursor=cursor,
    )
    open_promises = await svc.call(queries.promises_of, svc.db, ref, status="open")
    filters = {"kind": kind, "rep": rep, "since": since, "until": until}
    more = (
        f"/console/customers/{quote(ref)}?{urlencode({**filters, 'cursor': lines.next_cursor})}"
        if lines.next_cursor
        else None
    )
    return page(
        request,
        "timeline.html",
        key,
        ref=ref,
        lines=lines.items,
        filters=filters,
        more=more,
        open_promises=open_promises.items,
        kinds=TIMELINE_KINDS,
        may_erase=key.role == "compliance",
        merged_from=asked if asked != ref else None,
        merged_records=list(customer.merged_records),
    )


@router.post("/customers/{ref}/erasure")
async def erase(
    svc: Svc,
    key: FormSender,
    ref: Reference,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Forget the customer: the same command, and the same rule (``may_run``: compliance and
    admins), as the API and the CLI."""
    if not reason.strip():
        raise CommandInvalid(
            "say why their personal data is erased (the reason is kept)", where="reason"
        )
    command = ErasePersonalData(customer=ref, reason=reason.strip())
    await svc.call(may_run, svc, key, command)
    result = await svc.call(svc.ledger.execute, command, actor=key.actor)
    target = f"/console/customers/{quote(ref)}?{urlencode({'min_position': result.position})}"
    return RedirectResponse(target, 303)
