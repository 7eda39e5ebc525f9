"""The compliance board (overdue and broken promises, conflicting quotes, violations, orphaned
work, the integrity record), verifying the record, and the access log (compliance and
admins)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.jobs import Refreshed
from api.console.pages import PAGE, filled, looked, moment, now, page, sent_by, shown_to
from api.deps import Services, Svc
from api.keys import ApiKey
from ledger.integrity import Integrity, digest_of
from ledger.projections import queries
from ledger.projections.promises import promises_with_status
from ledger.projections.service import violations

router = APIRouter(prefix="/console", include_in_schema=False)
REFRESH = 60  # seconds the board's first page of violations is shown before it is recomputed


def first_violations() -> Refreshed:
    """The board's first page of violations, kept for the app (``app.state``)."""
    return Refreshed(lambda svc: violations(svc.db, limit=PAGE), REFRESH)


@router.get("/compliance", response_class=HTMLResponse)
async def compliance(
    request: Request,
    svc: Svc,
    key: Annotated[ApiKey, Depends(shown_to("compliance", doing="open the compliance board"))],
    overdue: Annotated[str | None, Query(max_length=500)] = None,
    broken: Annotated[str | None, Query(max_length=500)] = None,
    conflicts: Annotated[str | None, Query(max_length=500)] = None,
    breaches: Annotated[str | None, Query(max_length=500)] = None,
    orphaned: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Overdue and broken promises, conflicting quotes, consent and open-complaint violations,
    orphaned work, and the integrity record: each list with its own next page."""
    await looked(request, svc, key, fields=("promises", "quotes", "violations", "orphaned"))
    cursors = {
        "overdue": overdue,
        "broken": broken,
        "conflicts": conflicts,
        "breaches": breaches,
        "orphaned": orphaned,
    }
    kept: Refreshed = request.app.state.first_violations
    lists = {
        "overdue": await svc.call(
            promises_with_status, svc.db, "overdue", limit=PAGE, cursor=overdue
        ),
        "broken": await svc.call(promises_with_status, svc.db, "broken", limit=PAGE, cursor=broken),
        "conflicts": await svc.call(
            queries.conflicting_quotes, svc.db, limit=PAGE, cursor=conflicts
        ),
        "breaches": (
            await svc.slow(violations, svc.db, limit=PAGE, cursor=breaches)
            if breaches
            else await kept.get(svc)
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
        violations_at=None if breaches else kept.at,
    )


def integrity_state(svc: Services) -> tuple[list[dict[str, Any]], str | None]:
    """The last verifications of the chains (newest first), and the digest of the log as of
    the last one that found all well."""
    integrity = Integrity(svc.ledger)
    try:
        runs = integrity.runs(5)
        position, heads = integrity.last_run()
    finally:
        integrity.close()
    return runs, digest_of(heads, position) if position else None


@router.post("/compliance/verify")
async def verify(
    svc: Svc,
    key: Annotated[ApiKey, Depends(sent_by("compliance", doing="verify the record"))],
) -> Response:
    """Verify what was written since the last run that found all well (the run is recorded,
    with the heads the board's digest is taken from)."""
    ok = await svc.slow(verify_new, svc)
    return RedirectResponse(f"/console/compliance?verified={'yes' if ok else 'no'}", 303)


def verify_new(svc: Services) -> bool:
    integrity = Integrity(svc.ledger)
    try:
        return integrity.verify(incremental=True).ok
    finally:
        integrity.close()


@router.get("/audit", response_class=HTMLResponse)
async def audit(
    request: Request,
    svc: Svc,
    key: Annotated[ApiKey, Depends(shown_to("compliance", "admin", doing="read the access log"))],
    customer: Annotated[str, Query(max_length=200)] = "",
    key_name: Annotated[str, Query(alias="key", max_length=200)] = "",
    since: Annotated[str, Query(max_length=30)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Who looked at which customer's data, newest first, by customer, key and date."""
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
