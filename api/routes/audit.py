"""The access log: who looked at which customer's data (compliance and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import Svc, requires
from api.keys import ApiKey
from api.problems import responses
from api.routes.customers import Cursor, Limit
from api.schemas import AccessRecord, Page

router = APIRouter()


@router.get(
    "/audit/access", response_model=Page[AccessRecord], tags=["audit"], responses=responses(422)
)
async def access(
    svc: Svc,
    caller: Annotated[
        ApiKey, Depends(requires("compliance", "admin", doing="read the access log"))
    ],
    customer: Annotated[
        str | None, Query(max_length=200, description="Only reads of this customer.")
    ] = None,
    key: Annotated[
        str | None,
        Query(max_length=200, description="Only reads by this key (cli:USER: the command line)."),
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Recorded at or after this instant.")
    ] = None,
    until: Annotated[datetime | None, Query(description="Recorded before this instant.")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Who read which customer's data, newest first, by customer, key and time."""
    page = await svc.call(
        svc.access.list,
        customer=customer,
        key=key,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    return page.to_dict()
