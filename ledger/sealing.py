"""Sealing: a customer's personal data, and every free text that can be about them, is
encrypted under a key of their own before it reaches any table (events, snapshots, views);
forgetting the customer destroys the key (``ledger/erasure.py``).

A sealed value names the customer whose key opens it (``sealed2:<stream>:<ciphertext>``, the
stream id also bound into the ciphertext), so whatever holds one — an event, a view's row, a
page about to be shown — can open it without knowing where it came from: ``reveal`` opens
every sealed value in a structure, and gives None for a forgotten customer's.

Views that must find customers by a personal field keep keyed hashes of its normalised
tokens (``blind_tokens``), never the text; the key is a secret of the deployment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.aggregates import Customer
from ledger.errors import rule
from ledger.ids import stream_id
from ledger.sql import Database, iso

# A customer's profile fields that identify them.
PROFILE = frozenset({"name", "email", "phone", "address", "company", "title"})
# Free text typed about a customer: what was said, promised, complained of, and why.
FREE_TEXT = frozenset({"subject", "summary", "description", "text", "note", "reason", "resolution"})
PERSONAL = PROFILE | FREE_TEXT
# The erasure's own reason is the record of why; it is written as the key is destroyed.
UNSEALED_EVENTS = frozenset({Customer.PersonalDataErased})
CUSTOMER_TOPIC = "ledger.aggregates.customer:Customer"
SEALED = "sealed2:"
LEGACY = "sealed1:"  # sealed before values named their stream: opened with the event's key
MARK = "sealed"
TABLE = {"keys": "customer_keys"}
KEY_CHUNK = 500  # customers per statement when keys are made in bulk
CustomerForgotten = rule("customer_forgotten")


class CustomerKeys:
    """One AES-256 key per customer stream, created when first needed; a destroyed key
    leaves a row without a key, so that readers know it is gone rather than not yet made.

    A process keeps the keys it has read, and every ``ttl`` seconds asks the store (once, for
    all customers) which keys were destroyed since: a key destroyed by another process is gone
    from this one within that time (at once if it reads the erasure)."""

    ttl = 2.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self.known: dict[str, AESGCM] = {}
        self.destroyed: set[str] = set()
        self.checked = 0.0  # when the destroyed keys were last asked for
        self.lock = threading.Lock()

    def create_table(self) -> None:
        with self.db.transaction(TABLE) as tx:
            tx.ddl_turn()
            tx.execute(
                "CREATE TABLE IF NOT EXISTS {keys} (stream TEXT PRIMARY KEY, key TEXT, "
                "destroyed_at TEXT)"
            )

    def cipher(self, stream: UUID | str, *, create: bool) -> AESGCM | None:
        """The customer's cipher; None if their key was destroyed (or, without ``create``,
        never made: nothing was sealed for them)."""
        name = str(stream)
        self.refresh()
        with self.lock:
            if name in self.destroyed:
                return None
            if name in self.known:
                return self.known[name]
        if create:
            self.prepare([name])
        else:
            self.remember(self.read([name]))
        with self.lock:
            return self.known.get(name)

    def prepare(self, streams: Iterable[UUID | str]) -> None:
        """Read, and make where missing, the keys of these customers at once (a statement or
        two for all), so that sealing a batch's events asks the store nothing more: a batch
        that registers a thousand customers would otherwise make a thousand keys one
        transaction at a time. (A key made for a batch that then fails is unused; harmless.)"""
        self.refresh()
        with self.lock:
            names = sorted({str(s) for s in streams} - self.known.keys() - self.destroyed)
        for start in range(0, len(names), KEY_CHUNK):
            chunk = names[start : start + KEY_CHUNK]
            found = self.read(chunk)
            missing = [name for name in chunk if name not in found]
            if missing:
                with self.db.transaction(TABLE) as tx:
                    tx.executemany(
                        "INSERT INTO {keys} (stream, key) VALUES (?, ?) "
                        "ON CONFLICT (stream) DO NOTHING",
                        [
                            (name, base64.b64encode(AESGCM.generate_key(256)).decode())
                            for name in missing
                        ],
                    )
                found.update(self.read(missing))  # another process may have made one first
            self.remember(found)

    def preload(self, streams: Iterable[UUID | str]) -> None:
        """Read at once the keys of these customers (a statement per ``KEY_CHUNK``), making
        none: before opening the values of thousands of them, which would otherwise read
        their keys one statement each."""
        self.refresh()
        with self.lock:
            names = sorted({str(s) for s in streams} - self.known.keys() - self.destroyed)
        for start in range(0, len(names), KEY_CHUNK):
            self.remember(self.read(names[start : start + KEY_CHUNK]))

    def remember(self, found: dict[str, str | None]) -> None:
        with self.lock:
            for name, key in found.items():
                if key:
                    self.known[name] = AESGCM(base64.b64decode(key))
                else:
                    self.destroyed.add(name)

    def read(self, names: list[str]) -> dict[str, str | None]:
        """The stored keys of these customers (None: destroyed); absent: never made."""
        with self.db.transaction(TABLE, commit=False, snapshot=False) as tx:
            rows = tx.rows(
                f"SELECT stream, key FROM {{keys}} WHERE stream IN ({', '.join('?' * len(names))})",
                names,
            )
        return {row["stream"]: row["key"] for row in rows}

    def refresh(self) -> None:
        if time.monotonic() < self.checked + self.ttl:
            return
        with self.db.transaction(TABLE, commit=False, snapshot=False) as tx:
            gone = {row["stream"] for row in tx.rows("SELECT stream FROM {keys} WHERE key IS NULL")}
        with self.lock:
            self.destroyed |= gone
            for name in gone:
                self.known.pop(name, None)
            self.checked = time.monotonic()

    def destroy(self, stream: UUID) -> None:
        """Destroy a key outside an erasure's transaction: for an erasure already recorded
        whose key is found again (a key table restored from a backup)."""
        with self.db.transaction(TABLE) as tx:
            tx.execute(DESTROY_KEY, destroyed_key_row(stream))
        self.forgotten(stream)

    def forgotten(self, stream: UUID | str) -> None:
        """This process learnt that the customer was forgotten: drop the key it may hold,
        without asking the store."""
        with self.lock:
            self.destroyed.add(str(stream))
            self.known.pop(str(stream), None)


# What destroys a key, in the transaction that records the erasure (ledger/store.py): the row
# stays, without its key, so that every process learns that the key is gone, not unmade.
DESTROY_KEY = (
    "INSERT INTO {keys} (stream, key, destroyed_at) VALUES (?, NULL, ?) "
    "ON CONFLICT (stream) DO UPDATE SET key = NULL, "
    "destroyed_at = excluded.destroyed_at"
)


def destroyed_key_row(stream: UUID) -> tuple[str, str]:
    now = iso(datetime.now(timezone.utc))
    assert now is not None
    return str(stream), now


# -- sealing and opening values -----------------------------------------------------------------


def seal(value: Any, cipher: AESGCM, stream: UUID) -> str:
    nonce = secrets.token_bytes(12)
    sealed = cipher.encrypt(nonce, json.dumps(value, ensure_ascii=False).encode(), stream.bytes)
    return f"{SEALED}{stream.hex}:{base64.b64encode(nonce + sealed).decode()}"


def unseal(text: str, cipher: AESGCM | None) -> Any:
    """The value sealed in ``text`` (None once the customer is forgotten, or if the text was
    not sealed with this cipher)."""
    if cipher is None:
        return None
    if text.startswith(SEALED):
        stream, data = bytes.fromhex(text[8:40]), base64.b64decode(text[41:])
    else:
        stream, data = None, base64.b64decode(text[len(LEGACY) :])
    try:
        opened = cipher.decrypt(data[:12], data[12:], stream)
    except InvalidTag:
        return None
    try:
        return orjson.loads(opened)
    except orjson.JSONDecodeError:  # what orjson does not read (integers past 64 bits)
        return json.loads(opened)


def sealed_stream(text: str) -> UUID | None:
    """The customer stream whose key opens a sealed value (None for a legacy one)."""
    return UUID(hex=text[8:40]) if text.startswith(SEALED) else None


def is_sealed(value: Any) -> bool:
    return type(value) is str and value.startswith(MARK) and value[:8] in (SEALED, LEGACY)


# Maps of a customer's state keyed by entry id, holding no personal data (an entry's kind,
# when it happened, when it was retracted): never sealed, never walked when opening (a snapshot
# of a customer with 10,000 entries spent most of its loading time walking them).
OPAQUE = frozenset({"kinds", "retracted", "entry_times"})


def sealed_fields(state: Any, key: AESGCM, stream: UUID) -> Any:
    """The state with every personal field's value sealed (recursively through dicts)."""
    if isinstance(state, dict):
        return {
            name: (
                value
                if name in OPAQUE
                else seal(value, key, stream)
                if name in PERSONAL and value is not None and not isinstance(value, dict)
                else sealed_fields(value, key, stream)
            )
            for name, value in state.items()
        }
    return state


