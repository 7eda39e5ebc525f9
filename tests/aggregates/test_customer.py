"""The Customer aggregate's rules, without any store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from ledger.aggregates import Campaign, Customer
from ledger.errors import RuleViolation

T0 = datetime(2025, 5, 1, tzinfo=timezone.utc)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def customer() -> Customer:
    return Customer(
        ref="CUST-1",
        name="张敏",
        kind="person",
        email="zm@example.cn",
        phone=None,
        address=None,
        company=None,
        segment=None,
        locale="zh-CN",
        owner="REP-1",
        title=None,
        source=None,
        occurred_at=T0,
        actor="test",
    )


def quote(c: Customer, quote_id: str = "Q-1", **changes: Any) -> None:
    fields: dict[str, Any] = dict(
        quote_id=quote_id,
        rep="REP-1",
        product="tea",
        quantity=Decimal(1),
        unit_price=Decimal("9.50"),
        currency="CNY",
        discount=Decimal(0),
        valid_until=day(10),
        occurred_at=day(1),
        actor="test",
    )
    c.issue_quote(**{**fields, **changes})


def test_an_outcome_cannot_predate_its_entry() -> None:
    c = customer()
    quote(c)
    with pytest.raises(RuleViolation, match="dated .* before the entry it concerns") as caught:
        c.decline_quote(quote_id="Q-1", reason=None, occurred_at=day(0), actor="test")
    assert caught.value.rule == "outcome_before_entry"
    assert c.entry("Q-1")["status"] == "open"


def test_a_correction_cannot_move_a_deadline_before_the_entry() -> None:
    c = customer()
    c.make_promise(
        promise_id="P-1",
        rep="REP-1",
        text="回电",
        category="follow_up",
        due_by=day(5),
        quote_id=None,
        complaint_id=None,
        occurred_at=day(2),
        actor="test",
    )
    with pytest.raises(RuleViolation, match="due_by .* is before the entry itself"):
        c.correct_entry(
            entry_id="P-1", fields={"due_by": day(1)}, reason="r", occurred_at=day(3), actor="test"
        )
    c.correct_entry(
        entry_id="P-1",
        fields={"due_by": day(7)},
        reason="agreed later",
        occurred_at=day(3),
        actor="test",
    )
    assert c.entry("P-1")["due_by"] == day(7)


def test_a_retracted_entry_is_no_longer_open_nor_linkable() -> None:
    c = customer()
    quote(c)
    c.retract_entry(entry_id="Q-1", reason="wrong customer", occurred_at=day(2), actor="test")
    assert c.open_entries("quote") == {}
    with pytest.raises(RuleViolation, match="quote Q-1 was retracted"):
        c.accept_quote(quote_id="Q-1", note=None, occurred_at=day(3), actor="test")
    with pytest.raises(RuleViolation, match="was retracted"):
        c.retract_entry(entry_id="Q-1", reason="again", occurred_at=day(3), actor="test")


def test_consent_and_churn_entries_are_superseded_not_retracted() -> None:
    c = customer()
    c.change_consent(
        consent_id="S-1",
        channel="sms",
        purpose="marketing",
        granted=False,
        occurred_at=day(1),
        actor="test",
    )
    with pytest.raises(RuleViolation, match="a consent entry cannot be retracted"):
        c.retract_entry(entry_id="S-1", reason="r", occurred_at=day(2), actor="test")
    assert not c.consents_to("sms", "marketing", day(2))
    assert c.consents_to("sms", "marketing", day(0))
    assert c.consents_to("sms", "service", day(2))


def test_erasure_blanks_the_profile_and_refuses_later_profile_changes() -> None:
    c = customer()
    c.erase_personal_data(reason="GDPR request", occurred_at=day(1), actor="compliance")
    assert set(c.profile.values()) == {None}
    with pytest.raises(RuleViolation, match="personal data was erased") as caught:
        c.change_profile(changes={"name": "x"}, occurred_at=day(2), actor="test")
    assert caught.value.rule == "customer_erased"


def test_a_promise_may_only_link_to_an_existing_quote() -> None:
    c = customer()
    with pytest.raises(RuleViolation, match="has no quote Q-9") as caught:
        c.make_promise(
            promise_id="P-1",
            rep="REP-1",
            text="t",
            category="price",
            due_by=day(5),
            quote_id="Q-9",
            complaint_id=None,
            occurred_at=day(1),
            actor="test",
        )
    assert caught.value.rule == "linked_entry_missing"
    assert c.version == 1


def test_a_campaign_cannot_end_before_it_starts() -> None:
    with pytest.raises(RuleViolation, match="ends .* before it starts"):
        Campaign(
            ref="CMP-1",
            name="n",
            channel="email",
            budget=Decimal(1),
            currency="CNY",
            starts_at=day(5),
            ends_at=day(1),
            material=None,
            department=None,
            kind=None,
            event_at=None,
            capacity=None,
            occurred_at=day(0),
            actor="test",
        )


def test_a_corrected_opt_out_time_moves_the_consent_with_it() -> None:
    c = customer()
    c.change_consent(
        consent_id="S-1",
        channel="email",
        purpose="marketing",
        granted=False,
        occurred_at=day(5),
        actor="test",
    )
    assert c.consents_to("email", "marketing", day(3))
    c.correct_entry(
        entry_id="S-1",
        fields={"occurred_at": day(2)},
        reason="form dated 2nd",
        occurred_at=day(6),
        actor="test",
    )
    assert not c.consents_to("email", "marketing", day(3))


def test_a_churn_cannot_predate_the_last_win_back() -> None:
    c = customer()
    c.churn(
        churn_id="CH-1",
        defection_type="price",
        competitor=None,
        reason=None,
        occurred_at=day(2),
        actor="test",
    )
    c.win_back(rep=None, reason=None, occurred_at=day(10), actor="test")
    with pytest.raises(RuleViolation, match="churn is dated .* before the entry"):
        c.churn(
            churn_id="CH-2",
            defection_type="price",
            competitor=None,
            reason=None,
            occurred_at=day(8),
            actor="test",
        )
