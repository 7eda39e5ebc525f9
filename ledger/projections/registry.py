"""Every view the runner keeps, by name."""

from __future__ import annotations

from ledger.projections.activity import Activity
from ledger.projections.base import View
from ledger.projections.dossier import Dossier
from ledger.projections.promises import Promises
from ledger.projections.quotes import Quotes
from ledger.projections.service import Service
from ledger.projections.timeline import Timeline

VIEW_CLASSES: dict[str, type[View]] = {
    view.name: view for view in (Promises, Quotes, Timeline, Service, Dossier, Activity)
}
VIEW_NAMES = list(VIEW_CLASSES)
_tables = [table for view in VIEW_CLASSES.values() for table in view.tables]
assert len(_tables) == len(set(_tables)), f"two views name the same table: {sorted(_tables)}"


def all_views() -> list[View]:
    return [cls() for cls in VIEW_CLASSES.values()]


def views_named(names: list[str]) -> list[View]:
    """The views with these names (all of them for none); KeyError names an unknown one."""
    return [VIEW_CLASSES[name]() for name in names] if names else all_views()
