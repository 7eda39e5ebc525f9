"""Who may do what: one rule for reads and writes. A rep reaches the customers they own, are
responsible for or are on the team of; a manager their team's; compliance reads everything
and writes only corrections, retractions and erasures; an analyst reads reports. Outside
one's reach a customer does not exist (404), and a refused write leaves no trace."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.examples import EXAMPLES
from api.routes.commands import ROUTES, Route, path_fields
from ledger.authorization import CORRECTIONS, INTERACTIONS, MANAGING, MERGING
from tests.api.conftest import Api, fresh_customer, new_ref, problem
from tests.conftest import at

CONTACT = {"channel": "phone", "direction": "out", "subject": "follow-up"}
CUSTOMER_ROUTES = [r for r in ROUTES if r.path.startswith("/customers/{ref}")]
IDS = {
    "quote_id": "Q-1",
    "promise_id": "P-1",
    "request_id": "R-1",
    "complaint_id": "K-1",
    "registration_id": "REG-1",
}


def attempt(client: httpx.Client, route: Route, ref: str, rep: str | None) -> httpx.Response:
    """The route's example command, on customer ``ref``, naming ``rep`` where it names one."""
    taken = set(path_fields(route).values())
    body: dict[str, Any] = {k: v for k, v in EXAMPLES[route.command].items() if k not in taken}
    for field in ("rep", "owner", "to_rep", "from_rep"):
        if field in body and rep is not None:
            body[field] = rep
    path = route.path.format(ref=ref, **IDS)
    return client.request(route.method, path, json=body)


def version_of(api: Api, ref: str) -> int:
    with api.as_("compliance") as c:
        reply = c.get(f"/customers/{ref}")
    assert reply.status_code == 200, reply.text
    version: int = reply.json()["version"]
    return version


def expected(role: str, command: str) -> int:
    """What a key of this role gets writing to a customer outside its reach (or unknown):
    403 for a command its role never runs, else 404."""
    runs = {
        "rep": INTERACTIONS | MERGING,
        "manager": INTERACTIONS | MANAGING | MERGING,
        "compliance": CORRECTIONS | {"erase_personal_data"},
        "admin": {"erase_personal_data"},
        "analyst": set(),
    }[role]
    return 404 if command in runs else 403


@pytest.mark.parametrize("who", ["rep_a", "manager", "compliance", "analyst", "admin"])
def test_no_write_reaches_a_customer_outside_the_keys_reach(api: Api, who: str) -> None:
    """Every customer endpoint, for every role: a customer outside reach answers as an unknown
    one does, and nothing is written."""
    outside = fresh_customer(api, owner="REP-C")
    before = version_of(api, outside)
    role = {"rep_a": "rep", "manager": "manager"}.get(who, who)
    acting = {"rep_a": "REP-A", "manager": "REP-M"}.get(who)
    skip = {"register_customer"}  # (compliance reaches every customer: tested below)
    if role in ("compliance", "admin"):
        skip |= {"erase_personal_data"} | (CORRECTIONS if role == "compliance" else set())
    unknown = new_ref()
    with api.as_(who) as client:
        for route in [r for r in CUSTOMER_ROUTES if r.command not in skip]:
            status = expected(role, route.command)
            there = attempt(client, route, outside, acting)
            nowhere = attempt(client, route, unknown, acting)
            assert there.status_code == status, (route.command, there.text)
            assert nowhere.status_code == status, (route.command, nowhere.text)
            assert there.json()["detail"].replace(outside, "?") == nowhere.json()["detail"].replace(
                unknown, "?"
            )
    assert version_of(api, outside) == before
    if role in ("rep", "manager"):
        with api.as_(who) as client:
            assert problem(client.get(f"/customers/{outside}"), 404)["where"] == "ref"


