"""PostgreSQL backend: the production store (psycopg 3).

Rows move in and out by COPY: the integration's table comes out as CSV into polars for
the diff, and only the changed rows go back, straight into the table for a first load,
through a temporary staging table and one `INSERT .. ON CONFLICT` otherwise.
One transaction per file holds a transaction-level advisory lock per integration, so
two runs of one integration never interleave while different integrations write side
by side.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
import psycopg
from psycopg.rows import TupleRow

from inbound.errors import StoreUnavailable
from inbound.store.attribute_store import AttributeStore
from inbound.store.base import Cursor
from inbound.store.diff import Diff, state_schema

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

    def _state(self, cursor: Cursor, table: str, names: list[str]) -> pl.DataFrame:
        schema = state_schema(names)
        columns = "".join(f', "{n}"' for n in names)
        buffer = bytearray()
        with _copying(cursor).copy(
            f"COPY (SELECT _user_id, _import_id, _lineage{columns} FROM {table}) TO STDOUT (FORMAT csv)"
        ) as copy:
            for chunk in copy:
                buffer += chunk
        if not buffer:
            return pl.DataFrame(schema=schema)
        return pl.read_csv(bytes(buffer), has_header=False, new_columns=list(schema), schema=schema)

    def _copy(self, cursor: Cursor, table: str, columns: str, rows: pl.DataFrame) -> None:
        """COPY in PostgreSQL's text format (no quoting; backslash escapes)."""
        escaped = rows.with_columns(
            pl.col(c)
            .str.replace_all("\\", "\\\\", literal=True)
            .str.replace_all("\t", "\\t", literal=True)
            .str.replace_all("\n", "\\n", literal=True)
            .str.replace_all("\r", "\\r", literal=True)
            for c, dtype in rows.schema.items()
            if dtype == pl.String
        )
        payload = escaped.write_csv(include_header=False, separator="\t", quote_style="never", null_value="\\N")
        with _copying(cursor).copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(payload)

    def _apply(self, cursor: Cursor, table: str, diff: Diff, import_id: int, bulk_insert: bool) -> None:
        names = diff.upserts.columns[2:]
        rows = diff.upserts.with_columns(pl.lit(import_id, pl.Int64).alias("_import_id")).select(
            "user_id", "_lineage", "_import_id", *names
        )
        columns = "_user_id, _lineage, _import_id" + "".join(f', "{n}"' for n in names)
        if diff.deletes.len():
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS inbound_gone (user_id TEXT) ON COMMIT DROP")
            self._copy(cursor, "inbound_gone", "user_id", diff.deletes.to_frame("user_id"))
            cursor.execute(f"DELETE FROM {table} v USING inbound_gone g WHERE v._user_id = g.user_id")
        if not rows.height:
            return
        if bulk_insert:  # the integration had no rows: nothing to conflict with
            self._copy(cursor, table, columns, rows)
            return
        cursor.execute(f"CREATE TEMP TABLE inbound_stage (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
        self._copy(cursor, "inbound_stage", columns, rows)
        updates = "".join(f', "{n}" = excluded."{n}"' for n in names)
        cursor.execute(
            f"""INSERT INTO {table} ({columns}) SELECT {columns} FROM inbound_stage
                ON CONFLICT (_user_id) DO UPDATE SET _lineage = excluded._lineage, _import_id = excluded._import_id,
                    _updated_at = now(){updates}"""
        )

    def _lineage_sql(self, name: str) -> str:
        return f"(_lineage::json ->> '{name}')::bigint"

    def close(self) -> None:
        self._conn.close()
