"""Two records of one customer merged, and unmerged: an event on both records, never a rewrite.

The story: sales registered 王芳 as CUST-A, marketing registered her again as CUST-B. Each
record has a purchase, a promise, a quote for the same tea at another price, and the spring
brochure (once from sales, once from marketing). A manager merges CUST-B into CUST-A."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger import clock
from ledger.aggregates.customer import MergeRefused
from ledger.application import Ledger
from ledger.cli.main import main
from ledger.config import Settings
from ledger.erasure import forget
from ledger.errors import CommandInvalid
from ledger.projections import queries
from ledger.projections.registry import all_views
from ledger.projections.runner import Runner
from ledger.sql import Database
from replay.catalogue import Ask, report
from replay.core import Reading
from tests.conftest import T0, at, run, stored_event_count


def story(ledger: Ledger) -> None:
    run(ledger, type="hire_rep", ref="REP-1", name="李娜", team="east", occurred_at=at(-60))
    run(ledger, type="hire_rep", ref="REP-2", name="Tom", team="west", occurred_at=at(-60))
    for ref, department in (("K-SALES", "sales"), ("K-MKT", "marketing")):
        run(
            ledger,
            type="launch_campaign",
            ref=ref,
            name="Spring",
            channel="email",
            budget="1000",
            currency="CNY",
            starts_at=at(-60),
            ends_at=at(300),
            material="spring brochure",
            department=department,
        )
    for ref, owner, campaign, price in (
        ("CUST-A", "REP-1", "K-SALES", "128.00"),
        ("CUST-B", "REP-2", "K-MKT", "118.00"),
    ):
        side = ref[-1]
        run(
            ledger,
            type="register_customer",
            ref=ref,
            name="王芳",
            owner=owner,
            occurred_at=at(-40),
        )
        run(
            ledger,
            type="record_purchase",
            customer=ref,
            order_id=f"O-{side}",
            amount="100.00",
            currency="CNY",
            occurred_at=at(-30 if side == "A" else -20),
        )
        run(
            ledger,
            type="make_promise",
            customer=ref,
            rep=owner,
            promise_id=f"P-{side}",
            text="deliver by Friday",
            category="delivery",
            due_by=at(20),
            occurred_at=at(-10),
        )
        run(
            ledger,
            type="issue_quote",
            customer=ref,
            rep=owner,
            quote_id=f"Q-{side}",
            product="普洱茶",
            unit_price=price,
            currency="CNY",
            valid_until=at(30),
            occurred_at=at(-9),
        )
        run(
            ledger,
            type="touch_campaign",
            customer=ref,
            campaign=campaign,
            touch_id=f"T-{side}",
            occurred_at=at(-8),
        )
        run(
            ledger,
            type="log_contact",
            customer=ref,
            rep=owner,
            contact_id=f"C-{side}",
            channel="phone",
            direction="out",
            subject="hello",
            occurred_at=at(-7),
        )


def merge(ledger: Ledger, **more: Any) -> Any:
    fields = {"customer": "CUST-A", "merged": "CUST-B", "reason": "same person"}
    return run(ledger, type="merge_customers", **{**fields, **more})


def caught_up(ledger: Ledger) -> Runner:
    runner = Runner(ledger, all_views())
    runner.catch_up()
    assert not runner.failed, runner.failed
    return runner


def each_view_equals_a_rebuild(runner: Runner) -> None:
    for view in runner.views:
        assert runner.rebuild(view, verify=True) is True, view.name


def promises(db: Database, ref: str) -> list[tuple[str, str, str]]:
    return [(p["promise_id"], p["origin"], p["status"]) for p in queries.promises_of(db, ref).items]


def kinds_of_violation(db: Database) -> list[tuple[str, str]]:
    return [(v["kind"], v["customer"]) for v in queries.violations(db).items]


def value_rows(ledger: Ledger) -> list[tuple[str, int, str]]:
    found = report(ledger, Ask("value", period="2025"), Reading(), stamped=False)
    return [(r["customer"], r["orders"], str(r["revenue"])) for r in found.rows]


def btyd_inputs(ledger: Ledger) -> list[tuple[str, float]]:
    found = report(ledger, Ask("summary", as_of=T0), Reading(), stamped=False)
    return [(r["customer"], r["frequency"]) for r in found.rows]


def test_a_merge_then_an_unmerge_leave_every_view_equal_to_a_rebuild(ledger: Ledger) -> None:
    story(ledger)
    runner = caught_up(ledger)
    merge(ledger, occurred_at=at(1))
    # After the merge: a new fact named by either reference is the survivor's, and an
    # outcome of the merged record's promise stays with that promise's record.
    run(
        ledger,
        type="log_contact",
        customer="CUST-B",
        rep="REP-2",
        contact_id="C-AFTER",
        channel="visit",
        direction="out",
        subject="tea tasting",
        occurred_at=at(2),
    )
    run(ledger, type="keep_promise", customer="CUST-A", promise_id="P-B", occurred_at=at(3))
    runner.catch_up()
    assert not runner.failed
    each_view_equals_a_rebuild(runner)
    run(ledger, type="unmerge_customers", customer="CUST-B", reason="two people after all")
    runner.catch_up()
    each_view_equals_a_rebuild(runner)
    runner.close()


def test_the_survivor_reads_the_merged_history_once_and_reports_count_one_customer(
    ledger: Ledger,
) -> None:
    story(ledger)
    runner = caught_up(ledger)
    assert value_rows(ledger) == [("CUST-A", 1, "100.00"), ("CUST-B", 1, "100.00")]
    assert kinds_of_violation(runner.db) == []
    assert queries.conflicting_quotes(runner.db).items == []

    result = merge(ledger, occurred_at=at(1))
    assert (result.ref, [e.type for e in result.events]) == ("CUST-A", ["Merged"])
    runner.catch_up()
    db = runner.db

    assert promises(db, "CUST-A") == [("P-A", "CUST-A", "open"), ("P-B", "CUST-B", "open")]
    assert promises(db, "CUST-B") == []  # its rows read as the survivor's
    assert [q["quote_id"] for q in queries.quotes_of(db, "CUST-A").items] == ["Q-A", "Q-B"]
    [conflict] = queries.conflicting_quotes(db).items  # two reps, two prices, one customer
    assert (conflict["customer"], conflict["first_quote"], conflict["second_quote"]) == (
        "CUST-A",
        "Q-A",
        "Q-B",
    )
    # One brochure sent to "both" records is a duplicate sending to one customer.
    assert kinds_of_violation(db) == [("same_material_two_departments", "CUST-A")]
    lines = queries.timeline_of(db, "CUST-A", records=["CUST-B"], limit=500).items
    assert [(line["customer"], line["kind"]) for line in lines].count(
        ("CUST-B", "PurchaseRecorded")
    )
    assert sum(line["kind"] == "PurchaseRecorded" for line in lines) == 2  # once each
    assert [line["summary"] for line in lines if line["kind"] in ("Merged", "MergedInto")] == [
        "CUST-B merged into this record: same person",
        "merged into CUST-A: same person",
    ]
    # Two records each with a purchase: one customer with two purchases.
    assert value_rows(ledger) == [("CUST-A", 2, "200.00")]
    assert btyd_inputs(ledger) == [("CUST-A", 1)]  # one repeat purchase
    dossier = queries.rep_dossier(db, "REP-2", as_of=T0)
    assert dossier["customers_owned"] == []  # the survivor's owner owns the customer
    assert [c["customer"] for c in dossier["customers_touched"]] == ["CUST-A"]
    [noted] = queries.merges(db).items
    assert (noted["merged"], noted["survivor"], noted["action"], noted["actor"]) == (
        "CUST-B",
        "CUST-A",
        "merged",
        "test",
    )
    assert noted["reason"] == "same person"
    runner.close()


def test_an_unmerge_restores_both_and_the_survivor_keeps_what_came_after(ledger: Ledger) -> None:
    story(ledger)
    runner = caught_up(ledger)
    merge(ledger)
    written = run(
        ledger,
        type="log_contact",
        customer="CUST-B",
        rep="REP-2",
        contact_id="C-AFTER",
        channel="visit",
        direction="out",
        subject="tea tasting",
    )
    assert written.ref == "CUST-A"  # a write to the merged reference goes to the survivor
    kept = run(ledger, type="keep_promise", customer="CUST-A", promise_id="P-B")
    assert kept.ref == "CUST-B"  # the outcome stays with the promise's record
    run(ledger, type="unmerge_customers", customer="CUST-B", reason="two people after all")
    runner.catch_up()
    db = runner.db
    assert promises(db, "CUST-A") == [("P-A", "CUST-A", "open")]
    assert promises(db, "CUST-B") == [("P-B", "CUST-B", "kept")]
    assert value_rows(ledger) == [("CUST-A", 1, "100.00"), ("CUST-B", 1, "100.00")]
    assert kinds_of_violation(db) == []
    touched = queries.rep_dossier(db, "REP-2", as_of=T0 + timedelta(days=1))
    assert [c["customer"] for c in touched["customers_owned"]] == ["CUST-B"]
    assert {c["customer"]: c["contacts"] for c in touched["customers_touched"]} == {
        "CUST-A": 1,  # the visit after the merge stays the survivor's
        "CUST-B": 1,
    }
    assert [m["action"] for m in queries.merges(db).items] == ["merged", "unmerged"]
    assert ledger.customer("CUST-B").merged_into is None
    assert ledger.customer("CUST-A").merged_records in ((), [])
    runner.close()


def refused(ledger: Ledger, code: str, match: str, **fields: Any) -> None:
    before = stored_event_count(ledger)
    with pytest.raises(MergeRefused, match=match) as caught:
        run(ledger, **fields)
    assert isinstance(caught.value, CommandInvalid)  # 422, exit status 2
    assert caught.value.code == code
    assert stored_event_count(ledger) == before  # nothing written


def test_what_cannot_be_merged_is_refused_and_nothing_is_written(ledger: Ledger) -> None:
    story(ledger)
    run(ledger, type="register_customer", ref="CUST-C", name="王芳", occurred_at=at(-5))
    run(ledger, type="register_customer", ref="CUST-D", name="张伟", occurred_at=at(-5))
    m = {"type": "merge_customers", "reason": "same"}
    refused(ledger, "merge_into_itself", "into itself", **m, customer="CUST-A", merged="CUST-A")
    run(ledger, type="erase_personal_data", customer="CUST-D", reason="asked")
    refused(ledger, "merge_with_forgotten", "forgotten", **m, customer="CUST-D", merged="CUST-C")
    refused(ledger, "merge_with_forgotten", "forgotten", **m, customer="CUST-C", merged="CUST-D")
    refused(
        ledger,
        "not_merged",
        "nothing to unmerge",
        type="unmerge_customers",
        customer="CUST-B",
        reason="x",
    )
    merge(ledger)
    refused(
        ledger,
        "already_merged",
        "merged into CUST-A already",
        **m,
        customer="CUST-C",
        merged="CUST-B",
    )
    refused(
        ledger,
        "merged_has_records",
        "has CUST-B merged into it",
        **m,
        customer="CUST-C",
        merged="CUST-A",
    )
    # A merge into the merged record follows it to its survivor: into itself, then.
    refused(ledger, "merge_into_itself", "into itself", **m, customer="CUST-B", merged="CUST-A")
    run(
        ledger,
        type="log_contact",
        customer="CUST-C",
        rep="REP-1",
        contact_id="C-A",
        channel="phone",
        direction="in",
        subject="hi",
    )
    refused(
        ledger,
        "entry_ids_shared",
        "both have entries with the ids C-A",
        **m,
        customer="CUST-A",
        merged="CUST-C",
    )


def test_a_merge_into_a_merged_record_follows_it_to_the_final_survivor(ledger: Ledger) -> None:
    story(ledger)
    run(ledger, type="register_customer", ref="CUST-C", name="王芳", occurred_at=at(-5))
    merge(ledger)
    result = run(ledger, type="merge_customers", customer="CUST-B", merged="CUST-C", reason="x")
    assert result.ref == "CUST-A"
    assert ledger.customer("CUST-C").merged_into == "CUST-A"
    assert list(ledger.customer("CUST-A").merged_records) == ["CUST-B", "CUST-C"]
    assert ledger.survivor_as_stored("CUST-C").ref == "CUST-A"


def test_forgetting_either_record_erases_the_personal_data_of_both(ledger: Ledger) -> None:
    story(ledger)
    merge(ledger)
    done = forget(ledger, "CUST-B", reason="asked to be forgotten", actor="compliance")
    assert done["records"] == ["CUST-A", "CUST-B"]
    for ref in ("CUST-A", "CUST-B"):
        customer = ledger.customer(ref)
        assert customer.erased and customer.profile["name"] is None
    # Forgotten, they stay as they are: one forgotten customer.
    refused(
        ledger,
        "merge_with_forgotten",
        "stay as they are",
        type="unmerge_customers",
        customer="CUST-B",
        reason="two people",
    )


def test_a_merge_recorded_late_counts_from_when_it_happened(ledger: Ledger) -> None:
    with clock.recording_at(T0):
        story(ledger)
    decided, recorded = T0 + timedelta(days=1), T0 + timedelta(days=10)
    with clock.recording_at(recorded):
        merge(ledger, occurred_at=decided.isoformat())

    def customers(reading: Reading) -> list[str]:
        found = report(ledger, Ask("value", period="2025"), reading, stamped=False)
        return [row["customer"] for row in found.rows]

    assert customers(Reading(as_occurred_by=decided - timedelta(hours=1))) == ["CUST-A", "CUST-B"]
    assert customers(Reading(as_occurred_by=decided)) == ["CUST-A"]
    assert customers(Reading(as_known_at=recorded - timedelta(hours=1))) == ["CUST-A", "CUST-B"]
    assert customers(Reading(as_known_at=recorded)) == ["CUST-A"]


def test_the_command_line_merges_and_refuses_with_exit_status_two(
    store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = Ledger(store_env)
    try:
        story(ledger)
    finally:
        ledger.close()
    assert main(["customer", "merge", "CUST-A", "CUST-A", "--reason", "same"]) == 2
    assert "cannot be merged into itself" in capsys.readouterr().err
    assert main(["customer", "merge", "CUST-A", "CUST-B", "--reason", "same person"]) == 0
    assert "CUST-B merged into CUST-A" in capsys.readouterr().out
    assert main(["customer", "show", "CUST-B"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("CUST-B was merged into CUST-A; showing CUST-A")
    assert shown.count("order_id=O-") == 2
    assert main(["compliance", "merges", "--json"]) == 0
    assert '"survivor": "CUST-A"' in capsys.readouterr().out
    assert main(["customer", "unmerge", "CUST-B", "--reason", "two people"]) == 0
    assert main(["customer", "unmerge", "CUST-B", "--reason", "again"]) == 2


def test_one_departments_brochure_to_both_records_is_a_duplicate_sending_once_merged(
    ledger: Ledger,
) -> None:
    story(ledger)
    run(
        ledger,
        type="touch_campaign",
        customer="CUST-B",
        campaign="K-SALES",
        touch_id="T-B2",
        occurred_at=at(-6),
    )
    runner = caught_up(ledger)
    before = kinds_of_violation(runner.db)
    assert before == [("same_material_two_departments", "CUST-B")]  # (B's own two sendings)
    merge(ledger)
    runner.catch_up()
    assert sorted(kinds_of_violation(runner.db)) == [
        ("same_material_two_departments", "CUST-A"),
        ("same_material_two_departments", "CUST-A"),
        ("same_material_two_records", "CUST-A"),  # sales' brochure, to A and to B
    ]
    runner.close()


def test_a_registration_made_before_a_merge_is_answered_and_counted_after_it(
    ledger: Ledger,
) -> None:
    story(ledger)
    run(
        ledger,
        type="launch_campaign",
        ref="SEM-1",
        name="品茶研讨会",
        channel="event",
        budget="3000",
        currency="CNY",
        starts_at=at(-10),
        ends_at=at(40),
        kind="seminar",
        event_at=at(30),
        capacity=2,
        occurred_at=at(-10),
    )
    run(
        ledger,
        type="register_for_event",
        customer="CUST-B",
        campaign="SEM-1",
        respond_by=at(3),
        registration_id="REG-B",
        occurred_at=at(0),
    )
    runner = caught_up(ledger)
    merge(ledger, occurred_at=at(1))
    run(
        ledger,
        type="confirm_registration",
        customer="CUST-B",
        registration_id="REG-B",
        occurred_at=at(2),
    )
    runner.catch_up()
    assert not runner.failed, runner.failed

    found = report(ledger, Ask("campaigns", period="2025-03"), Reading(), stamped=False)
    [row] = [row for row in found.rows if row["campaign"] == "SEM-1"]
    assert (row["registrations"], row["confirmed"]) == (1, 1)
    inbox = queries.service_inbox(runner.db, as_of=T0 + timedelta(days=5)).items
    assert [i for i in inbox if i["item"] == "registration"] == []
    each_view_equals_a_rebuild(runner)
    runner.close()
