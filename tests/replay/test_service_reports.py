"""Satisfaction, complaints, campaigns and relationship levels, worked out by hand on a small
world, through `ledger report`, on both stores."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings


def day(month: int, dom: int, hour: int = 12) -> str:
    return datetime(2025, month, dom, hour, tzinfo=timezone.utc).isoformat()


@pytest.fixture
def world(store_env: Settings) -> Settings:
    """Four customers D1-D4 who bought on Jun 1, then in Q3 2025:
    surveys: D1 (Tea, REP-1) 90 and 0 -> 45; D2 (Tea, REP-2) -60; D3 (Cups, REP-1) 60, 60, 30 -> 50.
    complaints: D1's resolved in 2 days (quick), D2's in 30 days, D3's still open on Oct 1;
      D4 none. After Q3: D1 buys Oct 15, D4 Nov 1 (within 90 days); D2, D3 do not.
    campaign K1 (cost 300 CNY on Jul 2): touches D1 Jul 1 and Jul 20, D2 Aug 1; D1 visits
      (inbound) Jul 10, within 30 days; D2 buys 200 CNY on Aug 15, within 30 days.
    contacts in the year to Oct 1: D1 three visits (intimate), D2 a call (general),
      D3 an event (face to face), D4 none.
    """
    app = Ledger(store_env)
    commands: list[dict[str, Any]] = [
        {"type": "hire_rep", "ref": "REP-1", "name": "Li", "team": "t", "occurred_at": day(1, 1)},
        {"type": "hire_rep", "ref": "REP-2", "name": "Wu", "team": "t", "occurred_at": day(1, 1)},
        {
            "type": "launch_campaign",
            "ref": "K1",
            "name": "Autumn tea",
            "channel": "email",
            "budget": "1000",
            "currency": "CNY",
            "starts_at": day(1, 1),
            "ends_at": day(12, 31),
            "occurred_at": day(1, 1),
        },
        {
            "type": "record_campaign_cost",
            "campaign": "K1",
            "amount": "300",
            "currency": "CNY",
            "occurred_at": day(7, 2),
        },
    ]
    for n in range(1, 5):
        commands += [
            {
                "type": "register_customer",
                "ref": f"D{n}",
                "name": f"D {n}",
                "occurred_at": day(1, 1),
            },
            {
                "type": "record_purchase",
                "customer": f"D{n}",
                "order_id": f"O-{n}",
                "amount": "100",
                "currency": "CNY",
                "occurred_at": day(6, 1),
            },
        ]
    survey = {"type": "record_satisfaction"}
    complaint = {
        "type": "file_complaint",
        "category": "delivery",
        "severity": "low",
        "description": "late",
    }
    commands += [
        {
            **survey,
            "customer": "D1",
            "survey_id": "S-1",
            "product": "Tea",
            "rep": "REP-1",
            "items": {"taste": "very_satisfied", "price": "neutral"},
            "occurred_at": day(7, 10),
        },
        {
            **survey,
            "customer": "D2",
            "survey_id": "S-2",
            "product": "Tea",
            "rep": "REP-2",
            "items": {"taste": "dissatisfied"},
            "occurred_at": day(8, 5),
        },
        {
            **survey,
            "customer": "D3",
            "survey_id": "S-3",
            "product": "Cups",
            "rep": "REP-1",
            "items": {"look": "satisfied", "price": "satisfied", "size": "fairly_satisfied"},
            "occurred_at": day(9, 1),
        },
        {**complaint, "customer": "D1", "complaint_id": "C-1", "occurred_at": day(7, 1)},
        {
            "type": "resolve_complaint",
            "customer": "D1",
            "complaint_id": "C-1",
            "resolution": "resent",
            "occurred_at": day(7, 3),
        },
        {**complaint, "customer": "D2", "complaint_id": "C-2", "occurred_at": day(7, 5)},
        {
            "type": "resolve_complaint",
            "customer": "D2",
            "complaint_id": "C-2",
            "resolution": "refund",
            "occurred_at": day(8, 4),
        },
        {**complaint, "customer": "D3", "complaint_id": "C-3", "occurred_at": day(9, 20)},
        {"type": "touch_campaign", "customer": "D1", "campaign": "K1", "occurred_at": day(7, 1)},
        {"type": "touch_campaign", "customer": "D1", "campaign": "K1", "occurred_at": day(7, 20)},
        {"type": "touch_campaign", "customer": "D2", "campaign": "K1", "occurred_at": day(8, 1)},
        {
            "type": "record_purchase",
            "customer": "D2",
            "order_id": "O-22",
            "amount": "200",
            "currency": "CNY",
            "occurred_at": day(8, 15),
        },
        {
            "type": "record_purchase",
            "customer": "D1",
            "order_id": "O-12",
            "amount": "50",
            "currency": "CNY",
            "occurred_at": day(10, 15),
        },
        {
            "type": "record_purchase",
            "customer": "D4",
            "order_id": "O-42",
            "amount": "50",
            "currency": "CNY",
            "occurred_at": day(11, 1),
        },
    ]
    contact = {"type": "log_contact", "rep": "REP-1", "subject": "tea"}
    commands += [
        {
            **contact,
            "customer": "D1",
            "channel": "visit",
            "direction": "in",
            "occurred_at": day(7, 10),
        },
        {
            **contact,
            "customer": "D1",
            "channel": "visit",
            "direction": "out",
            "occurred_at": day(8, 1),
        },
        {
            **contact,
            "customer": "D1",
            "channel": "visit",
            "direction": "out",
            "occurred_at": day(9, 1),
        },
        {
            **contact,
            "customer": "D2",
            "channel": "phone",
            "direction": "out",
            "occurred_at": day(7, 15),
        },
        {
            **contact,
            "customer": "D3",
            "channel": "event",
            "direction": "out",
            "occurred_at": day(9, 5),
        },
    ]
    outcomes = app.execute_many([parse_command(c) for c in commands], actor="test")
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    app.close()
    return store_env


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """The report's rows."""
    return report_document(capsys, *argv)["data"]


