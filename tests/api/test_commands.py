"""Every command has its endpoint; a story drives all of them over HTTP."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, fresh_customer, new_ref, problem
from tests.conftest import at


def post(
    client: Any, path: str, body: dict[str, Any] | list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    reply = client.post(path, json=body) if body is not None else client.post(path)
    assert reply.status_code == 201, f"{path}: {reply.text}"
    found: dict[str, Any] = reply.json()
    return found


def test_every_command_endpoint_writes_its_event(api: Api) -> None:
    ref = fresh_customer(api)
    c = f"/customers/{ref}"
    campaign, hire = new_ref("CMP"), new_ref("REP")
    written: list[str] = []
    with api.as_("manager") as m:

        def run(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
            result = post(m, path, body)
            written.extend(e["type"] for e in result["events"])
            return result

        run(
            "/campaigns",
            {
                "ref": campaign,
                "name": "Spring tea",
                "channel": "email",
                "budget": "1000.00",
                "currency": "CNY",
                "starts_at": at(0),
                "ends_at": at(60),
                "material": "brochure",
                "department": "marketing",
            },
        )
        run(f"/campaigns/{campaign}/costs", {"amount": "120.50", "currency": "CNY"})
        assert m.patch(c, json={"phone": "+86 10 1234 5678"}).status_code == 201
        written.append("ProfileChanged")
        run(f"{c}/owner", {"rep": "REP-B", "reason": "territory change"})
        run(
            f"{c}/contacts",
            {"rep": "REP-A", "channel": "phone", "direction": "out", "subject": "报价跟进"},
        )
        request = run(
            f"{c}/requests",
            {"kind": "info", "channel": "email", "respond_by": at(800), "rep": "REP-A"},
        )["entry_id"]
        run(f"{c}/requests/{request}/answer", {"rep": "REP-A", "channel": "email"})
        # The third lapsed long ago, so that it can be expired.
        quotes = [
            run(
                f"{c}/quotes",
                {
                    "rep": "REP-A",
                    "product": "普洱茶",
                    "quantity": "10",
                    "unit_price": "128.00",
                    "currency": "CNY",
                    "occurred_at": at(0 if n == 2 else 600),
                    "valid_until": at(10 if n == 2 else 800),
                },
            )["entry_id"]
            for n in range(4)
        ]
        run(f"{c}/quotes/{quotes[0]}/accept", {"note": "ok"})
        run(f"{c}/quotes/{quotes[1]}/decline", {"reason": "price"})
        run(f"{c}/quotes/{quotes[2]}/expire")
        run(f"{c}/quotes/{quotes[3]}/withdraw", {"reason": "error"})
        # The fourth was due long ago, so that it can be marked overdue.
        promises = [
            run(
                f"{c}/promises",
                {
                    "rep": "REP-A",
                    "text": "寄样品",
                    "occurred_at": at(0),
                    "due_by": at(10 if n == 3 else 900),
                },
            )["entry_id"]
            for n in range(4)
        ]
        run(f"{c}/promises/{promises[0]}/keep")
        run(f"{c}/promises/{promises[1]}/break", {"reason": "stock ran out"})
        run(f"{c}/promises/{promises[2]}/cancel")
        run(f"{c}/promises/{promises[3]}/overdue")
        run(f"{c}/campaign-touches", {"campaign": campaign})
        run(f"{c}/consents", {"channel": "email", "granted": False})
        complaint = run(
            f"{c}/complaints",
            {"category": "service", "severity": "high", "description": "late delivery"},
        )["entry_id"]
        run(f"{c}/complaints/{complaint}/escalate", {"to": "REP-M"})
        run(f"{c}/complaints/{complaint}/resolve", {"resolution": "refund", "satisfied": True})
        run(f"{c}/complaints/{complaint}/reopen", {"reason": "refund not received"})
        run(f"{c}/satisfaction", {"items": {"quality": "satisfied"}})
        purchase = run(
            f"{c}/purchases", {"order_id": "O-1", "amount": "1280.00", "currency": "CNY"}
        )["entry_id"]
        run(
            f"{c}/corrections",
            {"entry_id": purchase, "fields": {"amount": "1200.00"}, "reason": "typo"},
        )
        refund = {"order_id": purchase, "amount": "-80.00", "currency": "CNY"}
        refused = problem(m.post(f"{c}/refunds", json=refund), 422)
        assert refused["code"] == "invalid_request" and "amount" in str(refused)
        run(f"{c}/refunds", {**refund, "amount": "80.00", "reason": "one box returned"})
        run(f"{c}/retractions", {"entry_id": purchase, "reason": "test order"})
        run(f"{c}/churn", {"defection_type": "price"})
        run(f"{c}/win-back", {"reason": "new offer"})
        run("/reps", {"ref": hire, "name": "New Rep", "team": "east", "manager": "REP-M"})
        run(f"/reps/{hire}/team", {"team": "west", "manager": "REP-M"})
        run(f"/reps/{hire}/departure", {"reason": "moved on"})
        run(f"/campaigns/{campaign}/close")
    assert written == [
        "Launched",
        "CostRecorded",
        "ProfileChanged",
        "OwnerAssigned",
        "ContactLogged",
        "RequestReceived",
        "RequestAnswered",
        *["QuoteIssued"] * 4,
        "QuoteAccepted",
        "QuoteDeclined",
        "QuoteExpired",
        "QuoteWithdrawn",
        *["PromiseMade"] * 4,
        "PromiseKept",
        "PromiseBroken",
        "PromiseCancelled",
        "PromiseMarkedOverdue",
        "CampaignTouched",
        "ConsentChanged",
        "ComplaintFiled",
        "ComplaintEscalated",
        "ComplaintResolved",
        "ComplaintReopened",
        "SatisfactionRecorded",
        "PurchaseRecorded",
        "EntryCorrected",
        "PurchaseRefunded",
        "EntryRetracted",
        "Churned",
        "WonBack",
        "Hired",
        "MovedTeam",
        "Departed",
        "Closed",
    ]


def test_the_actor_is_the_key_never_the_body(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("rep_a") as rep:
        spoofed = rep.post(
            f"/customers/{ref}/contacts",
            json={"channel": "phone", "direction": "in", "subject": "hi", "actor": "someone-else"},
        )
        assert problem(spoofed, 422)["errors"][0]["field"] == "body.actor"
        logged = post(
            rep,
            f"/customers/{ref}/contacts",
            {"channel": "phone", "direction": "in", "subject": "hi"},
        )
    with api.as_("manager") as m:
        lines = m.get(
            f"/customers/{ref}/timeline", params={"min_position": logged["position"]}
        ).json()["data"]
    contact = lines[-1]
    assert (contact["kind"], contact["actor"], contact["rep"]) == (
        "ContactLogged",
        "rep_a",
        "REP-A",
    )


def test_a_batch_is_written_all_or_nothing(api: Api) -> None:
    ref = new_ref()
    good = [
        {"type": "register_customer", "ref": ref, "name": "Ana", "owner": "REP-A"},
        {
            "type": "log_contact",
            "customer": ref,
            "rep": "REP-A",
            "channel": "visit",
            "direction": "out",
            "subject": "first visit",
        },
    ]
    bad = {
        "type": "make_promise",
        "customer": ref,
        "rep": "REP-A",
        "text": "call back",
        "due_by": "2020-01-01T00:00:00Z",
        "occurred_at": "2021-01-01T00:00:00Z",
    }
    with api.as_("manager") as m:
        refused = problem(m.post("/commands", json=[*good, bad]), 422)
        assert refused["errors"][0]["field"] == "commands[2]"
        assert "due_by" in refused["errors"][0]["message"]
        problem(m.get(f"/customers/{ref}"), 404)  # nothing of the batch was written
        done = m.post("/commands", json=good)
        assert done.status_code == 201, done.text
        assert [r["command"] for r in done.json()["results"]] == [
            "register_customer",
            "log_contact",
        ]
        assert m.get(f"/customers/{ref}").json()["entries"] == {"contact": 1}
        unknown = problem(m.post("/commands", json=[{"type": "fly_to_moon"}]), 422)
        assert "known types" in unknown["detail"]


def test_text_with_a_nul_character_is_refused_on_every_store(api: Api) -> None:
    """PostgreSQL cannot store a NUL in text and SQLite can: it is refused before either."""
    ref = new_ref()
    good = {"type": "register_customer", "ref": ref, "name": "Ana", "owner": "REP-A"}
    nul = [
        {
            "type": "log_contact",
            "customer": ref,
            "rep": "REP-A",
            "channel": "visit",
            "direction": "out",
            "subject": "first\x00visit",
        },
        {"type": "update_profile", "customer": ref, "address": "Elbchaussee\x001"},
    ]
    with api.as_("manager") as m:
        for bad in nul:
            refused = problem(m.post("/commands", json=[good, bad]), 422)
            assert refused["errors"][0]["field"] == "commands[1]"
            assert "NUL character" in refused["errors"][0]["message"]
        problem(m.get(f"/customers/{ref}"), 404)  # nothing of either batch was written
        post(m, "/commands", [good])
        contact = problem(
            m.post(
                f"/customers/{ref}/contacts",
                json={"channel": "phone", "direction": "in", "subject": "hi\x00"},
            ),
            422,
        )
        assert "subject" in contact["errors"][0]["field"]
        assert m.get(f"/customers/{ref}").json()["entries"] == {}
