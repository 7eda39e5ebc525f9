"""The questions people ask of the views, in one place for the CLI and the HTTP API."""

from ledger.projections.dossier import (
    merges,
    orphaned_items,
    rep_dossier,
    rep_handover,
    service_inbox,
)
from ledger.projections.promises import promises_of
from ledger.projections.quotes import conflicting_quotes, quotes_of
from ledger.projections.service import violations
from ledger.projections.timeline import timeline_of

__all__ = [
    "conflicting_quotes",
    "merges",
    "orphaned_items",
    "promises_of",
    "quotes_of",
    "rep_dossier",
    "rep_handover",
    "service_inbox",
    "timeline_of",
    "violations",
]
