"""What every page of the console shares: its templates, the signed-in visitor (and the roles
that may open a page, as dependencies), the token a form carries, the access log's record of
what a page shows, and the page an error is shown as."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from api.console.session import COOKIE, csrf_ok, csrf_token, session_key
from api.deps import Services, Svc, access, require
from api.keys import ApiKey
from api.problems import TITLES
from ledger.commands.fields import in_utc
from ledger.errors import CommandInvalid, Forbidden

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
PAGE = 50  # rows of a list per page
PURPOSE = "ledger_purpose"  # the cookie holding the purpose given at sign-in


class SignInNeeded(Exception):
    """No valid session: the page sends the visitor to sign in, and back afterwards."""

    def __init__(self, back: str) -> None:
        super().__init__(back)
        self.back = back


async def visitor(request: Request, svc: Svc) -> ApiKey:
    """The key of the signed-in visitor; sends anyone else to sign in."""
    cookie = request.cookies.get(COOKIE)
    key = await svc.call(session_key, svc.keys, cookie) if cookie else None
    if key is None or cookie is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(back)
    request.state.console_key = key
    request.state.csrf = csrf_token(svc.keys, cookie)
    if key.role == "compliance":
        request.app.state.first_violations.warm(svc)  # ready by the time the board opens
    return key


Visitor = Annotated[ApiKey, Depends(visitor)]


async def form_sender(
    request: Request, svc: Svc, key: Visitor, csrf: Annotated[str, Form()] = ""
) -> ApiKey:
    """The visitor who sent a form, if the form carries their session's token."""
    if not csrf_ok(svc.keys, request.cookies.get(COOKIE), csrf):
        raise Forbidden(
            "this form is out of date or came from another site; reload the page and send it again",
            where="csrf",
        )
    return key


FormSender = Annotated[ApiKey, Depends(form_sender)]


def shown_to(*roles: str, doing: str) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A dependency: the visitor if their role is one of ``roles``; otherwise the 403 page,
    saying that a key of their role may not do ``doing`` (``api.deps.requires``, for pages)."""

    async def allowed(key: Visitor) -> ApiKey:
        require(key, roles, doing)
        return key

    return allowed


def sent_by(*roles: str, doing: str) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """``shown_to`` for a form: its token is checked first."""

    async def allowed(key: FormSender) -> ApiKey:
        require(key, roles, doing)
        return key

    return allowed


def page(
    request: Request, name: str, key: ApiKey | None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"key": key, "csrf": getattr(request.state, "csrf", ""), "now": now(), **context},
        status_code=status,
    )


def error_page(request: Request, status: int, detail: str, where: str | None) -> Response:
    """The page for an error the API would answer with a problem document."""
    key = getattr(request.state, "console_key", None)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "key": key,
            "csrf": getattr(request.state, "csrf", ""),
            "status": status,
            "title": TITLES.get(status, "Error"),
            "detail": detail,
            "where": where,
            "back": request.headers.get("referer"),
        },
        status_code=status,
    )


async def looked(
    request: Request,
    svc: Services,
    key: ApiKey,
    *,
    customer: str | None = None,
    fields: tuple[str, ...],
) -> None:
    """Record in the access log what this page is about to show; a page whose record cannot
    be written is not shown (503)."""
    purpose = unquote(request.cookies.get(PURPOSE, ""))[:500] or None
    await svc.access.record_async(
        [
            access(
                key, request, customer=customer, fields=fields, purpose=purpose, interface="console"
            )
        ]
    )


def now() -> datetime:
    return datetime.now(timezone.utc)


def moment(text: str, where: str) -> datetime | None:
    """A date or instant typed into a filter (a date is midnight UTC)."""
    if not text.strip():
        return None
    try:
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandInvalid(
            f"{text!r} is not a date (2025-03-01) or an instant (2025-03-01T09:00:00+00:00)",
            where=where,
        ) from None
    try:
        return in_utc(found)
    except ValueError as error:
        raise CommandInvalid(str(error), where=where) from None


def filled(values: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}
