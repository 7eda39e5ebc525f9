"""Input from the edges of what a client can send: each is refused with 422, naming the field,
and writes nothing (the log's last position does not move), on both stores."""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from ledger.ids import stream_id
from tests.api.conftest import Api, fresh_customer, new_ref, problem, signed_in
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


# -- instants past the calendar's edges, once in UTC ------------------------------------------

# (path under the customer, body without the instant, the instant's field)
INSTANTS = [
    (
        "contacts",
        {"rep": "REP-A", "channel": "phone", "direction": "in", "subject": "hi"},
        "occurred_at",
    ),
    ("promises", {"rep": "REP-A", "text": "call back"}, "due_by"),
    ("requests", {"kind": "info", "channel": "email", "rep": "REP-A"}, "respond_by"),
    (
        "quotes",
        {"rep": "REP-A", "product": "tea", "unit_price": "10", "currency": "CNY"},
        "valid_until",
    ),
]


@pytest.mark.parametrize("instant", [PAST_THE_START, PAST_THE_END])
def test_an_instant_past_the_calendar_in_utc_is_refused_in_every_field(
    api: Api, instant: str
) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m, nothing_written(api):
        for path, body, field in INSTANTS:
            found = refused(
                m.post(f"/customers/{ref}/{path}", json={**body, field: instant}), field
            )
            assert "outside the calendar in UTC" in found["detail"]
            assert "9999-12-31T23:59:59Z" in found["detail"]
        campaign = {
            "ref": new_ref("CMP"),
            "name": "expo",
            "channel": "email",
            "budget": "10",
            "currency": "CNY",
            "starts_at": instant,
            "ends_at": at(9),
        }
        refused(m.post("/campaigns", json=campaign), "starts_at")
        batch = m.post(
            "/commands",
            json=[
                {
                    "type": "log_contact",
                    "customer": ref,
                    "rep": "REP-A",
                    "channel": "phone",
                    "direction": "in",
                    "subject": "hi",
                    "occurred_at": instant,
                }
            ],
        )
        found = refused(batch, "commands[0]", "batch_refused")
        assert "log_contact: occurred_at: " in found["errors"][0]["message"]


@pytest.mark.parametrize("instant", [PAST_THE_START, PAST_THE_END])
def test_an_instant_past_the_calendar_is_refused_as_a_query_parameter(
    api: Api, instant: str
) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m, nothing_written(api):
        for name in ("since", "until"):
            refused(m.get(f"/customers/{ref}/timeline", params={name: instant}), name)
        refused(m.get("/service/inbox", params={"as_of": instant}), "as_of")
        refused(m.get("/reps/REP-A/dossier", params={"as_of": instant}), "as_of")
        refused(m.get("/reps/REP-A/dossier/open_promises", params={"as_of": instant}), "as_of")
    with api.as_("analyst") as analyst:  # reports read their dates themselves (a date alone)
        for name in ("as_known_at", "as_occurred_by"):
            found = refused(
                analyst.get("/reports/retention", params={"period": "2025", name: instant}),
                name,
                "invalid_command",
            )
            assert "outside the calendar in UTC" in found["detail"]
        refused(
            analyst.get("/reports/summary", params={"as_of": instant}), "as_of", "invalid_command"
        )
        refused(
            analyst.get("/reports/retention/diff", params={"period": "2025", "a": instant}),
            "a",
            "invalid_command",
        )


# -- paging cursors that this ledger never gave out -------------------------------------------


