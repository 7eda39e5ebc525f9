"""Late facts re-judge the past: every judgment is made in business time (when things
happened), whatever order they were recorded in, in the live views, a rebuild and a replay
alike; and a correction belongs to the time of the entry it amends."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from ledger.application import Ledger
from ledger.errors import LedgerError
from ledger.history import history_lines
from ledger.projections.activity import Activity
from ledger.projections.dossier import Dossier
from ledger.projections.promises import Promises, promises_with_status
from ledger.projections.runner import Runner
from ledger.projections.service import Service, violations
from ledger.sql import Database, iso
from replay.catalogue import Ask, report
from replay.core import Reading, Replay
from tests.conftest import T0, at, run


def on(days: float) -> datetime:
    return T0 + timedelta(days=days)


def opted_out(db: Database) -> list[tuple[str, str]]:
    return [
        (v["customer"], v["entries"][0]["entry_id"])
        for v in violations(db, kind="touch_after_opt_out").items
    ]


def readings(ledger: Ledger) -> dict[str, list[tuple[str, str]]]:
    """Touches after opt-out as the live views say, as a rebuild from scratch says, and as a
    replay as occurred by now says."""
    views = [Service(), Activity()]
    live = Runner(ledger, views)
    live.catch_up()
    found = {"live": opted_out(live.db)}
    for view in views:
        live.drop(view, "")
    live.close()
    rebuilt = Runner(ledger, views)
    rebuilt.catch_up()
    found["rebuild"] = opted_out(rebuilt.db)
    rebuilt.close()
    with Replay(ledger, views, Reading(as_occurred_by=on(1000))) as replay:
        replay.run()
        found["replay"] = opted_out(replay.db)
    return found


def touched_after_opt_out(ledger: Ledger, ref: str = "CUST-1") -> list[str]:
    """The customer's history: the touches it flags as sent after an opt-out."""
    events = ledger.history("customer", ref)
    return [
        line.entry_id or ""
        for line in history_lines(events)
        if any("after opt-out" in flag for flag in line.flags)
    ]


def test_a_late_opt_out_re_judges_the_touches_after_it(world: Ledger) -> None:
    run(
        world,
        type="touch_campaign",
        customer="CUST-1",
        campaign="CMP-EXPO",
        touch_id="T-1",
        occurred_at=at(5),
    )
    run(
        world,
        type="touch_campaign",
        customer="CUST-1",
        campaign="CMP-EXPO",
        touch_id="T-0",
        occurred_at=at(1),
    )
    assert readings(world) == {"live": [], "rebuild": [], "replay": []}
    # Recorded now, it happened on day 3: the touch of day 5 came after it, day 1's before.
    run(
        world,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        purpose="marketing",
        granted=False,
        consent_id="OPT-OUT",
        occurred_at=at(3),
    )
    expected = [("CUST-1", "T-1")]
    assert readings(world) == {"live": expected, "rebuild": expected, "replay": expected}
    assert touched_after_opt_out(world) == ["T-1"]
    # Consent given back on day 4 (recorded later still): day 5 was allowed after all.
    run(
        world,
        type="change_consent",
        customer="CUST-1",
        channel="email",
        purpose="marketing",
        granted=True,
        consent_id="OPT-IN",
        occurred_at=at(4),
    )
    assert readings(world) == {"live": [], "rebuild": [], "replay": []}
    assert touched_after_opt_out(world) == []
    # The opt-in's date was wrong: it came on day 6, after the touch.
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="OPT-IN",
        fields={"occurred_at": at(6)},
        reason="date typed wrong",
    )
    assert readings(world) == {"live": expected, "rebuild": expected, "replay": expected}
    assert touched_after_opt_out(world) == ["T-1"]
    # Another channel's consent says nothing of e-mail; a retracted touch is no violation.
    run(
        world,
        type="touch_campaign",
        customer="CUST-1",
        campaign="CMP-EXPO",
        touch_id="T-2",
        occurred_at=at(5.5),
    )
    run(world, type="retract_entry", customer="CUST-1", entry_id="T-2", reason="never sent")
    assert readings(world)["live"] == expected