def test_a_rep_reaches_their_own_customers_and_no_others(api: Api) -> None:
    mine, theirs = fresh_customer(api, owner="REP-A"), fresh_customer(api, owner="REP-C")
    with api.as_("rep_a") as rep:
        logged = rep.post(f"/customers/{mine}/contacts", json=CONTACT)
        assert logged.status_code == 201
        assert rep.get(f"/customers/{mine}").status_code == 200
        position = logged.json()["position"]
        assert (
            rep.get(f"/customers/{mine}/timeline", params={"min_position": position}).status_code
            == 200
        )
        for path in ("", "/timeline", "/promises", "/quotes"):
            unknown = problem(rep.get(f"/customers/CUST-NEVER{path}"), 404)
            hidden = problem(rep.get(f"/customers/{theirs}{path}"), 404)
            assert hidden["detail"].replace(theirs, "X") == unknown["detail"].replace(
                "CUST-NEVER", "X"
            )
        # The hijack: writing to another rep's customer is refused, and gives no access.
        hijack = rep.patch(f"/customers/{theirs}", json={"email": "hijack@evil.example"})
        assert problem(hijack, 404)["where"] == "ref"
        problem(rep.post(f"/customers/{theirs}/contacts", json=CONTACT), 404)
        problem(rep.get(f"/customers/{theirs}"), 404)
        as_other = rep.post(f"/customers/{mine}/contacts", json={**CONTACT, "rep": "REP-B"})
        assert "REP-A" in problem(as_other, 403)["detail"]
        problem(rep.post(f"/customers/{mine}/owner", json={"rep": "REP-A", "reason": "x"}), 403)
        problem(rep.get("/reps/REP-B/dossier"), 403)
        assert rep.get("/reps/REP-A/dossier").status_code == 200
        problem(rep.get("/compliance/conflicts"), 403)
        problem(rep.get("/service/inbox", params={"rep": "REP-B"}), 403)
        assert rep.get("/service/inbox").status_code == 200
        # A rep's new customer is their own, whoever they name.
        new = rep.post("/customers", json={"ref": new_ref(), "name": "Zhou"})
        assert new.status_code == 201
        problem(rep.post("/customers", json={"ref": new_ref(), "name": "Q", "owner": "REP-C"}), 403)
    with api.as_("compliance") as c:
        assert c.get(f"/customers/{theirs}").json()["profile"]["email"] == "wang@example.com"
        assert c.get(f"/customers/{new.json()['ref']}").json()["owner"] == "REP-A"


def test_work_given_to_a_rep_or_a_place_on_the_team_lets_them_reach_the_customer(api: Api) -> None:
    ref = fresh_customer(api, owner="REP-B")
    with api.as_("rep_a") as rep:
        problem(rep.get(f"/customers/{ref}"), 404)
    with api.as_("manager") as m:
        request = m.post(
            f"/customers/{ref}/requests",
            json={"kind": "callback", "channel": "phone", "respond_by": at(900), "rep": "REP-A"},
        )
        assert request.status_code == 201, request.text
    with api.as_("rep_a") as rep:  # responsible for the request: reaches the customer
        assert rep.get(f"/customers/{ref}").status_code == 200
        answered = rep.post(
            f"/customers/{ref}/requests/{request.json()['entry_id']}/answer",
            json={"channel": "phone"},
        )
        assert answered.status_code == 201, answered.text
        problem(rep.get(f"/customers/{ref}"), 404)  # the work done, the reach ends
    with api.as_("manager") as m:
        added = m.post(f"/customers/{ref}/team-members", json={"rep": "REP-A", "reason": "cover"})
        assert added.status_code == 201, added.text
    with api.as_("rep_a") as rep:
        assert rep.post(f"/customers/{ref}/contacts", json=CONTACT).status_code == 201
        problem(
            rep.post(f"/customers/{ref}/team-members", json={"rep": "REP-A", "reason": "x"}), 403
        )
    with api.as_("manager") as m:
        removed = m.post(
            f"/customers/{ref}/team-members/removal", json={"rep": "REP-A", "reason": "done"}
        )
        assert removed.status_code == 201, removed.text
        problem(m.post(f"/customers/{ref}/team-members", json={"rep": "REP-C", "reason": "x"}), 403)
    with api.as_("rep_a") as rep:
        problem(rep.get(f"/customers/{ref}/timeline"), 404)


