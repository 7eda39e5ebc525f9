"""A rep's dossier, and the hand-over list of a departed rep."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import Caller, MinPosition, Services, Svc, may_read_rep, wait_for
from api.keys import ApiKey
from api.problems import responses
from api.schemas import Dossier, Handover
from ledger.projections import queries

router = APIRouter(prefix="/reps/{ref}", tags=["reps"])

AsOf = Annotated[datetime | None, Query(
    description="\"Now\" for deadlines (default: now); what is overdue as of then.")]
VIEWS = ("promises", "quotes", "service", "dossier")


async def dossier_of(svc: Services, key: ApiKey, ref: str, as_of: datetime | None,
                     min_position: int | None) -> dict[str, Any]:
    await wait_for(svc, VIEWS, min_position)
    await svc.call(may_read_rep, svc, key, ref)
    return await svc.call(queries.rep_dossier, svc.db, ref,
                          as_of=as_of or datetime.now(timezone.utc))


@router.get("/dossier", response_model=Dossier, responses=responses(404))
async def dossier(ref: str, svc: Svc, key: Caller, as_of: AsOf = None,
            min_position: MinPosition = None) -> dict[str, Any]:
    """Customers owned and touched, open promises, quotes, complaints and requests."""
    return await dossier_of(svc, key, ref, as_of, min_position)


@router.get("/handover", response_model=Handover, responses=responses(404))
async def handover(ref: str, svc: Svc, key: Caller, as_of: AsOf = None,
             min_position: MinPosition = None) -> Handover:
    """For a departed rep: what needs a new owner and why, most urgent first."""
    found = await dossier_of(svc, key, ref, as_of, min_position)
    return Handover(rep=found["rep"], as_of=found["as_of"], handover=found["handover"])
