"""Signing in with an API key (a session cookie from then on), signing out, and each role's
first page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.pages import PURPOSE, FormSender, Visitor, page
from api.console.session import COOKIE, LIFETIME, open_session
from api.deps import Svc
from api.keys import KeyEnded

router = APIRouter(prefix="/console", include_in_schema=False)
HOME = {
    "rep": "/console/customers",
    "manager": "/console/customers",
    "compliance": "/console/compliance",
    "analyst": "/console/reports",
    "admin": "/console/keys",
}


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request, next: str = "/console") -> Response:
    return page(request, "signin.html", None, next=safe_next(next), failed=False)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    svc: Svc,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/console",
    purpose: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        key = await svc.call(svc.keys.authenticate, api_key) if api_key.strip() else None
    except KeyEnded as ended:
        return page(
            request,
            "signin.html",
            None,
            next=safe_next(next),
            failed=True,
            ended=str(ended),
            status=401,
        )
    if key is None:
        return page(request, "signin.html", None, next=safe_next(next), failed=True, status=401)
    answer = RedirectResponse(safe_next(next), 303)
    answer.set_cookie(
        COOKIE,
        open_session(svc.keys, key),
        max_age=LIFETIME,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )
    if purpose.strip():  # kept with every page this session opens (the access log)
        answer.set_cookie(
            PURPOSE,
            quote(purpose.strip()),
            max_age=LIFETIME,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/console",
        )
    else:
        answer.delete_cookie(PURPOSE, path="/console")
    return answer


@router.post("/signout")
async def signout(key: FormSender) -> Response:
    answer = RedirectResponse("/console/signin", 303)
    answer.delete_cookie(COOKIE, path="/console")
    answer.delete_cookie(PURPOSE, path="/console")
    return answer


def safe_next(target: str) -> str:
    """Only a page of the console: never another site."""
    return target if target.startswith("/console") and not target.startswith("//") else "/console"


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home(key: Visitor) -> Response:
    return RedirectResponse(HOME[key.role], 303)