def test_a_manager_sees_and_runs_their_team(api: Api) -> None:
    ref, outside = fresh_customer(api, owner="REP-B"), fresh_customer(api, owner="REP-C")
    with api.as_("manager") as m:
        assert m.get(f"/customers/{ref}/promises").status_code == 200
        problem(m.get(f"/customers/{outside}/timeline"), 404)
        moved = m.post(f"/customers/{ref}/owner", json={"rep": "REP-A", "reason": "leave"})
        assert moved.status_code == 201
        assert m.get("/reps/REP-B/dossier").status_code == 200
        problem(m.get("/reps/REP-C/dossier"), 403)
        problem(m.post("/reps/REP-C/departure", json={"reason": "not mine"}), 403)
        problem(
            m.post(
                "/reps", json={"ref": new_ref("REP"), "name": "X", "team": "t", "manager": "REP-C"}
            ),
            403,
        )
        problem(m.post(f"/customers/{ref}/erasure", json={"reason": "asked"}), 403)
        assert m.get("/service/inbox", params={"rep": "REP-B"}).status_code == 200
        problem(m.get("/service/inbox", params={"rep": "REP-C"}), 403)


def test_compliance_reads_everything_and_writes_only_corrections_and_erasure(api: Api) -> None:
    ref = fresh_customer(api, owner="REP-C")
    with api.as_("rep_c") as rep:
        contact = rep.post(f"/customers/{ref}/contacts", json=CONTACT).json()["entry_id"]
    with api.as_("compliance") as c:
        assert c.get(f"/customers/{ref}").status_code == 200
        assert c.get("/reps/REP-C/dossier").status_code == 200
        assert c.get("/compliance/conflicts").status_code == 200
        assert c.get("/compliance/violations").status_code == 200
        assert c.get("/service/inbox").status_code == 200
        fixed = c.post(
            f"/customers/{ref}/corrections",
            json={
                "entry_id": contact,
                "fields": {"subject": "pricing call"},
                "reason": "wrong subject",
            },
        )
        assert fixed.status_code == 201, fixed.text
        assert (
            c.post(
                f"/customers/{ref}/retractions", json={"entry_id": contact, "reason": "duplicate"}
            ).status_code
            == 201
        )
        refused = c.post(
            f"/customers/{ref}/promises", json={"rep": "REP-C", "text": "x", "due_by": at(900)}
        )
        assert "make_promise" in problem(refused, 403)["detail"]
        problem(c.post("/keys", json={"name": "x", "role": "admin"}), 403)
        problem(
            c.post(
                "/customers/CUST-NEVER/corrections",
                json={"entry_id": contact, "fields": {"subject": "x"}, "reason": "x"},
            ),
            404,
        )


def test_an_analyst_gets_reports_only_and_an_admin_keys_only(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("analyst") as analyst:
        for path in (
            f"/customers/{ref}",
            f"/customers/{ref}/timeline",
            "/customers/CUST-NEVER",
            "/reps/REP-A/dossier",
            "/compliance/violations",
            "/service/inbox",
        ):
            assert problem(analyst.get(path), 403)["code"] == "forbidden", path
        problem(analyst.post(f"/customers/{ref}/contacts", json={**CONTACT, "rep": "REP-A"}), 403)
    with api.as_("admin") as admin:
        problem(admin.get(f"/customers/{ref}"), 403)
        created = admin.post("/keys", json={"name": "shop", "role": "rep", "rep": "REP-B"})
        assert created.status_code == 201
        assert created.json()["token"].startswith("ldg_")
        listed = admin.get("/keys").json()
        assert "shop" in [k["name"] for k in listed]
        assert all("token" not in k and "secret_hash" not in k for k in listed)
        assert (
            problem(admin.post("/keys", json={"name": "shop", "role": "analyst"}), 409)["where"]
            == "name"
        )
        assert (
            problem(admin.post("/keys", json={"name": "x", "role": "rep"}), 422)["where"] == "rep"
        )
        problem(admin.post("/keys", json={"name": "y", "role": "rep", "rep": "REP-404"}), 404)
