"""Customers registered twice: the pairs likely to be one, for managers and compliance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.deps import MinPosition, Offset, Purpose, Svc, access, requires, team_of, wait_for
from api.keys import ApiKey
from api.problems import responses
from api.schemas import Duplicates
from ledger.authorization import FINDS_DUPLICATES
from ledger.projections.duplicates import likely_duplicates

router = APIRouter(tags=["customers"])
Finder = Annotated[ApiKey, Depends(requires(*FINDS_DUPLICATES, doing="list likely duplicates"))]


@router.get("/duplicates", response_model=Duplicates, responses=responses(403, 422))
async def duplicates(
    svc: Svc,
    key: Finder,
    request: Request,
    purpose: Purpose = None,
    min_score: Annotated[
        float, Query(ge=0, le=1, description="Only pairs at least this sure (0 to 1).")
    ] = 0.0,
    min_position: MinPosition = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Pairs per page.")] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Pairs of customers likely to be one (the same phone or e-mail; the same company and
    a name in characters or pinyin, or a similar name), with why, most likely first. A
    manager's are of customers their team reaches, both of each pair; compliance's of all.
    Forgotten customers are never listed."""
    await wait_for(svc, ("dossier", "promises", "quotes", "service"), min_position)
    reps = None if key.role == "compliance" else sorted(await svc.call(team_of, svc, key))
    await svc.access.record_async(
        [access(key, request, customer=None, fields=("duplicates",), purpose=purpose)]
    )
    found: dict[str, Any] = await svc.slow(
        likely_duplicates, svc.db, reps=reps, limit=limit, offset=offset, min_score=min_score
    )
    return found
