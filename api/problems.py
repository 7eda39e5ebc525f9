"""Every error as an RFC 9457 problem (``application/problem+json``): a status, a stable
``code``, a sentence saying what was wrong and what to do, ``where`` it was, and for invalid
input the path of each invalid field."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import psycopg
import psycopg_pool
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from ledger.errors import (
    AccessNotRecorded,
    BatchRefused,
    CommandIdReused,
    CommandInvalid,
    Conflict,
    Forbidden,
    LedgerError,
    RuleViolation,
    UnknownReference,
    VersionConflict,
    ViewNotBuilt,
)

MEDIA_TYPE = "application/problem+json"
Pages = Callable[[Request, int, str, "str | None"], Response]  # status, detail, where
Handler = Callable[[Request, Any], Awaitable[Response]]
RETRY_AFTER = "2"  # seconds, when the database is unreachable or a view is behind
# The database, not the request: worth retrying.
UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg_pool.PoolTimeout,
)
log = logging.getLogger("ledger.api")


class FieldError(BaseModel):
    field: str = Field(examples=["body.due_by"])
    message: str = Field(examples=["Input should be a valid datetime"])


class Problem(BaseModel):
    """An error, as RFC 9457 describes."""

    type: str = Field(examples=["urn:ledger:problem:promise_closed"])
    title: str = Field(examples=["Conflict"])
    status: int = Field(examples=[409])
    detail: str = Field(examples=["promise P-1 is already kept"])
    code: str = Field(examples=["entry_closed"], description="Stable name of the error.")
    where: str | None = Field(None, examples=["promise_id"])
    errors: list[FieldError] | None = Field(
        None, description="Each invalid field (422), or each refused command of a batch."
    )


class Unauthenticated(LedgerError):
    code = "unauthenticated"


class ViewBehind(LedgerError):
    code = "view_behind"


# The first class an error is an instance of gives its status (CommandIdReused before the
# Conflict it derives from).
STATUS: list[tuple[type[LedgerError], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (UnknownReference, 404),
    (CommandIdReused, 422),
    (CommandInvalid, 422),
    (RuleViolation, 409),
    (Conflict, 409),
    (ViewNotBuilt, 503),
    (ViewBehind, 503),
    (AccessNotRecorded, 503),
]
TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

# What the OpenAPI document says each endpoint can answer.
COMMON = {
    401: "No valid API key (Authorization: Bearer <key>).",
    403: "The key's role may not do this.",
    503: "The database is unreachable.",
}


def status_of(error: LedgerError) -> int:
    if isinstance(error, BatchRefused):
        return status_of(error.failures[0][1])
    return next((status for kind, status in STATUS if isinstance(error, kind)), 400)


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    where: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"urn:ledger:problem:{code}",
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        where=where or None,
        errors=[FieldError(**e) for e in errors] if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def ledger_problem(error: LedgerError, *, if_match: bool = False) -> JSONResponse:
    status = status_of(error)
    if if_match and isinstance(error, VersionConflict):
        return problem(412, "precondition_failed", error.message, where="If-Match")
    errors = getattr(error, "errors", None) or None
    if isinstance(error, BatchRefused):
        errors = [
            {"field": f"commands[{index}]", "message": f"{failure.code}: {failure}"}
            for index, failure in error.failures
        ]
    headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
    code = error.code if not isinstance(error, RuleViolation) else error.rule
    return problem(status, code, error.message, where=error.where, errors=errors, headers=headers)


def place(error: Mapping[str, Any]) -> str | None:
    """The field an invalid request names, as a command's error names it (``occurred_at``,
    ``fields.summary``, ``cursor``): its path less the part of the request it is in; the
    body itself when its JSON text is broken (the place is then a position, not a field)."""
    source, *path = [str(part) for part in error["loc"]] or [""]
    if error.get("type") == "json_invalid" or not path:
        return source or None
    return ".".join(path)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems an endpoint can answer."""
    described = {
        **COMMON,
        404: "An unknown customer, rep, campaign or entry.",
        409: "A state rule refused it, or another writer got there first.",
        412: "If-Match named another version than the current one.",
        413: "The body is larger than the limit.",
        422: "Invalid input: each invalid field is listed with its path.",
    }
    return {
        status: {"model": Problem, "description": described[status]}
        for status in sorted({401, 403, 503, *statuses})
    }


def document_media_type(spec: dict[str, Any]) -> dict[str, Any]:
    """Errors are sent as ``application/problem+json``; say so in the OpenAPI document
    (FastAPI files every response model under ``application/json``)."""
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[MEDIA_TYPE] = content.pop("application/json")
                    if status == "422":
                        content[MEDIA_TYPE]["schema"] = {"$ref": "#/components/schemas/Problem"}
    return spec


def install(app: FastAPI, pages: Pages | None = None) -> None:
    """Answer every error as a problem document; under /console, as the page ``pages``
    renders from the same status, detail and place."""

    async def on_ledger_error(request: Request, error: LedgerError) -> JSONResponse:
        return ledger_problem(error, if_match="if-match" in request.headers)

    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"]),
                "message": e["msg"].removeprefix("Value error, "),
            }
            for e in error.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        where = place(error.errors()[0]) if error.errors() else None
        return problem(422, "invalid_request", detail, errors=errors, where=where)

    async def on_http(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 400 and isinstance(error.__cause__, RecursionError):
            return problem(
                422,
                "invalid_body",
                "the body nests too deep to read (its JSON "
                "holds maps or lists hundreds of levels deep); a command is an "
                "object of plain values",
                where="body",
            )
        if error.status_code == 400:  # FastAPI's word for a body that is not JSON text
            return problem(
                422,
                "invalid_body",
                "the body is not JSON (UTF-8 text); send a JSON object",
                where="body",
            )
        code = TITLES.get(error.status_code, "error").lower().replace(" ", "_")
        return problem(
            error.status_code,
            code,
            str(error.detail),
            headers=error.headers,
            where="body" if error.status_code == 413 else None,
        )

    async def on_bug(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "internal_error",
            "the server failed on this request; it wrote "
            "nothing it did not acknowledge. The error is in the server log.",
        )

    def shown(handler: Handler) -> Handler:
        async def respond(request: Request, error: Any) -> Response:
            answer = await handler(request, error)
            if pages is None or not request.url.path.startswith("/console"):
                return answer
            body = json.loads(bytes(answer.body))
            return pages(request, answer.status_code, body["detail"], body.get("where"))

        return respond

    handlers: list[tuple[Any, Handler]] = [
        (LedgerError, on_ledger_error),
        (RequestValidationError, on_invalid),
        (HTTPException, on_http),
        *((kind, on_unavailable) for kind in UNAVAILABLE),
        (Exception, on_bug),
    ]
    for kind, handler in handlers:
        app.add_exception_handler(kind, shown(handler))


async def on_unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", error)
    return problem(
        503,
        "database_unavailable",
        "the database cannot be reached just now; nothing was written. Retry after a moment.",
        headers={"Retry-After": RETRY_AFTER},
    )
