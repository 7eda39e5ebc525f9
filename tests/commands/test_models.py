"""Malformed commands are refused before anything is loaded, with what and where."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger.commands import COMMANDS, parse_command
from ledger.commands.models import RecordPurchase
from ledger.errors import CommandInvalid

QUOTE = {
    "type": "issue_quote",
    "customer": "CUST-1",
    "rep": "REP-1",
    "product": "茶",
    "unit_price": "12.50",
    "currency": "CNY",
    "valid_until": "2025-06-01T00:00:00+08:00",
}


def refusal(data: Any) -> CommandInvalid:
    with pytest.raises(CommandInvalid) as caught:
        parse_command(data, where="line 3")
    return caught.value


NAMED = """register_customer log_contact receive_request answer_request issue_quote accept_quote
decline_quote expire_quote withdraw_quote make_promise keep_promise break_promise cancel_promise
mark_promise_overdue touch_campaign change_consent file_complaint escalate_complaint
resolve_complaint reopen_complaint record_satisfaction record_purchase record_refund record_churn
record_win_back correct_entry retract_entry assign_owner update_profile hire_rep move_rep
depart_rep launch_campaign record_campaign_cost close_campaign flag_missed_deadline
mark_lapsed erase_personal_data add_team_member remove_team_member move_responsibility
merge_customers unmerge_customers
register_for_event confirm_registration decline_registration record_attendance""".split()


def test_every_command_type_is_known() -> None:
    assert sorted(COMMANDS) == sorted(NAMED)
    assert "unknown command type 'delete_customer'" in str(refusal({"type": "delete_customer"}))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("product", "   ", "product: String should have at least 1 character"),
        ("product", "x" * 201, "product: String should have at most 200 characters"),
        ("unit_price", "-1", "unit_price: Input should be greater than 0"),
        ("unit_price", 12.5, "not floats"),
        ("unit_price", "12.123456", "unit_price: Decimal input should have no more than 4 decimal"),
        ("currency", "RMB", "'RMB' is not an ISO 4217 currency code"),
        ("valid_until", "2025-06-01T00:00:00", "valid_until: Input should have timezone info"),
        ("discount", "1.5", "discount: Input should be less than 1"),
        ("rep", "REP 1", "rep: String should match pattern"),
        ("colour", "red", "colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_field_is_named_with_the_reason(field: str, value: Any, message: str) -> None:
    error = refusal({**QUOTE, field: value})
    assert message in str(error)
    assert str(error).startswith("line 3: issue_quote: ")
    assert error.errors[0]["field"] == field


def test_a_missing_field_is_named() -> None:
    data = dict(QUOTE)
    del data["currency"]
    assert "currency: Field required" in str(refusal(data))


def test_a_deadline_before_the_entry_is_refused() -> None:
    error = refusal({**QUOTE, "occurred_at": "2025-07-01T00:00:00Z"})
    assert "valid_until (2025-05-31T16:00:00+00:00) is before occurred_at" in str(error)


def test_json_numbers_become_exact_decimals_and_times_utc() -> None:
    command = parse_command(
        '{"type": "record_purchase", "customer": "C", "order_id": "SO-1", '
        '"amount": 0.1, "currency": "cny", '
        '"occurred_at": "2025-01-01T08:00:00+08:00"}'
    )
    assert isinstance(command, RecordPurchase) and command.occurred_at is not None
    assert command.amount == Decimal("0.1")
    assert command.currency == "CNY"
    assert command.occurred_at.isoformat() == "2025-01-01T00:00:00+00:00"


def test_broken_json_and_non_objects_are_refused() -> None:
    assert "not valid JSON" in str(refusal("{oops"))
    assert "a command is a JSON object" in str(refusal("[1, 2]"))


def test_a_profile_update_must_change_something_and_keep_a_name() -> None:
    assert "give at least one of name" in str(refusal({"type": "update_profile", "customer": "C"}))
    assert "name cannot be cleared" in str(
        refusal({"type": "update_profile", "customer": "C", "name": None})
    )


def test_survey_items_use_the_seven_level_scale() -> None:
    error = refusal(
        {"type": "record_satisfaction", "customer": "C", "items": {"delivery": "great"}}
    )
    assert "items.delivery: Input should be 'very_satisfied'" in str(error)


def test_commands_that_say_the_same_are_equal_whatever_is_known_of_them() -> None:
    first = parse_command({"type": "hire_rep", "ref": "R", "name": "n", "team": "t"})
    second = parse_command({"type": "hire_rep", "ref": "R", "name": "n", "team": "t"})
    first.fingerprints[b"key"] = "fp1:..."
    assert first == second and hash(first) == hash(second)
    assert first != parse_command({"type": "hire_rep", "ref": "R", "name": "m", "team": "t"})
