"""A hand-over that hands over, over HTTP: a departed rep's open work goes with the customers
handed on, credited to who made it; what is left behind is orphaned, listed for compliance,
and raised to the rep's manager once it falls overdue."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ledger.scheduler import Jobs
from tests.api.conftest import Api, fresh_customer, new_ref


def test_handing_a_departed_reps_customers_on_moves_their_work(api: Api) -> None:
    leaver, heir = new_ref("REP"), new_ref("REP")
    with api.as_("admin") as admin:
        for rep in (leaver, heir):
            assert (
                admin.post(
                    "/reps", json={"ref": rep, "name": rep, "team": "east", "manager": "REP-M"}
                ).status_code
                == 201
            )
    c1, c2 = fresh_customer(api, owner=leaver), fresh_customer(api, owner=leaver)
    elsewhere = fresh_customer(api, owner="REP-M")  # REP-M's customer, the leaver's promise
    now = datetime.now(timezone.utc)
    due_soon, due_late = (now + timedelta(days=2)).isoformat(), (now + timedelta(days=60))
    with api.as_("manager") as m:
        made = {}
        for ref in (c1, c2, elsewhere):
            reply = m.post(
                f"/customers/{ref}/promises",
                json={"rep": leaver, "text": "寄样品", "due_by": due_soon},
            )
            assert reply.status_code == 201, reply.text
            made[ref] = reply.json()["entry_id"]
        quote = m.post(
            f"/customers/{c1}/quotes",
            json={
                "rep": leaver,
                "product": "tea",
                "unit_price": "9.50",
                "currency": "CNY",
                "valid_until": due_late.isoformat(),
            },
        ).json()["entry_id"]
        departed = m.post(f"/reps/{leaver}/departure", json={"reason": "moved abroad"})
        assert departed.status_code == 201
        before = m.get(
            f"/reps/{leaver}/handover", params={"min_position": departed.json()["position"]}
        ).json()
        assert before["handover_progress"] == {"remaining": 6, "handed_on": 0}
        for ref in (c1, c2):
            moved = m.post(f"/customers/{ref}/owner", json={"rep": heir, "reason": "hand-over"})
            assert moved.status_code == 201, moved.text
        position = moved.json()["position"]
        heirs = m.get(f"/reps/{heir}/dossier", params={"min_position": position}).json()
        after = m.get(f"/reps/{leaver}/handover", params={"min_position": position}).json()
        promised = m.get(
            f"/customers/{c1}/promises", params={"rep": leaver, "min_position": position}
        ).json()["data"]
    inherited = {
        (p["customer"], p["promise_id"], p["made_by"], bool(p["handed_at"]))
        for p in heirs["open_promises"]
    }
    assert inherited == {(c1, made[c1], leaver, True), (c2, made[c2], leaver, True)}
    assert [(q["quote_id"], q["made_by"]) for q in heirs["open_quotes"]] == [(quote, leaver)]
    assert [p["promise_id"] for p in promised] == [made[c1]]  # what they promised C1, still
    # Left behind: the promise to REP-M's customer. The rest is handed on.
    assert after["handover_progress"] == {"remaining": 1, "handed_on": 5}
    assert [(i["customer"], i["id"]) for i in after["handover"]] == [(elsewhere, made[elsewhere])]
    with api.as_("compliance") as c:
        orphaned = c.get("/compliance/orphaned", params={"min_position": position}).json()
    mine = [o for o in orphaned["data"] if o["responsible"] == leaver]
    assert [(o["customer"], o["id"], o["manager"], o["overdue"]) for o in mine] == [
        (elsewhere, made[elsewhere], "REP-M", False)
    ]
    # Once overdue, the scheduler raises it to the leaver's manager: once, however often run.
    jobs = Jobs(api.services.ledger)
    later = now + timedelta(days=3)
    runs = [jobs.run(later, ("orphaned_work",)) for _ in range(2)]
    jobs.close()
    raised = [(f.customer, f.entry, f.outcome) for f in runs[0] if f.customer == elsewhere]
    assert raised == [(elsewhere, made[elsewhere], "written")]
    assert [f.outcome for f in runs[1] if f.customer == elsewhere] in ([], ["already"])
    work = api.services.ledger.customer(elsewhere).open_work("REP-M")
    assert list(work) == [made[elsewhere]] and work[made[elsewhere]]["rep"] == leaver
    head = api.services.ledger.recorder.max_notification_id()
    with api.as_("manager") as m:  # nothing of the leaver's is left to hand over
        done = m.get(f"/reps/{leaver}/handover", params={"min_position": head}).json()
    assert done["handover_progress"] == {"remaining": 0, "handed_on": 6}


def test_a_moved_reps_former_manager_no_longer_reads_their_customers(api: Api) -> None:
    mover = new_ref("REP")
    with api.as_("admin") as admin:
        assert (
            admin.post(
                "/reps", json={"ref": mover, "name": mover, "team": "east", "manager": "REP-M"}
            ).status_code
            == 201
        )
    theirs = fresh_customer(api, owner=mover)
    mover_key = api.key(f"key-{mover}", "rep", mover)
    with api.as_("manager") as m:
        assert m.get(f"/customers/{theirs}").status_code == 200
        assert (
            m.post(
                f"/reps/{mover}/team",
                json={"team": "west", "manager": "REP-C", "reason": "moved west"},
            ).status_code
            == 201
        )
        # Reach follows the team as it is now: REP-M has no rep holding the customer.
        assert m.get(f"/customers/{theirs}").status_code == 404
    with api.as_(None, Authorization=f"Bearer {mover_key}") as mine:
        assert mine.get(f"/customers/{theirs}").status_code == 200  # still the owner
