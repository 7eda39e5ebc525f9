"""The web console: pages for managers, compliance and analysts, in the API's own app.

Signed in with an API key (then a session cookie, ``api.console.session``), each page shows
only what the key's role may read, through the same checks and queries as the API. Forms
that write carry a token against cross-site requests and go through the same command path.
Every error the API can return is shown as a page that says what was wrong and where.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.console import charts
from api.console.session import COOKIE, LIFETIME, csrf_ok, csrf_token, open_session, session_key
from api.deps import (
    Offset,
    Reference,
    Services,
    Svc,
    access,
    may_read_customer,
    may_read_rep,
    may_run,
    require,
    team_of,
    wait_for,
)
from api.keys import ApiKey, KeyEnded
from api.problems import TITLES, ViewBehind
from api.routes.reports import stamp_headers
from ledger.authorization import READS_CUSTOMERS
from ledger.commands.fields import in_utc
from ledger.commands.models import AssignOwner, ErasePersonalData
from ledger.errors import CommandInvalid, Forbidden, LedgerError, UnknownReference
from ledger.integrity import Integrity, digest_of
from ledger.projections import queries
from ledger.projections.dossier import SECTIONS, dossier_page, find_customers, rep_of
from ledger.projections.dossier import Dossier as DossierView
from ledger.projections.promises import promises_with_status
from ledger.projections.service import violations
from replay.catalogue import REPORTS, Ask, Report, report
from replay.core import Reading
from replay.documents import Difference, csv_text, described, difference
from replay.periods import report_time
from replay.stamp import Stamp

HERE = Path(__file__).parent
log = logging.getLogger("ledger.console")
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/console", include_in_schema=False)
PAGE = 50  # rows of a list per page
PURPOSE = "ledger_purpose"  # the cookie holding the purpose given at sign-in
HOME = {
    "rep": "/console/customers",
    "manager": "/console/customers",
    "compliance": "/console/compliance",
    "analyst": "/console/reports",
    "admin": "/console/keys",
}


class SignInNeeded(Exception):
    """No valid session: the page sends the visitor to sign in, and back afterwards."""

    def __init__(self, back: str) -> None:
        super().__init__(back)
        self.back = back


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.state.first_violations = Refreshed(lambda svc: violations(svc.db, limit=PAGE), 60)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    async def sign_in_first(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInNeeded)
        return RedirectResponse(f"/console/signin?{urlencode({'next': error.back})}", 303)

    app.add_exception_handler(SignInNeeded, sign_in_first)


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


async def visitor(request: Request, svc: Services) -> ApiKey:
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


async def checked_form(request: Request, svc: Services, token: str) -> ApiKey:
    key = await visitor(request, svc)
    if not csrf_ok(svc.keys, request.cookies.get(COOKIE), token):
        raise Forbidden(
            "this form is out of date or came from another site; reload the page and send it again",
            where="csrf",
        )
    return key


def page(
    request: Request, name: str, key: ApiKey | None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"key": key, "csrf": getattr(request.state, "csrf", ""), "now": now(), **context},
        status_code=status,
    )


def now() -> datetime:
    return datetime.now(timezone.utc)


# -- signing in and out --------------------------------------------------------------------


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


@router.post("/signout")
async def signout(request: Request, svc: Svc, csrf: Annotated[str, Form()] = "") -> Response:
    await checked_form(request, svc, csrf)
    answer = RedirectResponse("/console/signin", 303)
    answer.delete_cookie(COOKIE, path="/console")
    answer.delete_cookie(PURPOSE, path="/console")
    return answer


def safe_next(target: str) -> str:
    """Only a page of the console: never another site."""
    return target if target.startswith("/console") and not target.startswith("//") else "/console"


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home(request: Request, svc: Svc) -> Response:
    key = await visitor(request, svc)
    return RedirectResponse(HOME[key.role], 303)


# -- customers -------------------------------------------------------------------------------


@router.get("/customers", response_class=HTMLResponse)
async def customers(
    request: Request, svc: Svc, q: Annotated[str, Query(max_length=100)] = ""
) -> Response:
    key = await visitor(request, svc)
    require(key, READS_CUSTOMERS, "read customers")
    found = await svc.call(search, svc, key, q.strip()) if q.strip() else []
    if found:
        await looked(request, svc, key, fields=("search",))
    return page(request, "customers.html", key, q=q, found=found)


def search(svc: Services, key: ApiKey, text: str) -> list[dict[str, Any]]:
    """Customers found by reference, name, e-mail, phone or company, those the key may
    read: a rep's and a manager's team's own, or all for compliance."""
    reps = None if key.role == "compliance" else sorted(team_of(svc, key))
    return find_customers(svc.db, text, index_key=svc.ledger.index_key, reps=reps, limit=PAGE)


