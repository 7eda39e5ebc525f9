"""Events are named by their classes: outside the aggregates, no product code spells an
event's name as a string (a renamed event would silently stop whatever compared it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate

from ledger.aggregates import Campaign, Customer, Rep

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent


def event_names() -> set[str]:
    return {
        name
        for aggregate in (Customer, Rep, Campaign)
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, Aggregate.Event)
    } - {"Event", "Created"}


def test_no_event_name_is_spelled_as_a_string_outside_the_aggregates() -> None:
    names = event_names()
    assert {"PromiseMade", "Registered", "PersonalDataErased"} <= names
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for package in ("ledger", "api", "replay")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "aggregates" not in path.parts
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert found == [], "name the class instead (Customer.PromiseMade.__name__)"