def cursor(values: Any) -> str:
    """A cursor as the ledger writes one, holding any JSON."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


FORGED = {
    "a list of the wrong length": "WzFd",  # [1]
    "numbers for text": cursor([1, 2]),  # on PostgreSQL: text compared with an integer
    "a list too long": cursor(["2025-03-01T09:00:00.000000Z"] * 6),
    "a number past 64 bits": cursor(["2025-03-01T09:00:00.000000Z", 10**30]),
    "true for a number": cursor(["2025-03-01T09:00:00.000000Z", True]),
    "a list in a list": cursor([["2025"], 1]),
    "a NUL in text": cursor(["2025\u0000", "P-1"]),
    "a lone surrogate": cursor(["\ud800", "P-1"]),
    "an object": cursor({"after": 1}),
    "null": cursor(None),
}


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
def test_a_cursor_the_ledger_never_gave_out_is_refused_by_every_list(api: Api, forged: str) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m, nothing_written(api):
        for path in ("timeline", "promises", "quotes"):
            found = refused(
                m.get(f"/customers/{ref}/{path}", params={"cursor": forged}),
                "cursor",
                "invalid_command",
            )
            assert "next_cursor of the previous page" in found["detail"]
        refused(m.get("/service/inbox", params={"cursor": forged}), "cursor", "invalid_command")
        text_for_a_number = cursor(["2025-03-01T09:00:00.000000Z", "2"])  # occurred, version
        refused(
            m.get(f"/customers/{ref}/timeline", params={"cursor": text_for_a_number}),
            "cursor",
            "invalid_command",
        )
    with api.as_("compliance") as c:
        for path in ("conflicts", "violations"):
            refused(
                c.get(f"/compliance/{path}", params={"cursor": forged}), "cursor", "invalid_command"
            )


def test_the_cursors_the_ledger_gives_out_still_page_through(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("rep_a") as rep:
        for day in range(3):
            made = rep.post(
                f"/customers/{ref}/promises",
                json={"text": f"call {day}", "occurred_at": at(day), "due_by": at(30 + day)},
            )
            assert made.status_code == 201, made.text
        position = made.json()["position"]
        seen: dict[str, list[Any]] = {"promises": [], "timeline": []}
        for path in seen:
            params: dict[str, Any] = {"limit": 1, "min_position": position}
            while True:
                page = rep.get(f"/customers/{ref}/{path}", params=params).json()
                seen[path] += page["data"]
                if page["next_cursor"] is None:
                    break
                params["cursor"] = page["next_cursor"]
    assert [p["text"] for p in seen["promises"]] == ["call 0", "call 1", "call 2"]
    # in business time: the promises were made before the customer was registered here
    assert [line["kind"] for line in seen["timeline"]] == [*["PromiseMade"] * 3, "Registered"]


# -- offsets and limits past what a database takes --------------------------------------------

HUGE = [10**20, 2**63, 10**9 + 1]


@pytest.mark.parametrize("offset", HUGE)
def test_a_huge_offset_into_a_dossier_list_is_refused(api: Api, offset: int) -> None:
    with api.as_("manager") as m, nothing_written(api):
        for section in ("customers_owned", "open_promises", "handover"):
            found = refused(
                m.get(f"/reps/REP-A/dossier/{section}", params={"offset": offset}), "offset"
            )
            assert "less than or equal to 1000000000" in found["detail"]
        assert (
            m.get("/reps/REP-A/dossier/customers_owned", params={"offset": 10**9}).json()["items"]
            == []
        )  # the largest is read
        for path in ("/customers/CUST-x/promises", "/service/inbox", "/reps/REP-A/dossier"):
            refused(m.get(path, params={"limit": offset}), "limit")


@pytest.mark.parametrize("offset", HUGE)
def test_a_huge_offset_in_the_consoles_lists_is_refused(api: Api, offset: int) -> None:
    with signed_in(api, "manager") as console, nothing_written(api):
        for name in ("owned", "items"):
            page = console.get("/console/reps/REP-A/handover", params={name: offset})
            assert page.status_code == 422, page.text
            assert "less than or equal to 1000000000" in page.text
        page = console.get(
            "/console/reps/REP-A", params={"section": "customers_owned", "offset": offset}
        )
        assert page.status_code == 422, page.text
        assert (
            console.get(
                "/console/reps/REP-A/handover", params={"owned": 10**9, "items": 10**9}
            ).status_code
            == 200
        )


# -- reports at the calendar's edges ----------------------------------------------------------

LAST = "9999-12-31T23:59:59Z"
EDGE_PERIODS = ["9999", "9999-Q4", "9999-12", "0000"]


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where replays make their temporary stores (the server runs in this process)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_reports_at_the_calendars_edges_are_refused_saying_which_years(
    api: Api, temp_dir: Path
) -> None:
    with api.as_("analyst") as analyst, nothing_written(api):
        for period in EDGE_PERIODS:
            for reading in ({}, {"as_known_at": "2030-01-01T00:00:00Z"}):
                found = refused(
                    analyst.get("/reports/retention", params={"period": period, **reading}),
                    "period",
                    "invalid_command",
                )
                assert "outside the years reports cover, 0001 to 9998" in found["detail"]
            refused(
                analyst.get(
                    "/reports/retention/diff",
                    params={"period": period, "a": "2030-01-01T00:00:00Z"},
                ),
                "period",
                "invalid_command",
            )
        for name in ("as_known_at", "as_occurred_by"):
            found = refused(
                analyst.get("/reports/retention", params={"period": "2025", name: LAST}),
                name,
                "invalid_command",
            )
            assert "past the last instant reports cover, 9998-12-31T23:59:59Z" in found["detail"]
        for name in ("summary", "churn-risk", "relationship"):
            refused(
                analyst.get(f"/reports/{name}", params={"as_of": LAST}), "as_of", "invalid_command"
            )
        for name in ("a", "b"):
            refused(
                analyst.get(
                    "/reports/retention/diff",
                    params={"period": "2025", "a": "2030-01-01T00:00:00Z", name: LAST},
                ),
                name,
                "invalid_command",
            )
        last = analyst.get(
            "/reports/retention",
            params={"period": "9998-Q4", "as_known_at": "9998-12-31T23:59:59Z"},
        )
        assert last.status_code == 200, last.text
    assert [p.name for p in temp_dir.iterdir()] == []  # no replay's folder left behind


def test_the_consoles_report_page_and_csv_refuse_the_calendars_edges(
    api: Api, temp_dir: Path
) -> None:
    with signed_in(api, "analyst") as console, nothing_written(api):
        for period in EDGE_PERIODS:
            for reading in ({"reading": "now"}, {"reading": "known", "at": "2030-01-01"}):
                form = {"name": "retention", "period": period, **reading}
                page = console.get("/console/reports", params={**form, "run": "1"})
                assert page.status_code == 422, page.text
                assert "outside the years reports cover" in page.text
                download = console.get("/console/reports.csv", params=form)
                assert download.status_code == 422, download.text
        for form in (
            {"reading": "known", "at": LAST},
            {"reading": "occurred", "at": LAST},
            {"diff_a": LAST},
            {"diff_a": "2030-01-01", "diff_b": LAST},
            {"as_of": LAST, "name": "summary"},
        ):
            form = {"name": "retention", "period": "2025", **form}
            for path, extra in (("/console/reports", {"run": "1"}), ("/console/reports.csv", {})):
                page = console.get(path, params={**form, **extra})
                assert page.status_code == 422, page.text
                assert "past the last instant reports cover" in page.text
    assert [p.name for p in temp_dir.iterdir()] == []


# -- JSON nested deep -------------------------------------------------------------------------


def nested(depth: int, leaf: str = '"x"') -> str:
    """JSON text of maps ``depth`` deep around ``leaf`` (built as text: too deep to encode)."""
    return '{"a": ' * depth + leaf + "}" * depth


@pytest.mark.parametrize("depth", [2, 400])
def test_a_corrected_value_nested_deep_is_refused_naming_its_field(api: Api, depth: int) -> None:
    ref = fresh_customer(api)
    with api.as_("manager") as m:
        bought = m.post(
            f"/customers/{ref}/purchases",
            json={"order_id": "O-1", "amount": "10", "currency": "CNY"},
        )
        assert bought.status_code == 201, bought.text
        json_body = {"content-type": "application/json"}
        with nothing_written(api):
            body = (
                f'{{"entry_id": "O-1", "reason": "typo", "fields": {{"summary": {nested(depth)}}}}}'
            )
            found = refused(
                m.post(f"/customers/{ref}/corrections", content=body, headers=json_body),
                "fields.summary",
            )
            assert "nests maps or lists too deep" in found["detail"]
            batch = (
                f'[{{"type": "correct_entry", "customer": "{ref}", "entry_id": "O-1", '
                f'"reason": "typo", "fields": {{"amount": {nested(depth)}}}}}]'
            )
            found = refused(
                m.post("/commands", content=batch, headers=json_body),
                "commands[0]",
                "batch_refused",
            )
            assert "correct_entry: fields.amount: nests maps or lists too deep" in found["detail"]
            other = (
                f'[{{"type": "log_contact", "customer": "{ref}", "rep": "REP-A", '
                f'"channel": "phone", "direction": "in", "subject": {nested(depth)}}}]'
            )
            refused(
                m.post("/commands", content=other, headers=json_body),
                "commands[0]",
                "batch_refused",
            )
        survey = m.post(
            f"/customers/{ref}/satisfaction",
            json={"items": {"delivery": "satisfied"}, "survey_id": "S-1"},
        )
        assert survey.status_code == 201, survey.text
        corrected = m.post(
            f"/customers/{ref}/corrections",
            json={
                "entry_id": "S-1",
                "reason": "misread",
                "fields": {"items": {"delivery": "very_satisfied"}},
            },
        )
        assert corrected.status_code == 201, corrected.text  # the one map in a map


def test_a_body_nested_too_deep_to_read_is_refused(api: Api) -> None:
    ref = fresh_customer(api)
    json_body = {"content-type": "application/json"}
    with api.as_("manager") as m, nothing_written(api):
        for path in (f"/customers/{ref}/corrections", "/commands"):
            found = refused(
                m.post(path, content=nested(100_000), headers=json_body), "body", "invalid_body"
            )
            assert "nests too deep to read" in found["detail"]


# -- churn-risk's horizon ---------------------------------------------------------------------


@pytest.mark.parametrize("horizon", ["inf", "-inf", "nan", "1e300", "5218", "0"])  # weeks
def test_a_horizon_without_figures_is_refused(api: Api, horizon: str) -> None:
    asked = {"as_of": "2025-06-01T00:00:00Z", "horizon": horizon}
    with api.as_("analyst") as analyst, nothing_written(api):
        found = problem(analyst.get("/reports/churn-risk", params=asked), 422)
        assert found["where"] == "horizon", found
        diff = problem(
            analyst.get("/reports/churn-risk/diff", params={**asked, "a": "2025-06-01T00:00:00Z"}),
            422,
        )
        assert diff["where"] == "horizon", diff
        if horizon not in ("nan", "-inf", "0"):  # those the parameter's own bound refuses
            assert "at most a century (36,525 days)" in found["detail"]


# -- look-alike references -------------------------------------------------------------------


def full_width(text: str) -> str:
    """The same reference in full-width letters and digits (CUST-0012 as typed by an IME)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_a_look_alike_reference_is_the_same_customer_everywhere(api: Api) -> None:
    ref = new_ref()
    wide = full_width(ref)
    assert wide != ref
    with api.as_("manager") as m:
        registered = m.post("/customers", json={"ref": wide, "name": "王伟", "owner": "REP-A"})
        assert registered.status_code == 201, registered.text
        assert registered.json()["ref"] == ref
        assert registered.json()["id"] == str(stream_id("customer", ref))
        with nothing_written(api):
            again = problem(m.post("/customers", json={"ref": ref, "name": "王伟"}), 409)
            assert again["code"] == "duplicate_reference"
        logged = m.post(
            f"/customers/{wide}/contacts",
            json={
                "rep": full_width("REP-A"),
                "channel": "phone",
                "direction": "in",
                "subject": "hi",
            },
        )
        assert logged.status_code == 201, logged.text
        position = logged.json()["position"]
        assert m.get(f"/customers/{wide}").json()["version"] == 2
        for path in ("timeline", "promises", "quotes"):
            found = m.get(
                f"/customers/{wide}/{path}",
                params={"min_position": position, "rep": full_width("REP-A")},
            )
            assert found.status_code == 200, found.text
        lines = m.get(f"/customers/{ref}/timeline").json()["data"]
        assert [line["kind"] for line in lines] == ["Registered", "ContactLogged"]
        dossier = m.get(f"/reps/{full_width('REP-A')}/dossier").json()
        assert ref in {row["customer"] for row in dossier["customers_owned"]}
    with api.as_("rep_a") as rep:  # a key's rep, and the rep a command names, agree
        assert (
            rep.post(
                f"/customers/{wide}/contacts",
                json={"rep": "REP-A", "channel": "phone", "direction": "out", "subject": "back"},
            ).status_code
            == 201
        )


