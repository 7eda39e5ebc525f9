"""Reports over HTTP carry the same JSON as `ledger report --format json`, stamped with their
reading, log position and digest; a CSV download carries the stamp in its headers; a saved
report is checked with POST /reports/check; dates are read as people write them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.cli.main import main
from tests.api.conftest import Api, fresh_customer, problem


def bought(api: Api, ref: str, order: str, amount: str, day: str) -> int:
    with api.as_("rep_a") as rep:
        reply = rep.post(
            f"/customers/{ref}/purchases",
            json={
                "order_id": order,
                "amount": amount,
                "currency": "CNY",
                "occurred_at": f"{day}T10:00:00Z",
            },
        )
    assert reply.status_code == 201, reply.text
    position: int = reply.json()["position"]
    return position


def cli_json(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> Any:
    """`ledger report ... --format json` on the server's store."""
    settings = api.services.ledger.settings
    monkeypatch.setenv("LEDGER_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    if settings.database_url:
        monkeypatch.setenv("LEDGER_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("LEDGER_DATABASE_SCHEMA", settings.database_schema)
    capsys.readouterr()
    assert main(["report", *argv, "--format", "json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_a_report_over_http_is_the_cli_report_with_the_same_stamp(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = fresh_customer(api), fresh_customer(api)
    bought(api, first, "O-1", "300.00", "2011-04-02")
    head = bought(api, second, "O-2", "350.00", "2011-05-02")
    with api.as_("compliance") as compliance:
        over_http = compliance.get(
            "/reports/value", params={"period": "2011-Q2", "min_position": head}
        ).json()
        known = compliance.get(
            "/reports/value", params={"period": "2011-Q2", "as_known_at": "9998-12-31"}
        ).json()
    assert over_http == cli_json(api, monkeypatch, capsys, "value", "--period", "2011-Q2")
    assert known == cli_json(
        api, monkeypatch, capsys, "value", "--period", "2011-Q2", "--as-known-at", "9998-12-31"
    )
    assert over_http["reading"]["position"] == head
    assert over_http["reading"]["digest"].startswith(f"ldg1:{head}:")
    assert known["reading"]["kind"] == "known_at"
    assert known["reading"]["at"] == "9998-12-31T23:59:59.999999Z"
    assert over_http["totals"]["by_currency"] == [
        {
            "currency": "CNY",
            "customers": 2,
            "orders": 2,
            "revenue": "650.00",
            "refunded": "0",
            "top_customers": 1,
            "top_20_percent_share": 0.5385,
        }
    ]
    with api.as_("compliance") as compliance:  # the digest is the one compliance takes
        taken = compliance.get("/integrity/digest").json()
    assert taken["digest"] == over_http["reading"]["digest"]


def test_a_csv_download_carries_its_stamp_in_headers_and_name(api: Api) -> None:
    ref = fresh_customer(api)
    head = bought(api, ref, "O-1", "80.00", "2012-04-02")
    with api.as_("analyst") as analyst:
        params: dict[str, Any] = {"period": "2012-Q2", "min_position": head}
        stamped = analyst.get("/reports/value", params=params).json()
        reply = analyst.get("/reports/value", params={**params, "format": "csv"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    assert reply.headers["x-ledger-reading"] == "as known now"
    assert reply.headers["x-ledger-position"] == str(stamped["reading"]["position"])
    assert reply.headers["x-ledger-digest"] == stamped["reading"]["digest"]
    assert reply.headers["content-disposition"] == (
        f'attachment; filename="value-position-{stamped["reading"]["position"]}.csv"'
    )
    lines = reply.text.splitlines()
    assert lines[0] == "customer,currency,orders,revenue,refunded,cost,profit"
    assert lines[1].startswith("P-")  # customers by pseudonym, as in the JSON
    assert lines[1].split(",")[0] == stamped["data"][0]["customer"]


def test_a_saved_report_is_checked_over_http(api: Api) -> None:
    ref = fresh_customer(api)
    head = bought(api, ref, "O-1", "120.00", "2013-04-02")
    with api.as_("analyst") as analyst:
        saved = analyst.get(
            "/reports/value", params={"period": "2013-Q2", "min_position": head}
        ).json()
    bought(api, ref, "O-2", "30.00", "2013-05-02")  # later, backdated into the period
    with api.as_("analyst") as analyst:
        verdict = analyst.post("/reports/check", json=saved)
        assert verdict.status_code == 200, verdict.text
        assert verdict.json()["ok"] is True
        assert (verdict.json()["figures_reproduce"], verdict.json()["log_unchanged"]) == (
            True,
            True,
        )
        edited = {
            **saved,
            "totals": {"by_currency": [{**saved["totals"]["by_currency"][0], "revenue": "100.00"}]},
        }
        changed = analyst.post("/reports/check", json=edited).json()
        assert (changed["ok"], changed["figures_reproduce"]) == (False, False)
        assert changed["totals"] == [
            {
                "currency": "CNY",
                "figure": "revenue",
                "a": "100.00",
                "b": "120.00",
                "change": "20.00",
            }
        ]
        refused = problem(analyst.post("/reports/check", json={"report": "value"}), 422)
        assert "carries no stamp" in refused["detail"]
        problem(analyst.post("/reports/check", json={**saved, "report": "nonsense"}), 422)
    with api.as_("compliance") as compliance:  # compliance checks the analyst's file too
        assert compliance.post("/reports/check", json=saved).json()["ok"] is True
    with api.as_("rep_a") as rep:
        problem(rep.post("/reports/check", json=saved), 403)
    with api.as_("compliance") as compliance:  # each check is in the access log
        seen = compliance.get("/audit/access", params={"key": "analyst"}).json()["data"]
    assert seen[0]["what"] == "POST /reports/check" and seen[0]["fields"] == ["report"]


def test_a_diff_over_http_names_totals_and_says_when_nothing_changed(api: Api) -> None:
    ref = fresh_customer(api)
    bought(api, ref, "O-1", "650.00", "2014-04-02")
    with api.as_("analyst") as analyst:
        since = analyst.get(
            "/reports/value/diff", params={"period": "2014-Q2", "a": "2001-01-01"}
        ).json()
        same = analyst.get(
            "/reports/value/diff", params={"period": "2014-Q2", "a": "9998-12-31", "b": "now"}
        ).json()
    assert {(t["figure"], t["a"], t["b"], t["change"]) for t in since["totals"]} >= {
        ("customers", None, 1, None),
        ("revenue", None, "650.00", None),
    }
    assert since["changed"] == len(since["totals"]) + len(since["data"])
    assert {since["reading"]["a"]["kind"], since["reading"]["b"]["kind"]} == {"known_at", "now"}
    assert (same["changed"], same["totals"], same["data"]) == (0, [], [])
    with api.as_("analyst") as analyst:
        download = analyst.get(
            "/reports/value/diff", params={"period": "2014-Q2", "a": "2001-01-01", "format": "csv"}
        )
    assert download.status_code == 200, download.text
    a, b = since["reading"]["a"], since["reading"]["b"]
    assert download.headers["x-ledger-reading"] == f"{a['describe']}; {b['describe']}"
    assert download.headers["x-ledger-position"] == f"{a['position']},{b['position']}"
    assert download.headers["x-ledger-digest"] == f"{a['digest']},{b['digest']}"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="value-diff-position-{a["position"]}-{b["position"]}.csv"'
    )
    assert download.text.splitlines()[0] == "part,customer,currency,figure,a,b,change"


@pytest.mark.parametrize(
    "value, message",
    [
        ("2025-03-01T09:00:00", "give a date, or an instant with its zone"),
        ("2025-02-30", "is not a date or an instant"),
        ("9999-12-31T23:00:00-05:00", "outside the calendar"),
        ("9998-12-31T23:00:00-05:00", "past the last instant reports cover"),
    ],
)
def test_bad_dates_over_http_are_refused_naming_the_field(
    api: Api, value: str, message: str
) -> None:
    with api.as_("analyst") as analyst:
        for path, params in (
            ("/reports/summary", {"as_of": value}),
            ("/reports/retention", {"period": "2025", "as_known_at": value}),
            ("/reports/retention/diff", {"period": "2025", "a": value}),
        ):
            refused = problem(analyst.get(path, params=params), 422)
            assert message in refused["detail"]
            assert refused["where"] == list(params)[-1]


def test_a_date_over_http_is_the_end_of_that_day(api: Api) -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "2015-06-30")
    with api.as_("analyst") as analyst:
        for typed in ("2015-06-30", full_width):
            found = analyst.get("/reports/relationship", params={"as_of": typed}).json()
            assert found["parameters"]["as_of"] == "2015-06-30T23:59:59.999999Z"
