"""One endpoint per command, resource-style, and ``POST /commands`` for a batch.

Each endpoint's body is its command's model less what the path names, so the OpenAPI
document describes every field. The command is then validated whole (``parse_command``)
and run through ``Ledger.execute_many``, exactly as ``ledger import`` runs it, in one
transaction with the commands other requests sent meanwhile (``ledger/group_commit.py``),
each with its own outcome; the actor is the API key's name.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Response
from pydantic import ConfigDict, Field, create_model

from api.deps import Caller, Services, Svc, may_run
from api.examples import EXAMPLES
from api.keys import ACTS_AS_REP, ApiKey
from api.problems import responses
from api.schemas import BatchWritten, Written
from ledger.authorization import Holders
from ledger.commands.models import COMMANDS, Command, parse_command
from ledger.commands.results import CommandResult
from ledger.errors import BatchRefused, CommandIdReused, CommandInvalid, LedgerError

MAX_BATCH = 5000
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=150,
        description="Retrying with the same key returns the first response and "
        "writes nothing; the same key with another body is refused (422).",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        description="The target's version (its ETag) you read; the write is refused (412) if "
        "someone changed it since."
    ),
]
REP_DEFAULT = "Defaults to the rep a rep key acts as."


@dataclass(frozen=True)
class Route:
    path: str
    command: str
    tag: str
    method: str = "POST"


# Path parameter -> the command field it fills.
PATH_FIELDS: dict[str, str | dict[str, str]] = {
    "ref": {"customers": "customer", "reps": "rep", "campaigns": "campaign"},
    "request_id": "request_id",
    "quote_id": "quote_id",
    "promise_id": "promise_id",
    "complaint_id": "complaint_id",
    "registration_id": "registration_id",
}

C = "/customers/{ref}"
ROUTES = [
    Route("/customers", "register_customer", "customers"),
    Route(C, "update_profile", "customers", "PATCH"),
    Route(f"{C}/owner", "assign_owner", "customers"),
    Route(f"{C}/responsibility", "move_responsibility", "customers"),
    Route(f"{C}/team-members", "add_team_member", "customers"),
    Route(f"{C}/team-members/removal", "remove_team_member", "customers"),
    Route(f"{C}/contacts", "log_contact", "interactions"),
    Route(f"{C}/requests", "receive_request", "interactions"),
    Route(f"{C}/requests/{{request_id}}/answer", "answer_request", "interactions"),
    Route(f"{C}/registrations", "register_for_event", "events"),
    *(
        Route(f"{C}/registrations/{{registration_id}}/{verb}", f"{verb}_registration", "events")
        for verb in ("confirm", "decline")
    ),
    Route(f"{C}/registrations/{{registration_id}}/attendance", "record_attendance", "events"),
    Route(f"{C}/quotes", "issue_quote", "quotes"),
    *(
        Route(f"{C}/quotes/{{quote_id}}/{verb}", f"{verb}_quote", "quotes")
        for verb in ("accept", "decline", "expire", "withdraw")
    ),
    Route(f"{C}/promises", "make_promise", "promises"),
    *(
        Route(f"{C}/promises/{{promise_id}}/{verb}", f"{verb}_promise", "promises")
        for verb in ("keep", "break", "cancel")
    ),
    Route(f"{C}/promises/{{promise_id}}/overdue", "mark_promise_overdue", "promises"),
    Route(f"{C}/missed-deadlines", "flag_missed_deadline", "interactions"),
    Route(f"{C}/lapse", "mark_lapsed", "customers"),
    Route(f"{C}/erasure", "erase_personal_data", "customers"),
    Route(f"{C}/merge", "merge_customers", "customers"),
    Route(f"{C}/unmerge", "unmerge_customers", "customers"),
    Route(f"{C}/campaign-touches", "touch_campaign", "interactions"),
    Route(f"{C}/consents", "change_consent", "interactions"),
    Route(f"{C}/complaints", "file_complaint", "complaints"),
    *(
        Route(f"{C}/complaints/{{complaint_id}}/{verb}", f"{verb}_complaint", "complaints")
        for verb in ("escalate", "resolve", "reopen")
    ),
    Route(f"{C}/satisfaction", "record_satisfaction", "interactions"),
    Route(f"{C}/purchases", "record_purchase", "interactions"),
    Route(f"{C}/refunds", "record_refund", "interactions"),
    Route(f"{C}/churn", "record_churn", "customers"),
    Route(f"{C}/win-back", "record_win_back", "customers"),
    Route(f"{C}/corrections", "correct_entry", "corrections"),
    Route(f"{C}/retractions", "retract_entry", "corrections"),
    Route("/reps", "hire_rep", "reps"),
    Route("/reps/{ref}/team", "move_rep", "reps"),
    Route("/reps/{ref}/departure", "depart_rep", "reps"),
    Route("/campaigns", "launch_campaign", "campaigns"),
    Route("/campaigns/{ref}/costs", "record_campaign_cost", "campaigns"),
    Route("/campaigns/{ref}/close", "close_campaign", "campaigns"),
]
assert {r.command for r in ROUTES} == set(COMMANDS), "every command has its endpoint"

router = APIRouter()


def path_fields(route: Route) -> dict[str, str]:
    """Path parameter -> command field, for this route."""
    found: dict[str, str] = {}
    for name in [p.strip("{}") for p in route.path.split("/") if p.startswith("{")]:
        field = PATH_FIELDS[name]
        found[name] = field[route.path.split("/")[1]] if isinstance(field, dict) else field
    return found


def body_model(route: Route) -> type[Any]:
    """The command's fields, less the type and what the path gives."""
    model = COMMANDS[route.command]
    taken = {"type", *path_fields(route).values()}
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in taken:
            continue
        if name == "rep" and info.is_required():
            fields[name] = (str | None, Field(None, description=REP_DEFAULT))
        else:
            fields[name] = (info.annotation, info)
    example = {k: v for k, v in EXAMPLES[route.command].items() if k in fields}
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})
    body: type[Any] = create_model(
        f"{model.__name__}Body", __doc__=model.__doc__, __config__=config, **fields
    )
    return body


