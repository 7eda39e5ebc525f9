"""Stable ids: a user's reference maps to the same UUID in every store, forever."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Literal
from uuid import UUID, uuid4, uuid5

NAMESPACE = UUID("6f1c2b1e-3f0a-4d67-9d2b-2f5b8c1e7a10")

Kind = Literal["customer", "rep", "campaign"]


def normal_ref(ref: str) -> str:
    """A reference as the ledger keeps it: in Unicode's compatibility form (NFKC), trimmed,
    so that look-alikes are one reference (CUST-0012 in full-width digits is CUST-0012)."""
    if ref.isascii():  # NFKC leaves ASCII as it is
        return ref.strip()
    return unicodedata.normalize("NFKC", ref).strip()


@lru_cache(maxsize=1 << 16)
def stream_id(kind: Kind, ref: str) -> UUID:
    """The stream of a reference, however it was spelt (``normal_ref``). (Remembered: a batch
    asks for the same few streams again and again, and a name-based UUID is a SHA-1.)"""
    return uuid5(NAMESPACE, f"{kind}:{normal_ref(ref)}")


def entry_id(command_id: str | None, slot: str = "entry") -> str:
    """A new entry id; derived from the command id when there is one, so retries agree."""
    if command_id is None:
        return str(uuid4())
    return str(uuid5(NAMESPACE, f"{command_id}:{slot}"))
