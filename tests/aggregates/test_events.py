"""Each event is declared as a class above the method that records it: the class's fields are
the method's parameters, in the same order and of the same types, so that what is stored is
what the method was given, and the rest of the code can name the event and know its fields."""

from __future__ import annotations

import inspect

import pytest
from eventsourcing.domain import CommandMethodDecorator
from eventsourcing.utils import get_topic

from ledger.aggregates import Campaign, Customer, Rep
from ledger.aggregates.base import LedgerAggregate, event_classes

pytestmark = pytest.mark.fast

AGGREGATES = (Customer, Rep, Campaign)
RECORDING = [
    (aggregate, name, value)
    for aggregate in AGGREGATES
    for name, value in vars(aggregate).items()
    if isinstance(value, CommandMethodDecorator)
]


@pytest.mark.parametrize(
    ("aggregate", "method", "decorator"),
    RECORDING,
    ids=[f"{aggregate.__name__}.{method}" for aggregate, method, _ in RECORDING],
)
def test_an_event_declares_the_parameters_of_the_method_that_records_it(
    aggregate: type[LedgerAggregate], method: str, decorator: CommandMethodDecorator
) -> None:
    declared = decorator.given_event_cls
    assert declared is not None, f"{aggregate.__name__}.{method} names its event by a string"
    parameters = list(inspect.signature(decorator.decorated_func).parameters.values())[1:]
    assert [(p.name, p.annotation) for p in parameters] == list(declared.__annotations__.items()), (
        f"{declared.__qualname__} and {aggregate.__name__}.{method} disagree"
    )
    assert list(declared.__annotations__)[-2:] == ["occurred_at", "actor"]


def test_every_event_is_recorded_by_one_method_and_stored_under_its_own_name() -> None:
    recorded = [
        decorator.given_event_cls.__name__
        for _, _, decorator in RECORDING
        if decorator.given_event_cls is not None
    ]
    assert sorted(recorded) == sorted(e.__name__ for a in AGGREGATES for e in event_classes(a))
    assert len(recorded) == len(set(recorded)) == 51
    for aggregate in AGGREGATES:
        for event in event_classes(aggregate):
            assert get_topic(event) == (
                f"ledger.aggregates.{aggregate.__name__.lower()}:"
                f"{aggregate.__name__}.{event.__name__}"
            )
