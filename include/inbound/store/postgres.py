"""PostgreSQL backend: the production store (psycopg 3).

The stored row hashes come out packed (8 bytes each, a few bytea rows, `_hash_chunks`), and
only the rows whose hash is new go in by COPY, straight into the table for a first load, through a
temporary staging table and one `INSERT .. ON CONFLICT` otherwise.
One transaction per file holds a transaction-level advisory lock per integration, so
two runs of one integration never interleave while different integrations write side
by side.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
from psycopg.rows import TupleRow

from inbound.errors import StoreUnavailable
from inbound.store.attribute_store import AttributeStore
from inbound.store.base import Cursor, redacted
from inbound.store.diff import Dialect

if TYPE_CHECKING:  # polars (about half a second to import) is loaded by the writes themselves
    import numpy as np
    import numpy.typing as npt
    import polars as pl

# What "the database is unavailable" means (retry later, the file stays): SQLSTATE classes
# 08 (connection exception), 53 (insufficient resources) and 57P (operator intervention:
# shutdown, crash recovery), serialization failures (40001) and deadlocks (40P01). Any other
# error is the file's or the code's: that file fails, the run goes on.
UNAVAILABLE_CLASSES = ("08", "53", "57P")
UNAVAILABLE_STATES = ("40001", "40P01")


def unavailable(exc: psycopg.Error) -> bool:
    state = exc.sqlstate or ""
    if not state:  # no SQLSTATE: the connection itself broke (server gone, network)
        return isinstance(exc, psycopg.OperationalError)
    return state.startswith(UNAVAILABLE_CLASSES) or state in UNAVAILABLE_STATES


# What a server says when it is only busy or starting (retry); any other FATAL refusal at connect
# (no such role or database, a wrong password, pg_hba) is the connection's mistake: fail at once.
_TRANSIENT_FATAL = ("starting up", "shutting down", "in recovery", "too many clients", "connection slots")


def refused(exc: psycopg.Error) -> bool:
    """A connect the server refused for good. libpq gives no SQLSTATE for a failed connect: the
    server's FATAL message tells a refusal from a busy or starting server."""
    if exc.sqlstate:
        return not unavailable(exc)
    message = str(exc)
    return "FATAL:" in message and not any(phrase in message for phrase in _TRANSIENT_FATAL)


JSON_PAIRS = 50  # key-value pairs per jsonb_build_object call: PostgreSQL caps a function at 100 arguments


def _json_object(pairs: Sequence[tuple[str, str]]) -> str:
    """A JSON object text of (key, SQL) pairs; merged in steps (`||`) beyond one call's arguments."""
    calls = [
        "jsonb_build_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs[i : i + JSON_PAIRS]) + ")"
        for i in range(0, len(pairs), JSON_PAIRS)
    ]
    return "(" + " || ".join(calls) + ")::text"


COPY_ROWS = 16_384  # rows turned into CSV text at once for COPY
HASH_GROUPS = 64  # stored hashes come out in this many packed rows


def _copying(cursor: Cursor) -> psycopg.Cursor[TupleRow]:
    """The psycopg cursor behind the store's cursor, for COPY (which DB-API does not have)."""
    if not isinstance(cursor, psycopg.Cursor):
        raise TypeError(f"a PostgreSQL store was handed a {type(cursor).__name__}")
    return cursor


class PostgresStore(AttributeStore):
    placeholder = "%s"
    timestamp_type = "TIMESTAMPTZ"
    id_column = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    number_casts = ("BIGINT", "DOUBLE PRECISION")
    substring_position = "strpos"
    # Two integrations' first writes both rebuild the view: without it, CREATE VIEW races
    # (UniqueViolation on pg_type). Taken after the integration's own lock, never before.
    view_lock_sql = "SELECT pg_advisory_xact_lock(hashtextextended('inbound: the contract view', 0))"

    def __init__(self, url: str) -> None:
        self.url = url
        self.label = redacted(url)
        self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[psycopg.Cursor[TupleRow]]:
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                if lock:
                    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
                yield cur
        except psycopg.Error as exc:
            closed_here = self._conn.closed and not self._conn.broken  # by `close()`: a caller's mistake
            if unavailable(exc) and not closed_here:
                raise StoreUnavailable(
                    f"the attribute store's database is unavailable (SQLSTATE {exc.sqlstate or 'none'}: "
                    f"{type(exc).__name__}); nothing was written, the task retries later"
                ) from exc
            raise

    def _table_exists(self, cursor: Cursor, table: str) -> bool:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))  # on the connection's search_path
        row = cursor.fetchone()
        return bool(row and row[0])

    temp_table_options = " ON COMMIT DROP"
    key_after_first_load = True

    @property
    def dialect(self) -> Dialect:
        return Dialect(
            distinct="IS DISTINCT FROM",
            now="now()",
            json_object=_json_object,
            lineage=self._lineage_sql,
            temp="pg_temp",
        )

    def _copy_rows(self, cursor: Cursor, table: str, columns: list[str], rows: pl.DataFrame) -> None:
        """COPY in CSV: every text quoted (an empty text stays text), NULL as an unquoted empty field.

        Written `COPY_ROWS` at a time: the CSV text of a whole part would be held twice (text and bytes).
        """
        names = ", ".join(f'"{c}"' for c in columns)
        with _copying(cursor).copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in rows.iter_slices(COPY_ROWS):
                copy.write(chunk.write_csv(include_header=False, null_value="", quote_style="non_numeric"))

    @contextmanager
    def _probing(self, cursor: Cursor, *, few: bool) -> Iterator[None]:
        """A hash join scans the whole table: 0.3 s at 1M users for the 10,000 rows of a 1% change,
        which the primary key finds in a few ms. The planner, not knowing the temporary table's
        rows are a small share, takes the hash join; for this statement it may not."""
        if not few:
            yield
            return
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        yield  # (if the statement fails, the transaction and these settings roll back: no reset to run)
        cursor.execute("SET LOCAL enable_hashjoin TO DEFAULT")
        cursor.execute("SET LOCAL enable_mergejoin TO DEFAULT")

    def _hash_chunks(self, cursor: Cursor, table: str) -> Iterator[npt.NDArray[np.int64]]:
        """As packed 8-byte big-endian integers in `HASH_GROUPS` rows, streamed a row at a time:
        1/64 of them each, 1.25 MB at 10M users."""
        import numpy as np

        query = (
            f"SELECT string_agg(int8send(_hash), ''::bytea) FROM {table} WHERE _hash IS NOT NULL "
            f"GROUP BY _hash & {HASH_GROUPS - 1}"
        )
        for (packed,) in _copying(cursor).stream(query):
            yield np.frombuffer(packed, ">i8").astype(np.int64)

    def _loaded(self, cursor: Cursor, table: str) -> None:
        cursor.execute(f"ANALYZE {table} (user_id)")  # the join key: temporary tables are never auto-analyzed

    def _lineage_sql(self, name: str) -> str:
        return f"(_lineage::json ->> '{name}')::bigint"

    def _where(self, cursor: Cursor) -> tuple[str, str | None, int | None, str, str]:
        cursor.execute("SELECT current_database(), current_schema()")
        row = cursor.fetchone()
        database, schema = (str(row[0]), str(row[1])) if row else ("", "public")
        info = self._conn.info  # as connected: the URL's host, or libpq's default (a socket's directory)
        return "postgresql", info.host, int(info.port), database, schema

    def close(self) -> None:
        self._conn.close()
