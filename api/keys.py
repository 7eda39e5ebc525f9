"""API keys. A key is shown once, when it is created; the store keeps only a hash of its
secret, its role and, for reps and managers, the rep it acts as. Revoked keys stay listed.

A key reads ``ldg_<id>_<secret>``: the id finds the row, the secret is checked against the
hash (SHA-256 suffices: the secret is 256 random bits, not a password to guess).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ledger.application import Ledger
from ledger.commands.fields import reference
from ledger.errors import CommandInvalid, DuplicateReference, UnknownReference
from ledger.sql import Database, iso

ROLES = ("rep", "manager", "compliance", "analyst", "admin")
ACTS_AS_REP = ("rep", "manager")  # roles whose key names the rep it acts as
TABLE = {"keys": "api_keys"}
PREFIX = "ldg"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    role: str
    rep: str | None
    created_at: str
    revoked_at: str | None = None
    ended_why: str | None = field(default=None, compare=False)  # when not revoked by hand

    @property
    def actor(self) -> str:
        """Who the events this key writes are recorded as."""
        return self.name

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found.pop("ended_why")
        return found


class KeyEnded(Exception):
    """A key that was right, and is no longer usable: why."""


class KeyStore:
    def __init__(self, ledger: Ledger, db: Database | None = None) -> None:
        self.ledger = ledger
        self.db = db or Database.of(ledger)
        with self.db.transaction(TABLE) as tx:
            tx.ddl_turn()
            tx.execute(
                "CREATE TABLE IF NOT EXISTS {keys} (id TEXT PRIMARY KEY, "
                "name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, rep TEXT, "
                "secret_hash TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)"
            )
        self.pseudonym_key = ledger.secrets.get("pseudonyms")
        self.session_key = ledger.secrets.get("sessions")  # signs the console's session cookies

    def create(self, name: str, role: str, rep: str | None = None) -> tuple[ApiKey, str]:
        """A new key and its token (the only time the token is seen)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandInvalid("a key needs a name of 1 to 100 characters", where="name")
        if "\x00" in name:  # PostgreSQL cannot store one
            raise CommandInvalid("a key's name cannot hold a NUL character (\\u0000)", where="name")
        if role not in ROLES:
            raise CommandInvalid(
                f"unknown role {role!r}; roles are {', '.join(ROLES)}", where="role"
            )
        if (role in ACTS_AS_REP) != (rep is not None):
            raise CommandInvalid(
                f"a {role} key {'needs' if role in ACTS_AS_REP else 'takes no'} --rep "
                "(the rep it acts as)",
                where="rep",
            )
        if rep is not None:
            try:
                rep = reference(rep)  # as the commands it runs will name the rep
            except ValueError as error:
                raise CommandInvalid(str(error), where="rep") from None
            self.ledger.rep(rep)  # a rep never hired is an error, not a key for nobody
        key = ApiKey(secrets.token_hex(6), name, role, rep, now())
        secret = secrets.token_urlsafe(32)
        with self.db.transaction(TABLE) as tx:
            if tx.one("SELECT id FROM {keys} WHERE name = ?", (name,)):
                raise DuplicateReference(
                    f"a key named {name!r} exists; choose another name", where="name"
                )
            tx.execute(
                "INSERT INTO {keys} VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (key.id, name, role, rep, digest(secret), key.created_at),
            )
        return key, f"{PREFIX}_{key.id}_{secret}"

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones too (those of departed reps from the departure)."""
        with self.db.transaction(TABLE, commit=False) as tx:
            rows = tx.rows("SELECT * FROM {keys} ORDER BY created_at, name")
        return [self.as_of_now(row) for row in rows]

    def revoke(self, name: str) -> ApiKey:
        """Revoke the key with this name (or id); revoking twice changes nothing."""
        with self.db.transaction(TABLE) as tx:
            row = tx.one("SELECT * FROM {keys} WHERE name = ? OR id = ?", (name, name))
            if row is None:
                raise UnknownReference(
                    f"no key named {name!r}; `ledger keys list` shows them", where="name"
                )
            if row["revoked_at"] is None:
                row["revoked_at"] = now()
                tx.execute(
                    "UPDATE {keys} SET revoked_at = ? WHERE id = ?", (row["revoked_at"], row["id"])
                )
        return as_key(row)

    def live(self, key_id: str) -> ApiKey | None:
        """The key with this id, unless revoked (or its rep has departed)."""
        with self.db.transaction(TABLE, commit=False, snapshot=False) as tx:
            row = tx.one("SELECT * FROM {keys} WHERE id = ?", (key_id,))
        if row is None:
            return None
        key = self.as_of_now(row)
        return None if key.revoked_at is not None else key

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key this token belongs to; None if there is no such key. Raises
        ``KeyEnded``, saying why, if the token is right but the key was revoked or acts as a
        rep who has departed."""
        prefix, _, rest = token.strip().partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != PREFIX or not key_id or not secret or "\x00" in key_id:
            return None  # (no key's id holds a NUL, and PostgreSQL cannot look one up)
        with self.db.transaction(TABLE, commit=False, snapshot=False) as tx:
            row = tx.one("SELECT * FROM {keys} WHERE id = ?", (key_id,))
        if row is None or not hmac.compare_digest(row["secret_hash"], digest(secret)):
            return None
        key = self.as_of_now(row)
        if key.revoked_at is not None:
            raise KeyEnded(key.ended_why or f"this API key was revoked on {key.revoked_at}")
        return key

    def as_of_now(self, row: dict[str, Any]) -> ApiKey:
        """The stored key, revoked from its rep's departure if that has come: a departure
        ends the access of every key that acts as the rep (read when used, so that the
        ledger's record of the departure, whichever way it came in, is the one rule)."""
        key = as_key(row)
        if key.rep is None or key.revoked_at is not None:
            return key
        try:
            departed = self.ledger.load("rep", key.rep, copy=False).departed_at  # type: ignore[attr-defined]
        except UnknownReference:  # not a rep of this store: nobody it may act as
            return replace(
                key,
                revoked_at=key.created_at,
                ended_why=f"this API key acts as {key.rep}, who is unknown here",
            )
        if departed is None or departed > datetime.now(timezone.utc):
            return key
        return replace(
            key,
            revoked_at=iso(departed),
            ended_why=(
                f"this API key acts as {key.rep}, who departed on {iso(departed)}: a departure "
                "ends the access of the keys that act as the rep"
            ),
        )

    def pseudonym(self, ref: str) -> str:
        """A customer's stable pseudonym for analysts: the same in every report and process
        of this store, and not to be turned back into the reference without the store's
        secret."""
        return "P-" + hmac.new(self.pseudonym_key, ref.encode(), hashlib.sha256).hexdigest()[:16]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def as_key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(
        row["id"], row["name"], row["role"], row["rep"], row["created_at"], row["revoked_at"]
    )


def now() -> str:
    text = iso(datetime.now(timezone.utc))
    assert text is not None
    return text
