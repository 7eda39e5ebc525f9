"""The web console, driven in headless Chromium (Debian's package) against a live server on a
small demo world, on SQLite and PostgreSQL: sign in, find a customer, hand a departed rep's
customer over, open the compliance board, run a retention report as known at a past date,
read the access log.
Each test saves screenshots (to $LEDGER_SCREENSHOTS if set: docs/console.md's come from
there)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from api.deps import Services
from ledger.access_log import Access
from ledger.application import Ledger
from ledger.demo import DemoSummary, build_world
from ledger.projections import queries
from replay.catalogue import Ask, report
from replay.core import Reading
from tests.api.conftest import serve
from tests.conftest import fresh_store

PAST = "2025-02-01"  # a reading of the log as it was known then
PERIODS = "2024-11..2025-03"


@dataclass
class Console:
    url: str
    services: Services
    summary: DemoSummary
    shots: Path
    tokens: dict[str, str]

    def shot(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console")
    for settings in fresh_store(request, folder):
        app = Ledger(settings)
        summary = build_world(app, customers=30, days=150)
        app.close()
        server, services = serve(settings)
        tokens = {
            name: services.keys.create(name, role, rep)[1]
            for name, role, rep in (
                ("manager", "manager", "REP-1"),
                ("compliance", "compliance", None),
                ("analyst", "analyst", None),
            )
        }
        caught_up(services)
        shots = Path(os.environ.get("LEDGER_SCREENSHOTS") or folder) / request.param
        shots.mkdir(parents=True, exist_ok=True)
        yield Console(server.url, services, summary, shots, tokens)
        server.stop()


def caught_up(services: Services) -> None:
    head = services.ledger.recorder.max_notification_id() or 0
    deadline = time.monotonic() + 60
    while min(services.runner.positions().values()) < head:
        assert time.monotonic() < deadline, "the views did not catch up"
        time.sleep(0.1)


def signed_in(browser: Browser, console: Console, who: str, path: str = "/console") -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(console.url + path)
    page.get_by_label("API key").fill(console.tokens[who])
    page.get_by_role("button", name="Sign in").click()
    return page


def test_signing_in_opens_a_session_and_a_bad_key_says_why(
    browser: Browser, console: Console
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(console.url + "/console/customers")
    expect(page).to_have_url(f"{console.url}/console/signin?next=%2Fconsole%2Fcustomers")
    page.get_by_label("API key").fill("ldg_nothing_here")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That key is unknown or revoked")
    console.shot(page, "signin")
    page.get_by_label("API key").fill(console.tokens["manager"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Customers")
    cookie = next(c for c in page.context.cookies() if c["name"] == "ledger_session")
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
    assert cookie["expires"] > time.time() + 7 * 3600
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.goto(console.url + "/console/customers")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.close()


def test_the_keyboard_alone_signs_in_and_reaches_every_section(
    browser: Browser, console: Console
) -> None:
    page = browser.new_page()
    page.goto(console.url + "/console/signin")
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(console.tokens["compliance"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Compliance board")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Customers")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Customers")
    expect(page.get_by_label("Reference or name contains")).to_be_focused()
    page.close()


def test_finding_a_customer_and_reading_their_corrected_timeline(
    browser: Browser, console: Console
) -> None:
    ref = console.summary.seeded["corrected_customer"]
    page = signed_in(browser, console, "compliance", "/console/customers")
    page.get_by_label("Reference or name contains").fill(ref)
    page.get_by_role("button", name="Search").click()
    console.shot(page, "customers")
    page.get_by_role("link", name=ref, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Customer {ref}")
    corrected = page.locator("ol.timeline li", has=page.locator("details"))
    expect(corrected.first).to_contain_text("was ")
    console.shot(page, "timeline")
    page.get_by_label("Kind").select_option("Registered")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("ol.timeline li")).to_have_count(1)
    page.goto(console.url + "/console/customers/CUST-NOBODY")
    expect(page.get_by_role("heading", level=1)).to_have_text("404 Not Found")
    expect(page.get_by_role("alert")).to_contain_text("no customer with reference 'CUST-NOBODY'")
    page.goto(console.url + "/console/customers/" + ref + "?since=someday")
    expect(page.get_by_role("alert")).to_contain_text("'someday' is not a date")
    page.close()


def test_a_manager_hands_a_departed_reps_customer_over(browser: Browser, console: Console) -> None:
    departed = console.summary.departed_rep
    page = signed_in(browser, console, "manager", f"/console/reps/{departed}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(departed)
    console.shot(page, "dossier")
    page.get_by_role("link", name="Hand-over").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Hand-over of {departed}")
    boxes = page.locator("input[name=customers]")
    before = boxes.count()
    assert before >= 1
    customer = boxes.first.get_attribute("value")
    assert customer is not None
    boxes.first.check()
    page.get_by_label("New owner").select_option("REP-4")
    page.get_by_label("Reason").fill("territory split after departure")
    page.get_by_role("button", name="Hand over the ticked customers").click()
    done = page.get_by_role("status")
    expect(done).to_contain_text("Handed over to REP-4: 1 customer")
    expect(done).to_contain_text(customer)
    expect(page.locator("input[name=customers]")).to_have_count(before - 1)
    console.shot(page, "handover")
    assert console.services.ledger.customer(customer).owner == "REP-4"
    # The rest of the page at once, each customer to its suggested owner.
    handed, remaining = progress(page)
    shown = page.locator("input[name=customers]")
    ticked = {shown.nth(n).get_attribute("value") for n in range(shown.count())}
    suggested = {
        row.locator("input").get_attribute("value"): row.locator("td")
        .last.inner_text()
        .split(" ")[0]
        for row in page.locator("table:has(caption:text('Owned customers')) tbody tr").all()
    }
    page.get_by_role("button", name="Tick all shown").click()
    page.get_by_role("button", name="Hand the ticked customers to their suggested owners").click()
    expect(page.get_by_role("status")).to_contain_text("Handed over to")
    assert progress(page)[1] < remaining and progress(page)[0] > handed
    console.shot(page, "handover-suggested")
    for ref in ticked:
        assert console.services.ledger.customer(str(ref)).owner == suggested[ref]
    page.close()


def progress(page: Page) -> tuple[int, int]:
    """(handed on, remaining) as the hand-over page says."""
    found = re.search(r"(\d+) handed on, (\d+) remaining", page.locator("#progress").inner_text())
    assert found is not None
    return int(found.group(1)), int(found.group(2))


def test_forms_without_the_sessions_token_are_refused(console: Console) -> None:
    with httpx.Client(base_url=console.url) as http:
        assert http.post("/console/signin", data={"api_key": "ldg_x_y"}).status_code == 401
        http.post("/console/signin", data={"api_key": console.tokens["manager"]})
        refused = http.post(
            f"/console/reps/{console.summary.departed_rep}/handover",
            data={"customers": "CUST-00001", "new_owner": "REP-4", "reason": "forged"},
        )
    assert refused.status_code == 403
    assert "came from another site" in refused.text


def test_compliance_board_lists_broken_promises_and_verifies_the_record(
    browser: Browser, console: Console
) -> None:
    page = signed_in(browser, console, "compliance", "/console/compliance")
    expect(page.get_by_role("heading", level=1)).to_have_text("Compliance board")
    broken = page.get_by_role("table", name="Broken promises")
    expect(broken).to_contain_text(console.summary.seeded["broken_promise_customer"])
    expect(page.get_by_role("table", name="Conflicting quotes")).to_contain_text(
        console.summary.seeded["conflict_customer"]
    )
    orphaned = queries.orphaned_items(console.services.db, as_of=datetime.now(timezone.utc))
    if orphaned.items:  # the departed rep's work nobody took over (or the list is empty)
        expect(page.get_by_role("table", name="Orphaned work")).to_contain_text(
            orphaned.items[0]["id"]
        )
        expect(page.get_by_role("table", name="Orphaned work")).to_contain_text(
            console.summary.departed_rep
        )
    else:
        expect(page.get_by_text("none: every departed rep's open work")).to_be_visible()
    page.get_by_role("button", name="Verify what is new").click()
    expect(page.get_by_role("status")).to_contain_text("All chains verify")
    expect(page.get_by_role("table", name="Last verifications")).to_contain_text("yes")
    head = console.services.ledger.recorder.max_notification_id()
    expect(page.locator("code.digest")).to_have_text(re.compile(rf"^ldg1:{head}:[0-9a-f]{{64}}$"))
    console.shot(page, "compliance")
    page.goto(console.url + "/console/service")
    expect(page.get_by_role("heading", level=1)).to_have_text("Service inbox")
    console.shot(page, "service")
    page.close()


def test_an_analyst_runs_retention_as_known_at_a_past_date(
    browser: Browser, console: Console
) -> None:
    page = signed_in(browser, console, "analyst", "/console/reports")
    page.get_by_label("Report", exact=True).select_option("retention")
    page.get_by_label("Period").fill(PERIODS)
    page.get_by_label("as known at").check()
    page.get_by_label("date", exact=True).fill(PAST)
    page.get_by_role("button", name="Run the report").click()
    expect(page.get_by_role("img", name="Retention and churn by period")).to_be_visible()
    table = page.get_by_role("table", name="retention")
    header = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    shown = [
        dict(zip(header, (c.strip() for c in row.locator("td").all_inner_texts()), strict=True))
        for row in table.locator("tbody tr").all()
    ]
    end_of_day = datetime(2025, 2, 1, 23, 59, 59, 999999, tzinfo=timezone.utc)  # a date
    known = report(
        console.services.ledger, Ask("retention", period=PERIODS), Reading(as_known_at=end_of_day)
    )
    assert [(r["period"], r["active at end"], r["new"]) for r in shown] == [
        (r["period"], str(r["active_at_end"]), str(r["new"])) for r in known.rows
    ]
    assert known.stamp is not None and known.stamp.digest is not None
    stamp = page.get_by_role("list", name="Reading")
    expect(stamp).to_contain_text(
        "as known at 2025-02-01T23:59:59.999999Z, log position "
        f"{known.stamp.position}, digest {known.stamp.digest}"
    )
    console.shot(page, "reports")
    link = page.get_by_role("link", name="Download this table as CSV").get_attribute("href")
    csv = page.request.get(console.url + (link or ""))
    assert csv.ok and csv.text().splitlines()[0].startswith("period,active_at_start")
    assert csv.headers["x-ledger-reading"] == "as known at 2025-02-01T23:59:59.999999Z"
    assert csv.headers["x-ledger-position"] == str(known.stamp.position)
    assert csv.headers["x-ledger-digest"] == known.stamp.digest
    assert csv.headers["content-disposition"] == (
        f'attachment; filename="retention-position-{known.stamp.position}.csv"'
    )
    page.close()


def test_the_hand_over_page_shows_nothing_of_customers_outside_reach(
    browser: Browser, console: Console
) -> None:
    """A manager naming another team's customer in the page's address sees only its
    reference, not its promises (the API answers 404 for it)."""
    from api.deps import may_read_customer
    from ledger.errors import UnknownReference
    from ledger.projections.dossier import find_customers
    from ledger.projections.promises import promises_of

    services = console.services
    key = next(k for k in services.keys.list() if k.name == "manager")
    outside = None
    for customer in find_customers(
        services.db, "CUST", index_key=services.ledger.index_key, limit=500
    ):
        try:
            may_read_customer(services, key, customer["ref"])
        except UnknownReference:
            outside = customer["ref"]
            break
    assert outside is not None, "the demo world has customers outside REP-1's team"
    promises = promises_of(services.db, outside).items
    departed = console.summary.departed_rep
    page = signed_in(
        browser, console, "manager", f"/console/reps/{departed}/handover?moved={outside}&to=REP-9"
    )
    status = page.get_by_role("status")
    expect(status).to_contain_text(outside)
    expect(status).to_contain_text("outside your team now")
    for promise in promises:
        assert promise["text"] not in page.content()
    page.close()


def test_compliance_erases_a_customer_from_their_page(browser: Browser, console: Console) -> None:
    """The console's erasure is the API's and the CLI's: recorded with its reason, and the key
    destroyed in the same transaction; the page then shows nothing personal."""
    services = console.services
    ref = max(
        f"CUST-{n:05d}"
        for n in range(1, console.summary.customers + 1)
        if f"CUST-{n:05d}" not in console.summary.seeded.values()
    )
    name = services.ledger.customer(ref).profile["name"]
    assert name
    page = signed_in(browser, console, "compliance", f"/console/customers/{ref}")
    page.get_by_text("Erase this customer's personal data").click()
    page.get_by_label("Reason (kept with the erasure)").fill("asked to be forgotten")
    page.get_by_role("button", name="Erase personal data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Customer {ref}")
    expect(page.locator("ol.timeline")).to_contain_text("personal data erased")
    assert name not in page.content()
    customer = services.ledger.customer(ref)
    assert customer.erased and customer.profile["name"] is None
    stream = str(customer.id)
    assert services.ledger.mapper.keys.read([stream]) == {stream: None}  # type: ignore[attr-defined]
    page.close()
    page = signed_in(browser, console, "manager", f"/console/customers/{ref}")
    expect(page.get_by_text("Erase this customer's personal data")).to_have_count(0)


def test_compliance_and_admins_read_the_access_log(browser: Browser, console: Console) -> None:
    log = console.services.access
    first, second = "CUST-AUDIT-A", "CUST-AUDIT-B"  # (the pages other tests open are read too)
    for n in range(55):  # more than a page
        log.record(
            [
                Access(
                    key="telephony" if n % 2 else "REP-1",
                    role="rep",
                    what="GET /customers/{ref}/timeline",
                    interface="api",
                    customer=first if n < 50 else second,
                    fields=("profile", "timeline"),
                    purpose=f"call {n}",
                )
            ]
        )
    page = signed_in(browser, console, "compliance", "/console/compliance")
    page.get_by_role("link", name="Access log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Access log")
    reads = page.get_by_role("table", name="Reads, newest first")
    expect(reads.locator("tbody tr").first).to_contain_text("GET /console/compliance")
    expect(reads.locator("tbody tr")).to_have_count(50)
    page.get_by_role("link", name="Older reads").click()
    expect(reads.locator("tbody tr").first).to_be_visible()
    page.get_by_label("Key").fill("REP-1")
    page.get_by_role("button", name="Show").click()
    expect(reads.locator("tbody tr")).to_have_count(28)  # calls 0, 2, ..., 54
    expect(reads.locator("tbody tr").first).to_contain_text("call 54")
    expect(reads.locator("tbody tr").first).to_contain_text("profile, timeline")
    page.get_by_label("Key").fill("")
    page.get_by_label("Customer").fill(first)
    page.get_by_role("button", name="Show").click()
    expect(reads.locator("tbody tr")).to_have_count(50)
    expect(reads.locator("tbody tr").first).to_contain_text("call 49")
    page.get_by_label("Customer").fill(second)
    page.get_by_label("Key").fill("telephony")
    page.get_by_role("button", name="Show").click()
    expect(reads.locator("tbody tr")).to_have_count(2)  # calls 51 and 53
    expect(reads.locator("tbody tr").first).to_contain_text("call 53")
    console.shot(page, "access-log")
    page.get_by_label("Since").fill("2999-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("no read matches these filters")).to_be_visible()
    page.close()

    console.tokens.setdefault("admin", console.services.keys.create("admin", "admin")[1])
    page = signed_in(browser, console, "admin", f"/console/audit?customer={second}")
    expect(page.get_by_role("link", name="Access log")).to_be_visible()
    expect(page.get_by_role("table", name="Reads, newest first").locator("tbody tr")).to_have_count(
        5
    )
    page.close()
    page = signed_in(browser, console, "manager", "/console/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("403 Forbidden")
    expect(page.get_by_role("alert")).to_contain_text("may not read the access log")
    expect(page.get_by_role("link", name="Access log")).to_have_count(0)
    page.close()


def test_a_summary_of_one_currency_runs_in_the_console(browser: Browser, console: Console) -> None:
    page = signed_in(browser, console, "analyst", "/console/reports")
    page.get_by_label("Report", exact=True).select_option("summary")
    page.get_by_label("As of").fill("2025-06-30")
    page.get_by_label("Currency").fill("cny")
    page.get_by_role("button", name="Run the report").click()
    table = page.get_by_role("table", name="summary")
    expect(table).to_be_visible()
    expected = report(
        console.services.ledger,
        Ask(
            "summary",
            as_of=datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=timezone.utc),
            currency="CNY",
        ),
        Reading(),
    )
    expect(table.locator("tbody tr")).to_have_count(min(len(expected.rows), 500))
    page.close()