@router.get("/customers/{ref}", response_class=HTMLResponse)
async def timeline(
    request: Request,
    svc: Svc,
    ref: Reference,
    kind: Annotated[str, Query(max_length=60)] = "",
    rep: Annotated[Reference, Query(max_length=60)] = "",
    since: Annotated[str, Query(max_length=30)] = "",
    until: Annotated[str, Query(max_length=30)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    key = await visitor(request, svc)
    await wait_for(svc, ("timeline", "dossier", "promises", "quotes"), min_position)
    await svc.call(may_read_customer, svc, key, ref)
    await looked(request, svc, key, customer=ref, fields=("timeline", "promises"))
    lines = await svc.call(
        queries.timeline_of,
        svc.db,
        ref,
        kinds=[kind] if kind else None,
        rep=rep or None,
        since=moment(since, "since"),
        until=moment(until, "until"),
        limit=PAGE,
        cursor=cursor,
    )
    open_promises = await svc.call(queries.promises_of, svc.db, ref, status="open")
    filters = {"kind": kind, "rep": rep, "since": since, "until": until}
    more = (
        f"/console/customers/{quote(ref)}?{urlencode({**filters, 'cursor': lines.next_cursor})}"
        if lines.next_cursor
        else None
    )
    return page(
        request,
        "timeline.html",
        key,
        ref=ref,
        lines=lines.items,
        filters=filters,
        more=more,
        open_promises=open_promises.items,
        kinds=TIMELINE_KINDS,
        may_erase=key.role == "compliance",
    )


@router.post("/customers/{ref}/erasure")
async def erase(
    request: Request,
    svc: Svc,
    ref: Reference,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Forget the customer: the same command, and the same rule, as the API and the CLI."""
    key = await checked_form(request, svc, csrf)
    if not reason.strip():
        raise CommandInvalid(
            "say why their personal data is erased (the reason is kept)", where="reason"
        )
    command = ErasePersonalData(customer=ref, reason=reason.strip())
    await svc.call(may_run, svc, key, command)
    result = await svc.call(svc.ledger.execute, command, actor=key.actor)
    target = f"/console/customers/{quote(ref)}?{urlencode({'min_position': result.position})}"
    return RedirectResponse(target, 303)


TIMELINE_KINDS = (
    "Registered",
    "ContactLogged",
    "RequestReceived",
    "RequestAnswered",
    "QuoteIssued",
    "QuoteAccepted",
    "QuoteDeclined",
    "PromiseMade",
    "PromiseKept",
    "PromiseBroken",
    "ComplaintFiled",
    "ComplaintResolved",
    "PurchaseRecorded",
    "CampaignTouched",
    "ConsentChanged",
    "OwnerAssigned",
    "EntryCorrected",
    "EntryRetracted",
    "Churned",
    "WonBack",
)


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


# -- reps: dossier and hand-over ---------------------------------------------------------------


@router.get("/reps/{ref}", response_class=HTMLResponse)
async def dossier(
    request: Request,
    svc: Svc,
    ref: Reference,
    section: Annotated[str, Query(max_length=40)] = "",
    offset: Offset = 0,
) -> Response:
    key = await visitor(request, svc)
    await svc.call(may_read_rep, svc, key, ref)
    await looked(request, svc, key, fields=("dossier",))
    found = await svc.call(queries.rep_dossier, svc.db, ref, as_of=now(), limit=10)
    listing = None
    if section:
        if section not in SECTIONS:
            raise CommandInvalid(
                f"no list {section!r}; lists are {', '.join(SECTIONS)}", where="section"
            )
        listing = await svc.call(
            dossier_page, svc.db, ref, section, as_of=now(), offset=offset, limit=PAGE
        )
    return page(request, "dossier.html", key, ref=ref, d=found, listing=listing, page=PAGE)


@router.get("/reps/{ref}/handover", response_class=HTMLResponse)
async def handover(
    request: Request,
    svc: Svc,
    ref: Reference,
    owned: Offset = 0,
    items: Offset = 0,
    moved: Annotated[str, Query(max_length=20_000)] = "",
    to: Annotated[str, Query(max_length=60)] = "",
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """A departed rep's customers, a page at a time, to tick and hand over; what each moved
    customer brings its new owner; everything that needs a new owner, most urgent first."""
    key = await visitor(request, svc)
    await wait_for(svc, ("dossier", "promises", "quotes", "service"), min_position)
    await svc.call(may_read_rep, svc, key, ref)
    await looked(request, svc, key, fields=("handover",))
    person = await svc.call(rep_of, svc.db, ref)
    customers = await svc.call(
        dossier_page, svc.db, ref, "customers_owned", as_of=now(), offset=owned, limit=PAGE
    )
    inherited = []
    for customer in [c for c in moved.split(",") if c][:PAGE]:
        promises = None  # (of a customer outside the key's reach: not shown)
        if await svc.call(within_reach, svc, key, customer):
            promises = (await svc.call(queries.promises_of, svc.db, customer, status="open")).items
        inherited.append({"customer": customer, "promises": promises})
    reps = await svc.call(active_reps, svc)
    whole = await svc.call(queries.rep_handover, svc.db, ref, as_of=now())
    suggestions = suggested_owners(whole)
    # The list of what needs a new owner, a page of it (the whole list ranks the suggestions).
    needs = {
        "offset": items,
        "total": len(whole["handover"]),
        "items": whole["handover"][items : items + PAGE],
    }
    return page(
        request,
        "handover.html",
        key,
        ref=ref,
        rep=person,
        owned=customers,
        needs=needs,
        page=PAGE,
        reps=reps,
        moved=inherited,
        to=to,
        progress=whole["handover_progress"],
        suggestions=suggestions,
        may_assign=key.role == "manager",
    )


def suggested_owners(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each owned customer's suggested new owner and why, from a rep's hand-over."""
    return {
        item["customer"]: {"rep": item["suggested_owner"], "because": item["suggested_because"]}
        for item in found["handover"]
        if item["what"] == "owned customer" and item["suggested_owner"]
    }


@router.post("/reps/{ref}/handover")
async def reassign(
    request: Request,
    svc: Svc,
    ref: Reference,
    csrf: Annotated[str, Form()] = "",
    customers: Annotated[list[str] | None, Form()] = None,
    new_owner: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    accept: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Give the ticked customers (one or many) a new owner, for one reason: the one chosen,
    or (``accept=suggested``) each its suggested owner. Their open work goes with them."""
    key = await checked_form(request, svc, csrf)
    chosen = customers or []
    if not chosen:
        raise CommandInvalid("tick at least one customer to hand over", where="customers")
    if not reason.strip():
        raise CommandInvalid(
            "say why they change hands (the reason is kept with the change)", where="reason"
        )
    if accept == "suggested":
        await svc.call(may_read_rep, svc, key, ref)
        suggestions = suggested_owners(
            await svc.call(queries.rep_handover, svc.db, ref, as_of=now())
        )
        unknown = [c for c in chosen if c not in suggestions]
        if unknown:
            raise CommandInvalid(
                f"no suggestion for {', '.join(unknown[:5])}: {ref} does not "
                "own them now; choose a new owner",
                where="customers",
            )
        owners = {c: suggestions[c]["rep"] for c in chosen}
    elif not new_owner:
        raise CommandInvalid("choose the new owner", where="new_owner")
    else:
        owners = dict.fromkeys(chosen, new_owner)
    commands = [AssignOwner(customer=c, rep=owners[c], reason=reason.strip()) for c in chosen]
    for command in commands:
        await svc.call(may_run, svc, key, command)
        await svc.call(may_read_customer, svc, key, command.customer)
    outcomes = await svc.call(svc.ledger.execute_many, commands, actor=key.actor, atomic=True)
    position = max((o.position or 0) for o in outcomes if not isinstance(o, LedgerError))
    shown = {
        "moved": ",".join(chosen),
        "to": ", ".join(sorted(set(owners.values()))),
        "min_position": position,
    }
    target = f"/console/reps/{quote(ref)}/handover?{urlencode(shown)}"
    return RedirectResponse(target, 303)


def within_reach(svc: Services, key: ApiKey, ref: str) -> bool:
    try:
        may_read_customer(svc, key, ref)
    except UnknownReference:
        return False
    return True


def active_reps(svc: Services) -> list[dict[str, Any]]:
    with svc.db.transaction(DossierView().table_names(), commit=False, snapshot=False) as tx:
        return tx.rows("SELECT ref, name, team FROM {reps} WHERE departed_at IS NULL ORDER BY ref")


# -- compliance and service ---------------------------------------------------------------------


@router.get("/compliance", response_class=HTMLResponse)
async def compliance(
    request: Request,
    svc: Svc,
    overdue: Annotated[str | None, Query(max_length=500)] = None,
    broken: Annotated[str | None, Query(max_length=500)] = None,
    conflicts: Annotated[str | None, Query(max_length=500)] = None,
    breaches: Annotated[str | None, Query(max_length=500)] = None,
    orphaned: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Overdue and broken promises, conflicting quotes, consent and open-complaint violations,
    orphaned work, and the integrity record: each list with its own next page."""
    key = await visitor(request, svc)
    require(key, ("compliance",), "open the compliance board")
    await looked(request, svc, key, fields=("promises", "quotes", "violations", "orphaned"))
    cursors = {
        "overdue": overdue,
        "broken": broken,
        "conflicts": conflicts,
        "breaches": breaches,
        "orphaned": orphaned,
    }
    lists = {
        "overdue": await svc.call(
            promises_with_status, svc.db, "overdue", limit=PAGE, cursor=overdue
        ),
        "broken": await svc.call(promises_with_status, svc.db, "broken", limit=PAGE, cursor=broken),
        "conflicts": await svc.call(
            queries.conflicting_quotes, svc.db, limit=PAGE, cursor=conflicts
        ),
        "breaches": (
            await svc.call(violations, svc.db, limit=PAGE, cursor=breaches)
            if breaches
            else request.app.state.first_violations.get(svc)
        ),
        "orphaned": await svc.call(
            queries.orphaned_items, svc.db, as_of=now(), limit=PAGE, cursor=orphaned
        ),
    }
    more = {
        name: (
            f"/console/compliance?{urlencode({**filled(cursors), name: found.next_cursor})}"
            if found.next_cursor
            else None
        )
        for name, found in lists.items()
    }
    runs, digest = await svc.call(integrity_state, svc)
    return page(
        request,
        "compliance.html",
        key,
        lists={k: v.items for k, v in lists.items()},
        more=more,
        runs=runs,
        digest=digest,
        verified=request.query_params.get("verified"),
        violations_at=None if breaches else request.app.state.first_violations.at,
    )


class Refreshed:
    """A slow query's answer, kept and recomputed in the background once it is older than
    ``every`` seconds: a page shows the answer kept (saying when it was computed) and never
    waits for it, but the first time. The first page of violations, at a million events,
    takes over a second to compute (every touch, sale and complaint is joined)."""

    def __init__(self, compute: Callable[[Services], Any], every: float) -> None:
        self.compute, self.every = compute, every
        self.value: Any = None
        self.at: datetime | None = None
        self.running = threading.Lock()

    def get(self, svc: Services) -> Any:
        if self.at is None:
            with self.running:
                if self.at is None:
                    self.refresh(svc)
        elif (now() - self.at).total_seconds() > self.every:
            self.start(svc)
        return self.value

    def warm(self, svc: Services) -> None:
        """Compute it now in the background, if it never was."""
        if self.at is None:
            self.start(svc)

    def start(self, svc: Services) -> None:
        if not self.running.acquire(blocking=False):
            return  # already running

        def again() -> None:
            try:
                self.refresh(svc)
            finally:
                self.running.release()

        threading.Thread(target=again, name="console-refresh", daemon=True).start()

    def refresh(self, svc: Services) -> None:
        started = now()
        self.value = self.compute(svc)
        self.at = started


def filled(values: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def integrity_state(svc: Services) -> tuple[list[dict[str, Any]], str | None]:
    """The last verifications of the chains (newest first), and the digest of the log as of
    the last one that found all well."""
    integrity = Integrity(svc.ledger)
    try:
        with integrity.db.transaction({"runs": "integrity_runs"}, commit=False) as tx:
            rows = tx.rows("SELECT * FROM {runs} ORDER BY verified_at DESC LIMIT 5")
        position, heads = integrity.last_run()
    finally:
        integrity.close()
    return (
        [{**row, "ok": bool(row["ok"])} for row in rows],
        digest_of(heads, position) if position else None,
    )


@router.post("/compliance/verify")
async def verify(request: Request, svc: Svc, csrf: Annotated[str, Form()] = "") -> Response:
    """Verify what was written since the last run that found all well (the run is recorded,
    with the heads the board's digest is taken from)."""
    key = await checked_form(request, svc, csrf)
    require(key, ("compliance",), "verify the record")
    ok = await svc.call(verify_new, svc)
    return RedirectResponse(f"/console/compliance?verified={'yes' if ok else 'no'}", 303)


def verify_new(svc: Services) -> bool:
    integrity = Integrity(svc.ledger)
    try:
        return integrity.verify(incremental=True).ok
    finally:
        integrity.close()


@router.get("/service", response_class=HTMLResponse)
async def service(
    request: Request,
    svc: Svc,
    rep: Annotated[Reference, Query(max_length=60)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """What is past its deadline, oldest first: a rep's own, a manager's team's or (for
    compliance) everyone's."""
    key = await visitor(request, svc)
    require(key, READS_CUSTOMERS, "read the service inbox")
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


# -- reports -----------------------------------------------------------------------------------


CHARTED = ("retention", "cohorts", "satisfaction", "campaigns", "complaints", "value")


def report_form(
    name: Annotated[str, Query(max_length=40)] = "retention",
    period: Annotated[str, Query(max_length=40)] = "",
    as_of: Annotated[str, Query(max_length=30)] = "",
    reading: Annotated[str, Query(pattern="^(now|known|occurred)$")] = "now",
    at: Annotated[str, Query(max_length=30)] = "",
    diff_a: Annotated[str, Query(max_length=30)] = "",
    diff_b: Annotated[str, Query(max_length=30)] = "",
    currency: Annotated[str, Query(max_length=3)] = "",
) -> dict[str, str]:
    """What the reports form asks for, as typed."""
    return {
        "name": name,
        "period": period,
        "as_of": as_of,
        "reading": reading,
        "at": at,
        "diff_a": diff_a,
        "diff_b": diff_b,
        "currency": currency,
    }


ReportForm = Annotated[dict[str, str], Depends(report_form)]


@router.get("/reports", response_class=HTMLResponse)
async def reports(
    request: Request, svc: Svc, form: ReportForm, run: Annotated[str, Query(max_length=5)] = ""
) -> Response:
    """A report under the reading chosen (now, as known at, as occurred by), with its chart
    and table, or the difference between two readings; each table downloads as CSV."""
    key = await visitor(request, svc)
    require(key, ("analyst", "compliance"), "read reports")
    name = form["name"]
    found: Report | Difference | None = None
    job: Job | None = None
    if run:  # a report runs apart (a replay reads the log up to then); the page follows it
        asked(form, svc.ledger.settings.zone)
        await looked(request, svc, key, fields=("report",))
        job = report_job(svc, key, form)
        if job.error is not None:
            raise job.error
        found = job.result
    csv_link = "/console/reports.csv?" + urlencode(form) if found else None
    return page(
        request,
        "reports.html",
        key,
        form=form,
        names=sorted(REPORTS),
        found=found,
        job=job if found is None else None,
        chart=chart_of(name, found) if isinstance(found, Report) else None,
        stamps=stamps_of(found) if found else [],
        csv_link=csv_link,
        totals=described(found.totals) if isinstance(found, Report) else [],
    )


@router.get("/reports.csv")
async def reports_csv(request: Request, svc: Svc, form: ReportForm) -> Response:
    """The table as CSV, its stamp (reading, log position, digest) in the response's headers
    and the file's name."""
    key = await visitor(request, svc)
    require(key, ("analyst", "compliance"), "read reports")
    asked(form, svc.ledger.settings.zone)
    await looked(request, svc, key, fields=("report",))
    job = JOBS.get(job_key(svc, key, form))
    found = job.result if job and job.result else await svc.call(report_for, svc, key, form)
    name = f"{form['name']}{'-diff' if form['diff_a'] else ''}"
    return Response(
        csv_text(found.rows, found.columns),
        media_type="text/csv; charset=utf-8",
        headers=stamp_headers(name, stamps_of(found)),
    )


def stamps_of(found: Report | Difference) -> list[Stamp]:
    """The stamp of a report, or both of a difference."""
    found_stamps = [found.stamp] if isinstance(found, Report) else list(found.stamps)
    return [stamp for stamp in found_stamps if stamp is not None]


def asked(form: dict[str, str], zone: ZoneInfo) -> tuple[Ask, list[Reading]]:
    """The report the form asks for and its reading (two, for a difference), checked before
    anything runs: a bad value is refused at once, not by a job that has begun. A date alone
    is the end of that day in the deployment's LEDGER_TIMEZONE."""
    if form["name"] not in REPORTS:
        raise CommandInvalid(
            f"no report {form['name']!r}; reports are {', '.join(sorted(REPORTS))}", where="name"
        )

    def when(name: str) -> datetime | None:
        return report_time(form[name], name, zone) if form[name].strip() else None

    ask = Ask(
        form["name"],
        period=form["period"] or None,
        as_of=when("as_of"),
        currency=form["currency"].strip().upper() or None,
    )
    if form["diff_a"]:
        return ask, [Reading(as_known_at=when(name)) for name in ("diff_a", "diff_b")]
    at = when("at")
    if form["reading"] != "now" and at is None:
        raise CommandInvalid("give the date the reading is as of", where="at")
    return ask, [
        Reading()
        if form["reading"] == "now"
        else Reading(as_known_at=at)
        if form["reading"] == "known"
        else Reading(as_occurred_by=at)
    ]


def report_for(
    svc: Services, key: ApiKey, form: dict[str, str], progress: Progress | None = None
) -> Report | Difference:
    """The report the form asks for (analysts see customers by pseudonym)."""
    ask, readings = asked(form, svc.ledger.settings.zone)
    found: Report | Difference
    if len(readings) == 2:
        a, b = readings
        found = difference(
            report(svc.ledger, ask, a, progress=progress),
            report(svc.ledger, ask, b, progress=progress),
        )
    else:
        chosen = readings[0]
        found = report(
            svc.ledger, ask, chosen, db=svc.db if chosen == Reading() else None, progress=progress
        )
    if key.role == "analyst" and "customer" in found.columns:
        found.rows = [
            {**row, "customer": svc.keys.pseudonym(row["customer"])}
            if row.get("customer") is not None
            else row
            for row in found.rows
        ]
    return found


Progress = Callable[[int | None], Callable[[int], None]]


@dataclass
class Job:
    """A report running on its own thread; the page shows how far it has read (a replay) until
    it is done, then its result, kept ``kept`` seconds for the CSV and reloads."""

    kept: float
    started: float = field(default_factory=time.monotonic)
    read: int = 0
    total: int | None = None
    result: Report | Difference | None = None
    error: LedgerError | None = None

    def progress(self, total: int | None) -> Callable[[int], None]:
        self.total = (self.total or 0) + (total or 0)

        def advance(events: int) -> None:
            self.read += events

        return advance

    @property
    def share(self) -> float | None:
        return min(1.0, self.read / self.total) if self.total else None


JOBS: dict[tuple[str, ...], Job] = {}
JOBS_LOCK = threading.Lock()
KEPT = 15 * 60  # seconds a replay's result is kept; as known now, 30 s
MAX_JOBS = 16


def job_key(svc: Services, key: ApiKey, form: dict[str, str]) -> tuple[str, ...]:
    """Jobs are shared by keys of one role (analysts see pseudonyms, compliance does not) of
    one app: two apps in a process (tests serve two stores) must not share a result."""
    return (f"app={id(svc)}", key.role, *(f"{k}={v}" for k, v in sorted(form.items())))


def report_job(svc: Services, key: ApiKey, form: dict[str, str]) -> Job:
    """The job for this report: running, done, or started now."""
    ident = job_key(svc, key, form)
    with JOBS_LOCK:
        for old, job in list(JOBS.items()):
            if time.monotonic() - job.started > job.kept:
                del JOBS[old]
        if ident in JOBS:
            return JOBS[ident]
        if len(JOBS) >= MAX_JOBS:
            raise ViewBehind(
                f"{MAX_JOBS} replays are running or kept; try again in a few minutes", where="run"
            )
        live = form["reading"] == "now" and not form["diff_a"]
        job = JOBS[ident] = Job(kept=30 if live else KEPT)

    def work() -> None:
        try:
            job.result = report_for(svc, key, form, progress=job.progress)
        except LedgerError as error:
            job.error = error
        except Exception:
            log.exception("a report for the console failed")
            job.error = LedgerError(
                "the report failed on the server; the error is in the server log", where="run"
            )

    threading.Thread(target=work, name="console-replay", daemon=True).start()
    return job


def chart_of(name: str, found: Report) -> Any:
    """The chart each report is read by: retention and churn over the periods, the cohort
    heatmap, churn by defection type, CSM over the periods, campaign revenue against spend."""
    rows = found.rows
    if not rows or name not in CHARTED:
        return None
    if name == "retention":
        labels = [r["period"] for r in rows]
        rates = charts.line_chart(
            "Retention and churn by period",
            labels,
            {
                "retention rate": column(rows, "retention_rate"),
                "churn rate": column(rows, "churn_rate"),
            },
            percent=True,
        )
        kinds = [c for c in found.columns if c.startswith("lost_")]
        lost = charts.bar_chart(
            "Customers lost, by defection type",
            labels,
            {kind.removeprefix("lost_"): column(rows, kind) for kind in kinds},
        )
        return [rates, lost]
    if name == "cohorts":
        periods = [c for c in found.columns if c.startswith("period_")]
        return [
            charts.heatmap(
                "Share of each cohort buying, by periods since its first purchase",
                [r["cohort"] for r in rows],
                [p.removeprefix("period_") for p in periods],
                [[number(r.get(p)) for p in periods] for r in rows],
            )
        ]
    if name == "satisfaction":
        series: dict[str, list[float | None]] = {}
        labels = sorted({r["period"] for r in rows})
        for row in rows:
            line = series.setdefault(
                str(row.get("product") or row.get("rep") or "all"), [None] * len(labels)
            )
            line[labels.index(row["period"])] = number(row.get("csm"))
        return [charts.line_chart("CSM by period", labels, dict(list(series.items())[:6]))]
    if name == "campaigns":
        labels = [r["campaign"] for r in rows]
        return [
            charts.bar_chart(
                "Campaign revenue against spend",
                labels,
                {"revenue": column(rows, "revenue"), "spend": column(rows, "spend")},
            )
        ]
    if name == "complaints":
        labels = [r["period"] for r in rows]
        return [
            charts.bar_chart(
                "Complaints and resolutions",
                labels,
                {"complaints": column(rows, "complaints"), "resolved": column(rows, "resolved")},
            )
        ]
    return None


def column(rows: list[dict[str, Any]], name: str) -> list[float | None]:
    return [number(row.get(name)) for row in rows]


def number(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


# -- keys (admins) ----------------------------------------------------------------------------


@router.get("/keys", response_class=HTMLResponse)
async def keys(request: Request, svc: Svc) -> Response:
    key = await visitor(request, svc)
    require(key, ("admin",), "list API keys")
    return page(request, "keys.html", key, keys=await svc.call(svc.keys.list))


# -- the access log (compliance, admins) ------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
async def audit(
    request: Request,
    svc: Svc,
    customer: Annotated[str, Query(max_length=200)] = "",
    key_name: Annotated[str, Query(alias="key", max_length=200)] = "",
    since: Annotated[str, Query(max_length=30)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Who looked at which customer's data, newest first, by customer, key and date."""
    key = await visitor(request, svc)
    require(key, ("compliance", "admin"), "read the access log")
    found = await svc.call(
        svc.access.list,
        customer=customer.strip() or None,
        key=key_name.strip() or None,
        since=moment(since, "since"),
        limit=PAGE,
        cursor=cursor,
    )
    filters = {"customer": customer, "key": key_name, "since": since}
    more = (
        f"/console/audit?{urlencode(filled({**filters, 'cursor': found.next_cursor}))}"
        if found.next_cursor
        else None
    )
    records = [{**item, "fields": ", ".join(item["fields"])} for item in found.items]
    return page(request, "audit.html", key, records=records, filters=filters, more=more)
