"""Health, readiness, and the OpenAPI document."""

from __future__ import annotations

from api.examples import EXAMPLES
from ledger.commands.models import COMMANDS, parse_command
from tests.api.conftest import Api


def test_health_and_readiness_need_no_key(api: Api) -> None:
    with api.as_(None) as anyone:
        assert anyone.get("/healthz").json() == {"status": "up"}
        ready = anyone.get("/readyz").json()
    assert ready["store"] == "reachable"
    assert {v["view"] for v in ready["views"]} == {
        "promises",
        "quotes",
        "timeline",
        "service",
        "dossier",
        "activity",
    }
    assert all(v["lag"] >= 0 and v["error"] is None for v in ready["views"])


def test_the_openapi_document_describes_every_command_and_its_errors(api: Api) -> None:
    with api.as_(None) as anyone:
        spec = anyone.get("/openapi.json").json()
        assert "swagger-ui" in anyone.get("/docs").text
    operations = [op for path in spec["paths"].values() for op in path.values()]
    # An endpoint's operation id is its command's name, then its path and method (a name may
    # hold "_customers" itself: merge_customers).
    ids = [op["operationId"] for op in operations]
    assert [c for c in COMMANDS if not any(i.startswith(f"{c}_") for i in ids)] == []
    promise = spec["paths"]["/customers/{ref}/promises"]["post"]
    assert {"201", "401", "403", "404", "409", "412", "413", "422", "503"} <= set(
        promise["responses"]
    )
    problem = promise["responses"]["409"]["content"]
    assert "application/problem+json" in problem
    assert spec["components"]["securitySchemes"]


def test_every_example_in_the_document_is_a_valid_command(api: Api) -> None:
    for name, example in EXAMPLES.items():
        parse_command({"type": name, **example}, where=name)
    with api.as_(None) as anyone:
        schemas = anyone.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["MakePromiseBody"]["examples"][0]["text"] == "寄样品 by courier"
