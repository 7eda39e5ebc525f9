"""Merging two records of a customer over HTTP: who may, what a merged reference answers, what
is refused (422, nothing written) and what compliance sees."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.api.conftest import Api, fresh_customer, signed_in


def promise(api: Api, who: str, ref: str, rep: str) -> str:
    due = (datetime.now(timezone.utc) + timedelta(days=7)).isoformat()
    with api.as_(who) as client:
        reply = client.post(
            f"/customers/{ref}/promises", json={"rep": rep, "text": "寄样品", "due_by": due}
        )
    assert reply.status_code == 201, reply.text
    entry: str = reply.json()["entry_id"]
    return entry


def test_a_merged_reference_answers_as_its_survivor_and_says_so(api: Api) -> None:
    survivor, merged = fresh_customer(api, owner="REP-A"), fresh_customer(api, owner="REP-A")
    kept, moved = promise(api, "rep_a", survivor, "REP-A"), promise(api, "rep_a", merged, "REP-A")
    with api.as_("rep_a") as a:
        done = a.post(
            f"/customers/{survivor}/merge", json={"merged": merged, "reason": "same person"}
        )
        assert done.status_code == 201, done.text
        assert done.json()["ref"] == survivor
        position = done.json()["position"]
        read = a.get(f"/customers/{merged}")
        assert read.status_code == 200, read.text
        body = read.json()
        assert (body["ref"], body["resolved_from"]) == (survivor, merged)
        assert body["merged_records"] == [merged]
        assert sorted(body["open"]["promise"]) == sorted([kept, moved])
        assert read.headers["X-Merged-Into"] == survivor
        listed = a.get(f"/customers/{merged}/promises", params={"min_position": position})
        assert listed.headers["X-Merged-Into"] == survivor
        assert {(p["promise_id"], p["origin"]) for p in listed.json()["data"]} == {
            (kept, survivor),
            (moved, merged),
        }
        lines = a.get(f"/customers/{survivor}/timeline", params={"min_position": position})
        kinds = [(line["customer"], line["kind"]) for line in lines.json()["data"]]
        assert (merged, "MergedInto") in kinds and (survivor, "Merged") in kinds
        assert "X-Merged-Into" not in lines.headers
        # A write to the merged reference is the survivor's; its own promise's outcome its own.
        contact = a.post(
            f"/customers/{merged}/contacts",
            json={"rep": "REP-A", "channel": "phone", "direction": "out", "subject": "hi"},
        )
        assert contact.status_code == 201 and contact.json()["ref"] == survivor
        outcome = a.post(f"/customers/{survivor}/promises/{moved}/keep", json={})
        assert outcome.status_code == 201 and outcome.json()["ref"] == merged
        undone = a.post(f"/customers/{merged}/unmerge", json={"reason": "two people"})
        assert undone.status_code == 201, undone.text
        assert "X-Merged-Into" not in a.get(f"/customers/{merged}").headers
    with api.as_("compliance") as c:
        found = c.get(
            "/compliance/merges",
            params={"customer": survivor, "min_position": undone.json()["position"]},
        )
        assert found.status_code == 200, found.text
        assert [(m["action"], m["merged"], m["actor"]) for m in found.json()["data"]] == [
            ("merged", merged, "rep_a"),
            ("unmerged", merged, "rep_a"),
        ]
        assert found.json()["data"][0]["reason"] == "same person"


def test_a_rep_cannot_merge_a_customer_they_cannot_read(api: Api) -> None:
    mine, theirs = fresh_customer(api, owner="REP-A"), fresh_customer(api, owner="REP-C")
    with api.as_("rep_a") as a:
        one_way = a.post(f"/customers/{mine}/merge", json={"merged": theirs, "reason": "x"})
        other_way = a.post(f"/customers/{theirs}/merge", json={"merged": mine, "reason": "x"})
    assert one_way.status_code == other_way.status_code == 404
    assert theirs in one_way.json()["detail"]
    with api.as_("rep_a") as a:
        assert a.get(f"/customers/{theirs}").status_code == 404  # nothing was merged
    with api.as_("analyst") as analyst:
        assert (
            analyst.post(
                f"/customers/{mine}/merge", json={"merged": theirs, "reason": "x"}
            ).status_code
            == 403
        )


def test_impossible_merges_are_refused_as_invalid_and_write_nothing(api: Api) -> None:
    first, second = fresh_customer(api, owner="REP-A"), fresh_customer(api, owner="REP-A")
    with api.as_("rep_a") as a:
        itself = a.post(f"/customers/{first}/merge", json={"merged": first, "reason": "x"})
        assert itself.status_code == 422, itself.text
        assert itself.json()["code"] == "merge_into_itself"
        not_merged = a.post(f"/customers/{second}/unmerge", json={"reason": "x"})
        assert (not_merged.status_code, not_merged.json()["code"]) == (422, "not_merged")
        assert a.post(
            f"/customers/{first}/merge", json={"merged": second, "reason": "dup"}
        ).is_success
        again = a.post(f"/customers/{second}/merge", json={"merged": first, "reason": "x"})
        assert (again.status_code, again.json()["code"]) == (422, "merge_into_itself")
        version = a.get(f"/customers/{first}").json()["version"]
        third = fresh_customer(api, owner="REP-A")
        into_merged = a.post(f"/customers/{third}/merge", json={"merged": second, "reason": "x"})
        assert (into_merged.status_code, into_merged.json()["code"]) == (422, "already_merged")
        assert a.get(f"/customers/{first}").json()["version"] == version


def test_the_console_shows_a_merged_record_as_merged_with_a_link_to_its_survivor(
    api: Api,
) -> None:
    survivor, merged = fresh_customer(api, owner="REP-A"), fresh_customer(api, owner="REP-A")
    with api.as_("rep_a") as a:
        done = a.post(f"/customers/{survivor}/merge", json={"merged": merged, "reason": "dup"})
        assert done.status_code == 201, done.text
    position = done.json()["position"]
    with signed_in(api, "rep_a") as browser:
        shown = browser.get(f"/console/customers/{merged}", params={"min_position": position})
        assert shown.status_code == 200, shown.text
        assert f"{merged} was merged into" in shown.text
        assert f'href="/console/customers/{survivor}"' in shown.text
        found = browser.get("/console/customers", params={"q": merged})
        assert "merged into" in found.text
