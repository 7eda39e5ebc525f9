"""Events over HTTP: a manager launches a seminar with a capacity, a rep registers their
customer, the registration unanswered by its respond-by is in the rep's inbox, a confirmation
(recorded late, dated before the respond-by) takes it out, attendance is recorded and the
analysts' campaigns report counts it against the spend. Bad input is 422 naming the field,
and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Api, fresh_customer, new_ref, problem

JUNE = "2025-06"


def on(day: int, hour: int = 9) -> str:
    return f"2025-06-{day:02d}T{hour:02d}:00:00Z"


def launch(api: Api, capacity: int = 2) -> str:
    ref = new_ref("SEM")
    with api.as_("manager") as manager:
        launched = manager.post(
            "/campaigns",
            json={
                "ref": ref,
                "name": "春季品茶研讨会",
                "channel": "event",
                "budget": "5000.00",
                "currency": "CNY",
                "starts_at": on(1),
                "ends_at": on(30),
                "kind": "seminar",
                "event_at": on(20),
                "capacity": capacity,
                "occurred_at": on(1),
            },
        )
        assert launched.status_code == 201, launched.text
        cost = manager.post(
            f"/campaigns/{ref}/costs",
            json={"amount": "1800.00", "currency": "CNY", "note": "venue", "occurred_at": on(2)},
        )
        assert cost.status_code == 201, cost.text
    return ref


def register(client: httpx.Client, customer: str, event: str, **fields: Any) -> httpx.Response:
    return client.post(
        f"/customers/{customer}/registrations",
        json={
            "campaign": event,
            "respond_by": on(5),
            "registration_id": "REG-1",
            "occurred_at": on(3),
            **fields,
        },
    )


def inbox(client: httpx.Client, as_of: str, position: int, **params: str) -> list[dict[str, Any]]:
    reply = client.get(
        "/service/inbox", params={"as_of": as_of, "min_position": position, **params}
    )
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["data"]
    return found


def test_the_event_registration_story_over_http(api: Api) -> None:
    event = launch(api)
    customer = fresh_customer(api, owner="REP-A")
    with api.as_("rep_a") as rep:
        registered = register(rep, customer, event, note="带一位同事")
        assert registered.status_code == 201, registered.text
        assert registered.json()["entry_id"] == "REG-1"
        position = registered.json()["position"]
        assert inbox(rep, on(5, 8), position) == []
        [item] = inbox(rep, on(6), position)
        assert (item["item"], item["customer"], item["id"], item["what"], item["rep"]) == (
            "registration",
            customer,
            "REG-1",
            event,
            "REP-A",
        )
    with api.as_("manager") as manager:
        assert [i["id"] for i in inbox(manager, on(6), position, rep="REP-A")] == ["REG-1"]
    with api.as_("rep_a") as rep:
        # Recorded now, it happened on the 4th, before the respond-by: gone as of the 6th.
        confirmed = rep.post(
            f"/customers/{customer}/registrations/REG-1/confirm", json={"occurred_at": on(4)}
        )
        assert confirmed.status_code == 201, confirmed.text
        assert [e["type"] for e in confirmed.json()["events"]] == ["RegistrationConfirmed"]
        assert inbox(rep, on(6), confirmed.json()["position"]) == []
        attended = rep.post(
            f"/customers/{customer}/registrations/REG-1/attendance",
            json={"attended": True, "occurred_at": on(20, 11)},
        )
        assert attended.status_code == 201, attended.text
        position = attended.json()["position"]
        seen = rep.get(f"/campaigns/{event}", params={"min_position": position}).json()
        assert {
            k: seen[k] for k in ("kind", "capacity", "confirmed", "attended", "seats_left")
        } == {
            "kind": "seminar",
            "capacity": 2,
            "confirmed": 1,
            "attended": 1,
            "seats_left": 1,
        }
        [row] = rep.get(f"/campaigns/{event}/registrations").json()["data"]
        assert (row["customer"], row["status"], row["attended"], row["note"]) == (
            customer,
            "confirmed",
            True,
            "带一位同事",
        )
    with api.as_("analyst") as analyst:
        found = analyst.get("/reports/campaigns", params={"period": JUNE, "min_position": position})
        assert found.status_code == 200, found.text
        [row] = [r for r in found.json()["data"] if r["campaign"] == event]
        assert {
            k: row[k]
            for k in (
                "event",
                "registrations",
                "confirmed",
                "attended",
                "spend",
                "spend_per_attendee",
            )
        } == {
            "event": "seminar",
            "registrations": 1,
            "confirmed": 1,
            "attended": 1,
            "spend": "1800.00",
            "spend_per_attendee": "1800.00",
        }


def test_confirming_past_capacity_is_refused_and_the_registration_waits(api: Api) -> None:
    event = launch(api, capacity=1)
    first, second = fresh_customer(api, owner="REP-A"), fresh_customer(api, owner="REP-A")
    with api.as_("rep_a") as rep:
        for customer in (first, second):
            assert register(rep, customer, event).status_code == 201
        assert rep.post(f"/customers/{first}/registrations/REG-1/confirm").status_code == 201
        full = problem(rep.post(f"/customers/{second}/registrations/REG-1/confirm"), 409)
        assert full["code"] == "event_full"
        assert f"event {event} is full: 1 of 1 seats" in full["detail"]
        waiting = rep.get(f"/campaigns/{event}/registrations", params={"status": "open"})
        assert [r["customer"] for r in waiting.json()["data"]] == [second]
        cancelled = rep.post(
            f"/customers/{first}/registrations/REG-1/decline", json={"reason": "行程冲突"}
        )
        assert cancelled.status_code == 201, cancelled.text
        assert rep.post(f"/customers/{second}/registrations/REG-1/confirm").status_code == 201


def test_bad_input_is_422_naming_the_field_and_writes_nothing(api: Api) -> None:
    event = launch(api)
    customer = fresh_customer(api, owner="REP-A")
    with api.as_("rep_a") as rep:
        early = problem(register(rep, customer, event, respond_by=on(2)), 422)
        assert "respond_by (2025-06-02T09:00:00+00:00) is before occurred_at" in early["detail"]
        missing = problem(
            rep.post(f"/customers/{customer}/registrations", json={"respond_by": on(5)}), 422
        )
        assert missing["where"] == "campaign"
        attended = problem(
            rep.post(
                f"/customers/{customer}/registrations/REG-1/attendance", json={"attended": "maybe"}
            ),
            422,
        )
        assert attended["where"] == "attended"
        assert rep.get(f"/customers/{customer}").headers["ETag"] == '"1"'  # nothing written
    with api.as_("manager") as manager:
        ref = new_ref("SEM")
        half = problem(
            manager.post(
                "/campaigns",
                json={
                    "ref": ref,
                    "name": "x",
                    "channel": "event",
                    "budget": "1",
                    "currency": "CNY",
                    "starts_at": on(1),
                    "ends_at": on(30),
                    "kind": "training",
                },
            ),
            422,
        )
        assert half["where"] == "event_at"
        assert "takes both kind" in half["detail"]
        assert problem(manager.get(f"/campaigns/{ref}"), 404)["where"] == "ref"


def test_who_may_register_answer_and_read_registrations(api: Api) -> None:
    event = launch(api)
    customer = fresh_customer(api, owner="REP-A")
    with api.as_("rep_c") as other:  # another team: the customer is out of reach
        assert problem(register(other, customer, event), 404)["code"] == "unknown_reference"
    with api.as_("rep_a") as rep:
        assert register(rep, customer, event).status_code == 201
    with api.as_("rep_c") as other:
        assert other.get(f"/campaigns/{event}/registrations").json()["data"] == []
        refused = other.post(f"/customers/{customer}/registrations/REG-1/confirm")
        assert problem(refused, 404)["code"] == "unknown_reference"
    with api.as_("analyst") as analyst:
        assert problem(analyst.get(f"/campaigns/{event}/registrations"), 403)["code"] == (
            "forbidden"
        )
        assert problem(register(analyst, customer, event), 403)["code"] == "forbidden"
    with api.as_("compliance") as compliance:
        [row] = compliance.get(f"/campaigns/{event}/registrations").json()["data"]
        assert row["customer"] == customer
