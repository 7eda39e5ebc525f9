"""Who may do what: each role's writes and reads, refused with 403 saying why."""

from __future__ import annotations

from tests.api.conftest import Api, fresh_customer, problem
from tests.conftest import at

CONTACT = {"channel": "phone", "direction": "out", "subject": "follow-up"}


def test_a_rep_records_their_own_work_and_reads_only_their_customers(api: Api) -> None:
    mine, theirs = fresh_customer(api, owner="REP-A"), fresh_customer(api, owner="REP-C")
    with api.as_("rep_a") as rep:
        logged = rep.post(f"/customers/{mine}/contacts", json=CONTACT)
        assert logged.status_code == 201
        assert rep.get(f"/customers/{mine}").status_code == 200
        position = logged.json()["position"]
        assert rep.get(f"/customers/{mine}/timeline",
                       params={"min_position": position}).status_code == 200
        assert problem(rep.get(f"/customers/{theirs}/promises"), 403)["where"] == "ref"
        as_other = rep.post(f"/customers/{mine}/contacts", json={**CONTACT, "rep": "REP-B"})
        assert "REP-A" in problem(as_other, 403)["detail"]
        problem(rep.post(f"/customers/{mine}/owner", json={"rep": "REP-A", "reason": "x"}), 403)
        problem(rep.post(f"/customers/{mine}/corrections",
                         json={"entry_id": logged.json()["entry_id"], "fields": {},
                               "reason": "x"}), 422)
        problem(rep.get("/reps/REP-B/dossier"), 403)
        assert rep.get("/reps/REP-A/dossier").status_code == 200
        problem(rep.get("/compliance/conflicts"), 403)
        problem(rep.get("/service/inbox", params={"rep": "REP-B"}), 403)
        assert rep.get("/service/inbox").status_code == 200


def test_a_customer_a_rep_has_dealt_with_becomes_theirs_to_read(api: Api) -> None:
    ref = fresh_customer(api, owner="REP-C")
    with api.as_("rep_a") as rep:
        problem(rep.get(f"/customers/{ref}/timeline"), 403)
        logged = rep.post(f"/customers/{ref}/contacts", json=CONTACT).json()
        reply = rep.get(f"/customers/{ref}/timeline",
                        params={"min_position": logged["position"]})
    assert reply.status_code == 200, reply.text


def test_a_manager_sees_and_runs_their_team(api: Api) -> None:
    ref, outside = fresh_customer(api, owner="REP-B"), fresh_customer(api, owner="REP-C")
    with api.as_("manager") as m:
        assert m.get(f"/customers/{ref}/promises").status_code == 200
        problem(m.get(f"/customers/{outside}/timeline"), 403)
        moved = m.post(f"/customers/{ref}/owner", json={"rep": "REP-A", "reason": "leave"})
        assert moved.status_code == 201
        assert m.get("/reps/REP-B/dossier").status_code == 200
        problem(m.get("/reps/REP-C/dossier"), 403)
        problem(m.post("/reps/REP-C/departure", json={"reason": "not mine"}), 403)
        assert m.get("/service/inbox", params={"rep": "REP-B"}).status_code == 200
        problem(m.get("/service/inbox", params={"rep": "REP-C"}), 403)


def test_compliance_reads_everything_and_writes_only_corrections(api: Api) -> None:
    ref = fresh_customer(api, owner="REP-C")
    with api.as_("rep_c") as rep:
        contact = rep.post(f"/customers/{ref}/contacts", json=CONTACT).json()["entry_id"]
    with api.as_("compliance") as c:
        assert c.get(f"/customers/{ref}").status_code == 200
        assert c.get("/reps/REP-C/dossier").status_code == 200
        assert c.get("/compliance/conflicts").status_code == 200
        assert c.get("/compliance/violations").status_code == 200
        assert c.get("/service/inbox").status_code == 200
        fixed = c.post(f"/customers/{ref}/corrections",
                       json={"entry_id": contact, "fields": {"subject": "pricing call"},
                             "reason": "wrong subject"})
        assert fixed.status_code == 201, fixed.text
        assert c.post(f"/customers/{ref}/retractions",
                      json={"entry_id": contact, "reason": "duplicate"}).status_code == 201
        refused = c.post(f"/customers/{ref}/promises",
                         json={"rep": "REP-C", "text": "x", "due_by": at(900)})
        assert "make_promise" in problem(refused, 403)["detail"]
        problem(c.post("/keys", json={"name": "x", "role": "admin"}), 403)


def test_an_analyst_gets_reports_only_and_an_admin_keys_only(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("analyst") as analyst:
        for path in (f"/customers/{ref}", f"/customers/{ref}/timeline", "/reps/REP-A/dossier",
                     "/compliance/violations", "/service/inbox"):
            assert problem(analyst.get(path), 403)["code"] == "forbidden", path
        problem(analyst.post(f"/customers/{ref}/contacts", json={**CONTACT, "rep": "REP-A"}),
                403)
    with api.as_("admin") as admin:
        problem(admin.get(f"/customers/{ref}"), 403)
        created = admin.post("/keys", json={"name": "shop", "role": "rep", "rep": "REP-B"})
        assert created.status_code == 201
        assert created.json()["token"].startswith("ldg_")
        listed = admin.get("/keys").json()
        assert "shop" in [k["name"] for k in listed]
        assert all("token" not in k and "secret_hash" not in k for k in listed)
        assert problem(admin.post("/keys", json={"name": "shop", "role": "analyst"}),
                       409)["where"] == "name"
        assert problem(admin.post("/keys", json={"name": "x", "role": "rep"}),
                       422)["where"] == "rep"
        problem(admin.post("/keys", json={"name": "y", "role": "rep", "rep": "REP-404"}), 404)
