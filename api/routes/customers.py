"""A customer as the ledger holds it now, and the views of their history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.deps import (
    ACCESS_VIEWS,
    Caller,
    MinPosition,
    Reference,
    Services,
    Svc,
    may_read_customer,
    wait_for,
)
from api.keys import ApiKey
from api.problems import responses
from api.schemas import Customer, Page, Promise, Quote, TimelineLine
from ledger.commands.fields import Moment
from ledger.projections import base, queries
from ledger.projections.db import iso

router = APIRouter(prefix="/customers/{ref}", tags=["customers"])

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=500, description="From the previous page.")]
STATES = ("request", "quote", "promise", "complaint")


async def read(svc: Services, key: ApiKey, ref: str, view: str, min_position: int | None,
               query: Callable[..., base.Page], **filters: Any) -> dict[str, Any]:
    """Wait for the view (and those access rests on) to reach ``min_position``, check that
    the key may read this customer, then ask the view (one trip to the store's thread)."""
    await wait_for(svc, (view, *ACCESS_VIEWS), min_position)

    def checked() -> dict[str, Any]:
        may_read_customer(svc, key, ref)
        return query(svc.db, ref, **filters).to_dict()

    return await svc.call(checked)


@router.get("", response_model=Customer, responses=responses(404))
async def get_customer(ref: Reference, svc: Svc, key: Caller, response: Response) -> Customer:
    """The customer now: profile, owner, open entries. The ETag is their version."""
    customer = await svc.call(svc.ledger.customer, ref)
    await svc.call(may_read_customer, svc, key, ref, customer)
    response.headers["ETag"] = f'"{customer.version}"'
    return Customer(
        ref=customer.ref, id=str(customer.id), version=customer.version,
        profile=customer.profile, owner=customer.owner,
        registered_at=iso(customer.registered_at) or "", churned_at=iso(customer.churned_at),
        won_back_at=iso(customer.won_back_at), erased=customer.erased,
        entries=dict(Counter(kind for entry_id, kind in customer.kinds.items()
                             if entry_id not in customer.retracted)),
        open={kind: sorted(customer.open_entries(kind)) for kind in STATES},
        consents=[{k: iso(v) if isinstance(v, datetime) else v for k, v in c.items()}
                  for c in customer.consents])


@router.get("/timeline", response_model=Page[TimelineLine], responses=responses(404, 422))
async def timeline(ref: Reference, svc: Svc, key: Caller, min_position: MinPosition = None,
             kind: Annotated[list[str] | None, Query(
                 description="Event kinds, e.g. QuoteIssued (repeat for several).")] = None,
             rep: Reference | None = None, since: Moment | None = None,
             until: Moment | None = None, limit: Limit = 100,
             cursor: Cursor = None) -> dict[str, Any]:
    """Every interaction in the order it happened, corrections applied, trail kept."""
    return await read(svc, key, ref, "timeline", min_position, queries.timeline_of, kinds=kind,
                      rep=rep, since=since, until=until, limit=limit, cursor=cursor)


@router.get("/promises", response_model=Page[Promise], responses=responses(404, 422))
async def promises(ref: Reference, svc: Svc, key: Caller, min_position: MinPosition = None,
             rep: Reference | None = None,
             status: Annotated[str | None, Query(
                 pattern="^(open|kept|broken|cancelled|overdue)$")] = None,
             limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
    """What each rep promised this customer, oldest first."""
    return await read(svc, key, ref, "promises", min_position, queries.promises_of, rep=rep,
                      status=status, limit=limit, cursor=cursor)


@router.get("/quotes", response_model=Page[Quote], responses=responses(404, 422))
async def quotes(ref: Reference, svc: Svc, key: Caller, min_position: MinPosition = None,
           rep: Reference | None = None,
           status: Annotated[str | None, Query(
               pattern="^(open|accepted|declined|expired|withdrawn)$")] = None,
           limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
    """The quotes given to this customer, oldest first."""
    return await read(svc, key, ref, "quotes", min_position, queries.quotes_of, rep=rep,
                      status=status, limit=limit, cursor=cursor)