def purchase(ledger: Ledger, order_id: str, amount: str, when: str) -> None:
    run(
        ledger,
        type="record_purchase",
        customer="CUST-1",
        order_id=order_id,
        amount=amount,
        currency="CNY",
        occurred_at=when,
    )


def revenue(ledger: Ledger, reading: Reading) -> dict[str, Decimal]:
    found = report(ledger, Ask("value", period="2025-Q2"), reading)
    return {row["customer"]: Decimal(row["revenue"]) for row in found.rows}


def test_as_occurred_by_applies_every_correction_known_now(world: Ledger) -> None:
    purchase(world, "O-1", "200.00", "2025-05-05T10:00:00+08:00")
    purchase(world, "O-2", "100.00", "2025-07-02T10:00:00+08:00")  # after the quarter
    end = datetime.fromisoformat("2025-06-30T23:59:59+00:00")
    assert revenue(world, Reading(as_occurred_by=end)) == {"CUST-1": Decimal("200.00")}
    recorded = datetime.now().astimezone()
    # Recorded now, without a date of its own: the amount was 250.00 on 2025-05-05.
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="O-1",
        fields={"amount": "250.00"},
        reason="price typed wrong",
    )
    assert revenue(world, Reading(as_occurred_by=end)) == {"CUST-1": Decimal("250.00")}
    assert revenue(world, Reading()) == {"CUST-1": Decimal("250.00")}
    # As known before the correction was recorded, the figure stays what it was then.
    assert revenue(world, Reading(as_known_at=recorded)) == {"CUST-1": Decimal("200.00")}
    # A correction of a date moves an entry into the quarter, or out of it.
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="O-2",
        fields={"occurred_at": "2025-06-02T10:00:00+08:00"},
        reason="it was June",
    )
    assert revenue(world, Reading(as_occurred_by=end)) == {"CUST-1": Decimal("350.00")}
    run(
        world,
        type="correct_entry",
        customer="CUST-1",
        entry_id="O-1",
        fields={"occurred_at": "2025-07-05T10:00:00+08:00"},
        reason="it was July",
    )
    assert revenue(world, Reading(as_occurred_by=end)) == {"CUST-1": Decimal("100.00")}
    assert revenue(world, Reading()) == {"CUST-1": Decimal("100.00")}
    # A retraction recorded now takes its entry out of the past too.
    run(world, type="retract_entry", customer="CUST-1", entry_id="O-2", reason="test order")
    assert revenue(world, Reading(as_occurred_by=end)) == {}


@pytest.mark.parametrize("command", ["correct_entry", "retract_entry"])
def test_an_amendment_cannot_be_dated_before_its_entry(world: Ledger, command: str) -> None:
    purchase(world, "O-1", "200.00", at(10))
    fields = {"fields": {"amount": "250.00"}} if command == "correct_entry" else {}
    with pytest.raises(LedgerError) as refused:
        run(
            world,
            type=command,
            customer="CUST-1",
            entry_id="O-1",
            reason="x",
            occurred_at=at(9),
            **fields,
        )
    assert refused.value.code == "correction_before_entry"
    assert "before the entry itself" in str(refused.value)
    run(
        world,
        type=command,
        customer="CUST-1",
        entry_id="O-1",
        reason="x",
        occurred_at=at(10),
        **fields,
    )  # the same instant is not before it


def test_a_late_owner_change_takes_its_place_in_business_time(world: Ledger) -> None:
    run(
        world,
        type="hire_rep",
        ref="REP-3",
        name="Chen Jie",
        team="east",
        manager="REP-1",
        occurred_at=at(-30),
    )
    run(
        world,
        type="assign_owner",
        customer="CUST-1",
        rep="REP-2",
        reason="rebalanced",
        occurred_at=at(10),
    )
    # Recorded later, it happened before: REP-3 held the customer from day 5 to day 10.
    run(
        world,
        type="assign_owner",
        customer="CUST-1",
        rep="REP-3",
        reason="covering",
        occurred_at=at(5),
    )
    assert world.customer("CUST-1").owner == "REP-2"
    for _ in ("live", "rebuilt"):
        runner = Runner(world, [Dossier()])
        runner.catch_up()
        with runner.db.transaction(Dossier().table_names(), commit=False) as tx:
            history = tx.rows(
                "SELECT rep, since, until FROM {owner_history} WHERE customer = ? ORDER BY since",
                ("CUST-1",),
            )
            owner = tx.one("SELECT owner, owner_since FROM {customers} WHERE ref = ?", ("CUST-1",))
        assert [(h["rep"], h["until"]) for h in history] == [
            ("REP-1", iso(on(5))),
            ("REP-3", iso(on(10))),
            ("REP-2", None),
        ]
        assert owner == {"owner": "REP-2", "owner_since": iso(on(10))}
        runner.drop(Dossier(), "")  # the second reading is a rebuild from scratch
        runner.close()


