"""A customer as the ledger holds it now, and the views of their history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from api.deps import (
    ACCESS_VIEWS,
    Caller,
    MinPosition,
    Purpose,
    Reference,
    Services,
    Svc,
    access,
    may_read_customer,
    recorded,
    requires,
    wait_for,
)
from api.keys import ApiKey
from api.problems import responses
from api.schemas import Customer, CustomerExport, Page, Promise, Quote, TimelineLine
from ledger.commands.fields import Moment
from ledger.export import export_customer, export_html
from ledger.projections import base, queries
from ledger.sql import iso

router = APIRouter(prefix="/customers/{ref}", tags=["customers"])

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=500, description="From the previous page.")]
STATES = ("request", "quote", "promise", "complaint")


async def read(
    svc: Services,
    key: ApiKey,
    request: Request,
    ref: str,
    view: str,
    min_position: int | None,
    purpose: str | None,
    query: Callable[..., base.Page],
    response: Response,
    **filters: Any,
) -> dict[str, Any]:
    """Wait for the view to reach ``min_position``, check that the key may read this
    customer, then ask the view, recording the read in the access log meanwhile. A record
    merged into another is read as the survivor, and the answer says so (``merged``)."""
    await wait_for(svc, (view, *ACCESS_VIEWS), min_position)
    customer = await svc.call(may_read_customer, svc, key, ref)
    merged(response, ref, customer.ref)
    entry = access(key, request, customer=customer.ref, fields=(view,), purpose=purpose)
    if filters.get("records"):  # the timeline: each record's own lines
        filters["records"] = customer.merged_records
    page = await recorded(svc, entry, svc.call(query, svc.db, customer.ref, **filters))
    return page.to_dict()


MERGED_INTO = "X-Merged-Into"


def merged(response: Response, asked: str, survivor: str) -> None:
    """Say that the record asked for was merged: the answer is its survivor's (header
    ``X-Merged-Into: <survivor>``)."""
    if survivor != asked:
        response.headers[MERGED_INTO] = survivor


@router.get("", response_model=Customer, responses=responses(404))
async def get_customer(
    ref: Reference,
    svc: Svc,
    key: Caller,
    request: Request,
    response: Response,
    purpose: Purpose = None,
) -> Customer:
    """The customer now: profile, owner, open entries. The ETag is their version. A record
    merged into another answers as the survivor (``resolved_from`` names the record asked
    for), its entries and consents with the survivor's."""
    customer = await svc.call(may_read_customer, svc, key, ref)
    merged(response, ref, customer.ref)
    await svc.access.record_async(
        [access(key, request, customer=customer.ref, fields=("profile",), purpose=purpose)]
    )
    records = await svc.call(svc.ledger.records_as_stored, customer)
    response.headers["ETag"] = f'"{customer.version}"'
    return Customer(
        ref=customer.ref,
        id=str(customer.id),
        version=customer.version,
        profile=customer.profile,
        owner=customer.owner,
        registered_at=iso(customer.registered_at) or "",
        churned_at=iso(customer.churned_at),
        won_back_at=iso(customer.won_back_at),
        erased=customer.erased,
        entries=dict(
            Counter(
                kind
                for record in records
                for entry_id, kind in record.kinds.items()
                if entry_id not in record.retracted
            )
        ),
        open={
            kind: sorted(entry for record in records for entry in record.open_entries(kind))
            for kind in STATES
        },
        consents=[
            {k: iso(v) if isinstance(v, datetime) else v for k, v in c.items()}
            for record in records
            for c in record.consents
        ],
        merged_records=list(customer.merged_records),
        resolved_from=ref if ref != customer.ref else None,
    )


@router.get(
    "/export",
    response_model=CustomerExport,
    responses={**responses(403, 404), 200: {"content": {"text/html": {}}}},
)
async def export(
    ref: Reference,
    svc: Svc,
    key: Annotated[ApiKey, Depends(requires("compliance", doing="export a customer's data"))],
    request: Request,
    purpose: Purpose = None,
    format: Annotated[
        str, Query(pattern="^(json|html)$", description="json, or html: a readable page")
    ] = "json",
) -> Any:
    """Everything the ledger holds about the customer, for them (compliance only)."""
    await svc.call(may_read_customer, svc, key, ref)
    await svc.access.record_async(
        [access(key, request, customer=ref, fields=("export",), purpose=purpose)]
    )
    document = await svc.slow(exported, svc, ref)
    if format == "html":
        return HTMLResponse(export_html(document))
    return document


def exported(svc: Services, ref: str) -> dict[str, Any]:
    return export_customer(svc.ledger, ref, accesses=list(svc.access.all_of(ref)))


@router.get("/timeline", response_model=Page[TimelineLine], responses=responses(404, 422))
async def timeline(
    ref: Reference,
    svc: Svc,
    key: Caller,
    request: Request,
    response: Response,
    purpose: Purpose = None,
    min_position: MinPosition = None,
    kind: Annotated[
        list[str] | None, Query(description="Event kinds, e.g. QuoteIssued (repeat for several).")
    ] = None,
    rep: Reference | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Every interaction in the order it happened, corrections applied, trail kept."""
    return await read(
        svc,
        key,
        request,
        ref,
        "timeline",
        min_position,
        purpose,
        queries.timeline_of,
        response,
        records=True,
        kinds=kind,
        rep=rep,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )


@router.get("/promises", response_model=Page[Promise], responses=responses(404, 422))
async def promises(
    ref: Reference,
    svc: Svc,
    key: Caller,
    request: Request,
    response: Response,
    purpose: Purpose = None,
    min_position: MinPosition = None,
    rep: Reference | None = None,
    status: Annotated[str | None, Query(pattern="^(open|kept|broken|cancelled|overdue)$")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """What each rep promised this customer, oldest first."""
    return await read(
        svc,
        key,
        request,
        ref,
        "promises",
        min_position,
        purpose,
        queries.promises_of,
        response,
        rep=rep,
        status=status,
        limit=limit,
        cursor=cursor,
    )


@router.get("/quotes", response_model=Page[Quote], responses=responses(404, 422))
async def quotes(
    ref: Reference,
    svc: Svc,
    key: Caller,
    request: Request,
    response: Response,
    purpose: Purpose = None,
    min_position: MinPosition = None,
    rep: Reference | None = None,
    status: Annotated[
        str | None, Query(pattern="^(open|accepted|declined|expired|withdrawn)$")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The quotes given to this customer, oldest first."""
    return await read(
        svc,
        key,
        request,
        ref,
        "quotes",
        min_position,
        purpose,
        queries.quotes_of,
        response,
        rep=rep,
        status=status,
        limit=limit,
        cursor=cursor,
    )
