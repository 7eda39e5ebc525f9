"""Compliance's lists, and the service inbox."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.deps import (
    MinPosition,
    Purpose,
    Reference,
    Svc,
    access,
    requires,
    team_of,
    wait_for,
)
from api.keys import ApiKey
from api.problems import responses
from api.routes.customers import Cursor, Limit
from api.schemas import (
    ConflictingQuotes,
    InboxItem,
    MergeRecord,
    OrphanedItem,
    Page,
    Violation,
)
from ledger.commands.fields import Moment
from ledger.errors import Forbidden
from ledger.projections import queries
from ledger.projections.dossier import FOLLOW_UP_DAYS
from ledger.projections.service import WHY

router = APIRouter()


@router.get(
    "/compliance/conflicts",
    response_model=Page[ConflictingQuotes],
    tags=["compliance"],
    responses=responses(422),
)
async def conflicts(
    svc: Svc,
    key: Annotated[ApiKey, Depends(requires("compliance", doing="review conflicting quotes"))],
    request: Request,
    purpose: Purpose = None,
    customer: Reference | None = None,
    min_position: MinPosition = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Quotes to one customer for one product, valid at once, at different net prices."""
    await svc.access.record_async(
        [access(key, request, customer=customer, fields=("quotes",), purpose=purpose)]
    )
    await wait_for(svc, ("quotes",), min_position)
    page = await svc.call(
        queries.conflicting_quotes, svc.db, customer=customer, limit=limit, cursor=cursor
    )
    return page.to_dict()


@router.get(
    "/compliance/violations",
    response_model=Page[Violation],
    tags=["compliance"],
    responses=responses(422),
)
async def violations(
    svc: Svc,
    key: Annotated[ApiKey, Depends(requires("compliance", doing="review violations"))],
    request: Request,
    purpose: Purpose = None,
    kind: Annotated[str | None, Query(pattern=f"^({'|'.join(WHY)})$")] = None,
    min_position: MinPosition = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Touches after opt-out or during an open complaint, sales during an open complaint,
    the same material from two departments within 30 days."""
    await svc.access.record_async(
        [access(key, request, customer=None, fields=("violations",), purpose=purpose)]
    )
    await wait_for(svc, ("service",), min_position)
    page = await svc.slow(queries.violations, svc.db, kind=kind, limit=limit, cursor=cursor)
    return page.to_dict()


@router.get(
    "/compliance/orphaned",
    response_model=Page[OrphanedItem],
    tags=["compliance"],
    responses=responses(422),
)
async def orphaned(
    svc: Svc,
    key: Annotated[ApiKey, Depends(requires("compliance", doing="review orphaned work"))],
    request: Request,
    purpose: Purpose = None,
    as_of: Annotated[Moment | None, Query(description="Default: now.")] = None,
    min_position: MinPosition = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Open work whose responsible rep has departed and that nobody took over, soonest due
    first: who made it, who was responsible, and their manager."""
    await svc.access.record_async(
        [access(key, request, customer=None, fields=("orphaned",), purpose=purpose)]
    )
    await wait_for(svc, ("dossier", "promises", "quotes", "service"), min_position)
    page = await svc.call(
        queries.orphaned_items,
        svc.db,
        as_of=as_of or datetime.now(timezone.utc),
        limit=limit,
        cursor=cursor,
    )
    return page.to_dict()


@router.get(
    "/compliance/merges",
    response_model=Page[MergeRecord],
    tags=["compliance"],
    responses=responses(422),
)
async def merges(
    svc: Svc,
    key: Annotated[ApiKey, Depends(requires("compliance", doing="review merges of customers"))],
    request: Request,
    purpose: Purpose = None,
    customer: Reference | None = None,
    min_position: MinPosition = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Every merge of two records of a customer and every unmerge, in the order they
    happened: which record into which, who recorded it and why."""
    await svc.access.record_async(
        [access(key, request, customer=customer, fields=("merges",), purpose=purpose)]
    )
    await wait_for(svc, ("dossier",), min_position)
    page = await svc.call(queries.merges, svc.db, customer=customer, limit=limit, cursor=cursor)
    return page.to_dict()


@router.get(
    "/service/inbox", response_model=Page[InboxItem], tags=["service"], responses=responses(422)
)
async def inbox(
    svc: Svc,
    key: Annotated[
        ApiKey, Depends(requires("rep", "manager", "compliance", doing="read the service inbox"))
    ],
    request: Request,
    purpose: Purpose = None,
    rep: Reference | None = None,
    as_of: Annotated[Moment | None, Query(description="Default: now.")] = None,
    min_position: MinPosition = None,
    follow_up_days: Annotated[
        int,
        Query(
            ge=1,
            le=36_500,
            description="Days in which a customer from a source is to be contacted.",
        ),
    ] = FOLLOW_UP_DAYS,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Requests and complaints past their deadline, and customers from a source nobody
    contacted within `follow_up_days`, oldest deadline first. A rep sees their own; a
    manager names one rep of their team (default: themselves)."""
    if key.role != "compliance":
        rep = rep or key.rep
        if rep not in await svc.call(team_of, svc, key):
            raise Forbidden(f"{rep} is not {key.rep} or a rep of their team", where="rep")
    await wait_for(svc, ("service", "dossier", "activity"), min_position)
    await svc.access.record_async(
        [access(key, request, customer=None, fields=("inbox",), purpose=purpose)]
    )
    page = await svc.call(
        queries.service_inbox,
        svc.db,
        as_of=as_of or datetime.now(timezone.utc),
        rep=rep,
        limit=limit,
        cursor=cursor,
        follow_up_days=follow_up_days,
    )
    return page.to_dict()
