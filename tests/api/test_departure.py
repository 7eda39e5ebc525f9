"""A departure ends access: the keys that act as a departed rep are refused from the
departure's time, over the API and in the console, saying why."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.api.conftest import Api, fresh_customer, new_ref, problem


def hired(api: Api) -> tuple[str, str]:
    """A new rep in REP-M's team, and a key that acts as them."""
    rep = new_ref("REP")
    with api.as_("admin") as admin:
        assert (
            admin.post(
                "/reps", json={"ref": rep, "name": "Leaves", "team": "east", "manager": "REP-M"}
            ).status_code
            == 201
        )
    return rep, api.key(f"key-{rep}", "rep", rep)


def test_a_departed_reps_keys_and_console_sessions_end(api: Api) -> None:
    rep, token = hired(api)
    ref = fresh_customer(api, owner=rep)
    headers = {"Authorization": f"Bearer {token}"}
    with api.as_(None, **headers) as mine, api.as_(None) as browser:
        assert mine.get(f"/customers/{ref}").status_code == 200
        assert browser.post("/console/signin", data={"api_key": token}).status_code == 303
        assert browser.get("/console/customers").status_code == 200
        with api.as_("manager") as manager:
            assert (
                manager.post(f"/reps/{rep}/departure", json={"reason": "moved abroad"}).status_code
                == 201
            )
        refused = problem(mine.get(f"/customers/{ref}"), 401)
        assert f"acts as {rep}, who departed on" in refused["detail"]
        problem(
            mine.post(
                f"/customers/{ref}/contacts",
                json={"rep": rep, "channel": "phone", "direction": "out", "subject": "bye"},
            ),
            401,
        )
        session = browser.get("/console/customers")
        assert session.status_code in (302, 303, 307)  # back to signing in
        assert "/console/signin" in session.headers["location"]
        again = browser.post("/console/signin", data={"api_key": token})
        assert again.status_code == 401 and "who departed on" in again.text
    with api.as_("admin") as admin:  # the list of keys shows it revoked from the departure
        listed = {k["name"]: k for k in admin.get("/keys").json()}
    assert listed[f"key-{rep}"]["revoked_at"] is not None


def test_a_departure_dated_ahead_ends_access_only_then(api: Api) -> None:
    rep, token = hired(api)
    ref = fresh_customer(api, owner=rep)
    leaving = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    with api.as_("manager") as manager:
        assert (
            manager.post(
                f"/reps/{rep}/departure", json={"reason": "notice given", "occurred_at": leaving}
            ).status_code
            == 201
        )
    with api.as_(None, Authorization=f"Bearer {token}") as mine:
        assert mine.get(f"/customers/{ref}").status_code == 200