def report_document(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(["report", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_satisfaction_by_product_and_by_rep(
    world: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report(capsys, "satisfaction", "--period", "2025-Q3") == [
        {"period": "2025-Q3", "product": "(all)", "surveys": 3, "csm": "11.67"},
        {"period": "2025-Q3", "product": "Cups", "surveys": 1, "csm": "50.00"},
        {"period": "2025-Q3", "product": "Tea", "surveys": 2, "csm": "-7.50"},
    ]
    by_rep = report(capsys, "satisfaction", "--period", "2025-Q3", "--by", "rep")
    assert [(r["rep"], r["csm"]) for r in by_rep] == [
        ("(all)", "11.67"),
        ("REP-1", "47.50"),
        ("REP-2", "-60.00"),
    ]
    assert report_document(capsys, "satisfaction", "--period", "2025-Q3")["totals"] == {
        "surveys": 3
    }


def test_complaints_time_to_resolution_and_repurchase_by_outcome(
    world: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    [q3] = report(capsys, "complaints", "--period", "2025-Q3")
    assert q3 == {
        "period": "2025-Q3",
        "complaints": 3,
        "resolved": 2,
        "mean_days_to_resolution": 16.0,
        "median_days_to_resolution": 16.0,
        "customers_no_complaint": 1,
        "repurchase_rate_no_complaint": 1.0,
        "customers_unresolved": 1,
        "repurchase_rate_unresolved": 0.0,
        "customers_resolved": 1,
        "repurchase_rate_resolved": 0.0,
        "customers_resolved_quickly": 1,
        "repurchase_rate_resolved_quickly": 1.0,
    }
    [short] = report(capsys, "complaints", "--period", "2025-Q3", "--window", "20")
    assert short["repurchase_rate_resolved_quickly"] == 1.0  # Oct 15
    assert short["repurchase_rate_no_complaint"] == 0.0  # Nov 1 is past 20 days
    assert report_document(capsys, "complaints", "--period", "2025-Q3")["totals"] == {
        "complaints": 3,
        "resolved": 2,
    }


def test_campaign_touches_and_what_followed_against_spend(
    world: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report(capsys, "campaigns", "--period", "2025-Q3") == [
        {
            "campaign": "K1",
            "name": "Autumn tea",
            "touches": 3,
            "customers": 2,
            "contacted": 1,
            "bought": 1,
            "currency": "CNY",
            "revenue": "200",
            "spend": "300",
            "budget": "1000",
            "revenue_per_spend": 0.6667,
            "event": None,  # K1 is no event: nobody registers for it
            "event_at": None,
            "capacity": None,
            "registrations": 0,
            "confirmed": 0,
            "declined": 0,
            "attended": 0,
            "no_shows": 0,
            "spend_per_attendee": None,
        }
    ]
    totals = report_document(capsys, "campaigns", "--period", "2025-Q3")["totals"]
    assert totals == {
        "campaigns": 1,
        "touches": 3,
        "customers": 2,
        "contacted": 1,
        "bought": 1,
        "registrations": 0,
        "confirmed": 0,
        "declined": 0,
        "attended": 0,
        "no_shows": 0,
        "by_currency": [{"currency": "CNY", "revenue": "200", "spend": "300"}],
    }


def test_relationship_levels_from_the_contact_mix(
    world: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    found = report_document(capsys, "relationship", "--as-of", "2025-10-01T00:00:00Z")
    assert {row["customer"]: row["level"] for row in found["data"]} == {
        "D1": "intimate",
        "D2": "general",
        "D3": "face_to_face",
        "D4": "no_contact",
    }
    assert found["totals"] == {
        "customers": 4,
        "intimate": 1,
        "face_to_face": 1,
        "general": 1,
        "no_contact": 1,
    }
    assert found["parameters"] == {"as_of": "2025-10-01T00:00:00.000000Z", "days": 365}
