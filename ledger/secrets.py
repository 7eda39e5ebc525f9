"""Secrets of a deployment, kept in its store: drawn by the first process to start, read by
every later one (on any machine), so that keyed hashes and signatures agree everywhere."""

from __future__ import annotations

import secrets

from ledger.sql import Database

TABLE = {"secrets": "api_secrets"}  # (named when only the API kept secrets)


class Secrets:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.known: dict[str, bytes] = {}

    def create_table(self) -> None:
        with self.db.transaction(TABLE) as tx:
            tx.ddl_turn()
            tx.execute(
                "CREATE TABLE IF NOT EXISTS {secrets} (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )

    def get(self, name: str) -> bytes:
        """The secret of this name, drawn now if no process has drawn it yet."""
        if name not in self.known:
            with self.db.transaction(TABLE) as tx:
                tx.execute(
                    "INSERT INTO {secrets} VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    (name, secrets.token_hex(32)),
                )
            with self.db.transaction(TABLE, commit=False) as tx:
                found = tx.one("SELECT value FROM {secrets} WHERE name = ?", (name,))
            assert found is not None
            self.known[name] = bytes.fromhex(found["value"])
        return self.known[name]
