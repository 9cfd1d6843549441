"""The attribute store: one interface, SQLite (embedded default) and PostgreSQL behind it.

Storage: one table per integration, one row per user, one text column per attribute
(canonical text, `inbound.values.text`; types come from the configs), with the import that set
each value. An import log keeps one entry per processed file (and per purge or erasure).
`AttributeStore` (attribute_store.py) lists the modules, one per responsibility.

Opening connects and reads the schema version once. Migrations are a deploy step: only
`inbound migrate` (`open_store(url, migrate=True)`) creates or upgrades the schema. A store
behind the code (none yet included) fails the open with `SchemaBehind` ("run `inbound
migrate`"); one ahead of it opens for reading, and refuses every write (`SchemaAhead`).

Targeting reads through `user_attributes` and segment queries (`inbound.rules.evaluate`)
or the SQL view `inbound_attributes_v1`, never the tables directly: the tables may change
between schema versions, the contract does not. The store knows nothing of configs, CSV
mapping or rules: they sit above it and call it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlparse

from inbound.errors import ConfigInvalid, SchemaBehind, StoreUnavailable
from inbound.store.attribute_store import AttributeStore
from inbound.store.base import redacted
from inbound.store.contract import Location, Segment, StoredAttribute, UserAttributes
from inbound.store.importlog import FileImport, ImportRecord
from inbound.store.schema import behind
from inbound.store.sqlite import SqliteStore
from inbound.store.writes import WriteResult

__all__ = [
    "AttributeStore",
    "FileImport",
    "ImportRecord",
    "Location",
    "Segment",
    "StoreSettings",
    "StoredAttribute",
    "UserAttributes",
    "WriteResult",
    "default_sqlite_path",
    "open_store",
    "store_url_from_connection",
]

# Connection attempts and the pause before each retry (doubling): about 15 s in all.
CONNECT_ATTEMPTS = 4
CONNECT_BACKOFF_S = 1.0


@dataclass(frozen=True)
class StoreSettings:
    """Where the store lives: a SQLAlchemy-style URL without secrets in logs."""

    url: str

    def redacted(self) -> str:
        return redacted(self.url)


def default_sqlite_path() -> Path:
    """`$AIRFLOW_HOME/inbound_store.db` (Airflow's default home when unset)."""
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "inbound_store.db"


def open_store(url: str | None = None, *, migrate: bool = False) -> AttributeStore:
    """Connect to the store at `url` and check its schema version (read once, kept on the store).

    `sqlite:///path` or `postgresql://user:pass@host:port/db`; None means the embedded
    SQLite default. A PostgreSQL server that does not answer is retried with back-off,
    then `StoreUnavailable`. A schema older than the code's (or none) is `SchemaBehind`,
    unless `migrate` (`inbound migrate`, the deploy step; tests) brings it up to date first.
    A schema newer than the code's opens: reads work, writes raise `SchemaAhead`.
    """
    url = url or f"sqlite:///{default_sqlite_path()}"
    path = _sqlite_path(url)
    if not migrate and path is not None and path != ":memory:" and not Path(path).exists():
        # no schema at all: said without creating an empty database file on the way
        raise SchemaBehind(behind(f"sqlite:///{path}", 0))
    store = _connect(url)
    try:
        if migrate:
            store.migrate()
        store.check_current()
    except BaseException:
        store.close()
        raise
    return store


def _sqlite_path(url: str) -> str | None:
    """The database file of a `sqlite://` URL; None for any other store."""
    if urlparse(url).scheme != "sqlite":
        return None
    return url.removeprefix("sqlite:///").removeprefix("sqlite://")


def _connect(url: str) -> AttributeStore:
    scheme = urlparse(url).scheme
    path = _sqlite_path(url)
    if path is not None:
        return SqliteStore(path)
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return _connect_postgres(url.replace("postgresql+psycopg://", "postgresql://"))
    raise ValueError(f"unsupported store URL scheme {scheme!r}; use sqlite:/// or postgresql://")


def _connect_postgres(url: str) -> AttributeStore:
    # psycopg takes about a second to import without bytecode: only processes that use it pay.
    import psycopg

    from inbound.store.postgres import PostgresStore, refused

    parsed = urlparse(url)
    where = f"{parsed.hostname}:{parsed.port or 5432}/{parsed.path.lstrip('/')} (Airflow connection inbound_store)"
    delay = CONNECT_BACKOFF_S
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return PostgresStore(url)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            if refused(exc):  # a role, password or database that does not exist
                raise ConfigInvalid(
                    f"the attribute store at {where} refused the connection: {reason}. "
                    "Fix the connection's login, password or database; retrying would not help"
                ) from None
            if attempt == CONNECT_ATTEMPTS:
                raise StoreUnavailable(
                    f"cannot reach the attribute store at {where} after {CONNECT_ATTEMPTS} attempts with back-off: "
                    f"{reason}. Nothing was written; the task retries later."
                ) from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


# The libpq connection options an Airflow connection's extra may carry (TLS above all): kept in
# the store URL, so `sslmode=verify-full` means what it says. Other extra keys are Airflow's own.
LIBPQ_OPTIONS = frozenset(
    {
        "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcrldir", "sslpassword", "sslcompression",
        "sslsni", "sslnegotiation", "sslcertmode", "ssl_min_protocol_version", "ssl_max_protocol_version",
        "requiressl", "require_auth", "channel_binding", "gssencmode", "krbsrvname", "gsslib", "passfile",
        "service", "connect_timeout", "application_name", "options", "client_encoding", "keepalives",
        "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "target_session_attrs",
        "load_balance_hosts", "hostaddr",
    }
)  # fmt: skip


class ConnectionFields(Protocol):
    """The fields of an Airflow connection the store URL is made of (read-only)."""

    @property
    def conn_type(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def schema(self) -> str | None: ...
    @property
    def login(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def port(self) -> int | None: ...
    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def store_url_from_connection(conn: ConnectionFields) -> str:
    """The store URL of an Airflow connection object (`inbound_store`)."""
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        return f"sqlite:///{conn.host or conn.schema}"
    if conn_type in ("postgres", "postgresql"):
        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="")
            if conn.password:
                auth += ":" + quote(conn.password, safe="")
            auth += "@"
        port = f":{conn.port}" if conn.port else ""
        options = {k: str(v) for k, v in sorted(conn.extra_dejson.items()) if k in LIBPQ_OPTIONS and v is not None}
        query = f"?{urlencode(options)}" if options else ""
        return f"postgresql://{auth}{conn.host or 'localhost'}{port}/{conn.schema or 'postgres'}{query}"
    raise ValueError(f"connection inbound_store has type {conn_type!r}; use postgres or sqlite")