def opened_fields(state: Any, key: AESGCM | None) -> Any:
    if isinstance(state, dict):
        return {
            name: value if name in OPAQUE else opened_fields(value, key)
            for name, value in state.items()
        }
    if isinstance(state, str) and state.startswith(MARK) and is_sealed(state):
        return unseal(state, key)
    return state


def has_personal(state: Any) -> bool:
    """Whether the state holds a personal value to seal."""
    if not isinstance(state, dict):
        return False
    for name in PERSONAL.intersection(state):
        value = state[name]
        if isinstance(value, dict):
            if has_personal(value):
                return True
        elif value is not None:
            return True
    # Called for every event written: most hold no nested fields, which this tells at C speed.
    if dict not in map(type, state.values()):
        return False
    return any(
        has_personal(value)
        for name, value in state.items()
        if isinstance(value, dict) and name not in PERSONAL and name not in OPAQUE
    )


def has_sealed(state: Any) -> bool:
    if isinstance(state, dict):
        return any(has_sealed(value) for name, value in state.items() if name not in OPAQUE)
    return is_sealed(state)


def reveal(data: Any, keys: CustomerKeys | None, *, customer: str | None = None) -> Any:
    """``data`` (rows, pages, documents) with every sealed value opened, for showing to a
    person: None where the customer was forgotten. A legacy value, which does not name its
    customer, is opened with the key of the ``customer`` of the row that holds it."""
    if isinstance(data, dict):
        here = data.get("customer")
        context = here if isinstance(here, str) else customer
        # (a page holds thousands of plain values: they are passed over without a call)
        return {
            name: reveal(value, keys, customer=context)
            if isinstance(value, (dict, list)) or (type(value) is str and value.startswith(MARK))
            else value
            for name, value in data.items()
        }
    if isinstance(data, list):
        return [reveal(value, keys, customer=customer) for value in data]
    if type(data) is str and data.startswith(MARK) and is_sealed(data):
        if keys is None:
            return None
        stream = sealed_stream(data) or (stream_id("customer", customer) if customer else None)
        return None if stream is None else unseal(data, keys.cipher(stream, create=False))
    return data


