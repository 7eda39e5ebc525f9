"""Compliance proves the record unaltered: verify the chains, take a digest, check one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import Reference, Services, Svc, requires
from api.keys import ApiKey
from api.problems import responses
from ledger.integrity import Integrity, Verification

router = APIRouter()


def run(
    svc: Services,
    action: str,
    customer: str | None = None,
    incremental: bool = False,
    against: str | None = None,
) -> dict[str, Any]:
    integrity = Integrity(svc.ledger)
    try:
        if against is not None:
            matches, found = integrity.against(against)
            return {**found.to_dict(), "digest_matches": matches}
        if action == "digest":
            found = integrity.verify()
            return {
                "ok": found.ok,
                "digest": found.digest() if found.ok else None,
                "position": found.position,
                "events": found.events,
            }
        if customer:
            return integrity.verify_customer(customer).to_dict()
        result: Verification = integrity.verify(incremental=incremental)
        access = svc.access.verify()  # the record of who looked is chained the same way
        return {**result.to_dict(), "ok": result.ok and access.ok, "access_log": access.to_dict()}
    finally:
        integrity.close()


@router.get("/integrity/verify", tags=["integrity"], responses=responses(404, 422))
async def verify(
    svc: Svc,
    key: Annotated[ApiKey, Depends(requires("compliance", doing="verify the record"))],
    customer: Annotated[Reference | None, Query(description="only this customer")] = None,
    incremental: Annotated[
        bool, Query(description="only what was written since the last run that found all well")
    ] = False,
    against: Annotated[
        str | None, Query(description="a digest printed earlier: is what it covered unchanged?")
    ] = None,
) -> dict[str, Any]:
    """Recompute every event's chain (or one customer's); each stream that does not match is
    named with its first bad version and what is wrong: changed, missing, inserted, reordered.
    Unless one customer is asked for, the access log's chain too (`access_log`, each record
    not as written named by position). Reading the whole log takes as long as it is long."""
    return await svc.slow(run, svc, "verify", customer, incremental, against)


@router.get("/integrity/digest", tags=["integrity"], responses=responses())
async def digest(
    svc: Svc,
    key: Annotated[ApiKey, Depends(requires("compliance", doing="take a digest"))],
) -> dict[str, Any]:
    """A digest of the whole log (position and every stream's head) for an auditor to keep;
    none if the log does not verify."""
    return await svc.slow(run, svc, "digest")