def lost(ledger: Ledger, reading: Reading | None = None) -> tuple[int, int]:
    """2025-Q3's retention: (retained, lost as lapsed)."""
    [row] = report(ledger, Ask("retention", period="2025-Q3"), reading or Reading()).rows
    return row["retained"], row["lost_lapsed"]


def test_a_lapse_is_voided_by_a_purchase_in_its_quiet_days_recorded_later(world: Ledger) -> None:
    purchase(world, "O-1", "10.00", at(0))  # 2025-03-01
    run(world, type="mark_lapsed", customer="CUST-1", days=180, occurred_at=at(200))
    assert lost(world) == (0, 1)
    # Recorded now: the customer bought on 2025-06-09, within the 180 days before the lapse.
    purchase(world, "O-2", "10.00", at(100))
    assert lost(world) == (1, 0)
    assert lost(world, Reading(as_occurred_by=on(400))) == (1, 0)
    # Retracted, the purchase no longer voids it.
    run(world, type="retract_entry", customer="CUST-1", entry_id="O-2", reason="test order")
    assert lost(world) == (0, 1)


def test_an_outcome_recorded_late_takes_a_promise_off_the_overdue_list(world: Ledger) -> None:
    run(
        world,
        type="make_promise",
        customer="CUST-1",
        rep="REP-1",
        text="call back",
        promise_id="P-1",
        due_by=at(10),
        occurred_at=at(1),
    )
    run(world, type="mark_promise_overdue", customer="CUST-1", promise_id="P-1", occurred_at=at(11))
    runner = Runner(world, [Promises()])
    runner.catch_up()
    assert [p["promise_id"] for p in promises_with_status(runner.db, "overdue").items] == ["P-1"]
    # Recorded now: it was kept on day 9, before it was due.
    run(world, type="keep_promise", customer="CUST-1", promise_id="P-1", occurred_at=at(9))
    runner.catch_up()
    assert promises_with_status(runner.db, "overdue").items == []
    assert [p["promise_id"] for p in promises_with_status(runner.db, "kept").items] == ["P-1"]
    runner.close()


def responsible_in(db: Database, promise_id: str) -> str:
    with db.transaction(Promises().table_names(), commit=False) as tx:
        row = tx.one("SELECT responsible FROM {promises} WHERE promise_id = ?", (promise_id,))
    assert row is not None
    return str(row["responsible"])


def test_a_hand_over_recorded_late_counts_from_its_business_time(world: Ledger) -> None:
    run(
        world,
        type="make_promise",
        customer="CUST-1",
        rep="REP-1",
        text="call back",
        promise_id="P-1",
        due_by=at(30),
        occurred_at=at(0),
    )
    before = datetime.now().astimezone()
    # Recorded now: REP-2 took the promise over on day 5.
    run(
        world,
        type="move_responsibility",
        customer="CUST-1",
        entry_ids=["P-1"],
        to_rep="REP-2",
        reason="covering",
        occurred_at=at(5),
    )
    readings = {
        "occurred by day 10": Reading(as_occurred_by=on(10)),
        "occurred by day 3": Reading(as_occurred_by=on(3)),
        "known before it was recorded": Reading(as_known_at=before),
    }
    found = {}
    for name, reading in readings.items():
        with Replay(world, [Promises()], reading) as replay:
            replay.run()
            found[name] = responsible_in(replay.db, "P-1")
    assert found == {
        "occurred by day 10": "REP-2",
        "occurred by day 3": "REP-1",
        "known before it was recorded": "REP-1",
    }
