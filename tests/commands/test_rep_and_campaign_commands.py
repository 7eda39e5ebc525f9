"""Reps and campaigns: hiring, moving, departing; launching, costing, closing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.application import Ledger
from ledger.errors import RuleViolation, UnknownReference
from tests.conftest import at, run


def test_a_rep_is_hired_moved_and_departs(world: Ledger) -> None:
    run(
        world,
        type="move_rep",
        rep="REP-2",
        team="key-accounts",
        manager="REP-1",
        reason="promotion",
        occurred_at=at(1),
    )
    run(world, type="depart_rep", rep="REP-2", reason="resigned", occurred_at=at(20))
    rep = world.rep("REP-2")
    assert rep.departed_at is not None
    assert (rep.team, rep.manager, rep.departed_at.isoformat()) == ("key-accounts", "REP-1", at(20))
    with pytest.raises(RuleViolation, match="REP-2 departed on") as caught:
        run(world, type="depart_rep", rep="REP-2", reason="again", occurred_at=at(21))
    assert caught.value.rule == "rep_departed"


def test_a_departed_rep_records_nothing_after_leaving(world: Ledger) -> None:
    run(world, type="depart_rep", rep="REP-2", reason="resigned", occurred_at=at(10))
    run(
        world,
        type="log_contact",
        customer="CUST-1",
        rep="REP-2",
        channel="phone",
        direction="out",
        subject="before leaving",
        occurred_at=at(9),
    )
    with pytest.raises(RuleViolation, match="rep REP-2 departed .* Assign the work"):
        run(
            world,
            type="make_promise",
            customer="CUST-1",
            rep="REP-2",
            text="call",
            due_by=at(12),
            occurred_at=at(11),
        )
    with pytest.raises(RuleViolation, match="rep REP-2 departed"):
        run(
            world,
            type="assign_owner",
            customer="CUST-1",
            rep="REP-2",
            reason="x",
            occurred_at=at(11),
        )


def test_a_rep_needs_a_known_manager(world: Ledger) -> None:
    with pytest.raises(UnknownReference, match="no rep with reference 'REP-99'"):
        run(
            world, type="hire_rep", ref="REP-3", name="Anna Schmidt", team="south", manager="REP-99"
        )
    with pytest.raises(UnknownReference):
        world.rep("REP-3")


def test_a_campaign_records_costs_in_its_currency_until_closed(world: Ledger) -> None:
    run(
        world,
        type="record_campaign_cost",
        campaign="CMP-EXPO",
        amount="12000.50",
        currency="CNY",
        note="booth",
        occurred_at=at(1),
    )
    with pytest.raises(RuleViolation, match="budgeted in CNY") as caught:
        run(
            world,
            type="record_campaign_cost",
            campaign="CMP-EXPO",
            amount="10",
            currency="EUR",
            occurred_at=at(1),
        )
    assert caught.value.rule == "currency_mismatch"
    run(world, type="close_campaign", campaign="CMP-EXPO", reason="expo over", occurred_at=at(60))
    campaign = world.campaign("CMP-EXPO")
    assert campaign.spent == Decimal("12000.50")
    with pytest.raises(RuleViolation, match="CMP-EXPO was closed on"):
        run(world, type="close_campaign", campaign="CMP-EXPO", occurred_at=at(61))


def test_a_touch_needs_a_known_campaign(world: Ledger) -> None:
    with pytest.raises(UnknownReference, match="no campaign with reference 'CMP-NONE'"):
        run(world, type="touch_campaign", customer="CUST-1", campaign="CMP-NONE")


def test_a_closed_campaign_touches_no_one_afterwards(world: Ledger) -> None:
    run(world, type="touch_campaign", customer="CUST-1", campaign="CMP-EXPO", occurred_at=at(5))
    run(world, type="close_campaign", campaign="CMP-EXPO", occurred_at=at(10))
    with pytest.raises(RuleViolation, match="CMP-EXPO was closed on .* no touches after that"):
        run(
            world, type="touch_campaign", customer="CUST-1", campaign="CMP-EXPO", occurred_at=at(11)
        )
