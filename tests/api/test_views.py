"""The views over HTTP: a departed rep's hand-over, quotes and their conflicts, violations
and the service inbox, each answering a small story told through the API."""

from __future__ import annotations

from tests.api.conftest import Api, fresh_customer, new_ref, problem
from tests.conftest import at


def test_a_departed_reps_handover_lists_what_needs_a_new_owner(api: Api) -> None:
    leaver = new_ref("REP")
    with api.as_("admin") as admin:
        assert (
            admin.post(
                "/reps", json={"ref": leaver, "name": "Leaves", "team": "east", "manager": "REP-M"}
            ).status_code
            == 201
        )
    ref = fresh_customer(api, owner=leaver)
    with api.as_("manager") as m:
        promise = m.post(
            f"/customers/{ref}/promises",
            json={"rep": leaver, "text": "寄样品", "occurred_at": at(0), "due_by": at(5)},
        ).json()["entry_id"]
        quote = m.post(
            f"/customers/{ref}/quotes",
            json={
                "rep": leaver,
                "product": "tea",
                "unit_price": "9.50",
                "currency": "EUR",
                "valid_until": at(900),
            },
        ).json()["entry_id"]
        departed = m.post(f"/reps/{leaver}/departure", json={"reason": "moved abroad"})
        handover = m.get(
            f"/reps/{leaver}/handover", params={"min_position": departed.json()["position"]}
        ).json()
    items = {(i["what"], i["id"]): i for i in handover["handover"]}
    assert handover["rep"]["departed"] is True
    assert items[("open promise", promise)]["overdue"] is True
    assert items[("open quote", quote)]["overdue"] is False
    assert items[("owned customer", ref)]["suggested_owner"] == "REP-M"
    assert next(iter(items)) == ("open promise", promise)  # overdue first


def test_a_big_dossier_comes_in_pages_with_its_totals(api: Api) -> None:
    rep = new_ref("REP")
    with api.as_("admin") as admin:
        assert (
            admin.post(
                "/reps", json={"ref": rep, "name": "Busy", "team": "east", "manager": "REP-M"}
            ).status_code
            == 201
        )
    owned = sorted(fresh_customer(api, owner=rep) for _ in range(5))
    with api.as_("manager") as m:
        for ref in owned[:3]:
            last = m.post(
                f"/customers/{ref}/contacts",
                json={"rep": rep, "channel": "phone", "direction": "out", "subject": "hello"},
            ).json()
        first = m.get(f"/reps/{rep}/dossier", params={"limit": 2, "min_position": last["position"]})
        assert first.status_code == 200, first.text
        dossier = first.json()
        assert [c["customer"] for c in dossier["customers_owned"]] == owned[:2]
        assert (
            dossier["totals"]["customers_owned"],
            dossier["totals"]["customers_touched"],
            dossier["totals"]["open_promises"],
        ) == (5, 3, 0)
        assert len(dossier["customers_touched"]) == 2
        pages, offset = [], 0
        while offset is not None:
            page = m.get(
                f"/reps/{rep}/dossier/customers_owned", params={"offset": offset, "limit": 2}
            ).json()
            assert page["total"] == 5
            pages.append([c["customer"] for c in page["items"]])
            offset = page["next_offset"]
        assert pages == [owned[:2], owned[2:4], owned[4:]]
        wrong = problem(m.get(f"/reps/{rep}/dossier/secrets"), 422)
        assert wrong["errors"][0]["field"] == "path.section"
        assert "customers_owned" in wrong["detail"]
        problem(m.get(f"/reps/{rep}/dossier", params={"limit": 0}), 422)


def test_quotes_and_conflicting_quotes(api: Api) -> None:
    ref = fresh_customer(api, owner="REP-A")
    quote = {"product": "普洱茶", "currency": "CNY", "valid_until": at(900)}
    with api.as_("manager") as m:
        assert (
            m.post(
                f"/customers/{ref}/team-members", json={"rep": "REP-B", "reason": "second opinion"}
            ).status_code
            == 201
        )
    with api.as_("rep_a") as a, api.as_("rep_b") as b:
        a.post(f"/customers/{ref}/quotes", json={**quote, "unit_price": "128.00"})
        last = b.post(f"/customers/{ref}/quotes", json={**quote, "unit_price": "118.00"}).json()
    with api.as_("manager") as m:
        listed = m.get(
            f"/customers/{ref}/quotes", params={"min_position": last["position"], "rep": "REP-B"}
        ).json()
    assert [(q["rep"], q["net_price"]) for q in listed["data"]] == [("REP-B", "118.0000")]
    with api.as_("compliance") as c:
        pairs = c.get("/compliance/conflicts", params={"customer": ref}).json()["data"]
    assert len(pairs) == 1
    assert {pairs[0]["first_price"], pairs[0]["second_price"]} == {"128.0000", "118.0000"}
    assert pairs[0]["reps_differ"] is True


def test_violations_and_the_service_inbox(api: Api) -> None:
    ref = fresh_customer(api, owner="REP-A")
    campaign = new_ref("CMP")
    with api.as_("manager") as m:
        m.post(
            "/campaigns",
            json={
                "ref": campaign,
                "name": "Promo",
                "channel": "sms",
                "budget": "100",
                "currency": "CNY",
                "starts_at": at(0),
                "ends_at": at(900),
            },
        )
        m.post(f"/customers/{ref}/consents", json={"channel": "sms", "granted": False})
        m.post(f"/customers/{ref}/campaign-touches", json={"campaign": campaign})
        request = m.post(
            f"/customers/{ref}/requests",
            json={
                "kind": "callback",
                "channel": "phone",
                "rep": "REP-A",
                "occurred_at": at(0),
                "respond_by": at(1),
            },
        ).json()
    with api.as_("compliance") as c:
        found = c.get(
            "/compliance/violations",
            params={
                "kind": "touch_after_opt_out",
                "min_position": request["position"],
                "limit": 500,
            },
        ).json()
        mine = [v for v in found["data"] if v["customer"] == ref]
        assert [v["why"] for v in mine] == ["marketed on sms after the customer opted out"]
        problem(c.get("/compliance/violations", params={"kind": "jaywalking"}), 422)
    with api.as_("rep_a") as a:
        inbox = a.get("/service/inbox", params={"limit": 500}).json()["data"]
    overdue = [i for i in inbox if i["customer"] == ref]
    assert [(i["item"], i["id"], i["what"]) for i in overdue] == [
        ("request", request["entry_id"], "callback")
    ]
    assert overdue[0]["overdue_days"] > 500