def revealed(db: Database, data: Any) -> Any:
    """``reveal`` with the keys of the ledger whose views ``db`` holds."""
    return reveal(data, keys_of(db))


def keys_of(db: Database) -> CustomerKeys | None:
    """The key store of the ledger whose views ``db`` holds (None: nothing is sealed)."""
    keys = getattr(db.log.mapper, "keys", None) if db.log is not None else None
    return keys if isinstance(keys, CustomerKeys) else None


# -- blind index -----------------------------------------------------------------------------

WORD = re.compile(r"\w+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
PREFIXES = 12  # a word is found by any of its first 2..12 characters


def normalised(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def tokens(text: str) -> set[str]:
    """What a search can find a value by: the whole value, each word and its beginnings, each
    run of digits (phones), and each character and pair of characters of Chinese, Japanese
    and Korean text (written without spaces)."""
    value = normalised(text)
    found = {value} if value else set()
    for word in WORD.findall(value):
        found.update(word[:n] for n in range(2, min(len(word), PREFIXES) + 1))
        found.add(word)
        for run in CJK.findall(word):
            found.update(run)
            found.update(run[i : i + 2] for i in range(len(run) - 1))
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) >= 3:
        found.add(digits)
    return found


def query_tokens(text: str) -> set[str]:
    """The tokens a searched text must all match: its words (a Chinese run by its pairs of
    characters, or the one character)."""
    value = normalised(text)
    found: set[str] = set()
    for word in WORD.findall(value):
        runs = CJK.findall(word)
        if runs and "".join(runs) == word:
            for run in runs:
                found.update(
                    [run] if len(run) == 1 else (run[i : i + 2] for i in range(len(run) - 1))
                )
        else:
            found.add(word[:PREFIXES] if len(word) > PREFIXES else word)
    return found


def blind(key: bytes, token: str) -> str:
    """A token's keyed hash: 64 bits, enough to tell tokens apart, not to read one back."""
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:16]


def blind_tokens(key: bytes, text: str | None) -> set[str]:
    return {blind(key, token) for token in tokens(text)} if text else set()
