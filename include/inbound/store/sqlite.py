"""SQLite backend: the embedded default, one file under $AIRFLOW_HOME.

Writers take SQLite's database lock up front (BEGIN IMMEDIATE), which serializes two
runs of one integration as well as runs of different ones; WAL mode lets readers (the
CLI, the UI) go on while a file is written.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import polars as pl

from inbound.store.base import VALUE_TABLE, AttributeStore
from inbound.store.diff import STATE_SCHEMA, Diff


class SqliteStore(AttributeStore):
    placeholder = "?"
    timestamp_type = "TEXT"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    json_object_agg = "json_group_object"

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Any]:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE" if lock else "BEGIN")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def _state(self, cursor: Any, integration: str) -> pl.DataFrame:
        cursor.execute(f"SELECT user_id, attrs, lineage, import_id FROM {VALUE_TABLE} WHERE integration = ?", (integration,))
        return pl.DataFrame(cursor.fetchall(), schema=STATE_SCHEMA, orient="row")

    def _apply(self, cursor: Any, integration: str, diff: Diff, import_id: int, when: datetime, bulk_insert: bool) -> None:
        at = when.isoformat()
        if diff.deletes.len():
            cursor.executemany(
                f"DELETE FROM {VALUE_TABLE} WHERE integration = ? AND user_id = ?",
                ((integration, u) for u in diff.deletes.to_list()),
            )
        cursor.executemany(
            f"""INSERT INTO {VALUE_TABLE} (integration, user_id, attrs, lineage, import_id, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (user_id, integration) DO UPDATE SET attrs = excluded.attrs,
                    lineage = excluded.lineage, import_id = excluded.import_id, updated_at = excluded.updated_at""",
            ((integration, u, a, lin, import_id, at) for u, a, lin in diff.upserts.iter_rows()),
        )

    def close(self) -> None:
        self._conn.close()
