"""The event-registration story in the console, in headless Chromium, on both stores: a
manager registers a customer for yesterday's seminar (registered ten days ago, to be answered
within three); unanswered, it is in the service inbox; confirmed (dated nine days ago: it was
answered in time, recorded late), it leaves the inbox; attendance is recorded; an analyst's
campaigns report counts the registration, the confirmation and the attendance against the
spend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from api.deps import Services
from ledger.application import Ledger
from ledger.commands import parse_command
from tests.api.conftest import serve
from tests.conftest import fresh_store
from tests.console.test_console import caught_up

TODAY = datetime.now(timezone.utc).date()


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def noon(offset: int) -> str:
    return datetime.combine(day(offset), time(12), timezone.utc).isoformat()


@dataclass
class Site:
    url: str
    services: Services
    tokens: dict[str, str]
    shots: Path

    def shot(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """REP-1 manages REP-2, who owns CUST-1; SEM-1, a seminar held yesterday for 20 people,
    cost 2,400 CNY."""
    folder = tmp_path_factory.mktemp("events")
    for settings in fresh_store(request, folder):
        app = Ledger(settings)
        commands: list[dict[str, Any]] = [
            {"type": "hire_rep", "ref": "REP-1", "name": "李娜", "team": "east"},
            {"type": "hire_rep", "ref": "REP-2", "name": "Tom", "team": "east", "manager": "REP-1"},
            {"type": "register_customer", "ref": "CUST-1", "name": "王伟", "owner": "REP-2"},
            {
                "type": "launch_campaign",
                "ref": "SEM-1",
                "name": "春季品茶研讨会",
                "channel": "event",
                "budget": "5000",
                "currency": "CNY",
                "starts_at": noon(-40),
                "ends_at": noon(10),
                "kind": "seminar",
                "event_at": noon(-1),
                "capacity": 20,
            },
            {
                "type": "record_campaign_cost",
                "campaign": "SEM-1",
                "amount": "2400",
                "currency": "CNY",
                "occurred_at": noon(-20),
            },
        ]
        for command in commands:
            command.setdefault("occurred_at", noon(-30))
            app.execute(parse_command(command), actor="test")
        app.close()
        server, services = serve(settings)
        tokens = {
            name: services.keys.create(name, role, rep)[1]
            for name, role, rep in (("lin", "manager", "REP-1"), ("ana", "analyst", None))
        }
        caught_up(services)
        shots = Path(os.environ.get("LEDGER_SCREENSHOTS") or folder) / request.param
        shots.mkdir(parents=True, exist_ok=True)
        yield Site(server.url, services, tokens, shots)
        server.stop()


def signed_in(browser: Browser, site: Site, who: str, path: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(site.url + path)
    page.get_by_label("API key").fill(site.tokens[who])
    page.get_by_role("button", name="Sign in").click()
    return page


def test_register_wait_in_the_inbox_confirm_attend_and_report(browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "lin", "/console/events")
    expect(page.get_by_role("heading", level=1)).to_have_text("Events")
    page.get_by_role("link", name="SEM-1 · 春季品茶研讨会").click()
    expect(page.locator("#seats")).to_contain_text("0 confirmed of 20 seats, 20 left")

    page.get_by_label("Customer").fill("CUST-1")
    page.get_by_label("Registered on").fill(day(-10).isoformat())
    page.get_by_label("Answer by").fill(day(-7).isoformat())
    page.get_by_label("Note").fill("带一位同事")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#seats")).to_contain_text("1 waiting for an answer")
    row = page.locator("#reg-1")
    expect(row).to_contain_text("open")
    expect(row).to_contain_text("REP-2")  # the customer's owner answers it

    page.get_by_role("link", name="Service inbox").click()
    page.get_by_label("Only rep").fill("REP-2")  # the customer's owner's inbox
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("table", name="Past their deadline")).to_contain_text("registration")
    expect(page.get_by_role("table", name="Past their deadline")).to_contain_text("SEM-1")
    site.shot(page, "event-inbox")

    page.get_by_role("link", name="Events").click()
    page.get_by_role("link", name="SEM-1 · 春季品茶研讨会").click()
    page.get_by_label("On", exact=True).fill(
        day(-9).isoformat()
    )  # answered in time, recorded today
    page.get_by_role("button", name="Confirm CUST-1").click()
    expect(page.locator("#seats")).to_contain_text("1 confirmed of 20 seats, 19 left")
    page.goto(f"{site.url}/console/service?rep=REP-2")
    expect(page.get_by_text("nothing is past its deadline")).to_be_visible()

    page.get_by_role("link", name="Events").click()
    page.get_by_role("link", name="SEM-1 · 春季品茶研讨会").click()
    page.get_by_label("On", exact=True).fill(day(-1).isoformat())
    page.get_by_role("button", name="CUST-1 attended").click()
    expect(page.locator("#seats")).to_contain_text("1 attended")
    expect(page.locator("#reg-1")).to_contain_text("yes")
    site.shot(page, "event")

    # A bad answer-by date and an unknown customer are refused, saying what and where.
    page.get_by_label("Customer").fill("CUST-404")
    page.get_by_label("Answer by").fill(day(1).isoformat())
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_contain_text("no customer with reference 'CUST-404'")
    page.go_back()
    page.get_by_label("Customer").fill("CUST-1")
    page.get_by_label("Registered on").fill(day(-3).isoformat())
    page.get_by_label("Answer by").fill(day(-4).isoformat())
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("422 Unprocessable Content")
    expect(page.get_by_role("alert")).to_contain_text("respond_by")

    report = signed_in(browser, site, "ana", "/console/reports")
    report.get_by_label("Report", exact=True).select_option("campaigns")
    report.get_by_label("Period").fill(f"{day(-40):%Y-%m}..{TODAY:%Y-%m}")
    report.get_by_role("button", name="Run the report").click()
    table = report.get_by_role("table").filter(has_text="spend per attendee")
    expect(table).to_contain_text("SEM-1")
    cells = table.locator("tr", has_text="SEM-1").locator("td")
    header = [h.strip() for h in table.locator("th").all_inner_texts()]
    values = dict(zip(header, [c.strip() for c in cells.all_inner_texts()], strict=False))
    assert {k: values[k] for k in ("registrations", "confirmed", "attended")} == {
        "registrations": "1",
        "confirmed": "1",
        "attended": "1",
    }
    assert values["spend per attendee"] == "2400.00"
    site.shot(report, "event-report")
