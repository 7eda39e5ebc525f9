"""The service view: the inbox of overdue requests and complaints, and the violations
compliance looks for (marketing after opt-out or during a complaint, selling during a
complaint, one material from two departments)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ledger.application import Ledger
from ledger.projections.activity import Activity
from ledger.projections.base import Page
from ledger.projections.promises import Promises
from ledger.projections.queries import service_inbox
from ledger.projections.runner import Runner
from ledger.projections.service import Service, open_items_of_rep, violations
from ledger.sql import Database, iso
from tests.conftest import T0, at, run


def on(days: float) -> datetime:
    return T0 + timedelta(days=days)


def caught_up(ledger: Ledger) -> Database:
    runner = Runner(ledger, [Service(), Activity()])  # violations read activity's contacts
    runner.catch_up()
    assert not runner.failed, runner.failed
    return runner.db


def customer(ledger: Ledger, ref: str, owner: str = "REP-1") -> None:
    run(
        ledger,
        type="register_customer",
        ref=ref,
        name=f"客户 {ref}",
        owner=owner,
        occurred_at=at(-5),
    )


def request(
    ledger: Ledger,
    ref: str,
    request_id: str,
    *,
    received: float,
    due: float,
    rep: str | None = "REP-2",
    kind: str = "repair",
) -> None:
    run(
        ledger,
        type="receive_request",
        customer=ref,
        request_id=request_id,
        kind=kind,
        channel="phone",
        respond_by=at(due),
        rep=rep,
        summary="设备故障需要维修",
        occurred_at=at(received),
    )


def complaint(
    ledger: Ledger,
    ref: str,
    complaint_id: str,
    *,
    filed: float,
    due: float | None = None,
    rep: str | None = "REP-1",
) -> None:
    run(
        ledger,
        type="file_complaint",
        customer=ref,
        complaint_id=complaint_id,
        category="product",
        severity="high",
        description="The machine is far too loud",
        respond_by=at(due) if due is not None else None,
        rep=rep,
        occurred_at=at(filed),
    )


def touch(
    ledger: Ledger, ref: str, touch_id: str, days: float, campaign: str = "CMP-EXPO", **fields: Any
) -> None:
    run(
        ledger,
        type="touch_campaign",
        customer=ref,
        campaign=campaign,
        touch_id=touch_id,
        occurred_at=at(days),
        **fields,
    )


def all_pages(fetch: Any, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page: Page = fetch(limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def found(db: Database) -> list[tuple[str, str, list[str]]]:
    return [
        (v["kind"], v["customer"], [e["entry_id"] for e in v["entries"]])
        for v in violations(db).items
    ]


# -- the inbox -----------------------------------------------------------------------------------


def inbox_story(ledger: Ledger) -> None:
    customer(ledger, "CUST-2")
    request(ledger, "CUST-1", "R-LATE", received=0, due=2)
    request(ledger, "CUST-1", "R-ANSWERED", received=0, due=3)
    run(
        ledger,
        type="answer_request",
        customer="CUST-1",
        request_id="R-ANSWERED",
        rep="REP-2",
        channel="phone",
        occurred_at=at(4),
    )
    request(ledger, "CUST-2", "R-NOT-DUE", received=1, due=20)
    request(ledger, "CUST-2", "R-WRONG", received=1, due=2)
    run(
        ledger,
        type="retract_entry",
        customer="CUST-2",
        entry_id="R-WRONG",
        reason="Logged for the wrong customer",
        occurred_at=at(1.5),
    )
    complaint(ledger, "CUST-2", "C-OPEN", filed=1, due=5)
    complaint(ledger, "CUST-1", "C-RESOLVED", filed=1, due=3)
    run(
        ledger,
        type="resolve_complaint",
        customer="CUST-1",
        complaint_id="C-RESOLVED",
        resolution="Replaced the fan",
        satisfied=True,
        occurred_at=at(6),
    )
    complaint(ledger, "CUST-1", "C-NO-DEADLINE", filed=1)


def test_inbox_lists_overdue_unanswered_requests_and_unresolved_complaints(world: Ledger) -> None:
    inbox_story(world)
    db = caught_up(world)

    page = service_inbox(db, as_of=on(10))

    assert [(i["item"], i["customer"], i["id"]) for i in page.items] == [
        ("request", "CUST-1", "R-LATE"),
        ("complaint", "CUST-2", "C-OPEN"),
    ]
    late, open_complaint = page.items
    assert (late["what"], late["rep"], late["due"], late["overdue_days"]) == (
        "repair",
        "REP-2",
        iso(on(2)),
        8,
    )
    assert (open_complaint["what"], open_complaint["rep"], open_complaint["overdue_days"]) == (
        "product",
        "REP-1",
        5,
    )
    assert page.next_cursor is None


def test_nothing_is_overdue_before_its_deadline(world: Ledger) -> None:
    inbox_story(world)
    db = caught_up(world)

    assert service_inbox(db, as_of=on(1.9)).items == []


def test_an_earlier_day_shows_what_was_still_unanswered_then(world: Ledger) -> None:
    inbox_story(world)
    db = caught_up(world)

    page = service_inbox(db, as_of=on(3.5))

    assert [i["id"] for i in page.items] == ["R-LATE", "C-RESOLVED", "R-ANSWERED"]


def test_the_inbox_of_one_rep(world: Ledger) -> None:
    inbox_story(world)
    db = caught_up(world)

    assert [i["id"] for i in service_inbox(db, as_of=on(10), rep="REP-1").items] == ["C-OPEN"]
    assert [i["id"] for i in service_inbox(db, as_of=on(10), rep="REP-2").items] == ["R-LATE"]


def test_a_corrected_deadline_and_a_reopened_complaint_move_the_inbox(world: Ledger) -> None:
    inbox_story(world)
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="R-LATE",
        fields={"respond_by": at(15)},
        reason="The customer agreed to wait",
        occurred_at=at(3),
    )
    run(
        world,
        type="reopen_complaint",
        customer="CUST-1",
        complaint_id="C-RESOLVED",
        reason="The noise came back",
        occurred_at=at(8),
    )
    db = caught_up(world)

    assert [i["id"] for i in service_inbox(db, as_of=on(10)).items] == ["C-RESOLVED", "C-OPEN"]
    assert [i["id"] for i in service_inbox(db, as_of=on(16)).items] == [
        "C-RESOLVED",
        "C-OPEN",
        "R-LATE",
    ]


def test_open_items_of_a_rep(world: Ledger) -> None:
    inbox_story(world)
    db = caught_up(world)

    items = open_items_of_rep(db, "REP-2")
    assert [r["request_id"] for r in items["unanswered_requests"]] == ["R-LATE", "R-NOT-DUE"]
    assert items["open_complaints"] == []
    items = open_items_of_rep(db, "REP-1")
    assert [c["complaint_id"] for c in items["open_complaints"]] == ["C-OPEN", "C-NO-DEADLINE"]


def test_the_inbox_pages_through_every_item_once(world: Ledger) -> None:
    inbox_story(world)
    for n in range(5):
        request(world, "CUST-1", f"R-MORE-{n}", received=0, due=2)
    db = caught_up(world)

    everything = service_inbox(db, as_of=on(10)).items
    paged = all_pages(lambda **kw: service_inbox(db, as_of=on(10), **kw), limit=2)

    assert len(everything) == 7
    assert paged == everything


# -- violations ----------------------------------------------------------------------------------


def test_a_touch_after_opting_out_is_a_violation(world: Ledger) -> None:
    customer(world, "CUST-2")
    run(
        world,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        granted=False,
        occurred_at=at(1),
    )
    touch(world, "CUST-1", "T-EMAIL", 2)
    touch(world, "CUST-1", "T-LETTER", 3, channel="letter")
    touch(world, "CUST-2", "T-CONSENTED", 2)
    db = caught_up(world)

    assert found(db) == [("touch_after_opt_out", "CUST-1", ["T-EMAIL"])]
    item = violations(db).items[0]
    assert item["at"] == iso(on(2))
    assert item["entries"][0]["campaign"] == "CMP-EXPO"
    assert item["entries"][0]["channel"] == "email"


def test_a_retracted_touch_is_no_violation(world: Ledger) -> None:
    run(
        world,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        granted=False,
        occurred_at=at(1),
    )
    touch(world, "CUST-1", "T-EMAIL", 2)
    run(
        world,
        type="retract_entry",
        customer="CUST-1",
        entry_id="T-EMAIL",
        reason="The mail bounced before sending",
        occurred_at=at(3),
    )
    db = caught_up(world)

    assert found(db) == []


def test_touches_while_a_complaint_is_open_are_violations(world: Ledger) -> None:
    customer(world, "CUST-2")
    complaint(world, "CUST-1", "C-1", filed=1)
    touch(world, "CUST-1", "T-OPEN", 2)
    run(
        world,
        type="resolve_complaint",
        customer="CUST-1",
        complaint_id="C-1",
        resolution="Replaced the fan",
        occurred_at=at(3),
    )
    touch(world, "CUST-1", "T-RESOLVED", 4)
    run(
        world,
        type="reopen_complaint",
        customer="CUST-1",
        complaint_id="C-1",
        reason="The noise came back",
        occurred_at=at(5),
    )
    touch(world, "CUST-1", "T-REOPENED", 6)
    touch(world, "CUST-2", "T-NO-COMPLAINT", 2)
    db = caught_up(world)

    assert found(db) == [
        ("touch_during_open_complaint", "CUST-1", ["T-OPEN", "C-1"]),
        ("touch_during_open_complaint", "CUST-1", ["T-REOPENED", "C-1"]),
    ]
    first, second = violations(db).items
    assert first["entries"][1]["open_until"] == iso(on(3))
    assert second["entries"][1] == {
        "entry_id": "C-1",
        "entry": "complaint",
        "open_from": iso(on(5)),
        "open_until": None,
    }


def test_touches_during_a_retracted_complaint_are_no_violation(world: Ledger) -> None:
    complaint(world, "CUST-1", "C-1", filed=1)
    touch(world, "CUST-1", "T-1", 2)
    run(
        world,
        type="retract_entry",
        customer="CUST-1",
        entry_id="C-1",
        reason="Filed for the wrong customer",
        occurred_at=at(3),
    )
    db = caught_up(world)

    assert found(db) == []


def test_selling_while_a_complaint_is_open_is_a_violation(world: Ledger) -> None:
    complaint(world, "CUST-1", "C-1", filed=1, rep="REP-2")
    run(
        world,
        type="log_contact",
        customer="CUST-1",
        rep="REP-1",
        channel="phone",
        direction="out",
        subject="Upgrade offer",
        contact_id="K-OUT",
        occurred_at=at(2),
    )
    run(
        world,
        type="log_contact",
        customer="CUST-1",
        rep="REP-1",
        channel="phone",
        direction="in",
        subject="Customer asks about the fix",
        contact_id="K-IN",
        occurred_at=at(2.1),
    )
    run(
        world,
        type="log_contact",
        customer="CUST-1",
        rep="REP-2",
        channel="phone",
        direction="out",
        subject="About your complaint",
        contact_id="K-HANDLER",
        occurred_at=at(2.2),
    )
    run(
        world,
        type="issue_quote",
        customer="CUST-1",
        rep="REP-1",
        product="LX-200",
        unit_price="186000",
        currency="CNY",
        valid_until=at(30),
        quote_id="Q-1",
        occurred_at=at(2.5),
    )
    run(
        world,
        type="record_purchase",
        customer="CUST-1",
        order_id="O-1",
        amount="900",
        currency="CNY",
        rep="REP-1",
        occurred_at=at(2.6),
    )
    run(
        world,
        type="resolve_complaint",
        customer="CUST-1",
        complaint_id="C-1",
        resolution="Replaced the fan",
        occurred_at=at(3),
    )
    run(
        world,
        type="record_purchase",
        customer="CUST-1",
        order_id="O-2",
        amount="900",
        currency="CNY",
        rep="REP-1",
        occurred_at=at(4),
    )
    db = caught_up(world)

    assert found(db) == [
        ("sale_during_open_complaint", "CUST-1", ["K-OUT", "C-1"]),
        ("sale_during_open_complaint", "CUST-1", ["Q-1", "C-1"]),
        ("sale_during_open_complaint", "CUST-1", ["O-1", "C-1"]),
    ]
    assert [v["entries"][0]["entry"] for v in violations(db).items] == [
        "contact",
        "quote",
        "purchase",
    ]


def test_a_contact_corrected_to_before_the_complaint_is_no_violation(world: Ledger) -> None:
    complaint(world, "CUST-1", "C-1", filed=1, rep="REP-2")
    run(
        world,
        type="log_contact",
        customer="CUST-1",
        rep="REP-1",
        channel="phone",
        direction="out",
        subject="Upgrade offer",
        contact_id="K-OUT",
        occurred_at=at(2),
    )
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="K-OUT",
        fields={"occurred_at": at(0.5)},
        reason="The call was the day before",
        occurred_at=at(3),
    )
    db = caught_up(world)

    assert found(db) == []


def test_the_same_material_from_two_departments_within_30_days(world: Ledger) -> None:
    run(
        world,
        type="launch_campaign",
        ref="CMP-NEWS",
        name="Newsletter",
        channel="email",
        budget="3000",
        currency="USD",
        starts_at=at(-10),
        ends_at=at(90),
        material="brochure-2025",
        department="sales",
        occurred_at=at(-10),
    )
    for ref in ("CUST-2", "CUST-3"):
        customer(world, ref)
    touch(world, "CUST-1", "T-MKT", 1)
    touch(world, "CUST-1", "T-SALES", 20, campaign="CMP-NEWS")
    touch(world, "CUST-2", "T-MKT-2", 1)
    touch(world, "CUST-2", "T-SALES-LATE", 40, campaign="CMP-NEWS")
    touch(world, "CUST-3", "T-MKT-3", 1)
    touch(world, "CUST-3", "T-MKT-AGAIN", 10, campaign="CMP-NEWS", department="marketing")
    db = caught_up(world)

    assert found(db) == [("same_material_two_departments", "CUST-1", ["T-SALES", "T-MKT"])]
    item = violations(db).items[0]
    assert [(e["department"], e["material"]) for e in item["entries"]] == [
        ("sales", "brochure-2025"),
        ("marketing", "brochure-2025"),
    ]
    assert "brochure-2025" in item["why"]


def test_a_clean_story_has_no_violations(world: Ledger) -> None:
    complaint(world, "CUST-1", "C-1", filed=1)
    run(
        world,
        type="resolve_complaint",
        customer="CUST-1",
        complaint_id="C-1",
        resolution="Replaced the fan",
        occurred_at=at(2),
    )
    touch(world, "CUST-1", "T-1", 3)
    touch(world, "CUST-1", "T-2", 4)
    run(
        world,
        type="log_contact",
        customer="CUST-1",
        rep="REP-1",
        channel="phone",
        direction="out",
        subject="Upgrade offer",
        occurred_at=at(5),
    )
    db = caught_up(world)

    assert found(db) == []


def test_violations_page_through_every_item_once(world: Ledger) -> None:
    run(
        world,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        granted=False,
        occurred_at=at(1),
    )
    complaint(world, "CUST-1", "C-1", filed=1)
    for n in range(4):
        touch(world, "CUST-1", f"T-{n}", 2 + n)  # each both after opt-out and during C-1
    db = caught_up(world)

    everything = violations(db).items
    paged = all_pages(lambda **kw: violations(db, **kw), limit=3)

    assert len(everything) == 8
    assert paged == everything
    assert [v["at"] for v in everything] == sorted(v["at"] for v in everything)


# -- rebuild -------------------------------------------------------------------------------------


def test_a_rebuild_of_the_service_view_equals_the_live_view(world: Ledger) -> None:
    inbox_story(world)
    run(
        world,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        granted=False,
        occurred_at=at(1),
    )
    touch(world, "CUST-1", "T-1", 2)
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="T-1",
        fields={"occurred_at": at(1.5), "material": "flyer"},
        reason="Sent earlier",
        occurred_at=at(3),
    )
    run(
        world,
        type="log_contact",
        customer="CUST-1",
        rep="REP-1",
        channel="phone",
        direction="out",
        subject="Offer",
        contact_id="K-1",
        occurred_at=at(2),
    )
    run(
        world,
        type="reopen_complaint",
        customer="CUST-1",
        complaint_id="C-RESOLVED",
        reason="Again",
        occurred_at=at(7),
    )
    runner = Runner(world, [Service(), Promises()], batch_size=7)
    runner.catch_up()

    assert runner.rebuild(Service(), verify=True) is True
    assert [i["id"] for i in service_inbox(runner.db, as_of=on(10)).items] == [
        "R-LATE",
        "C-RESOLVED",
        "C-OPEN",
    ]
