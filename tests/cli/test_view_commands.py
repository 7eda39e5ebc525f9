"""The questions of managers and compliance, asked through the CLI of a demo world."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timezone
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.cli.main import main
from ledger.config import Settings
from ledger.demo import DemoSummary, build_world
from tests.conftest import fresh_store

AS_OF = "2025-11-01T00:00:00Z"

pytestmark = pytest.mark.slow  # a demo world of 40 customers over a year


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, DemoSummary]]:
    for settings in fresh_store(request, tmp_path_factory.mktemp("views")):
        app = Ledger(settings)
        yield settings, build_world(app, seed=1, customers=40, days=365)
        app.close()


@pytest.fixture
def ask(
    demo: tuple[Settings, DemoSummary],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    settings, _ = demo
    monkeypatch.setenv("LEDGER_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    if settings.database_url:
        monkeypatch.setenv("LEDGER_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("LEDGER_DATABASE_SCHEMA", settings.database_schema)

    def ask(*argv: str) -> Any:
        assert main([*argv, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    return ask


def test_the_departed_reps_dossier_lists_every_open_promise_and_owned_customer(
    demo: tuple[Settings, DemoSummary], ask: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, summary = demo
    app = Ledger(settings)
    customers = [app.customer(f"CUST-{n:05d}") for n in range(1, 41)]
    owned = {c.ref for c in customers if c.owner == summary.departed_rep}
    open_promises = {
        (c.ref, promise_id)
        for c in customers  # still the departed rep's
        for promise_id, p in c.open_work(summary.departed_rep).items()
        if p["kind"] == "promise"
    }
    assert owned and open_promises
    dossier = ask("rep", "dossier", summary.departed_rep, "--as-of", AS_OF)
    assert dossier["rep"]["departed"]
    assert {c["customer"] for c in dossier["customers_owned"]} == owned
    assert {(p["customer"], p["promise_id"]) for p in dossier["open_promises"]} == open_promises
    handed = {(h["customer"], h["id"]) for h in dossier["handover"]}
    assert open_promises <= handed
    assert owned == {h["customer"] for h in dossier["handover"] if h["what"] == "owned customer"}
    # The seeded customer was handed on after the departure: its open promise went with it,
    # to the new owner, and says who made it.
    handover = summary.seeded["handover_customer"]
    assert not any(h["customer"] == handover for h in dossier["handover"])
    successor = app.customer(handover).owner
    assert successor is not None and successor != summary.departed_rep
    theirs = ask("rep", "dossier", successor, "--as-of", AS_OF)["open_promises"]
    assert any(
        p["customer"] == handover and p["made_by"] == summary.departed_rep and p["handed_at"]
        for p in theirs
    )
    total = dossier["totals"]["customers_owned"]
    assert total == len(dossier["customers_owned"]) > 1
    assert (
        ask("rep", "dossier", summary.departed_rep, "--limit", "1")["totals"] == dossier["totals"]
    )
    assert main(["rep", "dossier", summary.departed_rep, "--as-of", AS_OF, "--limit", "1"]) == 0
    assert f"customers owned ({total}, 1 shown)" in capsys.readouterr().out


def test_what_each_rep_promised_a_client_is_one_query(
    demo: tuple[Settings, DemoSummary], ask: Any
) -> None:
    _, summary = demo
    ref = summary.seeded["broken_promise_customer"]
    everything = ask("customer", "promises", ref)["data"]
    assert {"kept", "broken", "cancelled"} <= {p["status"] for p in everything}
    rep = everything[0]["rep"]
    assert all(p["rep"] == rep for p in ask("customer", "promises", ref, "--rep", rep)["data"])
    overdue = summary.seeded["overdue_promise_customer"]
    assert any(
        p["status"] in ("open", "overdue") for p in ask("customer", "promises", overdue)["data"]
    )


def test_compliance_sees_the_seeded_conflict_and_violations(
    demo: tuple[Settings, DemoSummary], ask: Any
) -> None:
    _, summary = demo
    seeded = summary.seeded
    conflicts = ask("compliance", "conflicts", "--customer", seeded["conflict_customer"])["data"]
    assert any(c["product"] == seeded["conflict_product"] and c["reps_differ"] for c in conflicts)
    found: dict[str, set[str]] = {}
    cursor: list[str] = []
    while True:
        page = ask("compliance", "violations", "--limit", "50", *cursor)
        for item in page["data"]:
            found.setdefault(item["kind"], set()).add(item["customer"])
        if not page["next_cursor"]:
            break
        cursor = ["--cursor", page["next_cursor"]]
    assert seeded["opt_out_customer"] in found["touch_after_opt_out"]
    assert seeded["open_complaint_touch_customer"] in found["touch_during_open_complaint"]
    assert seeded["double_material_customer"] in found["same_material_two_departments"]
    opted = ask("compliance", "violations", "--kind", "touch_after_opt_out")["data"]
    assert opted and {v["kind"] for v in opted} == {"touch_after_opt_out"}
    assert {v["customer"] for v in opted} == found["touch_after_opt_out"]


def test_the_service_inbox_shows_the_unanswered_request(
    demo: tuple[Settings, DemoSummary], ask: Any
) -> None:
    _, summary = demo
    inbox = ask("service", "inbox", "--as-of", summary.last_day.isoformat(), "--limit", "500")
    late = [
        i for i in inbox["data"] if i["customer"] == summary.seeded["unanswered_request_customer"]
    ]
    assert any(i["item"] == "request" for i in late)
    dues = [i["due"] for i in inbox["data"]]
    assert dues == sorted(dues)  # oldest deadline first
    assert all(
        i["due"] < summary.last_day.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        for i in inbox["data"]
    )


def test_status_shows_every_view_caught_up_and_rebuild_verifies(
    demo: tuple[Settings, DemoSummary], ask: Any
) -> None:
    ask("customer", "promises", "CUST-00001")  # catches up
    statuses = ask("projections", "status")
    assert {s["view"] for s in statuses} == {
        "promises",
        "quotes",
        "timeline",
        "service",
        "dossier",
        "activity",
    }
    assert all(s["lag"] == 0 and s["error"] is None for s in statuses)
    rebuilt = ask("projections", "rebuild", "--verify")
    assert all(r["identical"] for r in rebuilt)


def test_unknown_names_are_errors_not_empty_answers(
    demo: tuple[Settings, DemoSummary], ask: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rep", "dossier", "REP-404"]) == 1
    assert "REP-404" in capsys.readouterr().err
    assert main(["customer", "promises", "CUST-404"]) == 1
    assert "no customer with reference 'CUST-404'" in capsys.readouterr().err
    assert main(["projections", "rebuild", "nonsense"]) == 2
    assert "unknown view 'nonsense'" in capsys.readouterr().err
    assert main(["service", "inbox", "--cursor", "garbage!"]) == 2
    assert "cursor" in capsys.readouterr().err
