"""SQLite backend: the embedded default, one file under $AIRFLOW_HOME.

Writers take SQLite's database lock up front (BEGIN IMMEDIATE), which serializes two
runs of one integration as well as runs of different ones; WAL mode lets readers (the
CLI, the UI) go on while a file is written.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import polars as pl

from inbound.store.base import AttributeStore


class SqliteStore(AttributeStore):
    placeholder = "?"
    timestamp_type = "TEXT"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"

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

    def _create_stage(self, cursor: Any) -> None:
        cursor.execute("DROP TABLE IF EXISTS temp.inbound_stage")
        cursor.execute(
            "CREATE TEMP TABLE inbound_stage (user_id TEXT NOT NULL, attribute TEXT NOT NULL, "
            "type TEXT NOT NULL, value TEXT, PRIMARY KEY (user_id, attribute))"
        )

    def _load_stage(self, cursor: Any, rows: pl.DataFrame) -> None:
        cursor.executemany("INSERT INTO inbound_stage VALUES (?, ?, ?, ?)", rows.iter_rows())

    def close(self) -> None:
        self._conn.close()
