"""The customer timeline: every event as a line in the order it happened, entries logged late
marked, corrections applied to the entry with their trail, retractions marked."""

# ruff: noqa: RUF001 -- summaries write quantities with a multiplication sign

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger import clock
from ledger.application import Ledger
from ledger.projections.runner import Runner
from ledger.projections.timeline import Timeline, timeline_of
from ledger.sql import Database, iso
from tests.conftest import T0, at, run


def on(days: float) -> datetime:
    return T0 + timedelta(days=days)


def told(ledger: Ledger, recorded: float, **command: Any) -> Any:
    """Run a command as the ledger would have recorded it ``recorded`` days after T0."""
    with clock.recording_at(on(recorded)):
        return run(ledger, **command)


def caught_up(ledger: Ledger, *, batch_size: int = 2000) -> Database:
    runner = Runner(ledger, [Timeline()], batch_size=batch_size)
    runner.catch_up()
    assert not runner.failed, runner.failed
    return runner.db


def lines(db: Database, customer: str = "CUST-1", **filters: Any) -> list[dict[str, Any]]:
    return timeline_of(db, customer, **filters).items


def entries(db: Database, **filters: Any) -> list[tuple[str, str | None]]:
    return [(line["kind"], line["entry_id"]) for line in lines(db, **filters)]


@pytest.fixture
def shop(ledger: Ledger) -> Ledger:
    """Two reps and a customer, CUST-1, each recorded when it happened."""
    told(ledger, -30, type="hire_rep", ref="REP-1", name="李娜", team="east", occurred_at=at(-30))
    told(
        ledger,
        -30,
        type="hire_rep",
        ref="REP-2",
        name="Tom Baker",
        team="east",
        occurred_at=at(-30),
    )
    told(
        ledger,
        -10,
        type="launch_campaign",
        ref="CMP-EXPO",
        name="Spring expo",
        channel="email",
        budget="50000",
        currency="CNY",
        starts_at=at(-10),
        ends_at=at(60),
        material="brochure-2025",
        department="marketing",
        occurred_at=at(-10),
    )
    told(
        ledger,
        -5,
        type="register_customer",
        ref="CUST-1",
        name="王伟",
        email="wang@example.cn",
        owner="REP-1",
        occurred_at=at(-5),
    )
    return ledger


def contact(
    ledger: Ledger,
    contact_id: str,
    *,
    rep: str = "REP-1",
    occurred: float,
    recorded: float | None = None,
    subject: str = "报价跟进",
) -> None:
    told(
        ledger,
        occurred if recorded is None else recorded,
        type="log_contact",
        customer="CUST-1",
        rep=rep,
        channel="phone",
        direction="out",
        subject=subject,
        contact_id=contact_id,
        occurred_at=at(occurred),
    )


def quote(
    ledger: Ledger,
    quote_id: str,
    *,
    rep: str = "REP-2",
    occurred: float,
    recorded: float | None = None,
) -> None:
    told(
        ledger,
        occurred if recorded is None else recorded,
        type="issue_quote",
        customer="CUST-1",
        rep=rep,
        product="普洱茶",
        quantity="10",
        unit_price="128.00",
        currency="CNY",
        discount="0.05",
        valid_until=at(occurred + 10),
        quote_id=quote_id,
        occurred_at=at(occurred),
    )


def test_the_timeline_runs_in_business_time_and_marks_entries_logged_late(shop: Ledger) -> None:
    contact(shop, "K-1", occurred=1)
    quote(shop, "Q-1", occurred=2)
    contact(shop, "K-2", rep="REP-2", occurred=0, recorded=3)  # three days late
    contact(shop, "K-3", occurred=2.5, recorded=3.4)  # within the day: not late
    db = caught_up(shop)

    found = lines(db)
    assert [(line["kind"], line["entry_id"], line["late"]) for line in found] == [
        ("Registered", None, False),
        ("ContactLogged", "K-2", True),
        ("ContactLogged", "K-1", False),
        ("QuoteIssued", "Q-1", False),
        ("ContactLogged", "K-3", False),
    ]
    late = found[1]
    assert (late["occurred_at"], late["recorded_at"]) == (iso(on(0)), iso(on(3)))
    assert (late["version"], late["rep"], late["actor"]) == (4, "REP-2", "test")
    q = found[3]
    assert q["summary"] == "quote Q-1: 10 × 普洱茶 at 128.00 CNY (5 % off), valid until 2025-03-13"
    assert q["details"] == {
        "quote_id": "Q-1",
        "rep": "REP-2",
        "product": "普洱茶",
        "quantity": "10",
        "unit_price": "128.00",
        "currency": "CNY",
        "discount": "0.05",
        "valid_until": iso(on(12)),
    }
    assert (q["trail"], q["retracted"]) == ([], False)
    assert found[0]["summary"] == "registered 王伟 (person), owner REP-1"
    assert found[2]["summary"] == "contact K-1 (phone, out): 报价跟进"


