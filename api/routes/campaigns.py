"""Campaigns that are events, and the registrations for them. (Launching a campaign, its
costs and registrations are written through the command endpoints: api/routes/commands.py.)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.deps import MinPosition, Purpose, Reference, Svc, access, recorded, requires, team_of
from api.deps import wait_for as wait_for_views
from api.keys import ApiKey
from api.problems import responses
from api.routes.customers import Cursor, Limit
from api.schemas import Event, Page, Registration
from ledger.authorization import READS_CUSTOMERS
from ledger.projections import events

router = APIRouter(prefix="/campaigns/{ref}", tags=["events"])
Reader = Annotated[
    ApiKey, Depends(requires(*sorted(READS_CUSTOMERS), doing="read events' registrations"))
]
VIEWS = ("activity", "service")
Status = Annotated[
    str | None,
    Query(pattern="^(open|confirmed|declined)$", description="Only open, confirmed or declined."),
]


@router.get("", response_model=Event, responses=responses(404, 422))
async def event(
    ref: Reference, svc: Svc, key: Reader, min_position: MinPosition = None
) -> dict[str, Any]:
    """The campaign: its kind, date and capacity if it is an event, and its registrations
    counted (open, confirmed, declined, attended, no-shows) with the seats left."""
    await wait_for_views(svc, VIEWS, min_position)
    return await svc.call(events.event_of, svc.db, ref)


@router.get("/registrations", response_model=Page[Registration], responses=responses(404, 422))
async def registrations(
    ref: Reference,
    svc: Svc,
    key: Reader,
    request: Request,
    status: Status = None,
    min_position: MinPosition = None,
    purpose: Purpose = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The event's registrations in the order they were made: a rep sees those they answer
    for, a manager their team's, compliance all."""
    await wait_for_views(svc, VIEWS, min_position)
    await svc.call(events.event_of, svc.db, ref)  # 404 for a campaign nobody launched
    reps = None if key.role == "compliance" else await svc.call(team_of, svc, key)
    entry = access(key, request, customer=None, fields=("registrations",), purpose=purpose)
    page = await recorded(
        svc,
        entry,
        svc.call(
            events.registrations_of,
            svc.db,
            ref,
            reps=reps,
            status=status,
            limit=limit,
            cursor=cursor,
        ),
    )
    return page.to_dict()