UNSEEN = {
    "zero-width space": "\u200b",
    "byte-order mark": "\ufeff",
    "a control character": "\x01",
    "right-to-left mark": "\u200f",
}


@pytest.mark.parametrize("char", UNSEEN.values(), ids=UNSEEN.keys())
def test_a_reference_holding_a_character_nobody_can_see_is_refused(api: Api, char: str) -> None:
    ref = fresh_customer(api)
    hidden = f"{ref[:6]}{char}{ref[6:]}"
    with api.as_("manager") as m, nothing_written(api):
        found = refused(m.post("/customers", json={"ref": hidden, "name": "x"}), "ref")
        assert f"cannot hold U+{ord(char):04X}" in found["detail"]
        refused(
            m.post("/customers", json={"ref": new_ref(), "name": "x", "owner": f"REP-A{char}"}),
            "owner",
        )
        refused(
            m.post(
                f"/customers/{ref}/contacts",
                json={
                    "rep": "REP-A",
                    "channel": "phone",
                    "direction": "in",
                    "subject": "hi",
                    "contact_id": f"C{char}1",
                },
            ),
            "contact_id",
        )
        batch = m.post(
            "/commands",
            json=[
                {
                    "type": "log_contact",
                    "customer": hidden,
                    "rep": "REP-A",
                    "channel": "phone",
                    "direction": "in",
                    "subject": "hi",
                }
            ],
        )
        refused(batch, "commands[0]", "batch_refused")
        refused(m.get(f"/customers/{quote(hidden)}"), "ref")
        refused(m.get(f"/customers/{quote(hidden)}/timeline"), "ref")
        refused(m.get(f"/customers/{ref}/promises", params={"rep": f"REP-A{char}"}), "rep")
        refused(m.get(f"/reps/{quote(f'REP-A{char}')}/dossier"), "ref")
    with api.as_("compliance") as c:
        refused(c.get("/compliance/conflicts", params={"customer": hidden}), "customer")
        refused(c.get("/integrity/verify", params={"customer": hidden}), "customer")


