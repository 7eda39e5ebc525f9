"""What the routes share: the ledger and its views, the caller's key, and who may see what.

Roles:
  rep         records interactions; reads the customers they own or have dealt with
  manager     what a rep does, for their whole team; reassigns owners, corrects and retracts,
              hires, moves and records the departure of their reps, runs campaigns
  compliance  reads everything; writes nothing but corrections and retractions
  analyst     reports only (pseudonymous ids): no customer, rep or compliance reads
  admin       API keys, and hiring reps (a new deployment's first manager needs a rep)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from api.keys import ApiKey, KeyStore
from api.problems import Forbidden, Unauthenticated, ViewBehind
from ledger.aggregates import Customer
from ledger.application import Ledger
from ledger.commands.fields import reference
from ledger.commands.models import Command
from ledger.errors import CommandInvalid, UnknownReference
from ledger.group_commit import GroupCommit
from ledger.projections.db import Database
from ledger.projections.dossier import rep_of, reps_of_customer
from ledger.projections.dossier import team_of as team_members
from ledger.projections.runner import Runner

T = TypeVar("T")

# Customer commands a rep records; a manager may also run the rest, compliance only these.
INTERACTIONS = frozenset({
    "register_customer", "update_profile", "log_contact", "receive_request", "answer_request",
    "issue_quote", "accept_quote", "decline_quote", "withdraw_quote", "make_promise",
    "keep_promise", "break_promise", "cancel_promise", "touch_campaign", "change_consent",
    "file_complaint", "escalate_complaint", "resolve_complaint", "reopen_complaint",
    "record_satisfaction", "record_purchase", "record_churn", "record_win_back"})
CORRECTIONS = frozenset({"correct_entry", "retract_entry"})
TEAM_COMMANDS = frozenset({"move_rep", "depart_rep"})  # on a rep of the manager's team
READS_CUSTOMERS = ("rep", "manager", "compliance")
ACCESS_VIEWS = ("dossier", "promises", "quotes")  # what may_read_customer reads


@dataclass
class Services:
    ledger: Ledger
    db: Database
    keys: KeyStore
    runner: Runner  # for the views' positions; it follows the log only if the app runs it
    max_wait: float  # seconds a read waits for a view to reach min_position
    writer: GroupCommit  # single commands: concurrent requests share a transaction

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a read of the store from an async endpoint. A SQLite read is a short burst of
        CPU in this process: it runs inline, sparing the hop to a worker thread (which
        costs more than the read). A PostgreSQL read waits on the network: it goes to the
        thread pool, so that the event loop serves other requests meanwhile."""
        if self.db.postgres:
            return await run_in_threadpool(function, *args, **kwargs)
        return function(*args, **kwargs)


async def services(request: Request) -> Services:
    # async: FastAPI runs a plain function dependency on a worker thread, a hop per request.
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]


