"""Every customer command, told as small stories, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.aggregates.customer import Customer
from ledger.application import Ledger
from ledger.errors import DuplicateReference, RuleViolation, UnknownReference
from ledger.history import history_lines
from tests.conftest import at, run


def kinds(app: Ledger, ref: str = "CUST-1") -> list[str]:
    return [type(e).__name__ for e in app.history("customer", ref)]


def test_registering_a_customer_returns_what_was_written(ledger: Ledger) -> None:
    run(ledger, type="hire_rep", ref="REP-1", name="李娜", team="east", occurred_at=at(-1))
    result = run(
        ledger,
        type="register_customer",
        ref="CUST-00042",
        name="王伟",
        kind="company",
        company="上海茶业有限公司",
        owner="REP-1",
        occurred_at=at(),
    )
    assert (result.ref, result.version, result.event_ids) == ("CUST-00042", 1, ["CUST-00042#1"])
    assert result.position == 2
    customer = ledger.customer("CUST-00042")
    assert customer.id == result.id
    assert customer.profile["company"] == "上海茶业有限公司"
    assert customer.owner == "REP-1"


def test_the_same_reference_cannot_be_registered_twice(world: Ledger) -> None:
    with pytest.raises(DuplicateReference, match="customer CUST-1 is already registered"):
        run(world, type="register_customer", ref="CUST-1", name="Someone else")
    assert world.customer("CUST-1").profile["name"] == "王伟"


def test_profile_update_changes_only_the_fields_given(world: Ledger) -> None:
    run(world, type="update_profile", customer="CUST-1", email="wei@example.com", phone=None)
    profile = world.customer("CUST-1").profile
    assert (profile["name"], profile["email"], profile["phone"]) == (
        "王伟",
        "wei@example.com",
        None,
    )


def test_owner_assignment_records_who_handed_over_to_whom(world: Ledger) -> None:
    run(world, type="assign_owner", customer="CUST-1", rep="REP-2", reason="REP-1 on leave")
    event = world.history("customer", "CUST-1")[-1]
    assert isinstance(event, Customer.OwnerAssigned)
    assert (event.from_rep, event.to_rep, event.reason) == ("REP-1", "REP-2", "REP-1 on leave")
    with pytest.raises(RuleViolation, match="REP-2 already owns customer CUST-1"):
        run(world, type="assign_owner", customer="CUST-1", rep="REP-2", reason="again")


def test_contacts_keep_their_business_time_when_logged_late(world: Ledger) -> None:
    run(
        world,
        type="log_contact",
        customer="CUST-1",
        rep="REP-2",
        channel="visit",
        direction="out",
        subject="拜访",
        summary="介绍新产品",
        occurred_at=at(-3),
        contact_id="K-1",
    )
    [line] = [
        x for x in history_lines(world.history("customer", "CUST-1")) if x.kind == "ContactLogged"
    ]
    assert line.entry_id == "K-1"
    assert line.occurred_at.isoformat() == at(-3)
    assert line.late  # recorded now, long after 2025


def test_a_request_is_answered_once(world: Ledger) -> None:
    run(
        world,
        type="receive_request",
        customer="CUST-1",
        kind="repair",
        channel="phone",
        respond_by=at(2),
        request_id="R-1",
        occurred_at=at(),
    )
    run(
        world,
        type="answer_request",
        customer="CUST-1",
        request_id="R-1",
        rep="REP-2",
        channel="phone",
        occurred_at=at(1),
    )
    assert world.customer("CUST-1").open_entries("request") == {}
    with pytest.raises(RuleViolation, match="request R-1 is already answered"):
        run(
            world,
            type="answer_request",
            customer="CUST-1",
            request_id="R-1",
            rep="REP-2",
            channel="phone",
            occurred_at=at(1),
        )


def test_quotes_are_accepted_declined_withdrawn_or_expired(world: Ledger) -> None:
    for n in range(1, 5):
        run(
            world,
            type="issue_quote",
            customer="CUST-1",
            rep="REP-1",
            product="普洱茶",
            quantity="10",
            unit_price="128.00",
            currency="CNY",
            discount="0.05",
            valid_until=at(10),
            quote_id=f"Q-{n}",
            occurred_at=at(),
        )
    run(world, type="accept_quote", customer="CUST-1", quote_id="Q-1", occurred_at=at(2))
    run(
        world,
        type="decline_quote",
        customer="CUST-1",
        quote_id="Q-2",
        reason="too dear",
        occurred_at=at(3),
    )
    run(world, type="withdraw_quote", customer="CUST-1", quote_id="Q-3", occurred_at=at(3))
    run(world, type="expire_quote", customer="CUST-1", quote_id="Q-4", occurred_at=at(11))
    statuses = {k: v["status"] for k, v in world.customer("CUST-1").entries.items()}
    assert statuses == {"Q-1": "accepted", "Q-2": "declined", "Q-3": "withdrawn", "Q-4": "expired"}
    assert world.customer("CUST-1").entry("Q-1")["unit_price"] == Decimal("128.00")


def test_an_expired_quote_cannot_be_accepted_nor_a_valid_one_expired(world: Ledger) -> None:
    run(
        world,
        type="issue_quote",
        customer="CUST-1",
        rep="REP-1",
        product="tea",
        unit_price="9.90",
        currency="EUR",
        valid_until=at(5),
        quote_id="Q-1",
        occurred_at=at(),
    )
    with pytest.raises(RuleViolation, match="valid until .* cannot be accepted") as caught:
        run(world, type="accept_quote", customer="CUST-1", quote_id="Q-1", occurred_at=at(6))
    assert caught.value.rule == "quote_expired"
    with pytest.raises(RuleViolation, match="cannot expire") as caught:
        run(world, type="expire_quote", customer="CUST-1", quote_id="Q-1", occurred_at=at(4))
    assert caught.value.rule == "quote_still_valid"


def test_promises_are_kept_broken_cancelled_or_marked_overdue(world: Ledger) -> None:
    run(
        world,
        type="file_complaint",
        customer="CUST-1",
        category="delivery",
        severity="high",
        description="货物延迟",
        complaint_id="C-1",
        occurred_at=at(),
    )
    for n in range(1, 5):
        run(
            world,
            type="make_promise",
            customer="CUST-1",
            rep="REP-1",
            text="下周一送货",
            category="delivery",
            due_by=at(7),
            complaint_id="C-1",
            promise_id=f"P-{n}",
            occurred_at=at(),
        )
    run(world, type="keep_promise", customer="CUST-1", promise_id="P-1", occurred_at=at(6))
    run(world, type="break_promise", customer="CUST-1", promise_id="P-2", occurred_at=at(8))
    run(world, type="cancel_promise", customer="CUST-1", promise_id="P-3", occurred_at=at(1))
    run(
        world,
        type="mark_promise_overdue",
        customer="CUST-1",
        promise_id="P-4",
        occurred_at=at(8),
    )
    customer = world.customer("CUST-1")
    assert [customer.entry(f"P-{n}")["status"] for n in range(1, 5)] == [
        "kept",
        "broken",
        "cancelled",
        "overdue",
    ]
    assert list(customer.open_entries("promise")) == ["P-4"]  # overdue is still open
    run(world, type="keep_promise", customer="CUST-1", promise_id="P-4", occurred_at=at(9))
    with pytest.raises(RuleViolation, match="promise P-4 is already kept"):
        run(world, type="break_promise", customer="CUST-1", promise_id="P-4", occurred_at=at(9))


def test_a_promise_cannot_fall_due_before_it_was_made(world: Ledger) -> None:
    with pytest.raises(RuleViolation, match="due_by .* is before the entry itself") as caught:
        run(
            world,
            type="make_promise",
            customer="CUST-1",
            rep="REP-1",
            text="call back",
            due_by="2020-01-01T00:00:00Z",
        )  # made now, due in 2020
    assert caught.value.rule == "due_before_made"


def test_a_promise_cannot_be_overdue_before_its_due_date(world: Ledger) -> None:
    run(
        world,
        type="make_promise",
        customer="CUST-1",
        rep="REP-1",
        text="call back",
        due_by=at(3),
        promise_id="P-1",
        occurred_at=at(),
    )
    with pytest.raises(RuleViolation, match="not overdue"):
        run(
            world,
            type="mark_promise_overdue",
            customer="CUST-1",
            promise_id="P-1",
            occurred_at=at(2),
        )


def test_a_touch_after_opt_out_is_recorded_and_flagged(world: Ledger) -> None:
    run(world, type="touch_campaign", customer="CUST-1", campaign="CMP-EXPO", occurred_at=at(1))
    run(
        world,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        granted=False,
        occurred_at=at(2),
    )
    run(world, type="touch_campaign", customer="CUST-1", campaign="CMP-EXPO", occurred_at=at(3))
    run(
        world,
        type="touch_campaign",
        customer="CUST-1",
        campaign="CMP-EXPO",
        channel="letter",
        department="sales",
        occurred_at=at(3),
    )
    touches = [
        e for e in world.history("customer", "CUST-1") if isinstance(e, Customer.CampaignTouched)
    ]
    assert [(t.channel, t.opted_out) for t in touches] == [
        ("email", False),
        ("email", True),
        ("letter", False),
    ]
    assert (touches[0].material, touches[0].department) == ("brochure-2025", "marketing")
    assert touches[2].department == "sales"


def test_a_late_recorded_opt_out_counts_from_when_it_happened(world: Ledger) -> None:
    run(
        world,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        granted=False,
        occurred_at=at(1),
    )
    run(
        world,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        granted=True,
        occurred_at=at(5),
    )
    run(world, type="touch_campaign", customer="CUST-1", campaign="CMP-EXPO", occurred_at=at(3))
    run(world, type="touch_campaign", customer="CUST-1", campaign="CMP-EXPO", occurred_at=at(6))
    flags = [
        e.opted_out
        for e in world.history("customer", "CUST-1")
        if isinstance(e, Customer.CampaignTouched)
    ]
    assert flags == [True, False]


def test_complaints_are_escalated_resolved_and_reopened(world: Ledger) -> None:
    run(
        world,
        type="file_complaint",
        customer="CUST-1",
        category="user_error",
        severity="low",
        description="不会使用",
        respond_by=at(2),
        rep="REP-2",
        complaint_id="C-1",
        occurred_at=at(),
    )
    run(
        world,
        type="escalate_complaint",
        customer="CUST-1",
        complaint_id="C-1",
        to="service team",
        occurred_at=at(1),
    )
    run(
        world,
        type="resolve_complaint",
        customer="CUST-1",
        complaint_id="C-1",
        resolution="上门培训",
        satisfied=True,
        occurred_at=at(2),
    )
    with pytest.raises(RuleViolation, match="complaint C-1 is already resolved"):
        run(
            world,
            type="escalate_complaint",
            customer="CUST-1",
            complaint_id="C-1",
            to="x",
            occurred_at=at(3),
        )
    run(
        world,
        type="reopen_complaint",
        customer="CUST-1",
        complaint_id="C-1",
        reason="problem returned",
        occurred_at=at(4),
    )
    assert world.customer("CUST-1").entry("C-1")["status"] == "open"
    with pytest.raises(RuleViolation, match="only a resolved complaint can be reopened"):
        run(
            world,
            type="reopen_complaint",
            customer="CUST-1",
            complaint_id="C-1",
            reason="again",
            occurred_at=at(5),
        )


def test_satisfaction_purchase_churn_and_win_back(world: Ledger) -> None:
    run(
        world,
        type="record_satisfaction",
        customer="CUST-1",
        rep="REP-1",
        product="tea",
        items={"delivery": "satisfied", "价格": "fairly_dissatisfied"},
        occurred_at=at(),
    )
    run(
        world,
        type="record_purchase",
        customer="CUST-1",
        order_id="SO-1",
        amount="1280.00",
        currency="CNY",
        cost="800",
        rep="REP-1",
        occurred_at=at(1),
    )
    with pytest.raises(RuleViolation, match="already has an entry SO-1"):
        run(
            world,
            type="record_purchase",
            customer="CUST-1",
            order_id="SO-1",
            amount="1",
            currency="CNY",
            occurred_at=at(1),
        )
    with pytest.raises(RuleViolation, match="has not churned"):
        run(world, type="record_win_back", customer="CUST-1", occurred_at=at(2))
    run(
        world,
        type="record_churn",
        customer="CUST-1",
        defection_type="price",
        competitor="大华贸易",
        occurred_at=at(3),
    )
    with pytest.raises(RuleViolation, match="churned on"):
        run(
            world,
            type="record_churn",
            customer="CUST-1",
            defection_type="service",
            occurred_at=at(4),
        )
    run(
        world,
        type="record_win_back",
        customer="CUST-1",
        rep="REP-2",
        reason="discount",
        occurred_at=at(5),
    )
    assert world.customer("CUST-1").churned_at is None
    assert kinds(world)[1:] == ["SatisfactionRecorded", "PurchaseRecorded", "Churned", "WonBack"]


def test_corrections_and_retractions_keep_the_trail(world: Ledger) -> None:
    run(
        world,
        type="record_purchase",
        customer="CUST-1",
        order_id="SO-1",
        amount="1280.00",
        currency="CNY",
        occurred_at=at(1),
    )
    run(
        world,
        type="log_contact",
        customer="CUST-1",
        rep="REP-1",
        channel="phone",
        direction="in",
        subject="wrong customer",
        contact_id="K-9",
        occurred_at=at(1),
    )
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="SO-1",
        fields={"amount": "1208.00", "occurred_at": at(0, 5)},
        reason="typo in amount",
    )
    run(
        world,
        type="retract_entry",
        customer="CUST-1",
        entry_id="K-9",
        reason="logged on the wrong customer",
    )
    lines = {line.entry_id: line for line in history_lines(world.history("customer", "CUST-1"))}
    assert lines["SO-1"].details["amount"] == Decimal("1208.00")
    assert lines["SO-1"].occurred_at.isoformat() == at(0, 5)
    assert "amount corrected from 1280.00 to 1208.00" in lines["SO-1"].flags[0]
    assert lines["K-9"].flags[0].startswith("RETRACTED")
    assert len(world.history("customer", "CUST-1")) == 5  # nothing was edited or removed
    with pytest.raises(RuleViolation, match="contact K-9 was retracted"):
        run(
            world,
            type="correct_entry",
            customer="CUST-1",
            entry_id="K-9",
            fields={"subject": "x"},
            reason="r",
        )


def test_a_correction_is_checked_like_the_original_entry(world: Ledger) -> None:
    run(
        world,
        type="record_purchase",
        customer="CUST-1",
        order_id="SO-1",
        amount="10",
        currency="CNY",
        occurred_at=at(1),
    )
    with pytest.raises(
        Exception, match="fields.amount: Input should be greater than or equal to 0"
    ):
        run(
            world,
            type="correct_entry",
            customer="CUST-1",
            entry_id="SO-1",
            fields={"amount": "-5"},
            reason="r",
        )
    with pytest.raises(Exception, match="cannot have order_id corrected"):
        run(
            world,
            type="correct_entry",
            customer="CUST-1",
            entry_id="SO-1",
            fields={"order_id": "SO-2"},
            reason="r",
        )
    with pytest.raises(UnknownReference, match="no rep with reference 'REP-404'"):
        run(
            world,
            type="correct_entry",
            customer="CUST-1",
            entry_id="SO-1",
            fields={"rep": "REP-404"},
            reason="r",
        )
    with pytest.raises(UnknownReference, match="has no entry SO-404"):
        run(
            world,
            type="correct_entry",
            customer="CUST-1",
            entry_id="SO-404",
            fields={"amount": "5"},
            reason="r",
        )
