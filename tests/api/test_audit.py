"""The access log over HTTP: compliance and admins read who looked, by customer, key and
time, newest first and paged; every other role is refused; verifying the record covers it."""

from __future__ import annotations

from typing import Any

from ledger.access_log import Access
from tests.api.conftest import Api, new_ref, problem

WHAT = "GET /customers/{ref}/timeline"


def looked(api: Api, customer: str, key: str, times: int, **fields: Any) -> list[int]:
    """``times`` reads of the customer, recorded as the read paths record them."""
    return [
        p
        for _ in range(times)
        for p in api.services.access.record(
            [
                Access(
                    key=key,
                    role="compliance",
                    what=WHAT,
                    interface="api",
                    customer=customer,
                    fields=("profile", "timeline"),
                    **fields,
                )
            ]
        )
    ]


def test_compliance_and_admins_read_who_looked_newest_first(api: Api) -> None:
    ref, key = new_ref(), new_ref("KEY")
    positions = looked(api, ref, key, 3, purpose="complaint 7 review")
    looked(api, new_ref(), key, 1)  # another customer, the same key
    for reader in ("compliance", "admin"):
        with api.as_(reader) as http:
            reply = http.get("/audit/access", params={"customer": ref})
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert [r["position"] for r in body["data"]] == positions[::-1]
            assert body["next_cursor"] is None
            first = body["data"][0]
            assert (
                first["key"],
                first["role"],
                first["customer"],
                first["what"],
                first["fields"],
                first["purpose"],
                first["interface"],
            ) == (
                key,
                "compliance",
                ref,
                WHAT,
                ["profile", "timeline"],
                "complaint 7 review",
                "api",
            )
            assert len(first["hash"]) == len(first["previous"]) == 64
            assert len(http.get("/audit/access", params={"key": key}).json()["data"]) == 4


def test_the_access_log_pages_and_filters_by_time(api: Api) -> None:
    ref, key = new_ref(), new_ref("KEY")
    positions = looked(api, ref, key, 5)
    with api.as_("compliance") as http:
        seen, cursor = [], None
        while True:
            page = http.get(
                "/audit/access",
                params={"customer": ref, "limit": 2, **({"cursor": cursor} if cursor else {})},
            )
            assert page.status_code == 200, page.text
            seen += [r["position"] for r in page.json()["data"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == positions[::-1]
        newest = http.get("/audit/access", params={"customer": ref, "limit": 1}).json()
        at = newest["data"][0]["at"]
        later = http.get("/audit/access", params={"customer": ref, "since": at}).json()
        assert [r["position"] for r in later["data"]] == [positions[-1]]
        earlier = http.get("/audit/access", params={"customer": ref, "until": at}).json()
        assert [r["position"] for r in earlier["data"]] == positions[-2::-1]
        naive = problem(http.get("/audit/access", params={"since": "2025-01-01T00:00:00"}), 422)
        assert naive["where"] == "since"
        assert problem(http.get("/audit/access", params={"cursor": "x!"}), 422)["where"] == "cursor"
        problem(http.get("/audit/access", params={"limit": 0}), 422)


def test_other_roles_may_not_read_the_access_log(api: Api) -> None:
    for who in ("manager", "rep_a", "analyst"):
        with api.as_(who) as http:
            refused = problem(http.get("/audit/access"), 403)
            assert "read the access log" in refused["detail"]
    with api.as_(None) as anonymous:
        problem(anonymous.get("/audit/access"), 401)


def test_verifying_the_record_covers_the_access_log(api: Api) -> None:
    looked(api, new_ref(), new_ref("KEY"), 2)
    with api.as_("compliance") as http:
        found = http.get("/integrity/verify").json()
    assert found["ok"] and found["access_log"]["ok"]
    assert found["access_log"]["records"] == found["access_log"]["position"] >= 2