async def no_nul(request: Request) -> None:
    """Refuse (422) a NUL character in the path or a query parameter, naming it, for every
    route: nothing the ledger stores holds one (commands refuse it), and PostgreSQL fails a
    query given one."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if "\x00" in name or "\x00" in value:
            raise CommandInvalid("text cannot hold a NUL character (\\u0000)",
                                 where=name.replace("\x00", ""))

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ldg_...`")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="The same API key, in its own header.")


async def caller(svc: Svc,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
           header_key: Annotated[str | None, Depends(api_key_header)]) -> ApiKey:
    token = header_key or (credentials.credentials if credentials else None)
    if not token:
        raise Unauthenticated("no API key: send `Authorization: Bearer <key>` (an admin "
                              "creates keys with `ledger keys create`)", where="Authorization")
    key = await svc.call(svc.keys.authenticate, token)
    if key is None:
        raise Unauthenticated("this API key is unknown or revoked", where="Authorization")
    return key


Caller = Annotated[ApiKey, Depends(caller)]


def require(key: ApiKey, roles: tuple[str, ...], doing: str) -> None:
    if key.role not in roles:
        raise Forbidden(f"a {key.role} key may not {doing}; it takes a "
                        f"{' or '.join(roles)} key")


def team_of(svc: Services, key: ApiKey) -> set[str]:
    """The reps a rep or manager key speaks for (a manager's team: those hired under them)."""
    assert key.rep is not None
    if key.role == "rep":
        return {key.rep}
    return team_members(svc.db, key.rep)


def may_run(svc: Services, key: ApiKey, command: Command) -> None:
    """Refuse (403) a command the key's role may not run, saying why."""
    kind = command.type  # type: ignore[attr-defined]
    if key.role == "compliance" and kind in CORRECTIONS:
        return
    if key.role == "admin" and kind == "hire_rep":
        return
    if key.role == "rep" and kind in INTERACTIONS:
        named = {getattr(command, f, None) for f in ("rep", "owner")} - {None}
        if named - {key.rep}:
            raise Forbidden(f"a rep key records its own work: rep/owner must be {key.rep}",
                            where="rep")
        return
    if key.role == "manager":
        if kind in TEAM_COMMANDS:
            rep = svc.ledger.rep(command.rep)  # type: ignore[attr-defined]
            if key.rep not in (rep.ref, rep.manager):
                raise Forbidden(f"{rep.ref} is not in {key.rep}'s team", where="rep")
        return
    raise Forbidden(f"a {key.role} key may not run {kind}", where="type")


def may_read_customer(svc: Services, key: ApiKey, ref: str,
                      owner: Customer | None = None) -> None:
    """404 for an unknown customer, 403 for one outside the key's reach. Asks the views, not
    the aggregate: a read is answered from the views anyway (``min_position`` makes them
    current), and loading the aggregate would cost a query and a copy per request. A caller
    that has the aggregate passes it, so that its owner counts before the views know it."""
    require(key, READS_CUSTOMERS, "read customers")
    reps = reps_of_customer(svc.db, ref)
    if owner is not None:
        reps = (reps or set()) | ({owner.owner} if owner.owner else set())
    if reps is None:
        raise UnknownReference(f"no customer with reference {ref!r}", where="ref")
    if key.role != "compliance" and not reps & team_of(svc, key):
        raise Forbidden(f"customer {ref} is not owned or dealt with by "
                        f"{'your team' if key.role == 'manager' else key.rep}", where="ref")


def may_read_rep(svc: Services, key: ApiKey, ref: str) -> None:
    require(key, READS_CUSTOMERS, "read rep dossiers")
    rep = rep_of(svc.db, ref)
    if rep is None:
        raise UnknownReference(f"no rep with reference {ref!r}", where="ref")
    if key.role == "compliance" or ref == key.rep or (
            key.role == "manager" and rep["manager"] == key.rep):
        return
    raise Forbidden(f"{ref}'s dossier is for {ref}, their manager and compliance", where="ref")


# Rows a list may be asked to skip: more than any list holds, and a number both databases take
# (an OFFSET past 64 bits overflows in SQLite and in PostgreSQL).
MAX_OFFSET = 10**9
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows of the list to skip.")]

# A customer or rep named by a path or query parameter: normalised as a command's reference
# is (look-alike spellings are one), refused (422) if it holds a character nobody can see.
Reference = Annotated[str, AfterValidator(reference)]

MinPosition = Annotated[int | None, Query(
    ge=0, description="Read your writes: wait (a few seconds at most) until the view has "
    "processed this log position, the `position` a write returned.")]


async def wait_for(svc: Services, views: tuple[str, ...], min_position: int | None) -> None:
    """Wait until these views have reached ``min_position``; 503 if they do not in time."""
    if min_position is None:
        return
    head = await svc.call(svc.ledger.recorder.max_notification_id) or 0
    if min_position > head:
        raise CommandInvalid(f"min_position {min_position} is beyond the log's last position "
                             f"({head}); pass the position a write returned",
                             where="min_position")
    deadline = time.monotonic() + svc.max_wait
    while True:
        positions = await svc.call(svc.runner.positions)
        behind = {v: positions[v] for v in views if positions[v] < min_position}
        if not behind:
            return
        if time.monotonic() >= deadline:
            view, position = next(iter(behind.items()))
            raise ViewBehind(f"the {view} view has reached log position {position}, not "
                             f"{min_position} yet; retry in a moment", where="min_position")
        await asyncio.sleep(0.02)

