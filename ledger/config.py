"""Configuration, from environment variables prefixed ``LEDGER_``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the ledger keeps its data and how it talks to the store.

    LEDGER_DATABASE_URL   postgresql://user:password@host:port/dbname (unset: SQLite)
    LEDGER_DATABASE_SCHEMA PostgreSQL schema for the ledger's tables (default public)
    LEDGER_DATA_DIR       folder of the SQLite file (default ./var)
    LEDGER_CIPHER_KEY     encrypt whole events at rest (optional; see ``cipher_key``)
    LEDGER_TIMEZONE       the zone a date alone is read in by reports (default UTC)
    """

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    database_url: str | None = None
    database_schema: str = ""
    data_dir: Path = Path("var")
    cache_size: int = Field(2000, ge=0, description="Aggregates kept in memory (0: none).")
    pool_size: int = Field(10, ge=1, description="Database connections kept open per process.")
    snapshot_interval: int = Field(200, ge=2, description="Snapshot a customer every N events.")
    sqlite_lock_timeout: int = Field(
        30, ge=1, description="Seconds a SQLite write waits for another writer before giving up."
    )
    create_tables: bool = Field(
        True,
        description="Create the ledger's tables if missing "
        "(off: they exist, made by an earlier start or a migration).",
    )
    cipher_key: str | None = Field(
        None,
        description="Encrypt whole events at rest with the "
        "library's AES cipher under this key (base64 of 16, 24 or "
        "32 bytes; `python -c 'from eventsourcing.cipher import "
        "AESCipher; print(AESCipher.create_key(32))'`).",
    )
    timezone: str = Field(
        "UTC",
        description="The IANA zone a report reads a date alone in "
        "(1997-09-30 is the end of that day there), e.g. Asia/Shanghai.",
    )

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str) -> str:
        return zone_named(value).key

    @property
    def zone(self) -> ZoneInfo:
        return zone_named(self.timezone)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ledger.sqlite"

    def describe(self) -> str:
        if self.database_url:
            url = urlparse(self.database_url)
            return f"PostgreSQL {url.hostname}:{url.port or 5432}/{url.path.lstrip('/')}"
        return f"SQLite {self.sqlite_path}"

    def eventsourcing_env(self) -> dict[str, str]:
        env = {
            "CREATE_TABLE": "y" if self.create_tables else "n",
            "TRANSCODER_TOPIC": "ledger.encoding:Transcoder",
        }
        if self.cipher_key:
            env.update(CIPHER_TOPIC="eventsourcing.cipher:AESCipher", CIPHER_KEY=self.cipher_key)
        if self.cache_size:  # the library reads 0 as "unbounded", we mean "none"
            env.update(
                AGGREGATE_CACHE_MAXSIZE=str(self.cache_size), AGGREGATE_CACHE_FASTFORWARD="y"
            )
        if not self.database_url:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            env.update(
                {
                    "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                    "SQLITE_DBNAME": str(self.sqlite_path),
                    "SQLITE_LOCK_TIMEOUT": str(self.sqlite_lock_timeout),
                    "APPLICATION_RECORDER_TOPIC": "ledger.store:SQLiteLedgerRecorder",
                }
            )
            return env
        url = urlparse(self.database_url)
        if url.scheme not in ("postgresql", "postgres"):
            raise ValueError(
                f"LEDGER_DATABASE_URL must start with postgresql://, not {url.scheme}://"
            )
        env.update(
            {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
                "POSTGRES_HOST": url.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(url.port or 5432),
                "POSTGRES_USER": unquote(url.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(url.password or ""),
                "POSTGRES_SCHEMA": self.database_schema,
                "POSTGRES_POOL_SIZE": str(self.pool_size),
                "POSTGRES_MAX_OVERFLOW": "10",
                "POSTGRES_LOCK_TIMEOUT": "10",
                "POSTGRES_CONNECT_TIMEOUT": "5",
                # A connection the server dropped (a restart, a failover) is replaced, not used.
                "POSTGRES_PRE_PING": "y",
                "APPLICATION_RECORDER_TOPIC": "ledger.store:PostgresLedgerRecorder",
            }
        )
        return env


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone of this name; a ValueError naming it if there is none."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a time zone this system knows; give an IANA name "
            "such as UTC, Europe/Paris or Asia/Shanghai"
        ) from None
