"""The API keys (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from api.console.pages import page, shown_to
from api.deps import Svc
from api.keys import ApiKey

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/keys", response_class=HTMLResponse)
async def keys(
    request: Request,
    svc: Svc,
    key: Annotated[ApiKey, Depends(shown_to("admin", doing="list API keys"))],
) -> Response:
    return page(request, "keys.html", key, keys=await svc.call(svc.keys.list))
