"""The chain of every stream, added where events are stored: each event's stored bytes end with
a trailer (a marker, the previous event's hash, and this event's hash over that, its topic and
its state). ``ChainedMapper`` is the library's mapper with the chain and customers' sealing
added; ``ledger.integrity`` verifies the chains.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from ledger import sealing
from ledger.aggregates import Customer
from ledger.sealing import (
    CUSTOMER_TOPIC,
    PERSONAL,
    UNSEALED_EVENTS,
    CustomerForgotten,
    CustomerKeys,
    has_personal,
    has_sealed,
    is_sealed,
    opened_fields,
    sealed_fields,
    unseal,
)

NESTED = ("changes", "fields", "state")  # where events and snapshots carry personal fields
SEALED_BYTES = sealing.MARK.encode()
MARK = b"\n#chain1:"
TRAILER = len(MARK) + 64
GENESIS = hashlib.sha256(b"customer ledger: the start of every stream").digest()


def link(previous: bytes, topic: str, state: bytes) -> bytes:
    return hashlib.sha256(previous + topic.encode() + b"\0" + state).digest()


def split(state: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(payload, previous hash, own hash) of a chained event's stored state; None if the
    event carries no trailer (stored before chains, or not by this ledger)."""
    if len(state) < TRAILER or state[-TRAILER:-64] != MARK:
        return None
    return state[:-TRAILER], state[-64:-32], state[-32:]


class ChainedMapper(Mapper[UUID]):
    """The library's mapper, with each stored event chained to its stream's previous one.

    The previous event's hash comes from the events this process has mapped (written or read:
    the last one per stream is remembered), or else from the store (``fetch_head``). A write
    that fails on a version conflict has mapped events that were never stored; the events read
    when the aggregate is loaded again replace what was remembered of them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heads: dict[UUID | str, tuple[int, bytes]] = {}
        self.fetch_head: Callable[[UUID | str, int], StoredEvent | None] | None = None
        self.keys: CustomerKeys | None = None  # seals customers' personal fields

    def prepare_keys(self, domain_events: Iterable[Any]) -> None:
        """Read (or make) at once the keys sealing these events' personal fields will need."""
        if self.keys is not None:
            self.keys.prepare({e.originator_id for e in domain_events if to_seal(e)})

    def forget_key(self, stream: UUID) -> None:
        if self.keys is not None:
            self.keys.forgotten(stream)

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if self.keys is not None and to_seal(domain_event):
            stream = domain_event.originator_id
            key = self.keys.cipher(stream, create=True)
            if key is None:
                raise CustomerForgotten(
                    "this customer was forgotten: the ledger takes no new personal data of theirs"
                )
            sealed = copy.copy(domain_event)
            sealed.__dict__.update(sealed_fields(vars(domain_event), key, stream))
            domain_event = sealed
        stored = super().to_stored_event(domain_event)
        if isinstance(domain_event, Snapshot):
            return stored  # snapshots are caches of state, not history
        previous = self.previous(stored.originator_id, stored.originator_version)
        own = link(previous, stored.topic, stored.state)
        self.remember(stored.originator_id, stored.originator_version, own)
        return StoredEvent(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=stored.state + MARK + previous + own,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.decode(stored_event, opened=True)

    def decode(self, stored_event: StoredEvent, *, opened: bool) -> Any:
        """The stored event as a domain event; ``opened``: with its sealed fields opened (for
        the aggregates, and pages about to show them), else as stored (for the views, which
        keep sealed values sealed)."""
        parts = split(stored_event.state)
        if parts is None:
            payload = stored_event.state
            domain_event = super().to_domain_event(stored_event)
        else:
            payload, _, own = parts
            self.remember(stored_event.originator_id, stored_event.originator_version, own)
            domain_event = super().to_domain_event(
                StoredEvent(
                    originator_id=stored_event.originator_id,
                    originator_version=stored_event.originator_version,
                    topic=stored_event.topic,
                    state=payload,
                )
            )
        if self.keys is None:
            return domain_event
        if stored_event.topic == ERASED_TOPIC:
            self.keys.forgotten(stored_event.originator_id)  # another process forgot them
        # Most events hold nothing sealed; looking at the bytes costs far less than the fields.
        if opened and (SEALED_BYTES in payload or self.cipher is not None):
            return self.opened(domain_event)
        return domain_event

    def opened(self, domain_event: Any) -> Any:
        """The event with its sealed fields opened (None once the customer is forgotten)."""
        assert self.keys is not None
        state = domain_event.__dict__
        names = [name for name in PERSONAL if is_sealed(state.get(name))]
        nested = [
            name for name in NESTED if isinstance(state.get(name), dict) and has_sealed(state[name])
        ]
        if not (names or nested) or not of_customer(domain_event):
            return domain_event
        cipher = self.keys.cipher(domain_event.originator_id, create=False)
        for name in names:
            state[name] = unseal(state[name], cipher)
        for name in nested:
            state[name] = opened_fields(state[name], cipher)
        return domain_event

    def remember(self, stream: UUID | str, version: int, own: bytes) -> None:
        known = self.heads.get(stream)
        if known is None or known[0] <= version:
            if known is None and len(self.heads) >= 200_000:
                self.heads.clear()
            self.heads[stream] = (version, own)

    def previous(self, stream: UUID | str, version: int) -> bytes:
        if version <= 1:
            return GENESIS
        known = self.heads.get(stream)
        if known is not None and known[0] == version - 1:
            return known[1]
        stored = self.fetch_head(stream, version - 1) if self.fetch_head else None
        parts = None if stored is None else split(stored.state)
        # A stream whose earlier events were stored before chains begins its chain here.
        return GENESIS if parts is None else parts[2]


ERASED = Customer.PersonalDataErased
ERASED_TOPIC = get_topic(ERASED)
assert ERASED in UNSEALED_EVENTS


def to_seal(domain_event: Any) -> bool:
    """Whether the event (or snapshot) holds a customer's personal data to seal."""
    return (
        of_customer(domain_event)
        and type(domain_event) not in UNSEALED_EVENTS
        and has_personal(vars(domain_event))
    )


def of_customer(domain_event: Any) -> bool:
    topic = (
        getattr(domain_event, "topic", "")
        if isinstance(domain_event, Snapshot)
        else type(domain_event).__qualname__
    )
    return bool(
        topic.startswith(CUSTOMER_TOPIC)
        if isinstance(domain_event, Snapshot)
        else topic.startswith("Customer.")
    )
