"""SQLite backend: the embedded default, one file under $AIRFLOW_HOME.

Writers take SQLite's database lock up front (BEGIN IMMEDIATE), which serializes two
runs of one integration as well as runs of different ones; WAL mode lets readers (the
CLI, the UI) go on while a file is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from inbound.errors import StoreUnavailable
from inbound.store.attribute_store import AttributeStore
from inbound.store.base import Cursor

# SQLITE_BUSY / SQLITE_LOCKED (another writer holds the database past the busy timeout):
# unavailable, retry later. Any other error is the file's or the code's: that file fails.
UNAVAILABLE_CODES = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


def unavailable(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY and SQLITE_LOCKED, with their extended codes (SQLITE_BUSY_SNAPSHOT, ...)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(tuple(UNAVAILABLE_CODES))


if TYPE_CHECKING:
    import polars as pl

    from inbound.store.diff import Diff


class SqliteStore(AttributeStore):
    placeholder = "?"
    timestamp_type = "TEXT"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    number_casts = ("INTEGER", "REAL")
    substring_position = "instr"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
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

    def _state(self, cursor: Cursor, table: str, names: list[str]) -> pl.DataFrame:
        # polars takes about half a second to import: only writes load it, reads stay fast.
        from inbound.store.diff import state_frame

        columns = "".join(f', "{n}"' for n in names)
        cursor.execute(f"SELECT _user_id, _import_id, _lineage{columns} FROM {table}")
        return state_frame(cursor.fetchall(), names)

    def _apply(self, cursor: Cursor, table: str, diff: Diff, import_id: int, bulk_insert: bool) -> None:
        if diff.deletes.len():
            cursor.executemany(f"DELETE FROM {table} WHERE _user_id = ?", ((u,) for u in diff.deletes.to_list()))
        names = diff.upserts.columns[2:]
        columns = "".join(f', "{n}"' for n in names)
        marks = ", ?" * len(names)
        updates = "".join(f', "{n}" = excluded."{n}"' for n in names)
        cursor.executemany(
            f"""INSERT INTO {table} (_user_id, _lineage, _import_id{columns}) VALUES (?, ?, {int(import_id)}{marks})
                ON CONFLICT (_user_id) DO UPDATE SET _lineage = excluded._lineage, _import_id = excluded._import_id,
                    _updated_at = CURRENT_TIMESTAMP{updates}""",
            diff.upserts.iter_rows(),
        )

    def _lineage_sql(self, name: str) -> str:
        return f"json_extract(_lineage, '$.{name}')"

    def close(self) -> None:
        self._conn.close()
