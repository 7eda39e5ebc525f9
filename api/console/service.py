"""The service inbox: what is past its deadline, oldest first."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.pages import PAGE, filled, looked, now, page, shown_to
from api.deps import Reference, Svc, team_of
from api.keys import ApiKey
from ledger.authorization import READS_CUSTOMERS
from ledger.errors import Forbidden
from ledger.projections import queries

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/service", response_class=HTMLResponse)
async def service(
    request: Request,
    svc: Svc,
    key: Annotated[
        ApiKey, Depends(shown_to(*sorted(READS_CUSTOMERS), doing="read the service inbox"))
    ],
    rep: Annotated[Reference, Query(max_length=60)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """What is past its deadline, oldest first: a rep's own, a manager's team's or (for
    compliance) everyone's."""
    if key.role == "rep":
        rep = key.rep or ""
    elif rep and key.role == "manager" and rep not in await svc.call(team_of, svc, key):
        raise Forbidden(f"{rep} is not in your team", where="rep")
    scope = rep or (key.rep if key.role == "manager" else None)
    await looked(request, svc, key, fields=("inbox",))
    found = await svc.call(
        queries.service_inbox, svc.db, as_of=now(), rep=scope, limit=PAGE, cursor=cursor
    )
    more = (
        f"/console/service?{urlencode(filled({'rep': rep, 'cursor': found.next_cursor}))}"
        if found.next_cursor
        else None
    )
    return page(request, "service.html", key, items=found.items, rep=scope, more=more)
