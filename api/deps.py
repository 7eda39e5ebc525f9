"""What the routes share: the ledger and its views, the caller's key, and who may see what
(the rule itself is ``ledger/authorization.py``, one for the API and the console)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from api.keys import ApiKey, KeyEnded, KeyStore
from api.problems import Unauthenticated, ViewBehind
from ledger.access_log import Access, AccessLog
from ledger.aggregates import Customer
from ledger.application import Ledger
from ledger.authorization import (
    CUSTOMER_FIELDS,
    READS_CUSTOMERS,
    REP_FIELDS,
    Holders,
    Principal,
    check_command,
    check_read,
)
from ledger.commands.fields import reference
from ledger.commands.models import Command, RegisterCustomer
from ledger.errors import CommandInvalid, Forbidden, UnknownReference, a
from ledger.group_commit import GroupCommit
from ledger.projections.dossier import rep_of
from ledger.projections.dossier import team_of as team_members
from ledger.projections.runner import Runner
from ledger.sql import Database

T = TypeVar("T")

ACCESS_VIEWS = ("dossier",)  # what the reach of a manager (their team) is read from


@dataclass
class Services:
    ledger: Ledger
    db: Database
    keys: KeyStore
    runner: Runner  # for the views' positions; it follows the log only if the app runs it
    max_wait: float  # seconds a read waits for a view to reach min_position
    writer: GroupCommit  # single commands: concurrent requests share a transaction
    access: AccessLog  # who looked: reads record themselves here (ledger/access_log.py)

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a read of the store from an async endpoint. A SQLite read is a short burst of
        CPU in this process: it runs inline, sparing the hop to a worker thread (which
        costs more than the read). A PostgreSQL read waits on the network: it goes to the
        thread pool, so that the event loop serves other requests meanwhile."""
        if self.db.postgres:
            return await run_in_threadpool(function, *args, **kwargs)
        return function(*args, **kwargs)

    async def slow(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a read that can take long (a verify, a replay, a report, a list that joins
        much of the store) on a worker thread, on either store: the event loop answers other
        requests meanwhile. (On SQLite such a read holds the GIL; the loop still takes it
        back at every switch interval, so a request waits milliseconds, not the whole read.)"""
        return await run_in_threadpool(function, *args, **kwargs)


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
            raise CommandInvalid(
                "text cannot hold a NUL character (\\u0000)", where=name.replace("\x00", "")
            )


bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ldg_...`")
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The same API key, in its own header."
)


async def caller(
    svc: Svc,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
) -> ApiKey:
    token = header_key or (credentials.credentials if credentials else None)
    if not token:
        raise Unauthenticated(
            "no API key: send `Authorization: Bearer <key>` (an admin "
            "creates keys with `ledger keys create`)",
            where="Authorization",
        )
    try:
        key = await svc.call(svc.keys.authenticate, token)
    except KeyEnded as ended:
        raise Unauthenticated(str(ended), where="Authorization") from None
    if key is None:
        raise Unauthenticated("this API key is unknown or revoked", where="Authorization")
    return key


Caller = Annotated[ApiKey, Depends(caller)]


def require(key: ApiKey, roles: Collection[str], doing: str) -> None:
    if key.role not in roles:
        raise Forbidden(
            f"{a(key.role)} key may not {doing}; it takes {a(' or '.join(sorted(roles)))} key"
        )


def requires(*roles: str, doing: str) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A dependency: the caller's key if its role is one of ``roles``; otherwise 403, saying
    that a key of its role may not do ``doing`` and which role it takes. Used as
    ``key: Annotated[ApiKey, Depends(requires("compliance", doing="verify the record"))]``,
    so that a route's signature says who may call it."""

    async def allowed(key: Caller) -> ApiKey:
        require(key, roles, doing)
        return key

    return allowed


def principal(svc: Services, key: ApiKey) -> Principal:
    """The key as the authorization rule sees it (a rep's manager read from the rep itself,
    so that a rep hired or moved a moment ago counts at once)."""
    return Principal(
        key.name, key.role, key.rep, functools.cache(lambda rep: rep_manager(svc, rep))
    )


def team_of(svc: Services, key: ApiKey) -> set[str]:
    """The reps a rep or manager key speaks for (a manager's team: those hired under them)."""
    if key.rep is None:
        return set()
    if key.role == "rep":
        return {key.rep}
    return team_members(svc.db, key.rep)


def customer_or_none(svc: Services, ref: str) -> Customer | None:
    """The customer as stored (to be read, never changed), or None if there is none."""
    try:
        return svc.ledger.customer_as_stored(ref)
    except UnknownReference:
        return None


def holders_of(svc: Services, ref: str) -> Holders | None:
    """Who holds the customer now, from the customer itself (so that a write is judged on
    the state it will change): of every record of theirs, if records were merged; None if
    there is no such customer."""
    customer = customer_or_none(svc, ref)
    if customer is None:
        return None
    return holders_of_records(svc.ledger.records_as_stored(survivor_of(svc, customer)))


def survivor_of(svc: Services, customer: Customer) -> Customer:
    """The customer a record reads as: itself, or the survivor it was merged into."""
    if customer.merged_into is None:
        return customer
    return svc.ledger.customer_as_stored(customer.merged_into)


def holders_of_records(records: list[Customer]) -> Holders:
    return Holders.of_records(*(record.holders() for record in records))


def rep_manager(svc: Services, rep: str) -> str | None:
    """A rep's manager now (None: they have none, or there is no such rep)."""
    try:
        return svc.ledger.rep_as_stored(rep).manager
    except UnknownReference:
        return None


def known_rep_manager(svc: Services, rep: str) -> str | None:
    svc.ledger.rep_as_stored(rep)  # an unknown rep: 404, naming it
    return rep_manager(svc, rep)


def may_run(
    svc: Services, key: ApiKey, command: Command, registered: dict[str, Holders] | None = None
) -> None:
    """Refuse a command the key may not run: 403 saying why, or 404 for a customer outside
    its reach. ``registered``: customers a batch registers before this command, with their
    owners (this one's, if it registers one, is added)."""
    ref = command.target_ref()
    named = {f: getattr(command, f) for f in REP_FIELDS if f in type(command).model_fields}
    others = [getattr(command, f) for f in CUSTOMER_FIELDS if f in type(command).model_fields]
    known = registered if registered is not None else {}
    check_command(
        principal(svc, key),
        command.type,  # type: ignore[attr-defined]
        named,
        target=command.target,
        ref=ref,
        holders=lambda: known[ref] if ref in known else holders_of(svc, ref),
        rep_manager=lambda rep: known_rep_manager(svc, rep),
        customers={other: functools.partial(holders_of, svc, other) for other in others},
    )
    if isinstance(command, RegisterCustomer):
        known[ref] = Holders(command.owner)


def may_read_customer(svc: Services, key: ApiKey, ref: str) -> Customer:
    """The customer, if the key may read them: 403 for a role that reads no customers, 404
    for a customer unknown or outside the key's reach alike. A record merged into another
    reads as the survivor (whose ``ref`` says which it is). (The customer as stored: to be
    read, never changed.)"""
    customer = customer_or_none(svc, ref) if key.role in READS_CUSTOMERS else None
    survivor = None if customer is None else survivor_of(svc, customer)
    records = [] if survivor is None else svc.ledger.records_as_stored(survivor)
    check_read(principal(svc, key), ref, holders_of_records(records) if records else None)
    assert survivor is not None
    return survivor


def may_read_rep(svc: Services, key: ApiKey, ref: str) -> None:
    require(key, READS_CUSTOMERS, "read rep dossiers")
    rep = rep_of(svc.db, ref)
    if rep is None:
        raise UnknownReference(f"no rep with reference {ref!r}", where="ref")
    if (
        key.role == "compliance"
        or ref == key.rep
        or (key.role == "manager" and rep["manager"] == key.rep)
    ):
        return
    raise Forbidden(f"{ref}'s dossier is for {ref}, their manager and compliance", where="ref")


Purpose = Annotated[
    str | None,
    Header(
        alias="X-Purpose",
        max_length=500,
        description="Why you read this (kept with the read in the access log).",
    ),
]


def access(
    key: ApiKey,
    request: Request,
    *,
    customer: str | None,
    fields: Sequence[str],
    purpose: str | None,
    interface: str = "api",
) -> Access:
    """The access log's record of this read: who, which customer, which endpoint (its
    route, not the URL: no query text is kept) and what it showed."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    return Access(
        key=key.name,
        role=key.role,
        what=f"{request.method} {path}",
        interface=interface,
        customer=customer,
        fields=fields,
        purpose=purpose,
    )


async def recorded(svc: Services, entry: Access, read: Awaitable[T]) -> T:
    """Do the read and record it, answering only once the record is durable (a read that
    cannot be recorded is refused: 503). The record is begun before the read runs (the read
    is allowed by then), so that its commit overlaps the query rather than following it; a
    query that then fails leaves the record of an attempt (ledger/access_log.py)."""
    commit = svc.access.begin([entry])
    found = await read
    await svc.access.settled(commit)
    return found


# Rows a list may be asked to skip: more than any list holds, and a number both databases take
# (an OFFSET past 64 bits overflows in SQLite and in PostgreSQL).
MAX_OFFSET = 10**9
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows of the list to skip.")]

# A customer or rep named by a path or query parameter: normalised as a command's reference
# is (look-alike spellings are one), refused (422) if it holds a character nobody can see.
Reference = Annotated[str, AfterValidator(reference)]


MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        description="Read your writes: wait (a few seconds at most) until the view has "
        "processed this log position, the `position` a write returned.",
    ),
]


async def wait_for(svc: Services, views: tuple[str, ...], min_position: int | None) -> None:
    """Wait until these views have reached ``min_position``; 503 if they do not in time."""
    if min_position is None:
        return
    head = await svc.call(svc.ledger.recorder.max_notification_id) or 0
    if min_position > head:
        raise CommandInvalid(
            f"min_position {min_position} is beyond the log's last position "
            f"({head}); pass the position a write returned",
            where="min_position",
        )
    deadline = time.monotonic() + svc.max_wait
    while True:
        positions = await svc.call(svc.runner.positions)
        behind = {v: positions[v] for v in views if positions[v] < min_position}
        if not behind:
            return
        if time.monotonic() >= deadline:
            view, position = next(iter(behind.items()))
            raise ViewBehind(
                f"the {view} view has reached log position {position}, not "
                f"{min_position} yet; retry in a moment",
                where="min_position",
            )
        await asyncio.sleep(0.02)
