"""The demo world: deterministic, complete, free of refused commands, with its seeded cases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.config import Settings
from ledger.demo import DEFAULT_START, DemoSummary, build_world, plan_world
from tests.conftest import fresh_store

pytestmark = pytest.mark.slow  # builds demo worlds: 40 customers over a year, on each store

EVENT_TYPES = {  # one per command type
    "Registered",
    "ProfileChanged",
    "OwnerAssigned",
    "ResponsibilityMoved",
    "ContactLogged",
    "RequestReceived",
    "RequestAnswered",
    "QuoteIssued",
    "QuoteAccepted",
    "QuoteDeclined",
    "QuoteExpired",
    "QuoteWithdrawn",
    "PromiseMade",
    "PromiseKept",
    "PromiseBroken",
    "PromiseCancelled",
    "PromiseMarkedOverdue",
    "CampaignTouched",
    "ConsentChanged",
    "ComplaintFiled",
    "ComplaintEscalated",
    "ComplaintResolved",
    "ComplaintReopened",
    "SatisfactionRecorded",
    "PurchaseRecorded",
    "Churned",
    "WonBack",
    "EntryCorrected",
    "EntryRetracted",
    "Hired",
    "MovedTeam",
    "Departed",
    "Launched",
    "CostRecorded",
    "Closed",
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Ledger, DemoSummary]]:
    for settings in fresh_store(request, tmp_path_factory.mktemp("demo")):
        app = Ledger(settings)
        batches: list[int] = []
        summary = build_world(app, seed=1, customers=40, days=365, progress=batches.append)
        assert sum(batches) == summary.commands
        yield app, summary
        app.close()


def all_events(app: Ledger) -> list[Any]:
    notifications = app.recorder.select_notifications(start=1, limit=10**6)
    return [app.mapper.to_domain_event(n) for n in notifications]


def test_a_small_world_has_every_kind_of_command_and_no_refusals(
    world: tuple[Ledger, DemoSummary],
) -> None:
    _, summary = world
    assert summary.rejected == 0, summary.rejections
    assert set(summary.counts) == EVENT_TYPES
    assert summary.events == sum(summary.counts.values())
    assert summary.counts["Registered"] == 40


def test_the_same_seed_plans_the_same_world() -> None:
    def plan(seed: int) -> list[tuple[Any, ...]]:
        w = plan_world(seed, 40, DEFAULT_START, 365)
        return [
            (p.recorded_at, p.actor, p.command.command_id, p.command.canonical()) for p in w.planned
        ]

    assert plan(1) == plan(1)
    assert plan(1) != plan(2)


def test_the_same_seed_writes_the_same_counts(
    tmp_path: Path, world: tuple[Ledger, DemoSummary]
) -> None:
    again = build_world(Ledger(Settings(data_dir=tmp_path)), seed=1, customers=40, days=365)
    assert again.counts == world[1].counts
    assert again.seeded == world[1].seeded


def test_building_the_same_world_again_writes_nothing(world: tuple[Ledger, DemoSummary]) -> None:
    app, _ = world
    before = app.recorder.max_notification_id()
    again = build_world(app, seed=1, customers=40, days=365)
    assert (again.events, again.rejected) == (0, 0)
    assert app.recorder.max_notification_id() == before


def test_the_log_is_in_recording_order(world: tuple[Ledger, DemoSummary]) -> None:
    stamps = [e.timestamp for e in all_events(world[0])]
    assert stamps == sorted(stamps)


def test_the_departed_rep_records_nothing_after_leaving_and_leaves_work_open(
    world: tuple[Ledger, DemoSummary],
) -> None:
    app, summary = world
    departed = app.rep(summary.departed_rep).departed_at
    assert departed is not None
    for event in all_events(app):
        if event.actor == summary.departed_rep:
            assert event.timestamp < departed
        if getattr(event, "rep", None) == summary.departed_rep:
            assert event.occurred_at < departed
    handover = app.customer(summary.seeded["handover_customer"])
    assert handover.owner != summary.departed_rep
    left = [
        e["kind"]
        for e in handover.entries.values()
        if e.get("rep") == summary.departed_rep and e.get("status") in ("open", "overdue")
    ]
    assert "quote" in left and "promise" in left


def test_seeded_cases_are_there(world: tuple[Ledger, DemoSummary]) -> None:
    app, summary = world
    seeded = summary.seeded

    quotes = [
        e
        for e in app.customer(seeded["conflict_customer"]).entries.values()
        if e["kind"] == "quote" and e["product"] == seeded["conflict_product"]
    ]
    assert any(
        a["rep"] != b["rep"]
        and a["unit_price"] != b["unit_price"]
        and a["occurred_at"] <= b["occurred_at"] <= a["valid_until"]
        for a in quotes
        for b in quotes
    )

    touches = history(app, seeded["opt_out_customer"], "CampaignTouched")
    assert any(t.opted_out for t in touches)

    complaint = next(
        e
        for e in history(app, seeded["open_complaint_touch_customer"], "ComplaintFiled")
        if e.severity == "high"
    )
    touched = history(app, seeded["open_complaint_touch_customer"], "CampaignTouched")
    assert any(complaint.occurred_at < t.occurred_at < complaint.respond_by for t in touched)

    requests = app.customer(seeded["unanswered_request_customer"]).open_entries("request")
    assert any(r["respond_by"] < summary.last_day for r in requests.values())

    statuses = {
        e.get("status")
        for e in app.customer(seeded["broken_promise_customer"]).entries.values()
        if e["kind"] == "promise"
    }
    assert {"broken", "kept", "cancelled"} <= statuses
    assert app.customer(seeded["overdue_promise_customer"]).open_entries("promise")

    late = [
        e
        for e in history(app, seeded["late_recorded_customer"], "ContactLogged")
        if e.timestamp - e.occurred_at > timedelta(days=1)
    ]
    assert late

    kinds = {type(e).__name__ for e in app.history("customer", seeded["corrected_customer"])}
    assert {"EntryCorrected", "EntryRetracted"} <= kinds

    material = [
        t
        for t in history(app, seeded["double_material_customer"], "CampaignTouched")
        if t.material == "product-brochure"
    ]
    assert any(
        a.department != b.department
        and timedelta(0) <= b.occurred_at - a.occurred_at <= timedelta(days=30)
        for a in material
        for b in material
    )


def history(app: Ledger, ref: str, event_type: str) -> list[Any]:
    return [e for e in app.history("customer", ref) if type(e).__name__ == event_type]


def test_too_small_a_world_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 11 customers"):
        build_world(Ledger(Settings(data_dir=tmp_path)), customers=5)
