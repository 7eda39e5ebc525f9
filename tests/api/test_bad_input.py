"""Input from the edges of what a client can send: each is refused with 422, naming the field,
and writes nothing (the log's last position does not move), on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.api.conftest import Api, fresh_customer, new_ref, problem
from tests.conftest import at

PAST_THE_START = "0001-01-01T00:30:00+01:00"  # 0000-12-31T23:30:00Z: before year 1
PAST_THE_END = "9999-12-31T23:30:00-01:00"  # 10000-01-01T00:30:00Z: after year 9999


def head(api: Api) -> int:
    return api.services.ledger.recorder.max_notification_id() or 0


@contextmanager
def nothing_written(api: Api) -> Iterator[None]:
    before = head(api)
    yield
    assert head(api) == before, "a refused request wrote to the log"


def refused(reply: Any, where: str, code: str = "invalid_request") -> dict[str, Any]:
    """The 422 problem of a refused request, naming ``where``."""
    found = problem(reply, 422)
    assert found["where"] == where, found
    assert found["code"] == code, found
    return found


# -- instants past the calendar's edges, once in UTC -------------------------------------------

# (path under the customer, body without the instant, the instant's field)
INSTANTS = [
    ("contacts", {"rep": "REP-A", "channel": "phone", "direction": "in", "subject": "hi"},
     "occurred_at"),
    ("promises", {"rep": "REP-A", "text": "call back"}, "due_by"),
    ("requests", {"kind": "info", "channel": "email", "rep": "REP-A"}, "respond_by"),
    ("quotes", {"rep": "REP-A", "product": "tea", "unit_price": "10", "currency": "CNY"},
     "valid_until"),
]


@pytest.mark.parametrize("instant", [PAST_THE_START, PAST_THE_END])
def test_an_instant_past_the_calendar_in_utc_is_refused_in_every_field(
        api: Api, instant: str) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m, nothing_written(api):
        for path, body, field in INSTANTS:
            found = refused(m.post(f"/customers/{ref}/{path}", json={**body, field: instant}),
                            field)
            assert "outside the calendar in UTC" in found["detail"]
            assert "9999-12-31T23:59:59Z" in found["detail"]
        campaign = {"ref": new_ref("CMP"), "name": "expo", "channel": "email",
                    "budget": "10", "currency": "CNY", "starts_at": instant, "ends_at": at(9)}
        refused(m.post("/campaigns", json=campaign), "starts_at")
        batch = m.post("/commands", json=[{"type": "log_contact", "customer": ref,
                                           "rep": "REP-A", "channel": "phone",
                                           "direction": "in", "subject": "hi",
                                           "occurred_at": instant}])
        found = refused(batch, "commands[0]", "batch_refused")
        assert "log_contact: occurred_at: " in found["errors"][0]["message"]


@pytest.mark.parametrize("instant", [PAST_THE_START, PAST_THE_END])
def test_an_instant_past_the_calendar_is_refused_as_a_query_parameter(
        api: Api, instant: str) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m, nothing_written(api):
        for name in ("since", "until"):
            refused(m.get(f"/customers/{ref}/timeline", params={name: instant}), name)
        refused(m.get("/service/inbox", params={"as_of": instant}), "as_of")
        refused(m.get("/reps/REP-A/dossier", params={"as_of": instant}), "as_of")
        refused(m.get("/reps/REP-A/dossier/open_promises", params={"as_of": instant}),
                "as_of")
    with api.as_("analyst") as analyst:
        for name in ("as_known_at", "as_occurred_by"):
            refused(analyst.get("/reports/retention", params={"period": "2025", name: instant}),
                    name)
        refused(analyst.get("/reports/summary", params={"as_of": instant}), "as_of")
        refused(analyst.get("/reports/retention/diff", params={"period": "2025", "a": instant}),
                "a")
