"""The HTTP API: ``create_app`` wires the ledger, its views and the keys once; ``ledger serve``
runs it with uvicorn, with the projection runner following the log in the same process
unless told otherwise."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import console, problems
from api.deps import Services, no_nul
from api.keys import KeyStore
from api.routes import (
    audit,
    campaigns,
    commands,
    compliance,
    customers,
    duplicates,
    integrity,
    reports,
    reps,
    system,
)
from ledger.access_log import AccessLog
from ledger.application import Ledger
from ledger.config import Settings
from ledger.group_commit import GroupCommit
from ledger.integrity import Integrity
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner

MAX_BODY = 1 << 20  # bytes, for one command
MAX_BATCH_BODY = 16 << 20  # for POST /commands
SWITCH_INTERVAL = 0.001  # seconds a computing thread keeps the GIL from the event loop

DESCRIPTION = """\
Every contact, quote, promise, campaign touch, complaint and purchase, recorded as an
immutable event per customer, and the views built from them.

**Keys.** Send `Authorization: Bearer <key>` (or `X-API-Key`). An admin makes keys with
`ledger keys create --name NAME --role ROLE [--rep REF]`. Roles: rep, manager, compliance,
analyst, admin.

**Errors** are `application/problem+json` (RFC 9457) with a stable `code`, what was wrong,
`where`, and for invalid input the path of each invalid field.

**Safe retries.** Send `Idempotency-Key`: a repeat returns the first response and writes
nothing. **Read your writes**: pass a write's `position` as `min_position` to a read.
**Optimistic locking**: reads of a customer give an ETag; send it back as `If-Match`.
"""


class BodyLimit:
    """Refuse (413) a body larger than the limit, counted as it arrives, so that a client
    cannot make the server hold more than that in memory."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = MAX_BATCH_BODY if scope["path"] == "/commands" else MAX_BODY
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(limit)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, too_large_detail(limit))
            return message

        await self.app(scope, counted, send)


def too_large_detail(limit: int) -> str:
    return (
        f"the body is larger than {limit:,} bytes: send fewer commands at a time (a saved "
        "report to check is at most that large)"
    )


def too_large(limit: int) -> Any:
    return problems.problem(413, "content_too_large", too_large_detail(limit), where="body")


@contextmanager
def responsive() -> Iterator[None]:
    """While the server runs, a slow read on a worker thread (a verify, a replay) holds the
    event loop up for milliseconds, not for as long as it reads.

    The thread holds the GIL while it computes, and lets the loop have it when the loop has
    waited the switch interval: 5 ms by default, and the loop asks several times a request.
    And what it allocates sets off full collections, which stop every thread while they scan
    the heap: what start-up made (a few hundred thousand objects, living as long as the
    server) is frozen out of them, leaving what the read itself holds."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)


def create_app(
    settings: Settings | None = None, *, follow: bool = True, max_wait: float = 5.0
) -> FastAPI:
    """The app. ``follow``: run the projection runner in this process (``ledger serve
    --no-projections`` leaves it to ``ledger projections run``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = Ledger(settings)
        Integrity(ledger).close()  # its tables now: no request (verify, report) runs DDL
        runner = Runner(ledger, all_views())
        keys = KeyStore(ledger, runner.db)
        writer = GroupCommit(ledger)
        access = AccessLog(runner.db, create=settings.create_tables)
        app.state.services = Services(ledger, runner.db, keys, runner, max_wait, writer, access)
        stop = threading.Event()
        worker = threading.Thread(
            target=runner.run,
            args=(stop,),
            kwargs={"poll": 0.2},
            name="ledger-projections",
            daemon=True,
        )
        if follow:
            worker.start()
        try:
            with responsive():
                yield
        finally:
            stop.set()
            runner.wakeup.set()
            if follow:
                worker.join(timeout=30)
            writer.close()
            access.close()
            runner.close()
            ledger.close()

    app = FastAPI(
        title="Customer interaction ledger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(no_nul)],
    )
    problems.install(app, pages=console.error_page)
    for module in (
        commands,
        customers,
        duplicates,
        reps,
        campaigns,
        compliance,
        integrity,
        audit,
        reports,
        system,
    ):
        app.include_router(module.router)
    console.install(app)
    app.add_middleware(BodyLimit)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document_media_type(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