def test_the_console_reads_a_look_alike_reference_as_the_customer(api: Api) -> None:
    ref = fresh_customer(api)
    with signed_in(api, "manager") as console:
        page = console.get(f"/console/customers/{quote(full_width(ref))}")
        assert page.status_code == 200, page.text
        assert ref in page.text
        hidden = console.get(f"/console/customers/{quote(ref + chr(0x200B))}")
        assert hidden.status_code == 422 and "U+200B" in hidden.text
        dossier = console.get(f"/console/reps/{quote(full_width('REP-A'))}")
        assert dossier.status_code == 200, dossier.text


# -- NUL characters, which PostgreSQL cannot take ----------------------------------------------


def test_a_nul_in_a_path_or_query_parameter_is_refused(api: Api) -> None:
    ref = fresh_customer(api)
    nul = "a\x00"
    with api.as_("manager") as m, nothing_written(api):
        refused(
            m.get(f"/customers/{ref}/timeline", params={"kind": nul}), "kind", "invalid_command"
        )
        refused(
            m.get(f"/customers/{ref}/quotes", params={"cursor": nul}), "cursor", "invalid_command"
        )
    with api.as_("analyst") as analyst:
        refused(
            analyst.get(
                "/reports/summary", params={"as_of": "2025-01-01T00:00:00Z", "currency": nul}
            ),
            "currency",
            "invalid_command",
        )
    with api.as_("admin") as admin:
        refused(admin.post(f"/keys/{quote(nul)}/revoke"), "name", "invalid_command")
        refused(
            admin.post("/keys", json={"name": nul, "role": "analyst"}), "name", "invalid_command"
        )
        assert nul not in {key["name"] for key in admin.get("/keys").json()}
    with signed_in(api, "manager") as console:
        for path, params in (
            ("/console/customers", {"q": nul}),
            (f"/console/customers/{ref}", {"kind": nul}),
            ("/console/reps/REP-A/handover", {"moved": nul}),
        ):
            page = console.get(path, params=params)
            assert page.status_code == 422 and "NUL character" in page.text, page.text
    with httpx.Client(base_url=api.url, timeout=30) as visitor:
        signin = visitor.post("/console/signin", data={"api_key": "ldg_a\x00_b"})
        assert signin.status_code == 401, signin.text
