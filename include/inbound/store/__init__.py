"""The attribute store: one interface, SQLite (embedded default) and PostgreSQL behind it.

Storage: one table per integration, one row per user, one text column per attribute
(canonical text; types come from the configs), with the import that set each value. An
import log keeps one entry per processed file (and per purge or erasure).

Every file is written in one transaction together with its import-log entry: a failed
or killed write leaves the store as it was. What a file changes is computed in polars
first (`store.diff`), so only changed rows are written and a dry run is the same code.

Targeting reads through `user_attributes` (and later the segment functions) or the SQL
view `inbound_attributes_v1`, never the tables directly: the tables may change between
schema versions, the contract does not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from inbound.store.base import AttributeStore, ImportRecord, MirrorGuard, WriteResult

__all__ = [
    "AttributeStore",
    "ImportRecord",
    "MirrorGuard",
    "StoreSettings",
    "StoreUnavailable",
    "WriteResult",
    "default_sqlite_path",
    "open_store",
]


@dataclass(frozen=True)
class StoreSettings:
    """Where the store lives: a SQLAlchemy-style URL without secrets in logs."""

    url: str

    @property
    def backend(self) -> str:
        scheme = urlparse(self.url).scheme
        return "postgres" if scheme.startswith("postgres") else scheme

    def redacted(self) -> str:
        parsed = urlparse(self.url)
        if parsed.password:
            return self.url.replace(f":{parsed.password}@", ":***@")
        return self.url


def default_sqlite_path() -> Path:
    """`$AIRFLOW_HOME/inbound_store.db` (Airflow's default home when unset)."""
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "inbound_store.db"


def open_store(url: str | None = None) -> AttributeStore:
    """Open (and create or upgrade the schema of) the store at `url`.

    `sqlite:///path` or `postgresql://user:pass@host:port/db`; None means the embedded
    SQLite default.
    """
    url = url or f"sqlite:///{default_sqlite_path()}"
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from inbound.store.sqlite import SqliteStore

        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        store: AttributeStore = SqliteStore(path)
    elif scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        store = _connect_postgres(url.replace("postgresql+psycopg://", "postgresql://"))
    else:
        raise ValueError(f"unsupported store URL scheme {scheme!r}; use sqlite:/// or postgresql://")
    store.migrate()
    return store


class StoreUnavailable(RuntimeError):
    """The store's database could not be reached, even after retries with back-off."""


# Connection attempts and the pause before each retry (doubling): about 15 s in all.
CONNECT_ATTEMPTS = 4
CONNECT_BACKOFF_S = 1.0


def _connect_postgres(url: str) -> AttributeStore:
    import time

    import psycopg

    from inbound.store.postgres import PostgresStore

    delay = CONNECT_BACKOFF_S
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return PostgresStore(url)
        except psycopg.OperationalError as exc:
            if attempt == CONNECT_ATTEMPTS:
                parsed = urlparse(url)
                reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                raise StoreUnavailable(
                    f"cannot reach the attribute store at {parsed.hostname}:{parsed.port or 5432}/"
                    f"{parsed.path.lstrip('/')} (Airflow connection inbound_store) after {attempt} attempts "
                    f"with back-off: {reason}. Nothing was written; the task retries later."
                ) from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def store_url_from_connection(conn: Any) -> str:
    """The store URL of an Airflow connection object (`inbound_store`)."""
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        return f"sqlite:///{conn.host or conn.schema}"
    if conn_type in ("postgres", "postgresql"):
        from urllib.parse import quote

        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="")
            if conn.password:
                auth += ":" + quote(conn.password, safe="")
            auth += "@"
        port = f":{conn.port}" if conn.port else ""
        return f"postgresql://{auth}{conn.host or 'localhost'}{port}/{conn.schema or 'postgres'}"
    raise ValueError(f"connection inbound_store has type {conn_type!r}; use postgres or sqlite")
