"""The store's abstract base: what a backend (SQLite, PostgreSQL) has to provide.

Backends differ only in how they connect, lock, move rows in and out in bulk and spell
a few types. Everything else (schema, import log, writes, reads) is written once against
these hooks in the modules beside this one and composed into `AttributeStore`, so the
same tests hold for both.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

if TYPE_CHECKING:  # polars is loaded by writes only: reading the store stays fast
    import numpy as np
    import numpy.typing as npt
    import polars as pl

    from inbound.store.diff import Dialect

# A row as the drivers hand it over: its values' types depend on the column (and driver).
Row = tuple[Any, ...]
MAX_INT64 = 2**63 - 1  # the largest LIMIT or OFFSET both databases take (BIGINT)


SECRET_OPTIONS = frozenset({"password", "sslpassword"})  # libpq options a store URL's query may carry


def redacted(url: str) -> str:
    """A store URL fit for a log or an error: its password (and any password option) as `***`."""
    parts = urlsplit(url)
    shown = url
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        shown = shown.replace(f"//{parts.netloc}", f"//{user.split(':', 1)[0]}:***@{host}", 1)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(key.lower() in SECRET_OPTIONS for key, _ in pairs):
        query = urlencode([(k, "***" if k.lower() in SECRET_OPTIONS else v) for k, v in pairs], safe="*")
        shown = shown.replace(f"?{parts.query}", f"?{query}", 1)
    return shown


def not_text(text: str) -> str | None:
    """Why no store holds `text` ("contains ..."), or None when it is text both stores keep.

    PostgreSQL refuses a NUL character in text (SQLite would keep it: refused on both, alike);
    a lone surrogate (JSON's `"\\ud800"`) is no Unicode text at all, so no driver encodes it.
    """
    if "\x00" in text:
        return "contains a NUL character (0x00)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a lone surrogate (U+{ord(text[exc.start]):04X}), which is no Unicode text"
    return None


def check_text(what: str, text: str) -> str:
    """`text` if a store can hold it; else ValueError("<what> contains ...") before any SQL sees it."""
    problem = not_text(text)
    if problem is not None:
        raise ValueError(f"{what} {problem}; no store holds one")
    return text


def bounded(what: str, value: int) -> int:
    """A LIMIT or OFFSET: ValueError unless a whole number from 0 to `MAX_INT64` (the drivers' BIGINT)."""
    number = int(value)
    if not 0 <= number <= MAX_INT64:
        raise ValueError(f"{what} must be a whole number from 0 to {MAX_INT64}, not {number}")
    return number


class Cursor(Protocol):
    """The DB-API calls the store makes: `sqlite3.Cursor` and `psycopg.Cursor` both fit."""

    def execute(self, sql: str, params: Sequence[object] = ..., /) -> object: ...

    def executemany(self, sql: str, params: Iterable[Sequence[object]], /) -> object: ...

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...

    def fetchmany(self, size: int = ..., /) -> list[Row]: ...

    @property
    def description(self) -> Sequence[Any] | None: ...


def first(cursor: Cursor) -> Any:
    """The first column of the row a statement returned (`COUNT(*)`, `RETURNING id`)."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row[0]


class StoreBase(abc.ABC):
    """A connection to one store database, with its dialect; a context manager that closes it."""

    # The dialect, set by each backend.
    placeholder: ClassVar[str]  # how the driver marks a parameter; the SQL here is written with `?`
    timestamp_type: ClassVar[str]  # the column type of timestamps; "TEXT" keeps ISO-8601 text
    # Serializes rebuilding the one read-contract view across integrations' concurrent writes
    # (None: the database has one writer at a time anyway, as SQLite).
    view_lock_sql: ClassVar[str | None] = None
    id_column: ClassVar[str]  # an auto-numbered primary key
    number_casts: ClassVar[tuple[str, str]]  # the types integers and numbers compare as
    substring_position: ClassVar[str]  # SQL function (text, part) -> 1-based position or 0: `contains`
    # Which store this is, for a message: its URL without secrets (`redacted`), set by the backend.
    label: str = "the attribute store"

    @abc.abstractmethod
    def transaction(self, lock: str | None = None) -> AbstractContextManager[Cursor]:
        """A transaction; with `lock`, serialized with every other holder of that lock name."""

    @abc.abstractmethod
    def check_writable(self) -> None:
        """Before any write: `SchemaAhead` when the store's schema is newer than this code's
        (read once per opened store, `inbound.store.schema`)."""

    @abc.abstractmethod
    def _table_exists(self, cursor: Cursor, table: str) -> bool:
        """Whether `table` exists (without creating anything: reading must not write)."""

    @abc.abstractmethod
    def _copy_rows(self, cursor: Cursor, table: str, columns: list[str], rows: pl.DataFrame) -> None:
        """Append `rows` (their columns in the order of `columns`) to `table`, in bulk."""

    @contextmanager
    def _probing(self, cursor: Cursor, *, few: bool) -> Iterator[None]:
        """Around a statement that joins the file's rows sent to the integration's table: with `few`,
        whatever the planner needs to look each one up by the user ID rather than scan the table."""
        yield

    def _hashes(self, cursor: Cursor, table: str) -> pl.Series:
        """The integration table's stored row hashes (`_hash`, Int64, none NULL), sorted: 8 bytes a
        user, and about twice that while they are gathered."""
        import numpy as np
        import polars as pl

        chunks = list(self._hash_chunks(cursor, table))
        merged = np.concatenate(chunks) if chunks else np.empty(0, np.int64)
        del chunks
        merged.sort()
        return pl.Series("_hash", merged)

    @abc.abstractmethod
    def _hash_chunks(self, cursor: Cursor, table: str) -> Iterator[npt.NDArray[np.int64]]:
        """The stored row hashes, a few at a time (never a Python object per hash: 2 s a million)."""

    @abc.abstractmethod
    def _loaded(self, cursor: Cursor, table: str) -> None:
        """After a temporary table is filled: what the backend's planner needs to know of it."""

    def _load_user_ids(self, cursor: Cursor, table: str, parts: Iterable[pl.DataFrame]) -> None:
        """A temporary table `table` (replacing an earlier one of this connection) of the distinct user IDs
        of `parts` (a `user_id` column each): the users a write keeps or deletes."""
        import polars as pl

        temp = self.dialect.temp
        cursor.execute(f"DROP TABLE IF EXISTS {temp}.{table}")
        cursor.execute(f"CREATE TEMP TABLE {table} (user_id TEXT){self.temp_table_options}")
        for part in parts:
            ids = part.select(pl.col("user_id").cast(pl.String)).drop_nulls().unique()
            ids = ids.filter(~pl.col("user_id").str.contains("\x00", literal=True))  # no stored user has one
            self._copy_rows(cursor, f"{temp}.{table}", ["user_id"], ids)
        self._loaded(cursor, f"{temp}.{table}")

    @property
    @abc.abstractmethod
    def dialect(self) -> Dialect:
        """The spellings `inbound.store.diff` needs."""

    temp_table_options: ClassVar[str] = ""  # what CREATE TEMP TABLE ends with
    # Whether a new integration's table gets its primary key after its first load (SQLite
    # cannot add one to a table).
    key_after_first_load: ClassVar[bool] = False

    @abc.abstractmethod
    def _lineage_sql(self, name: str) -> str:
        """SQL for the import id a lineage override gives one attribute."""

    @abc.abstractmethod
    def _where(self, cursor: Cursor) -> tuple[str, str | None, int | None, str, str]:
        """This database: its kind, host, port, name (SQLite: the file's path) and the tables' schema."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _timestamp(self, value: datetime) -> str | datetime:
        """A timestamp as the backend's timestamp column takes it."""
        return value.isoformat() if self.timestamp_type == "TEXT" else value
