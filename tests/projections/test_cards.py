"""Cards never followed up: a customer from a source (a stack of business cards, a fair's
list) whom nobody contacted within 14 days shows in the owner's service inbox and dossier,
until a contact is recorded, judged in business time."""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger.application import Ledger
from ledger.projections.dossier import needed_views, rep_dossier, service_inbox
from ledger.projections.runner import Runner
from ledger.sql import Database
from tests.conftest import T0, at, run


def on(days: float) -> datetime:
    return T0 + timedelta(days=days)


def caught_up(ledger: Ledger) -> Database:
    runner = Runner(ledger, needed_views())
    runner.catch_up()
    assert not runner.failed, runner.failed
    return runner.db


def cards(db: Database, days: float, rep: str | None = "REP-1") -> list[str]:
    page = service_inbox(db, as_of=on(days), rep=rep)
    return [item["customer"] for item in page.items if item["item"] == "card"]


def test_a_card_nobody_contacted_shows_until_a_contact_late_or_not(world: Ledger) -> None:
    for ref, source in (("CARD-1", "trade show 2025"), ("CARD-2", None)):
        run(
            world,
            type="register_customer",
            ref=ref,
            name=f"卡片 {ref}",
            owner="REP-1",
            source=source,
            occurred_at=at(0),
        )
    db = caught_up(world)
    assert cards(db, 13.9) == []  # not due yet

    page = service_inbox(db, as_of=on(15), rep="REP-1")
    (card,) = [item for item in page.items if item["item"] == "card"]
    assert card["customer"] == card["id"] == "CARD-1"  # a customer without a source is no card
    assert card["what"] == "trade show 2025"
    assert card["responsible"] == "REP-1" and card["due"].startswith("2025-03-15T09:00:00")
    assert card["overdue_days"] == 1
    assert cards(db, 15, rep="REP-2") == []
    assert cards(db, 15, rep=None) == ["CARD-1"]  # the manager's and compliance's
    assert service_inbox(db, as_of=on(15), follow_up_days=30).items == []
    dossier = rep_dossier(db, "REP-1", as_of=on(15))
    assert [c["customer"] for c in dossier["cards_not_followed_up"]] == ["CARD-1"]
    assert dossier["cards_not_followed_up"][0]["name"] == "卡片 CARD-1"

    # Recorded on day 20, the call happened on day 12, within the two weeks.
    run(
        world,
        type="log_contact",
        customer="CARD-1",
        rep="REP-1",
        channel="phone",
        direction="out",
        subject="after the fair",
        contact_id="K-1",
        occurred_at=at(12),
    )
    db = caught_up(world)
    assert cards(db, 20) == []
    assert cards(db, 11) == []  # not due yet then
    assert rep_dossier(db, "REP-1", as_of=on(20))["totals"]["cards_not_followed_up"] == 0

    run(world, type="retract_entry", customer="CARD-1", entry_id="K-1", reason="wrong customer")
    db = caught_up(world)
    assert cards(db, 20) == ["CARD-1"]


def test_a_forgotten_card_leaves_the_inbox(world: Ledger) -> None:
    run(
        world,
        type="register_customer",
        ref="CARD-9",
        name="Zhao Lei",
        owner="REP-1",
        source="expo",
        occurred_at=at(0),
    )
    run(world, type="erase_personal_data", customer="CARD-9", reason="asked")
    db = caught_up(world)
    assert cards(db, 30) == []