def build(
    key: ApiKey,
    data: dict[str, Any],
    idempotency_key: str | None,
    if_match: str | None,
    *,
    where: str = "",
) -> Command:
    """The command a request asks for, with what its headers and the key add."""
    fields = COMMANDS[data["type"]].model_fields
    if key.role == "rep" and data.get("rep") is None and "rep" in fields:
        data["rep"] = key.rep
    if (
        key.role in ACTS_AS_REP
        and data["type"] == "register_customer"
        and data.get("owner") is None
    ):
        data["owner"] = key.rep  # a rep's new customer is their own (and a manager's)
    if idempotency_key is not None:
        if data.get("command_id") is not None:
            raise CommandInvalid(
                "give the Idempotency-Key header or a command_id, not both", where="command_id"
            )
        data["command_id"] = f"{key.id}:{idempotency_key}"
    if if_match is not None:
        version = if_match.strip().removeprefix("W/").strip('"')
        if not version.isdigit():
            raise CommandInvalid(
                'If-Match takes the ETag a read returned, e.g. "7"', where="If-Match"
            )
        if data.get("expected_version") not in (None, int(version)):
            raise CommandInvalid("If-Match and expected_version disagree", where="expected_version")
        data["expected_version"] = int(version)
    return parse_command(data, where=where)


def written(result: CommandResult, response: Response) -> Written:
    response.headers["ETag"] = f'"{result.version}"'
    if result.duplicate:
        response.headers["Idempotent-Replayed"] = "true"
    data = result.to_dict()
    data.pop("duplicate")
    return Written(**data)


