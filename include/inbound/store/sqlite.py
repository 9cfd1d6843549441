"""SQLite backend: the embedded default, one file under $AIRFLOW_HOME.

Writers take SQLite's database lock up front (BEGIN IMMEDIATE), which serializes two
runs of one integration as well as runs of different ones; WAL mode lets readers (the
CLI, the UI) go on while a file is written.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from inbound.errors import StoreUnavailable
from inbound.store.attribute_store import AttributeStore
from inbound.store.base import Cursor
from inbound.store.diff import Dialect

# SQLITE_BUSY / SQLITE_LOCKED (another writer holds the database past the busy timeout):
# unavailable, retry later. Any other error is the file's or the code's: that file fails.
UNAVAILABLE_CODES = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


JSON_PAIRS = 50  # key-value pairs per json_object call: SQLite caps a function's arguments


def _json_object(pairs: Sequence[tuple[str, str]]) -> str:
    """A JSON object of (key, SQL) pairs; merged in steps (json_patch) beyond one call's arguments."""
    calls = [
        "json_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs[i : i + JSON_PAIRS]) + ")"
        for i in range(0, len(pairs), JSON_PAIRS)
    ]
    merged = calls[0]
    for call in calls[1:]:
        merged = f"json_patch({merged}, {call})"
    return merged


def unavailable(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY and SQLITE_LOCKED, with their extended codes (SQLITE_BUSY_SNAPSHOT, ...)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(tuple(UNAVAILABLE_CODES))


if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl


def _wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Switch to WAL, waiting for other connections as a write would.

    Switching a fresh database to WAL needs it to itself, and SQLite answers "database is
    locked" at once (no busy handler) while another connection opens it: six first opens at
    once failed one of them (test_store's first writes of many integrations). Once in WAL,
    the mode is kept in the file and later opens pass at once.
    """
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class SqliteStore(AttributeStore):
    placeholder = "?"
    timestamp_type = "TEXT"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    number_casts = ("INTEGER", "REAL")
    substring_position = "instr"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.label = f"sqlite:///{self.path}"
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        _wal(self._conn, deadline=time.monotonic() + 60)
        self._conn.execute("PRAGMA synchronous=NORMAL")

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[sqlite3.Cursor]:
        try:
            with self._transaction(lock) as cur:
                yield cur
        except sqlite3.Error as exc:
            if unavailable(exc):
                raise StoreUnavailable(
                    f"the attribute store ({self.path}) is locked by another writer ({exc.sqlite_errorname}); "
                    "nothing was written, the task retries later"
                ) from exc
            raise

    @contextmanager
    def _transaction(self, lock: str | None) -> Iterator[sqlite3.Cursor]:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE" if lock else "BEGIN")
        try:
            yield cur
        except BaseException:
            if self._conn.in_transaction:
                cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def _table_exists(self, cursor: Cursor, table: str) -> bool:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return cursor.fetchone() is not None

    @property
    def dialect(self) -> Dialect:
        return Dialect(
            distinct="IS NOT",
            now="CURRENT_TIMESTAMP",
            json_object=_json_object,
            lineage=self._lineage_sql,
            temp="temp",
        )

    def _copy_rows(self, cursor: Cursor, table: str, columns: list[str], rows: pl.DataFrame) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows.iter_rows())

    def _hash_chunks(self, cursor: Cursor, table: str) -> Iterator[npt.NDArray[np.int64]]:
        import numpy as np

        cursor.execute(f"SELECT _hash FROM {table} WHERE _hash IS NOT NULL")
        while rows := cursor.fetchmany(100_000):
            yield np.fromiter((row[0] for row in rows), np.int64, len(rows))

    def _loaded(self, cursor: Cursor, table: str) -> None:
        schema, name = table.split(".")
        cursor.execute(f"CREATE INDEX {schema}.ix_{name}_user ON {name} (user_id)")

    def _lineage_sql(self, name: str) -> str:
        return f"json_extract(_lineage, '$.{name}')"

    def _where(self, cursor: Cursor) -> tuple[str, str | None, int | None, str, str]:
        path = self.path if self.path == ":memory:" else str(Path(self.path).resolve())
        return "sqlite", None, None, path, "main"

    def close(self) -> None:
        self._conn.close()
