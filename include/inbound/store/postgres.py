"""PostgreSQL backend: the production store (psycopg 3).

A file's rows reach a temporary staging table by COPY; one transaction per file holds a
transaction-level advisory lock per integration, so two runs of one integration never
interleave while different integrations write side by side.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import polars as pl
import psycopg

from inbound.store.base import AttributeStore


class PostgresStore(AttributeStore):
    placeholder = "%s"
    timestamp_type = "TIMESTAMPTZ"
    id_column = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str):
        self.url = url
        self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Any]:
        with self._conn.transaction():
            with self._conn.cursor() as cur:
                if lock:
                    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
                yield cur

    def _create_stage(self, cursor: Any) -> None:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS inbound_stage (user_id TEXT NOT NULL, attribute TEXT NOT NULL, "
            "type TEXT NOT NULL, value TEXT, PRIMARY KEY (user_id, attribute)) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE inbound_stage")

    def _load_stage(self, cursor: Any, rows: pl.DataFrame) -> None:
        with cursor.copy("COPY inbound_stage (user_id, attribute, type, value) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(rows.write_csv(include_header=False).encode("utf-8"))

    def close(self) -> None:
        self._conn.close()
