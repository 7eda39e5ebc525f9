"""Analysts' reports over HTTP: live or replayed, customers by pseudonym."""

from __future__ import annotations

from api.deps import Services
from tests.api.conftest import Api, fresh_customer, problem


def test_an_analyst_reads_a_report_with_customers_by_pseudonym(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("rep_a") as rep:
        for order, day in (("O-1", "2024-03-02"), ("O-2", "2024-03-20")):
            bought = rep.post(
                f"/customers/{ref}/purchases",
                json={
                    "order_id": order,
                    "amount": "120.00",
                    "currency": "CNY",
                    "occurred_at": f"{day}T10:00:00Z",
                },
            )
            assert bought.status_code == 201, bought.text
    position = bought.json()["position"]
    with api.as_("analyst") as analyst:
        summary = analyst.get(
            "/reports/summary",
            params={"as_of": "2024-03-31T00:00:00Z", "unit": "days", "min_position": position},
        )
        assert summary.status_code == 200, summary.text
        found = summary.json()
        assert found["reading"]["kind"] == "now"
        pseudonym = pseudonym_of(api.services, ref)
        assert {
            "customer": pseudonym,
            "frequency": 1,
            "recency": 18.0,
            "T": 29.0,
            "monetary_value": "120.00",
        } in found["data"]
        assert all(not row["customer"].startswith("CUST-") for row in found["data"])
        again = analyst.get(
            "/reports/value", params={"period": "2024-03", "min_position": position}
        ).json()
        assert pseudonym in {row["customer"] for row in again["data"]}  # stable across reports
        retention = analyst.get(
            "/reports/retention",
            params={"period": "2024-03", "as_known_at": "2024-01-01T00:00:00Z"},
        ).json()
        assert retention["reading"]["at"] == "2024-01-01T00:00:00.000000Z"
        assert retention["data"][0]["new"] == 0  # nothing had been recorded by then
    with api.as_("compliance") as compliance:
        named = compliance.get("/reports/summary", params={"as_of": "2024-03-31T00:00:00Z"})
        assert ref in {row["customer"] for row in named.json()["data"]}  # compliance: refs


def pseudonym_of(services: Services, ref: str) -> str:
    return services.keys.pseudonym(ref)


def test_reports_are_for_analysts_and_compliance_and_check_their_options(api: Api) -> None:
    with api.as_("rep_a") as rep:
        problem(rep.get("/reports/retention", params={"period": "2024-Q1"}), 403)
    with api.as_("analyst") as analyst:
        refused = problem(analyst.get("/reports/retention"), 422)
        assert "give a period" in refused["detail"]
        refused = problem(analyst.get("/reports/retention", params={"period": "2024-Q5"}), 422)
        assert "'2024-Q5' is not a period" in refused["detail"]
        problem(analyst.get("/reports/nonsense"), 422)
        both = problem(
            analyst.get(
                "/reports/retention",
                params={
                    "period": "2024-Q1",
                    "as_known_at": "2024-04-01T00:00:00Z",
                    "as_occurred_by": "2024-04-01T00:00:00Z",
                },
            ),
            422,
        )
        assert "not both" in both["detail"]


def test_a_diff_between_two_readings_over_http(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("rep_a") as rep:
        bought = rep.post(
            f"/customers/{ref}/purchases",
            json={
                "order_id": "O-1",
                "amount": "80.00",
                "currency": "CNY",
                "occurred_at": "2023-05-02T10:00:00Z",
            },
        )
    assert bought.status_code == 201, bought.text
    with api.as_("analyst") as analyst:
        reply = analyst.get(
            "/reports/retention/diff", params={"period": "2023-05", "a": "2001-01-01T00:00:00Z"}
        )
        assert reply.status_code == 200, reply.text
        changed = {(row["figure"], row["a"], row["b"]) for row in reply.json()["data"]}
        assert ("new", 0, 1) in changed  # recorded now: unknown in 2001
        missing = problem(analyst.get("/reports/retention/diff", params={"period": "2023-05"}), 422)
        assert missing["detail"] == "query.a: Field required"
