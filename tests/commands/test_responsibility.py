"""Responsibility apart from authorship: who made an open item never changes; who is
responsible for it now moves by an event, item by item or with the customer when it is
handed to a new owner."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ledger.application import Ledger
from ledger.errors import LedgerError
from ledger.projections.activity import Activity
from ledger.projections.dossier import Dossier, orphaned_items
from ledger.projections.promises import Promises, promises_of
from ledger.projections.queries import service_inbox
from ledger.projections.quotes import Quotes
from ledger.projections.runner import Runner
from ledger.projections.service import Service
from ledger.projections.timeline import Timeline, timeline_of
from tests.conftest import T0, at, run


def on(days: float) -> datetime:
    return T0 + timedelta(days=days)


@pytest.fixture
def desk(ledger: Ledger) -> Ledger:
    """REP-A (leaving) and REP-B in REP-M's team; C1 owned by REP-A, with REP-A's open
    promise and quote, and a complaint REP-A handles."""
    for ref, manager in (("REP-M", None), ("REP-A", "REP-M"), ("REP-B", "REP-M")):
        run(
            ledger,
            type="hire_rep",
            ref=ref,
            name=ref,
            team="east",
            manager=manager,
            occurred_at=at(-30),
        )
    run(ledger, type="register_customer", ref="C1", name="王伟", owner="REP-A", occurred_at=at(-20))
    run(
        ledger,
        type="make_promise",
        customer="C1",
        rep="REP-A",
        text="寄样品",
        promise_id="P-1",
        due_by=at(30),
        occurred_at=at(0),
    )
    run(
        ledger,
        type="issue_quote",
        customer="C1",
        rep="REP-A",
        product="tea",
        unit_price="9.50",
        currency="CNY",
        valid_until=at(60),
        quote_id="Q-1",
        occurred_at=at(0),
    )
    run(
        ledger,
        type="file_complaint",
        customer="C1",
        complaint_id="K-1",
        category="product",
        severity="low",
        description="loud",
        rep="REP-A",
        occurred_at=at(1),
    )
    return ledger


def responsible(ledger: Ledger) -> dict[str, tuple[str | None, str | None]]:
    """Each open item: (who made it, who is responsible now)."""
    work = ledger.customer("C1").open_work()
    return {
        entry_id: (entry.get("rep"), entry.get("responsible") or entry.get("rep"))
        for entry_id, entry in work.items()
    }


def test_handing_a_departed_reps_customer_on_moves_their_open_work(desk: Ledger) -> None:
    run(desk, type="depart_rep", rep="REP-A", reason="moved abroad", occurred_at=at(2))
    run(
        desk, type="assign_owner", customer="C1", rep="REP-B", reason="hand-over", occurred_at=at(3)
    )
    assert responsible(desk) == {
        "P-1": ("REP-A", "REP-B"),
        "Q-1": ("REP-A", "REP-B"),
        "K-1": ("REP-A", "REP-B"),
    }
    assert desk.customer("C1").holders().reps() == {"REP-B"}  # REP-A holds nothing now
    runner = Runner(desk, [Promises(), Timeline()])
    runner.catch_up()
    # What REP-A promised this customer is theirs for good.
    assert [p["promise_id"] for p in promises_of(runner.db, "C1", rep="REP-A").items] == ["P-1"]
    lines = [line["summary"] for line in timeline_of(runner.db, "C1").items]
    assert "K-1, P-1, Q-1 handed over from REP-A to REP-B: hand-over" in lines
    runner.close()


def test_a_new_owner_of_a_present_reps_customer_leaves_their_work_unless_asked(
    desk: Ledger,
) -> None:
    run(desk, type="assign_owner", customer="C1", rep="REP-B", reason="rebalanced")
    assert {made_by for made_by, _ in responsible(desk).values()} == {"REP-A"}
    assert {now for _, now in responsible(desk).values()} == {"REP-A"}
    run(
        desk, type="assign_owner", customer="C1", rep="REP-M", reason="escalated", open_items="keep"
    )
    run(
        desk,
        type="move_responsibility",
        customer="C1",
        to_rep="REP-B",
        entry_ids=["P-1"],
        reason="B knows the samples",
    )
    assert responsible(desk)["P-1"] == ("REP-A", "REP-B")
    assert responsible(desk)["Q-1"] == ("REP-A", "REP-A")
    run(
        desk,
        type="move_responsibility",
        customer="C1",
        from_rep="REP-A",
        to_rep="REP-M",
        reason="the rest to the manager",
    )
    assert {k: now for k, (_, now) in responsible(desk).items()} == {
        "P-1": "REP-B",
        "Q-1": "REP-M",
        "K-1": "REP-M",
    }


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"from_rep": "REP-B"}, "no open item of customer C1 is REP-B's"),
        ({"entry_ids": ["P-1"], "from_rep": "REP-B"}, "REP-B is not responsible for promise P-1"),
        ({}, "name the items (entry_ids) or the rep whose open items move (from_rep)"),
        ({"entry_ids": ["P-1"], "to_rep": "REP-A"}, "no open item of customer C1 named moves"),
    ],
)
def test_what_cannot_move_is_refused_and_nothing_is_written(
    desk: Ledger, fields: dict[str, object], says: str
) -> None:
    before = len(desk.history("customer", "C1"))
    with pytest.raises(LedgerError) as refused:
        run(
            desk,
            **{
                "type": "move_responsibility",
                "customer": "C1",
                "to_rep": "REP-B",
                "reason": "x",
                **fields,
            },
        )
    assert refused.value.code == "nothing_to_hand_over" and says in str(refused.value)
    assert len(desk.history("customer", "C1")) == before


def test_closed_work_does_not_move(desk: Ledger) -> None:
    run(desk, type="keep_promise", customer="C1", promise_id="P-1", occurred_at=at(2))
    with pytest.raises(LedgerError, match="promise P-1 is not open work"):
        run(
            desk,
            type="move_responsibility",
            customer="C1",
            to_rep="REP-B",
            entry_ids=["P-1"],
            reason="x",
        )


def test_the_inbox_says_which_items_nobody_answers_for(desk: Ledger) -> None:
    run(
        desk,
        type="receive_request",
        customer="C1",
        request_id="R-1",
        kind="repair",
        channel="phone",
        respond_by=at(3),
        rep="REP-A",
        occurred_at=at(1),
    )
    run(desk, type="depart_rep", rep="REP-A", reason="left", occurred_at=at(2))
    runner = Runner(desk, [Service(), Dossier(), Promises(), Quotes(), Activity()])

    def inbox(rep: str | None = None) -> list[tuple[str, str | None, bool]]:
        runner.catch_up()
        return [
            (i["id"], i["responsible"], i["orphaned"])
            for i in service_inbox(runner.db, as_of=on(10), rep=rep).items
        ]

    assert ("R-1", "REP-A", True) in inbox()
    run(
        desk,
        type="move_responsibility",
        customer="C1",
        from_rep="REP-A",
        to_rep="REP-B",
        reason="B takes A's work",
        occurred_at=at(4),
    )
    assert ("R-1", "REP-B", False) in inbox("REP-B")
    assert [o["id"] for o in orphaned_items(runner.db, as_of=on(10)).items] == []
    runner.close()
