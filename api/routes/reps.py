"""A rep's dossier, and the hand-over list of a departed rep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from api.deps import (
    MinPosition,
    Offset,
    Purpose,
    Reference,
    Services,
    Svc,
    access,
    may_read_rep,
    recorded,
    requires,
    wait_for,
)
from api.keys import ApiKey
from api.problems import responses
from api.schemas import Dossier, DossierPage, Handover
from ledger.authorization import READS_CUSTOMERS
from ledger.commands.fields import Moment
from ledger.projections import queries
from ledger.projections.dossier import SECTIONS, dossier_page, rep_handover

router = APIRouter(prefix="/reps/{ref}", tags=["reps"])
# Which rep's dossier a key may read is ``may_read_rep``'s to say.
Reader = Annotated[ApiKey, Depends(requires(*sorted(READS_CUSTOMERS), doing="read rep dossiers"))]

AsOf = Annotated[
    Moment | None,
    Query(description='"Now" for deadlines (default: now); what is overdue as of then.'),
]
VIEWS = ("promises", "quotes", "service", "dossier")
Limit = Annotated[int, Query(ge=1, le=1000, description="Rows of each list at most.")]
Section = Annotated[
    str, Path(pattern=f"^({'|'.join(SECTIONS)})$", description=f"One of {', '.join(SECTIONS)}.")
]


async def answer(
    svc: Services,
    key: ApiKey,
    request: Request,
    ref: str,
    min_position: int | None,
    purpose: str | None,
    query: Callable[..., dict[str, Any]],
    as_of: datetime | None,
    **options: Any,
) -> dict[str, Any]:
    """Wait for the views, check the key may read this rep's dossier, then ask, recording
    the read (of many customers: one record, of no one customer) in the access log."""
    await wait_for(svc, VIEWS, min_position)
    await svc.call(may_read_rep, svc, key, ref)
    entry = access(key, request, customer=None, fields=("dossier",), purpose=purpose)
    return await recorded(
        svc,
        entry,
        svc.call(query, svc.db, ref, as_of=as_of or datetime.now(timezone.utc), **options),
    )


@router.get("/dossier", response_model=Dossier, responses=responses(404))
async def dossier(
    ref: Reference,
    svc: Svc,
    key: Reader,
    request: Request,
    as_of: AsOf = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
    purpose: Purpose = None,
) -> dict[str, Any]:
    """Customers owned and touched, open promises, quotes, complaints and requests: the
    first `limit` of each, with how many there are (`totals`)."""
    return await answer(
        svc, key, request, ref, min_position, purpose, queries.rep_dossier, as_of, limit=limit
    )


@router.get("/dossier/{section}", response_model=DossierPage, responses=responses(404))
async def dossier_section(
    ref: Reference,
    section: Section,
    svc: Svc,
    key: Reader,
    request: Request,
    as_of: AsOf = None,
    offset: Offset = 0,
    limit: Limit = 100,
    min_position: MinPosition = None,
    purpose: Purpose = None,
) -> dict[str, Any]:
    """One list of the dossier, `limit` rows from `offset`."""
    page = await answer(
        svc,
        key,
        request,
        ref,
        min_position,
        purpose,
        dossier_page,
        as_of,
        section=section,
        offset=offset,
        limit=limit,
    )
    ends = offset + len(page["items"]) >= page["total"]
    return {**page, "next_offset": None if ends else offset + len(page["items"])}


@router.get("/handover", response_model=Handover, responses=responses(404))
async def handover(
    ref: Reference,
    svc: Svc,
    key: Reader,
    request: Request,
    as_of: AsOf = None,
    min_position: MinPosition = None,
    purpose: Purpose = None,
) -> Handover:
    """For a departed rep: what needs a new owner and why, most urgent first."""
    return Handover(
        **await answer(svc, key, request, ref, min_position, purpose, rep_handover, as_of)
    )