def test_a_correction_is_applied_to_its_entry_and_kept_in_the_trail(shop: Ledger) -> None:
    contact(shop, "K-1", occurred=1)
    quote(shop, "Q-1", occurred=2)
    db = caught_up(shop)
    told(
        shop,
        4,
        type="correct_entry",
        customer="CUST-1",
        entry_id="Q-1",
        fields={"unit_price": "120.00", "occurred_at": at(0.5)},
        reason="wrong day and price",
    )
    caught_up(shop)

    assert entries(db) == [
        ("Registered", None),
        ("QuoteIssued", "Q-1"),
        ("ContactLogged", "K-1"),
        ("EntryCorrected", "Q-1"),
    ]
    corrected, correction = lines(db)[1], lines(db)[3]
    assert corrected["occurred_at"] == iso(on(0.5))
    assert corrected["late"] is True  # recorded on day 2, it happened on day 0.5
    assert corrected["details"]["unit_price"] == "120.00"
    assert corrected["summary"].startswith("quote Q-1: 10 × 普洱茶 at 120.00 CNY (5 % off)")
    assert corrected["trail"] == [
        {
            "version": correction["version"],
            "kind": "corrected",
            "fields": {"unit_price": "120.00", "occurred_at": iso(on(0.5))},
            "previous": {"unit_price": "128.00", "occurred_at": iso(on(2))},
            "reason": "wrong day and price",
            "actor": "test",
            "at": iso(on(4)),
        }
    ]
    assert corrected["retracted"] is False
    assert correction["occurred_at"] == iso(on(4))
    assert correction["summary"] == (
        "correction of Q-1: unit_price 120.00, occurred_at 2025-03-01 (wrong day and price)"
    )
    assert correction["details"]["fields"] == {"unit_price": "120.00", "occurred_at": iso(on(0.5))}


def test_a_correction_of_the_rep_moves_the_entry_to_that_rep(shop: Ledger) -> None:
    contact(shop, "K-1", occurred=1)
    told(
        shop,
        2,
        type="correct_entry",
        customer="CUST-1",
        entry_id="K-1",
        fields={"rep": "REP-2", "subject": "Demo visit"},
        reason="logged under the wrong rep",
    )
    db = caught_up(shop)
    assert entries(db, rep="REP-2") == [("ContactLogged", "K-1")]
    assert entries(db, rep="REP-1") == []
    [line] = lines(db, kinds=["ContactLogged"])
    assert line["summary"] == "contact K-1 (phone, out): Demo visit"
    assert [t["previous"] for t in line["trail"]] == [{"rep": "REP-1", "subject": "报价跟进"}]


def test_a_retracted_entry_stays_on_the_timeline_marked_with_the_reason(shop: Ledger) -> None:
    contact(shop, "K-1", occurred=1)
    contact(shop, "K-2", occurred=2)
    told(shop, 3, type="retract_entry", customer="CUST-1", entry_id="K-1", reason="recorded twice")
    db = caught_up(shop)
    by_entry = {(line["kind"], line["entry_id"]): line for line in lines(db)}
    retracted = by_entry["ContactLogged", "K-1"]
    assert retracted["retracted"] is True
    retraction = by_entry["EntryRetracted", "K-1"]
    assert retracted["trail"] == [
        {
            "version": retraction["version"],
            "kind": "retracted",
            "reason": "recorded twice",
            "actor": "test",
            "at": iso(on(3)),
        }
    ]
    assert by_entry["ContactLogged", "K-2"]["retracted"] is False
    assert retraction["summary"] == "retraction of K-1: recorded twice"
    assert retraction["retracted"] is False


