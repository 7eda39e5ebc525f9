"""Duplicates over HTTP and in the console: a manager sees the likely pairs among the
customers their team reaches, compliance all of them, nobody else any; a forgotten customer
is never one of a pair. Cards nobody followed up are in the owner's inbox until a contact."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.api.conftest import Api, fresh_customer, problem, signed_in


def digits() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


def pairs(api: Api, who: str, position: int) -> list[dict[str, Any]]:
    with api.as_(who) as client:
        reply = client.get("/duplicates", params={"limit": 1000, "min_position": position})
    assert reply.status_code == 200, reply.text
    return list(reply.json()["data"])


def test_managers_and_compliance_see_likely_pairs_with_why(api: Api) -> None:
    phone, tag = digits(), uuid.uuid4().hex[:8]
    wide = "".join(chr(ord(c) + 0xFEE0) for c in phone)
    first = fresh_customer(api, owner="REP-A", name="张伟", phone=phone, email=f"z{tag}@x.cn")
    second = fresh_customer(api, owner="REP-B", name="Zhang Wei", phone=wide, email=None)
    elsewhere = fresh_customer(api, owner="REP-C", name="Wei Zhang", email=f"Z{tag}@X.CN")
    with api.as_("manager") as m:  # written last: the views that show it show the rest
        changed = m.patch(f"/customers/{second}", json={"title": "采购经理"})
        assert changed.status_code == 201, changed.text
        last = changed.json()["position"]

    mine = [p for p in pairs(api, "manager", last) if {p["customer"], p["other"]} & {first}]
    assert [(p["customer"], p["other"]) for p in mine] == [tuple(sorted((first, second)))]
    assert mine[0]["reasons"] == ["phone"] and mine[0]["why"] == "same phone"
    assert {mine[0]["name"], mine[0]["other_name"]} == {"张伟", "Zhang Wei"}

    every = [p for p in pairs(api, "compliance", last) if first in (p["customer"], p["other"])]
    assert {frozenset((p["customer"], p["other"])) for p in every} == {
        frozenset((first, second)),
        frozenset((first, elsewhere)),
    }
    for who in ("rep_a", "analyst", "admin"):
        with api.as_(who) as client:
            problem(client.get("/duplicates"), 403)
    with api.as_("compliance") as c:
        refused = problem(c.get("/duplicates", params={"min_score": 2}), 422)
        assert refused["where"] == "min_score"
        erased = c.post(f"/customers/{elsewhere}/erasure", json={"reason": "asked"})
        assert erased.status_code == 201, erased.text
    after = pairs(api, "compliance", erased.json()["position"])
    assert not [p for p in after if elsewhere in (p["customer"], p["other"])]

    with signed_in(api, "manager") as browser:
        shown = browser.get("/console/duplicates")
        assert shown.status_code == 200 and first in shown.text and "same phone" in shown.text
    with signed_in(api, "rep_a") as browser:
        assert browser.get("/console/duplicates").status_code == 403


def test_a_card_nobody_followed_up_is_in_the_owners_inbox_until_a_contact(api: Api) -> None:
    month_ago = (datetime.now(timezone.utc) - timedelta(days=30)).isoformat()
    card = fresh_customer(api, owner="REP-A", source="trade show 2025", occurred_at=month_ago)
    with api.as_("rep_a") as a:
        inbox = a.get("/service/inbox", params={"limit": 500}).json()["data"]
        (item,) = [i for i in inbox if i["customer"] == card]
        assert (item["item"], item["what"], item["overdue_days"]) == ("card", "trade show 2025", 16)
        problem(a.get("/service/inbox", params={"follow_up_days": 0}), 422)
        contact = a.post(
            f"/customers/{card}/contacts",
            json={"rep": "REP-A", "channel": "phone", "direction": "out", "subject": "hello"},
        )
        assert contact.status_code == 201, contact.text
        params = {"limit": 500, "min_position": contact.json()["position"]}
        inbox = a.get("/service/inbox", params=params).json()["data"]
    assert not [i for i in inbox if i["customer"] == card]
