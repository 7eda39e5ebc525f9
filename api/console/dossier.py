"""A rep's dossier, and the hand-over of a departed rep's customers and open work."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.pages import PAGE, FormSender, looked, now, page, shown_to
from api.deps import (
    Offset,
    Reference,
    Services,
    Svc,
    may_read_customer,
    may_read_rep,
    may_run,
    wait_for,
)
from api.keys import ApiKey
from ledger.authorization import READS_CUSTOMERS
from ledger.commands.models import AssignOwner
from ledger.errors import CommandInvalid, LedgerError, UnknownReference
from ledger.projections import queries
from ledger.projections.dossier import SECTIONS, dossier_page, rep_of
from ledger.projections.dossier import Dossier as DossierView

router = APIRouter(prefix="/console", include_in_schema=False)
# Which rep's dossier a key may read is ``may_read_rep``'s to say.
Reader = Annotated[ApiKey, Depends(shown_to(*sorted(READS_CUSTOMERS), doing="read rep dossiers"))]


@router.get("/reps/{ref}", response_class=HTMLResponse)
async def dossier(
    request: Request,
    svc: Svc,
    key: Reader,
    ref: Reference,
    section: Annotated[str, Query(max_length=40)] = "",
    offset: Offset = 0,
) -> Response:
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
    key: Reader,
    ref: Reference,
    owned: Offset = 0,
    items: Offset = 0,
    moved: Annotated[str, Query(max_length=20_000)] = "",
    to: Annotated[str, Query(max_length=60)] = "",
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """A departed rep's customers, a page at a time, to tick and hand over; what each moved
    customer brings its new owner; everything that needs a new owner, most urgent first."""
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
    svc: Svc,
    key: FormSender,
    ref: Reference,
    customers: Annotated[list[str] | None, Form()] = None,
    new_owner: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    accept: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Give the ticked customers (one or many) a new owner, for one reason: the one chosen,
    or (``accept=suggested``) each its suggested owner. Their open work goes with them.
    Whoever may run the commands (``may_run``: a manager of the customers' reps)."""
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
