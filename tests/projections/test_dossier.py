"""The rep dossier: what a rep owns, has touched and has left open, and for a departed rep
the hand-over list a sales manager works through."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ledger.application import Ledger
from ledger.errors import UnknownReference, ViewNotBuilt
from ledger.projections.activity import Activity
from ledger.projections.dossier import Dossier, needed_views, rep_dossier
from ledger.projections.runner import Runner
from ledger.sql import Database, iso
from tests.conftest import T0, at, run


def on(days: float) -> datetime:
    return T0 + timedelta(days=days)


def caught_up(ledger: Ledger) -> Database:
    runner = Runner(ledger, needed_views())
    runner.catch_up()
    assert not runner.failed, runner.failed
    return runner.db


def customer(ledger: Ledger, ref: str, owner: str) -> None:
    run(
        ledger,
        type="register_customer",
        ref=ref,
        name=f"客户 {ref}",
        owner=owner,
        occurred_at=at(-5),
    )


def contact(ledger: Ledger, ref: str, rep: str, days: float, contact_id: str | None = None) -> None:
    run(
        ledger,
        type="log_contact",
        customer=ref,
        rep=rep,
        channel="phone",
        direction="out",
        subject="报价跟进",
        contact_id=contact_id,
        occurred_at=at(days),
    )


def promise(
    ledger: Ledger, ref: str, rep: str, promise_id: str, *, made: float, due: float
) -> None:
    run(
        ledger,
        type="make_promise",
        customer=ref,
        rep=rep,
        promise_id=promise_id,
        text="Ship within two weeks",
        category="delivery",
        due_by=at(due),
        occurred_at=at(made),
    )


def quote(
    ledger: Ledger, ref: str, rep: str, quote_id: str, *, issued: float, valid: float
) -> None:
    run(
        ledger,
        type="issue_quote",
        customer=ref,
        rep=rep,
        product="LX-200 laser cutter",
        unit_price="186000",
        currency="CNY",
        valid_until=at(valid),
        quote_id=quote_id,
        occurred_at=at(issued),
    )


def active_story(ledger: Ledger) -> None:
    customer(ledger, "CUST-2", owner="REP-1")
    customer(ledger, "CUST-3", owner="REP-2")
    contact(ledger, "CUST-1", "REP-1", 1)
    contact(ledger, "CUST-1", "REP-1", 2)
    contact(ledger, "CUST-1", "REP-2", 3)
    contact(ledger, "CUST-3", "REP-1", 4)
    promise(ledger, "CUST-1", "REP-1", "P-OPEN", made=1, due=20)
    promise(ledger, "CUST-1", "REP-1", "P-KEPT", made=1, due=20)
    run(ledger, type="keep_promise", customer="CUST-1", promise_id="P-KEPT", occurred_at=at(2))
    promise(ledger, "CUST-2", "REP-1", "P-LATE", made=1, due=3)
    promise(ledger, "CUST-2", "REP-2", "P-OTHER-REP", made=1, due=20)
    quote(ledger, "CUST-1", "REP-1", "Q-OPEN", issued=1, valid=30)
    quote(ledger, "CUST-2", "REP-1", "Q-DECLINED", issued=1, valid=30)
    run(ledger, type="decline_quote", customer="CUST-2", quote_id="Q-DECLINED", occurred_at=at(2))
    run(
        ledger,
        type="file_complaint",
        customer="CUST-2",
        complaint_id="C-1",
        category="delivery",
        severity="medium",
        description="Delivery was three weeks late",
        respond_by=at(8),
        rep="REP-1",
        occurred_at=at(2),
    )
    run(
        ledger,
        type="receive_request",
        customer="CUST-1",
        request_id="R-1",
        kind="callback",
        channel="phone",
        respond_by=at(6),
        rep="REP-1",
        occurred_at=at(2),
    )


def test_the_dossier_of_an_active_rep(world: Ledger) -> None:
    active_story(world)
    db = caught_up(world)

    dossier = rep_dossier(db, "REP-1", as_of=on(5))

    assert dossier["rep"]["name"] == "李娜"
    assert dossier["rep"]["departed"] is False
    assert dossier["handover"] == []
    owned = {c["customer"]: c for c in dossier["customers_owned"]}
    assert sorted(owned) == ["CUST-1", "CUST-2"]
    assert (owned["CUST-1"]["contacts_by_rep"], owned["CUST-1"]["last_contact_by_rep_at"]) == (
        2,
        iso(on(2)),
    )
    assert (owned["CUST-1"]["last_contact_at"], owned["CUST-1"]["last_contact_by"]) == (
        iso(on(3)),
        "REP-2",
    )
    assert owned["CUST-2"]["last_contact_at"] is None
    assert [(t["customer"], t["contacts"]) for t in dossier["customers_touched"]] == [
        ("CUST-3", 1),
        ("CUST-1", 2),
    ]
    assert dossier["last_contact_at"] == iso(on(4))
    assert [(p["promise_id"], p["overdue"]) for p in dossier["open_promises"]] == [
        ("P-LATE", True),
        ("P-OPEN", False),
    ]
    assert [q["quote_id"] for q in dossier["open_quotes"]] == ["Q-OPEN"]
    assert [c["complaint_id"] for c in dossier["open_complaints"]] == ["C-1"]
    assert [r["request_id"] for r in dossier["unanswered_requests"]] == ["R-1"]


def test_an_unknown_rep_has_no_dossier(world: Ledger) -> None:
    db = caught_up(world)

    with pytest.raises(UnknownReference, match="REP-99"):
        rep_dossier(db, "REP-99", as_of=on(5))


def test_the_dossier_says_which_views_it_needs(world: Ledger) -> None:
    runner = Runner(world, [Dossier()])
    runner.catch_up()

    with pytest.raises(ViewNotBuilt, match="promises, quotes, service, dossier and activity views"):
        rep_dossier(runner.db, "REP-1", as_of=on(5))


def test_a_corrected_or_retracted_contact_moves_to_the_right_rep(world: Ledger) -> None:
    contact(world, "CUST-1", "REP-1", 1, contact_id="K-1")
    contact(world, "CUST-1", "REP-1", 2, contact_id="K-2")
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="K-2",
        fields={"rep": "REP-2", "occurred_at": at(1.5)},
        reason="Tom made that call",
        occurred_at=at(3),
    )
    db = caught_up(world)

    rep_1 = rep_dossier(db, "REP-1", as_of=on(5))
    rep_2 = rep_dossier(db, "REP-2", as_of=on(5))
    assert [
        (t["customer"], t["contacts"], t["last_contact_at"]) for t in rep_1["customers_touched"]
    ] == [("CUST-1", 1, iso(on(1)))]
    assert [
        (t["customer"], t["contacts"], t["last_contact_at"]) for t in rep_2["customers_touched"]
    ] == [("CUST-1", 1, iso(on(1.5)))]
    contact(world, "CUST-1", "REP-2", 0.5, contact_id="K-3")  # recorded late: the first
    db = caught_up(world)
    assert [
        (t["contacts"], t["first_contact_at"], t["last_contact_at"])
        for t in rep_dossier(db, "REP-2", as_of=on(5))["customers_touched"]
    ] == [(2, iso(on(0.5)), iso(on(1.5)))]

    run(
        world,
        type="retract_entry",
        customer="CUST-1",
        entry_id="K-1",
        reason="Logged for the wrong customer",
        occurred_at=at(4),
    )
    db = caught_up(world)
    rep_1 = rep_dossier(db, "REP-1", as_of=on(5))
    assert rep_1["customers_touched"] == []
    assert rep_1["customers_owned"][0]["last_contact_by"] == "REP-2"


# -- the hand-over -------------------------------------------------------------------------------


def departed_story(ledger: Ledger) -> None:
    run(
        ledger,
        type="hire_rep",
        ref="REP-3",
        name="陈静",
        team="east",
        manager="REP-2",
        occurred_at=at(-20),
    )
    for ref in ("CUST-2", "CUST-3", "CUST-4"):
        customer(ledger, ref, owner="REP-3")
    contact(ledger, "CUST-2", "REP-3", 1)
    promise(ledger, "CUST-2", "REP-3", "P-SOON", made=1, due=20)
    promise(ledger, "CUST-3", "REP-3", "P-LATE", made=1, due=5)
    promise(ledger, "CUST-3", "REP-3", "P-KEPT", made=1, due=5)
    run(ledger, type="keep_promise", customer="CUST-3", promise_id="P-KEPT", occurred_at=at(3))
    promise(ledger, "CUST-1", "REP-3", "P-OTHER-OWNER", made=2, due=25)
    quote(ledger, "CUST-2", "REP-3", "Q-1", issued=2, valid=30)
    run(
        ledger,
        type="receive_request",
        customer="CUST-4",
        request_id="R-1",
        kind="repair",
        channel="phone",
        respond_by=at(8),
        rep="REP-3",
        occurred_at=at(2),
    )
    run(
        ledger,
        type="file_complaint",
        customer="CUST-3",
        complaint_id="C-1",
        category="product",
        severity="high",
        description="The machine is far too loud",
        respond_by=at(15),
        rep="REP-3",
        occurred_at=at(3),
    )
    run(
        ledger,
        type="depart_rep",
        rep="REP-3",
        reason="Resigned; joins a competitor",
        occurred_at=at(10),
    )
    run(
        ledger,
        type="assign_owner",
        customer="CUST-4",
        rep="REP-1",
        reason="Hand-over from REP-3",
        occurred_at=at(11),
    )


def test_a_departed_reps_hand_over_lists_every_open_promise_and_owned_customer(
    world: Ledger,
) -> None:
    departed_story(world)
    db = caught_up(world)

    dossier = rep_dossier(db, "REP-3", as_of=on(12))

    assert dossier["rep"]["departed"] is True
    assert dossier["rep"]["departed_at"] == iso(on(10))
    assert [(i["what"], i["id"], i["overdue"]) for i in dossier["handover"]] == [
        ("open promise", "P-LATE", True),
        ("open complaint", "C-1", False),
        ("open promise", "P-SOON", False),
        ("open promise", "P-OTHER-OWNER", False),
        ("open quote", "Q-1", False),
        ("owned customer", "CUST-2", False),
        ("owned customer", "CUST-3", False),
    ]
    by_id = {i["id"]: i for i in dossier["handover"]}
    assert by_id["P-SOON"]["why"] == f"promise due {at(20)[:10]} made by departed rep"
    assert by_id["P-LATE"]["why"] == f"promise overdue since {at(5)[:10]} made by departed rep"
    assert by_id["CUST-2"]["why"] == f"owner departed {at(10)[:10]}"
    assert by_id["P-SOON"]["due"] == iso(on(20))
    assert by_id["CUST-2"]["due"] is None


def test_the_hand_over_suggests_who_takes_over(world: Ledger) -> None:
    departed_story(world)
    db = caught_up(world)

    by_id = {i["id"]: i for i in rep_dossier(db, "REP-3", as_of=on(12))["handover"]}

    assert by_id["CUST-2"]["suggested_owner"] == "REP-2"  # the departed rep's manager
    assert by_id["P-OTHER-OWNER"]["suggested_owner"] == "REP-1"  # CUST-1's owner
    # R-1 went with CUST-4 to its new owner: REP-1 answers for it now, taken by REP-3.
    assert "R-1" not in by_id
    [request] = rep_dossier(db, "REP-1", as_of=on(12))["unanswered_requests"]
    assert (request["request_id"], request["taken_by"], request["handed_at"]) == (
        "R-1",
        "REP-3",
        iso(on(11)),
    )


def test_a_customer_handed_on_leaves_the_hand_over(world: Ledger) -> None:
    departed_story(world)
    db = caught_up(world)

    dossier = rep_dossier(db, "REP-3", as_of=on(12))

    assert [c["customer"] for c in dossier["customers_owned"]] == ["CUST-2", "CUST-3"]
    assert [
        (c["customer"], c["until"], c["now_owned_by"]) for c in dossier["customers_handed_on"]
    ] == [("CUST-4", iso(on(11)), "REP-1")]


def test_a_rebuild_of_the_dossier_equals_the_live_view(world: Ledger) -> None:
    departed_story(world)
    contact(world, "CUST-3", "REP-1", 5, contact_id="K-9")
    contact(world, "CUST-3", "REP-2", 5.5, contact_id="K-10")
    run(
        world,
        type="retract_entry",
        customer="CUST-3",
        entry_id="K-10",
        reason="Logged twice",
        occurred_at=at(6),
    )
    run(
        world,
        type="correct_entry",
        customer="CUST-3",
        entry_id="K-9",
        fields={"rep": "REP-2"},
        reason="Tom made that call",
        occurred_at=at(6),
    )
    run(
        world,
        type="update_profile",
        customer="CUST-3",
        name="宏达精密制造有限公司",
        occurred_at=at(6),
    )
    run(world, type="move_rep", rep="REP-2", team="key-accounts", manager=None, occurred_at=at(6))
    run(world, type="record_churn", customer="CUST-4", defection_type="price", occurred_at=at(7))
    runner = Runner(world, needed_views(), batch_size=5)
    runner.catch_up()

    assert runner.rebuild(Dossier(), verify=True) is True
    assert runner.rebuild(Activity(), verify=True) is True  # its contacts per rep too
    assert rep_dossier(runner.db, "REP-3", as_of=on(12))["handover"]


def test_the_suggestion_is_ranked_from_who_knows_the_customer_and_says_why(world: Ledger) -> None:
    departed_story(world)
    for n in range(3):  # REP-1 knows CUST-3: three calls this year
        contact(world, "CUST-3", "REP-1", 4 + n, contact_id=f"K-R1-{n}")
    db = caught_up(world)

    by_id = {i["id"]: i for i in rep_dossier(db, "REP-3", as_of=on(12))["handover"]}

    assert by_id["CUST-3"]["suggested_owner"] == "REP-1"
    assert by_id["CUST-3"]["suggested_because"].startswith(f"3 contacts since {on(4):%Y-%m-%d}")
    assert "same team" in by_id["CUST-3"]["suggested_because"]
    # Nobody else knows CUST-2: the departed rep's manager, in the same team.
    assert by_id["CUST-2"]["suggested_owner"] == "REP-2"
    assert by_id["CUST-2"]["suggested_because"].startswith("same team, the departed rep's manager")
    assert by_id["P-OTHER-OWNER"]["suggested_because"] == "owns the customer"
