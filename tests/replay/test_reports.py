"""Retention per period, worked out by hand on a small world, through `ledger report`, as known
now, as known at a past time and as occurred by one."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ledger import clock
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.commands import parse_command
from ledger.config import Settings
from replay.periods import parse_periods


def day(month: int, dom: int) -> datetime:
    return datetime(2025, month, dom, 12, tzinfo=timezone.utc)


def told(app: Ledger, when: datetime, recorded: datetime | None = None, **command: Any) -> None:
    """A command that happened ``when``, recorded then or (late) at ``recorded``."""
    with clock.recording_at(recorded or when):
        app.execute(parse_command({**command, "occurred_at": when.isoformat()}), actor="test")


def bought(
    app: Ledger, customer: str, order: str, when: datetime, recorded: datetime | None = None
) -> None:
    told(
        app,
        when,
        recorded,
        type="record_purchase",
        customer=customer,
        order_id=order,
        amount="100.00",
        currency="CNY",
    )


@pytest.fixture
def shop(store_env: Settings) -> Settings:
    """Seven customers around Q3 2025 [Jul 1, Oct 1):
    C1 bought in June, July and August: active at start, retained, bought twice in Q3.
    C2 bought in May and churned in August (price): lost.
    C3 first bought in July: new.
    C4 bought in March, churned in April (service), won back in September: returned.
    C5 registered and never bought: not a customer.
    C6 bought in June, churned in September and bought again ten days later: retained.
    C7 first bought on Sep 28, recorded on Oct 5: new in Q3 as occurred, unknown on Oct 1.
    """
    app = Ledger(store_env)
    for n in range(1, 8):
        told(app, day(1, 1), type="register_customer", ref=f"C{n}", name=f"Customer {n}")
    bought(app, "C1", "O-11", day(6, 10))
    bought(app, "C1", "O-12", day(7, 5))
    bought(app, "C1", "O-13", day(8, 1))
    bought(app, "C2", "O-21", day(5, 1))
    told(app, day(8, 15), type="record_churn", customer="C2", defection_type="price")
    bought(app, "C3", "O-31", day(7, 20))
    bought(app, "C4", "O-41", day(3, 1))
    told(app, day(4, 1), type="record_churn", customer="C4", defection_type="service")
    told(app, day(9, 1), type="record_win_back", customer="C4")
    bought(app, "C6", "O-61", day(6, 1))
    told(app, day(9, 10), type="record_churn", customer="C6", defection_type="self_change")
    bought(app, "C6", "O-62", day(9, 20))
    bought(app, "C7", "O-71", day(9, 28), recorded=day(10, 5))
    app.close()
    return store_env


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert main(["report", "retention", *argv, "--format", "json"]) == 0
    found: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["data"]
    return found


AS_OCCURRED = {
    "active_at_start": 3,
    "new": 2,
    "returned": 1,
    "retained": 2,
    "lost": 1,
    "active_at_end": 5,
    "retention_rate": 0.6667,
    "churn_rate": 0.3333,
    "repeat_purchase_rate": 0.25,
    "lost_price": 1,
    "lost_product": 0,
    "lost_service": 0,
    "lost_self_change": 0,
}


def test_retention_for_a_quarter_as_worked_out_by_hand(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    [q3] = report(capsys, "--period", "2025-Q3")
    assert {k: q3[k] for k in AS_OCCURRED} == AS_OCCURRED
    totals = report_of(capsys, "retention", "--period", "2025-08..2025-09")["totals"]
    assert totals == {
        "periods": 2,
        "active_at_start": 4,
        "new": 1,
        "returned": 1,
        "lost": 1,
        "lost_price": 1,
        "lost_product": 0,
        "lost_service": 0,
        "lost_self_change": 0,
        "lost_lapsed": 0,
        "active_at_end": 5,
    }
    assert (q3["start"], q3["end"]) == (
        "2025-07-01T00:00:00.000000Z",
        "2025-10-01T00:00:00.000000Z",
    )


def test_a_late_recorded_purchase_changes_q3_as_occurred_but_not_as_known_on_oct_1(
    shop: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    [occurred] = report(capsys, "--period", "2025-Q3", "--as-occurred-by", "2025-09-30T23:59:59Z")
    assert {k: occurred[k] for k in AS_OCCURRED} == AS_OCCURRED
    out = tmp_path / "q3-known-oct-1.sqlite"
    [known] = report(
        capsys,
        "--period",
        "2025-Q3",
        "--as-known-at",
        "2025-10-01T00:00:00Z",
        "--keep-replay",
        str(out),
    )
    assert {k: known[k] for k in AS_OCCURRED} == {
        **AS_OCCURRED,
        "new": 1,
        "active_at_end": 4,
        "repeat_purchase_rate": 0.3333,
    }
    assert out.exists()


def test_a_run_of_months_and_csv_for_spreadsheets(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "retention", "--period", "2025-08..2025-09", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [
        (r["period"], r["active_at_start"], r["lost"], r["returned"], r["new"]) for r in rows
    ] == [
        ("2025-08", "4", "1", "0", "0"),  # C1, C2, C3, C6 active; C2 churns
        ("2025-09", "3", "0", "1", "1"),
    ]  # C6 churns and buys again; C4 won back; C7 new


def test_bad_periods_and_readings_are_refused_saying_why(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "retention", "--period", "2025-Q5"]) == 2
    assert "'2025-Q5' is not a period" in capsys.readouterr().err
    assert main(["report", "retention", "--period", "2025-Q3..2025-09"]) == 2
    assert "mixes kinds of period" in capsys.readouterr().err
    assert main(["report", "retention", "--period", "2025", "--keep-replay", "x.sqlite"]) == 2
    assert "--keep-replay keeps a replay" in capsys.readouterr().err
    assert (
        main(["report", "retention", "--period", "2025", "--as-known-at", "2025-10-01T00:00:00"])
        == 2
    )
    assert "give a date, or an instant with its zone" in capsys.readouterr().err


def test_periods_run_in_order_across_years() -> None:
    assert [p.label for p in parse_periods("2024-Q4..2025-Q2")] == ["2024-Q4", "2025-Q1", "2025-Q2"]
    assert [p.label for p in parse_periods("2024-12..2025-01")] == ["2024-12", "2025-01"]
    assert parse_periods("2025")[0].end == datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_corrections_and_retractions_of_purchases_count(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Ledger(shop)
    told(
        app,
        day(10, 6),
        type="correct_entry",
        customer="C3",
        entry_id="O-31",
        fields={"occurred_at": day(10, 2).isoformat()},
        reason="shipped in October",
    )
    told(
        app,
        day(10, 6),
        type="retract_entry",
        customer="C1",
        entry_id="O-13",
        reason="recorded twice",
    )
    app.close()
    [q3] = report(capsys, "--period", "2025-Q3")
    assert {k: q3[k] for k in ("new", "active_at_end", "repeat_purchase_rate")} == {
        "new": 1,
        "active_at_end": 4,
        "repeat_purchase_rate": 0.0,
    }


def test_a_diff_shows_what_the_late_purchase_changed_between_two_readings(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "report",
                "diff",
                "retention",
                "--period",
                "2025-Q3",
                "--a",
                "2025-10-01T00:00:00Z",
                "--b",
                "now",
                "--format",
                "json",
            ]
        )
        == 0
    )
    changed = json.loads(capsys.readouterr().out)["data"]
    assert [(c["period"], c["figure"], c["a"], c["b"], c["change"]) for c in changed] == [
        ("2025-Q3", "new", 1, 2, 1),
        ("2025-Q3", "active_at_end", 4, 5, 1),
        ("2025-Q3", "repeat_purchase_rate", 0.3333, 0.25, -0.0833),
    ]
    assert main(["report", "diff", "retention", "--period", "2025-Q3"]) == 2
    assert "diff compares two readings" in capsys.readouterr().err
    assert main(["report", "diff", "--period", "2025-Q3", "--a", "now"]) == 2
    assert "name one report" in capsys.readouterr().err


def test_value_per_customer_and_the_top_fifths_share(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    found = report_of(capsys, "value", "--period", "2025-Q3")
    assert [(r["customer"], r["orders"], r["revenue"], r["profit"]) for r in found["data"]] == [
        ("C1", 2, "200.00", None),
        ("C3", 1, "100.00", None),
        ("C6", 1, "100.00", None),
        ("C7", 1, "100.00", None),
    ]  # no costs recorded: no profit claimed
    assert found["totals"]["by_currency"] == [
        {
            "currency": "CNY",
            "customers": 4,
            "orders": 5,
            "revenue": "500.00",
            "refunded": "0",
            "top_customers": 1,
            "top_20_percent_share": 0.4,
        }
    ]


def test_cohorts_by_month_of_first_purchase(
    shop: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    found = report_of(capsys, "cohorts", "--period", "2025-03..2025-09")
    assert found["totals"] == {"cohorts": 7, "customers": 6}  # C5 never bought
    rows = found["data"]
    by_cohort = {row["cohort"]: row for row in rows}
    assert by_cohort["2025-06"] == {
        "cohort": "2025-06",
        "customers": 2,
        "period_0": 1.0,
        "period_1": 0.5,
        "period_2": 0.5,
        "period_3": 0.5,
    }
    assert by_cohort["2025-03"]["customers"] == 1
    assert by_cohort["2025-03"]["period_1"] == 0.0
    assert by_cohort["2025-04"] == {
        "cohort": "2025-04",
        "customers": 0,
        "period_0": None,
        "period_1": None,
        "period_2": None,
        "period_3": None,
        "period_4": None,
        "period_5": None,
    }


def report_of(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(["report", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)
