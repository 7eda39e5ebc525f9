"""Safe retries, read-your-writes, and paging through a list."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import Api, fresh_customer, problem, serve
from tests.conftest import fresh_store

CONTACT = {"rep": "REP-A", "channel": "phone", "direction": "out", "subject": "call"}


def test_a_repeated_request_with_an_idempotency_key_returns_the_first_response(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m:
        headers = {"Idempotency-Key": "call-7731"}
        first = m.post(f"/customers/{ref}/contacts", json=CONTACT, headers=headers)
        again = m.post(f"/customers/{ref}/contacts", json=CONTACT, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        changed = m.post(
            f"/customers/{ref}/contacts", json={**CONTACT, "subject": "other"}, headers=headers
        )
        assert problem(changed, 422)["code"] == "command_id_reused"
        assert m.get(f"/customers/{ref}").json()["entries"] == {"contact": 1}


def test_idempotency_keys_belong_to_the_key_that_sent_them(api: Api) -> None:
    ref = fresh_customer(api)
    headers = {"Idempotency-Key": "same-words"}
    with api.as_("manager") as m, api.as_("rep_a") as rep:
        mine = m.post(f"/customers/{ref}/contacts", json=CONTACT, headers=headers)
        theirs = rep.post(f"/customers/{ref}/contacts", json=CONTACT, headers=headers)
        assert mine.status_code == theirs.status_code == 201
        assert mine.json()["entry_id"] != theirs.json()["entry_id"]


def test_a_batch_retried_with_its_key_writes_nothing_more(api: Api) -> None:
    ref = fresh_customer(api)
    batch = [
        {"type": "log_contact", "customer": ref, **CONTACT},
        {"type": "log_contact", "customer": ref, **CONTACT, "subject": "again"},
    ]
    with api.as_("manager") as m:
        first = m.post("/commands", json=batch, headers={"Idempotency-Key": "b-1"})
        again = m.post("/commands", json=batch, headers={"Idempotency-Key": "b-1"})
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        for other in (batch[:1], [*batch, {**batch[0], "subject": "more"}]):
            reused = m.post("/commands", json=other, headers={"Idempotency-Key": "b-1"})
            assert problem(reused, 422)["where"] == "Idempotency-Key"
        assert m.get(f"/customers/{ref}").json()["version"] == 3


def test_a_read_waits_for_the_position_a_write_returned(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m:
        for n in range(5):
            written = m.post(
                f"/customers/{ref}/promises",
                json={"rep": "REP-A", "text": f"promise {n}", "due_by": "2030-01-01T00:00:00Z"},
            ).json()
        seen = m.get(
            f"/customers/{ref}/promises", params={"min_position": written["position"]}
        ).json()["data"]
        assert [p["text"] for p in seen] == [f"promise {n}" for n in range(5)]
        future = m.get(
            f"/customers/{ref}/promises", params={"min_position": written["position"] + 1_000_000}
        )
        assert "beyond the log" in problem(future, 422)["detail"]


def test_a_view_that_does_not_catch_up_in_time_is_503_with_retry_after(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for settings in fresh_store(request, tmp_path, store_kind):
        server, services = serve(settings, follow=False, max_wait=0.5)  # no projections
        try:
            api = Api(server.url, services, {"admin": services.keys.create("a", "admin")[1]})
            with api.as_("admin") as admin:
                hired = admin.post("/reps", json={"ref": "REP-1", "name": "A", "team": "t"})
                api.tokens["rep"] = api.key("r", "rep", "REP-1")
            with api.as_("rep") as rep:
                behind = rep.get(
                    "/reps/REP-1/dossier", params={"min_position": hired.json()["position"]}
                )
            found = problem(behind, 503)
            assert found["code"] == "view_behind" and found["where"] == "min_position"
            assert behind.headers["Retry-After"].isdigit()
        finally:
            server.stop()


def test_lists_are_paged_by_cursor(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m:
        for n in range(5):
            position = m.post(
                f"/customers/{ref}/contacts", json={**CONTACT, "subject": f"call {n}"}
            ).json()["position"]
        pages, cursor = [], None
        while True:
            params = {
                "limit": 2,
                "min_position": position,
                "kind": "ContactLogged",
                **({"cursor": cursor} if cursor else {}),
            }
            page = m.get(f"/customers/{ref}/timeline", params=params).json()
            pages.append([line["details"]["subject"] for line in page["data"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == [["call 0", "call 1"], ["call 2", "call 3"], ["call 4"]]
        bad = problem(m.get(f"/customers/{ref}/timeline", params={"cursor": "!!"}), 422)
        assert bad["where"] == "cursor"
