"""The quotes view: what each rep quoted each customer, at which net price and with which
outcome, and the complaint it exists for: two reps, two prices, one product, one period."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import CommandInvalid
from ledger.projections.quotes import Quotes, conflicting_quotes, open_quotes_of_rep, quotes_of
from ledger.projections.runner import Runner
from ledger.sql import Database
from tests.conftest import at, run

TEA = "普洱茶"


def caught_up(ledger: Ledger, *, batch_size: int = 2000) -> Database:
    runner = Runner(ledger, [Quotes()], batch_size=batch_size)
    runner.catch_up()
    assert not runner.failed, runner.failed
    return runner.db


def quote(
    ledger: Ledger,
    quote_id: str,
    *,
    rep: str = "REP-1",
    customer: str = "CUST-1",
    product: str = TEA,
    price: str = "128.00",
    discount: str = "0",
    currency: str = "CNY",
    issued: float = 0,
    valid: float = 10,
    quantity: str = "10",
) -> None:
    run(
        ledger,
        type="issue_quote",
        customer=customer,
        rep=rep,
        product=product,
        quantity=quantity,
        unit_price=price,
        currency=currency,
        discount=discount,
        valid_until=at(valid),
        quote_id=quote_id,
        occurred_at=at(issued),
    )


def customer(ledger: Ledger, ref: str) -> None:
    run(
        ledger,
        type="register_customer",
        ref=ref,
        name=f"客户 {ref}",
        owner="REP-1",
        occurred_at=at(-5),
    )


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["quote_id"] for item in items]


def pairs(db: Database, **filters: Any) -> list[tuple[str, str, str, str]]:
    return [
        (p["customer"], p["product"], p["first_quote"], p["second_quote"])
        for p in conflicting_quotes(db, **filters).items
    ]


def test_quotes_are_listed_per_customer_with_rep_status_and_net_price(world: Ledger) -> None:
    quote(world, "Q-1", rep="REP-1", price="128.00", discount="0.05", issued=0)
    quote(world, "Q-2", rep="REP-2", product="龙井", price="80", issued=1)
    quote(world, "Q-3", rep="REP-1", product="Tea set", price="300", issued=2)
    run(world, type="accept_quote", customer="CUST-1", quote_id="Q-1", occurred_at=at(3))
    run(
        world,
        type="withdraw_quote",
        customer="CUST-1",
        quote_id="Q-3",
        reason="typo",
        occurred_at=at(3),
    )
    db = caught_up(world)

    page = quotes_of(db, "CUST-1")
    assert ids(page.items) == ["Q-1", "Q-2", "Q-3"]
    assert page.next_cursor is None
    first = page.items[0]
    assert {
        k: first[k]
        for k in (
            "customer",
            "rep",
            "product",
            "quantity",
            "unit_price",
            "currency",
            "discount",
            "net_price",
            "status",
        )
    } == {
        "customer": "CUST-1",
        "rep": "REP-1",
        "product": TEA,
        "quantity": "10",
        "unit_price": "128.00",
        "currency": "CNY",
        "discount": "0.05",
        "net_price": "121.6000",
        "status": "accepted",
    }
    assert first["issued_at"] == "2025-03-01T09:00:00.000000Z"
    assert first["valid_until"] == "2025-03-11T09:00:00.000000Z"
    assert first["closed_at"] == "2025-03-04T09:00:00.000000Z"
    assert first["retracted"] is False

    assert ids(quotes_of(db, "CUST-1", rep="REP-1").items) == ["Q-1", "Q-3"]
    assert ids(quotes_of(db, "CUST-1", status="open").items) == ["Q-2"]
    assert ids(quotes_of(db, "CUST-1", rep="REP-1", status="withdrawn").items) == ["Q-3"]
    assert quotes_of(db, "CUST-404").items == []
    assert ids(open_quotes_of_rep(db, "REP-2")) == ["Q-2"]
    assert open_quotes_of_rep(db, "REP-1") == []


def test_open_quotes_of_a_rep_span_customers_soonest_to_lapse_first(world: Ledger) -> None:
    customer(world, "CUST-2")
    quote(world, "Q-1", valid=20)
    quote(world, "Q-2", customer="CUST-2", valid=5)
    quote(world, "Q-3", valid=9)
    run(world, type="retract_entry", customer="CUST-1", entry_id="Q-3", reason="sent twice")
    db = caught_up(world)
    found = open_quotes_of_rep(db, "REP-1")
    assert [(q["customer"], q["quote_id"]) for q in found] == [("CUST-2", "Q-2"), ("CUST-1", "Q-1")]
    [retracted] = [q for q in quotes_of(db, "CUST-1").items if q["quote_id"] == "Q-3"]
    assert retracted["retracted"] is True and retracted["status"] == "open"


def test_correcting_the_price_or_discount_changes_the_net_price(world: Ledger) -> None:
    quote(world, "Q-1", price="128.00", discount="0.05")
    db = caught_up(world)
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="Q-1",
        fields={"unit_price": "120.00"},
        reason="list price was out of date",
    )
    caught_up(world)
    [q] = quotes_of(db, "CUST-1").items
    assert (q["unit_price"], q["discount"], q["net_price"]) == ("120.00", "0.05", "114.0000")

    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="Q-1",
        fields={"discount": "0.1", "rep": "REP-2", "valid_until": at(20), "occurred_at": at(-1)},
        reason="entered under the wrong rep",
    )
    caught_up(world)
    [q] = quotes_of(db, "CUST-1").items
    assert (q["unit_price"], q["discount"], q["net_price"]) == ("120.00", "0.1", "108.0000")
    assert (q["rep"], q["issued_at"], q["valid_until"]) == (
        "REP-2",
        "2025-02-28T09:00:00.000000Z",
        "2025-03-21T09:00:00.000000Z",
    )
    assert ids(open_quotes_of_rep(db, "REP-2")) == ["Q-1"]
    assert open_quotes_of_rep(db, "REP-1") == []


def test_two_reps_quoting_one_product_at_two_prices_at_once_conflict(world: Ledger) -> None:
    quote(world, "Q-1", rep="REP-1", price="128.00", discount="0.05", issued=0, valid=10)
    quote(world, "Q-2", rep="REP-2", price="128.00", issued=5, valid=15)
    run(world, type="accept_quote", customer="CUST-1", quote_id="Q-2", occurred_at=at(6))
    db = caught_up(world)
    [pair] = conflicting_quotes(db).items
    assert pair == {
        "customer": "CUST-1",
        "product": TEA,
        "reps_differ": True,
        "first_quote": "Q-1",
        "first_rep": "REP-1",
        "first_price": "121.6000",
        "first_currency": "CNY",
        "first_issued_at": "2025-03-01T09:00:00.000000Z",
        "first_valid_until": "2025-03-11T09:00:00.000000Z",
        "first_status": "open",
        "second_quote": "Q-2",
        "second_rep": "REP-2",
        "second_price": "128.0000",
        "second_currency": "CNY",
        "second_issued_at": "2025-03-06T09:00:00.000000Z",
        "second_valid_until": "2025-03-16T09:00:00.000000Z",
        "second_status": "accepted",
    }
    assert pairs(db, customer="CUST-1") == [("CUST-1", TEA, "Q-1", "Q-2")]
    assert pairs(db, customer="CUST-2") == []


def test_the_same_price_in_another_currency_conflicts_even_from_one_rep(world: Ledger) -> None:
    quote(world, "Q-1", price="100", currency="CNY")
    quote(world, "Q-2", price="100", currency="USD", issued=10, valid=12)  # touches Q-1's end
    db = caught_up(world)
    [pair] = conflicting_quotes(db).items
    assert pair["reps_differ"] is False
    assert (pair["first_currency"], pair["second_currency"]) == ("CNY", "USD")


def test_quotes_that_do_not_overlap_agree_or_were_withdrawn_or_retracted_do_not_conflict(
    world: Ledger,
) -> None:
    for ref in ("CUST-2", "CUST-3", "CUST-4", "CUST-5"):
        customer(world, ref)
    # one after the other
    quote(world, "Q-1", customer="CUST-1", price="128", issued=0, valid=10)
    quote(world, "Q-2", customer="CUST-1", rep="REP-2", price="99", issued=11, valid=20)
    # the same net price, reached two ways
    quote(world, "Q-3", customer="CUST-2", price="100", discount="0.1")
    quote(world, "Q-4", customer="CUST-2", rep="REP-2", price="90.00")
    # withdrawn
    quote(world, "Q-5", customer="CUST-3", price="128")
    quote(world, "Q-6", customer="CUST-3", rep="REP-2", price="99")
    run(world, type="withdraw_quote", customer="CUST-3", quote_id="Q-6", occurred_at=at(1))
    # retracted
    quote(world, "Q-7", customer="CUST-4", price="128")
    quote(world, "Q-8", customer="CUST-4", rep="REP-2", price="99")
    run(world, type="retract_entry", customer="CUST-4", entry_id="Q-7", reason="wrong customer")
    # another product
    quote(world, "Q-9", customer="CUST-5", price="128")
    quote(world, "Q-10", customer="CUST-5", rep="REP-2", product="龙井", price="99")
    db = caught_up(world)
    assert conflicting_quotes(db).items == []


def test_a_correction_can_resolve_a_conflict_or_create_one(world: Ledger) -> None:
    quote(world, "Q-1", rep="REP-1", price="128.00")
    quote(world, "Q-2", rep="REP-2", price="120.00", issued=20, valid=30)
    db = caught_up(world)
    assert pairs(db) == []
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="Q-2",
        fields={"occurred_at": at(5)},
        reason="issued earlier than logged",
    )
    caught_up(world)
    assert pairs(db) == [("CUST-1", TEA, "Q-1", "Q-2")]
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="Q-2",
        fields={"unit_price": "128"},
        reason="price typed wrong",
    )
    caught_up(world)
    assert pairs(db) == []


def test_lists_are_paged_with_cursors(world: Ledger) -> None:
    customer(world, "CUST-2")
    for n in range(1, 6):
        quote(world, f"Q-{n}", rep=f"REP-{n % 2 + 1}", price=str(100 + n), issued=n, valid=n + 30)
    quote(world, "Q-6", customer="CUST-2", price="1")
    quote(world, "Q-7", customer="CUST-2", price="2")
    db = caught_up(world)

    seen, cursor = [], None
    while True:
        page = quotes_of(db, "CUST-1", limit=2, cursor=cursor)
        seen.append(ids(page.items))
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [["Q-1", "Q-2"], ["Q-3", "Q-4"], ["Q-5"]]

    everything = pairs(db)
    assert len(everything) == 11  # 10 pairs among five quotes, one among two
    assert everything == sorted(everything)
    walked, cursor = [], None
    while True:
        page = conflicting_quotes(db, limit=3, cursor=cursor)
        walked += [
            (p["customer"], p["product"], p["first_quote"], p["second_quote"]) for p in page.items
        ]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert walked == everything

    with pytest.raises(CommandInvalid, match="cursor"):
        quotes_of(db, "CUST-1", cursor="not-a-cursor")


def test_a_rebuild_of_the_quotes_view_is_identical_to_the_live_one(world: Ledger) -> None:
    quote(world, "Q-1", rep="REP-1", price="128.00", discount="0.05")
    quote(world, "Q-2", rep="REP-2", price="120.00", issued=2, valid=12)
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="Q-1",
        fields={"discount": "0.1"},
        reason="agreed discount",
    )
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="Q-1",
        fields={"unit_price": "130"},
        reason="list price",
    )
    run(world, type="accept_quote", customer="CUST-1", quote_id="Q-2", occurred_at=at(3))
    quote(world, "Q-3", rep="REP-2", price="50", issued=4, valid=8)
    run(world, type="retract_entry", customer="CUST-1", entry_id="Q-3", reason="test entry")
    caught_up(world, batch_size=1)  # live, one event at a time
    runner = Runner(world, [Quotes()], batch_size=1000)
    assert runner.rebuild(Quotes(), verify=True) is True
    [q1, *_] = quotes_of(runner.db, "CUST-1").items
    assert q1["net_price"] == "117.0000"