def add_route(route: Route) -> None:
    Body_ = body_model(route)
    fields = path_fields(route)
    model = COMMANDS[route.command]

    def endpoint(
        svc: Svc,
        key: Caller,
        response: Response,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
        body: Any = None,
        **path: str,
    ) -> Written:
        data = body.model_dump(exclude_unset=True) if body is not None else {}
        data.update({field: path[name] for name, field in fields.items()}, type=route.command)
        command = build(key, data, idempotency_key, if_match)
        may_run(svc, key, command)
        return written(svc.writer.execute(command, actor=key.actor), response)

    required = any(info.is_required() for info in Body_.model_fields.values())
    parameters = [
        p
        for name, p in inspect.signature(endpoint).parameters.items()
        if name not in ("body", "path")
    ]
    parameters.append(
        inspect.Parameter(
            "body",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[Body_ if required else Body_ | None, Body()],
            default=inspect.Parameter.empty if required else None,
        )
    )
    parameters += [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[str, Path(min_length=1, max_length=64)],
        )
        for name in fields
    ]
    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=Written)  # type: ignore[attr-defined]
    endpoint.__name__ = route.command
    doc = (model.__doc__ or "").strip().splitlines()
    router.add_api_route(
        route.path,
        endpoint,
        methods=[route.method],
        status_code=201,
        response_model=Written,
        tags=[route.tag],
        summary=route.command.replace("_", " ").capitalize(),
        description=(doc[0] if doc and not doc[0].startswith("Fields every") else None),
        responses=responses(404, 409, 412, 413, 422),
    )


for _route in ROUTES:
    add_route(_route)


@router.post(
    "/commands",
    status_code=201,
    response_model=BatchWritten,
    tags=["commands"],
    responses=responses(404, 409, 413, 422),
)
def run_commands(
    svc: Svc,
    key: Caller,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    *,
    commands: Annotated[
        list[dict[str, Any]],
        Body(
            min_length=1,
            max_length=MAX_BATCH,
            description='The same JSON commands `ledger import` takes, each {"type": ..., fields}.',
            examples=[
                [{"type": name, **EXAMPLES[name]} for name in ("register_customer", "issue_quote")]
            ],
        ),
    ],
) -> BatchWritten:
    """Run a batch of commands all or nothing: if any is refused, none is written."""
    parsed, failures = [], []
    registered: dict[str, Holders] = {}  # customers the batch registers, and their owners
    for index, data in enumerate(commands):
        where = f"commands[{index}]"
        try:
            if data.get("type") not in COMMANDS:
                parse_command(data, where=where)  # says which types there are
            own_key = (
                f"{idempotency_key}#{index}"
                if idempotency_key is not None and not data.get("command_id")
                else None
            )
            command = build(key, dict(data), own_key, None, where=where)
            may_run(svc, key, command, registered)
            parsed.append(command)
        except LedgerError as error:
            failures.append((index, error))
    if failures:
        raise BatchRefused(failures)
    if idempotency_key is not None:
        check_same_batch(svc, key, idempotency_key, commands)
    results = svc.ledger.execute_many(parsed, actor=key.actor, atomic=True)
    out = [written(result, response) for result in results if isinstance(result, CommandResult)]
    del response.headers["ETag"]  # a batch has no one version
    return BatchWritten(results=out)


def check_same_batch(
    svc: Services, key: ApiKey, idempotency_key: str, commands: list[dict[str, Any]]
) -> None:
    """Under one Idempotency-Key a batch's commands are recorded all or none (a batch is
    written whole), so an id recorded past this batch's end, or one missing within it,
    means the key was used for a batch of another length: refused, not half replayed."""
    ids = [
        f"{key.id}:{idempotency_key}#{index}"
        for index, data in enumerate(commands)
        if not data.get("command_id")
    ]
    past_end = f"{key.id}:{idempotency_key}#{len(commands)}"
    recorded = svc.ledger.ledger_recorder.select_commands([*ids, past_end])
    if recorded and (past_end in recorded or not set(ids) <= recorded.keys()):
        raise CommandIdReused(
            f"Idempotency-Key {idempotency_key!r} was used for a batch of "
            "another length; use a new key for a new batch",
            where="Idempotency-Key",
        )
