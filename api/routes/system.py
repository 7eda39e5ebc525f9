"""Health, readiness, and API keys (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import Svc, requires
from api.keys import ApiKey
from api.problems import responses
from api.schemas import Key, KeyRequest, NewKey, Ready, ViewState

router = APIRouter()
KeyManager = Annotated[ApiKey, Depends(requires("admin", doing="manage keys"))]


@router.get("/healthz", tags=["system"])
async def healthz() -> dict[str, str]:
    """The process is up (it does not touch the store)."""
    # async: answered on the event loop, not queued behind the worker threads' reads
    return {"status": "up"}


@router.get("/readyz", response_model=Ready, tags=["system"], responses={503: responses()[503]})
def readyz(svc: Svc) -> Ready:
    """The store is reachable; each view's position and lag behind the log."""
    states = svc.runner.status()
    return Ready(
        store="reachable",
        head=states[0].head if states else 0,
        views=[ViewState(**s.to_dict()) for s in states],
    )


@router.get("/keys", response_model=list[Key], tags=["keys"], responses=responses())
def list_keys(svc: Svc, key: KeyManager) -> list[Key]:
    """Every key, revoked ones too (never their secrets)."""
    return [Key(**k.to_dict()) for k in svc.keys.list()]


@router.post(
    "/keys", response_model=NewKey, status_code=201, tags=["keys"], responses=responses(409, 422)
)
def create_key(request: KeyRequest, svc: Svc, key: KeyManager) -> NewKey:
    """A new key; its token is in this response only."""
    created, token = svc.keys.create(request.name, request.role, request.rep)
    return NewKey(**created.to_dict(), token=token)


@router.post("/keys/{name}/revoke", response_model=Key, tags=["keys"], responses=responses(404))
def revoke_key(name: str, svc: Svc, key: KeyManager) -> Key:
    """Revoke a key (by name or id); it stops working at once."""
    return Key(**svc.keys.revoke(name).to_dict())
