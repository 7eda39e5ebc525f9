"""Views choose the events they handle by class, never by name. A view that must see every
kind of event names each event class the aggregates record as one it handles or one it
ignores, so that a new event (or one a view forgot) fails here, naming the view and the
event, rather than leaving the view silently behind."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any, ClassVar

import pytest
from eventsourcing.domain import Aggregate

from ledger.aggregates import Campaign, Customer, Rep
from ledger.projections.base import EventClass, HandlerView, View, handles
from ledger.projections.registry import VIEW_CLASSES
from ledger.sql import Writes

pytestmark = pytest.mark.fast


def recorded_events() -> set[type]:
    """Every event class the aggregates record: their nested ``Aggregate.Event`` subclasses,
    less the two bases the library gives each aggregate (``Event`` and ``Created``)."""
    return {
        value
        for aggregate in (Customer, Rep, Campaign)
        for value in vars(aggregate).values()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and value not in (aggregate.Event, aggregate.Created)
    }


EVENTS = recorded_events()
VIEWS = list(VIEW_CLASSES.values())
EVERY_KIND = [view for view in VIEWS if view.sees_every_kind]


def names(classes: AbstractSet[EventClass]) -> str:
    return ", ".join(sorted(c.__qualname__ for c in classes))


def test_the_aggregates_record_fifty_one_kinds_of_event() -> None:
    assert len(EVENTS) == 51
    assert {Customer.PromiseMade, Rep.Hired, Campaign.Closed} <= EVENTS
    assert Customer.Event not in EVENTS and Customer.Created not in EVENTS


def test_the_timeline_dossier_and_activity_must_see_every_kind() -> None:
    """The timeline shows every event of a customer; the dossier keeps every customer and rep;
    the activity view is what every figure is computed from."""
    assert {view.name for view in EVERY_KIND} == {"timeline", "dossier", "activity"}


@pytest.mark.parametrize("view", EVERY_KIND, ids=lambda view: view.name)
def test_a_view_that_sees_every_kind_handles_or_ignores_each_event(view: type[View]) -> None:
    missing = EVENTS - view.handled() - set(view.ignores)
    assert not missing, (
        f"the {view.name} view neither handles nor ignores {names(missing)}: register a handler "
        f"with @handles(...), or add the class to {view.__name__}.ignores"
    )


@pytest.mark.parametrize("view", VIEWS, ids=lambda view: view.name)
def test_a_view_names_only_events_the_aggregates_record(view: type[View]) -> None:
    handled, ignored = view.handled(), set(view.ignores)
    assert handled, f"the {view.name} view handles no event"
    assert not handled - EVENTS, f"{view.name} handles {names(handled - EVENTS)}"
    assert not ignored - EVENTS, f"{view.name} ignores {names(ignored - EVENTS)}"
    assert not handled & ignored, f"{view.name} handles and ignores {names(handled & ignored)}"
    assert len(view.ignores) == len(ignored), f"{view.name} ignores an event twice"


def test_a_handler_is_chosen_by_the_class_it_is_registered_for_not_its_name() -> None:
    class Seen(HandlerView):
        name = "seen"
        tables: ClassVar[dict[str, str]] = {}

        @handles(Customer.PromiseKept, Customer.PromiseBroken)
        def quote_issued(self, db: Writes, e: Any, customer: str) -> None:
            """(A misleading name, to show that it does not matter.)"""

    assert Seen.handled() == {Customer.PromiseKept, Customer.PromiseBroken}
    assert Seen.handlers[Customer.PromiseKept] is Seen.quote_issued


def test_a_subclass_overrides_a_handler_by_overriding_its_method() -> None:
    class Base(HandlerView):
        name = "base"
        tables: ClassVar[dict[str, str]] = {}

        @handles(Customer.PromiseMade)
        def promise_made(self, db: Writes, e: Any, customer: str) -> None:
            pass

    class Derived(Base):
        def promise_made(self, db: Writes, e: Any, customer: str) -> None:
            pass

    assert Derived.handlers == {Customer.PromiseMade: Derived.promise_made}
    assert Base.handlers == {Customer.PromiseMade: Base.promise_made}


def test_a_handler_named_for_an_event_without_registering_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Stale\.on_PromiseMade: .* @handles"):

        class Stale(HandlerView):
            name = "stale"
            tables: ClassVar[dict[str, str]] = {}

            def on_PromiseMade(self, db: Writes, e: Any, customer: str) -> None:
                pass


def test_an_event_handled_twice_by_one_view_is_refused() -> None:
    with pytest.raises(TypeError, match="handles Customer.PromiseMade twice"):

        class Twice(HandlerView):
            name = "twice"
            tables: ClassVar[dict[str, str]] = {}

            @handles(Customer.PromiseMade)
            def made(self, db: Writes, e: Any, customer: str) -> None:
                pass

            @handles(Customer.PromiseMade, Customer.PromiseKept)
            def made_or_kept(self, db: Writes, e: Any, customer: str) -> None:
                pass