def test_the_timeline_filters_by_kind_rep_and_period(shop: Ledger) -> None:
    contact(shop, "K-1", rep="REP-1", occurred=1)
    quote(shop, "Q-1", rep="REP-2", occurred=2)
    contact(shop, "K-2", rep="REP-2", occurred=3)
    told(shop, 4, type="accept_quote", customer="CUST-1", quote_id="Q-1", occurred_at=at(4))
    told(
        shop,
        5,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        granted=False,
        consent_id="CS-1",
        occurred_at=at(5),
    )
    told(
        shop,
        6,
        type="touch_campaign",
        customer="CUST-1",
        campaign="CMP-EXPO",
        touch_id="T-1",
        occurred_at=at(6),
    )
    db = caught_up(shop)

    assert entries(db, kinds=["ContactLogged"]) == [
        ("ContactLogged", "K-1"),
        ("ContactLogged", "K-2"),
    ]
    assert entries(db, kinds=["QuoteIssued", "QuoteAccepted"]) == [
        ("QuoteIssued", "Q-1"),
        ("QuoteAccepted", "Q-1"),
    ]
    assert entries(db, rep="REP-2") == [("QuoteIssued", "Q-1"), ("ContactLogged", "K-2")]
    assert entries(db, since=on(2), until=on(4)) == [
        ("QuoteIssued", "Q-1"),
        ("ContactLogged", "K-2"),
    ]
    assert entries(db, since=on(4)) == [
        ("QuoteAccepted", "Q-1"),
        ("ConsentChanged", "CS-1"),
        ("CampaignTouched", "T-1"),
    ]
    assert entries(db, kinds=["ContactLogged"], rep="REP-2", until=on(3)) == []
    touch = lines(db, kinds=["CampaignTouched"])[0]
    assert touch["summary"] == "campaign CMP-EXPO (email, brochure-2025, marketing)"
    assert "opted_out" not in touch["details"]  # judged in business time elsewhere
    assert lines(db, kinds=["ConsentChanged"])[0]["summary"] == "consent email/marketing withdrawn"
    assert lines(db, kinds=["QuoteAccepted"])[0]["summary"] == "quote Q-1 accepted"
    assert lines(db, "REP-1") == [] and lines(db, "CMP-EXPO") == []  # only customers


def test_the_timeline_is_paged_with_cursors(shop: Ledger) -> None:
    for n in range(7):
        contact(shop, f"K-{n}", occurred=(n * 3) % 7, recorded=7)  # out of business order
    db = caught_up(shop)
    everything = entries(db)
    assert len(everything) == 8
    pages, cursor = [], None
    while True:
        page = timeline_of(db, "CUST-1", limit=3, cursor=cursor)
        pages.append([(line["kind"], line["entry_id"]) for line in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [e for p in pages for e in p] == everything
    assert timeline_of(db, "CUST-1", kinds=["ContactLogged"], limit=7).next_cursor is None


def test_erasing_personal_data_blanks_it_on_the_timeline(shop: Ledger) -> None:
    told(
        shop,
        1,
        type="update_profile",
        customer="CUST-1",
        phone="+86 21 5555 0101",
        segment="tea-shop",
    )
    db = caught_up(shop)
    customer = shop.customer("CUST-1")  # no command erases yet; the aggregate can
    with clock.recording_at(on(2)):
        customer.erase_personal_data(reason="customer asked", occurred_at=on(2), actor="test")
        shop.save(customer)
    caught_up(shop)
    registered, changed, erased = lines(db)
    assert registered["details"]["name"] is None and registered["details"]["email"] is None
    assert registered["summary"] == "registered (person), owner REP-1"
    assert changed["details"]["changes"] == {"phone": None, "segment": "tea-shop"}
    assert erased["summary"] == "personal data erased: customer asked"


def test_a_rebuild_of_the_timeline_is_identical_to_the_live_one(shop: Ledger) -> None:
    contact(shop, "K-1", occurred=1)
    quote(shop, "Q-1", occurred=2)
    told(
        shop,
        3,
        type="correct_entry",
        customer="CUST-1",
        entry_id="Q-1",
        fields={"discount": "0.1"},
        reason="agreed discount",
    )
    told(
        shop,
        3,
        type="correct_entry",
        customer="CUST-1",
        entry_id="Q-1",
        fields={"occurred_at": at(1.5), "valid_until": at(20)},
        reason="date",
    )
    told(shop, 4, type="retract_entry", customer="CUST-1", entry_id="Q-1", reason="duplicate")
    contact(shop, "K-2", occurred=0, recorded=5)
    told(
        shop,
        6,
        type="correct_entry",
        customer="CUST-1",
        entry_id="K-2",
        fields={"occurred_at": at(4.5)},
        reason="it was yesterday",
    )
    told(shop, 6, type="retract_entry", customer="CUST-1", entry_id="K-1", reason="test")
    caught_up(shop, batch_size=1)  # live: every correction finds its entry already written
    runner = Runner(shop, [Timeline()], batch_size=1000)  # rebuilt: all in one batch
    assert runner.rebuild(Timeline(), verify=True) is True
    q = lines(runner.db, kinds=["QuoteIssued"])[0]
    assert [t["kind"] for t in q["trail"]] == ["corrected", "corrected", "retracted"]
    assert q["details"]["discount"] == "0.1" and q["retracted"] is True
    k2 = lines(runner.db, kinds=["ContactLogged"])[-1]
    assert (k2["entry_id"], k2["late"]) == ("K-2", False)  # once corrected, on time
