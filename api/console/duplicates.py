"""Likely duplicates: pairs of customers that are probably one, with why, for a manager
(their team's customers) and compliance (all)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from api.console.pages import PAGE, looked, page, shown_to
from api.deps import Offset, Svc, team_of
from api.keys import ApiKey
from ledger.authorization import FINDS_DUPLICATES
from ledger.projections.duplicates import likely_duplicates

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/duplicates", response_class=HTMLResponse)
async def duplicates(
    request: Request,
    svc: Svc,
    key: Annotated[ApiKey, Depends(shown_to(*FINDS_DUPLICATES, doing="list likely duplicates"))],
    offset: Offset = 0,
) -> Response:
    reps = None if key.role == "compliance" else sorted(await svc.call(team_of, svc, key))
    await looked(request, svc, key, fields=("duplicates",))
    found = await svc.slow(likely_duplicates, svc.db, reps=reps, limit=PAGE, offset=offset)
    more = offset + PAGE if offset + PAGE < found["total"] else None
    return page(
        request,
        "duplicates.html",
        key,
        pairs=found["data"],
        total=found["total"],
        offset=offset,
        more=more,
        earlier=max(offset - PAGE, 0) if offset else None,
    )
