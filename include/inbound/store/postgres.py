"""PostgreSQL backend: the production store (psycopg 3).

Rows move in and out by COPY: the integration's current rows come out as CSV into
polars for the diff, and only the changed rows go back, straight into the table for a
first load, through a temporary staging table and one `INSERT .. ON CONFLICT` otherwise.
One transaction per file holds a transaction-level advisory lock per integration, so
two runs of one integration never interleave while different integrations write side
by side.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

import polars as pl
import psycopg

from inbound.store.base import VALUE_TABLE, AttributeStore
from inbound.store.diff import STATE_SCHEMA, Diff


class PostgresStore(AttributeStore):
    placeholder = "%s"
    timestamp_type = "TIMESTAMPTZ"
    id_column = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    json_object_agg = "json_object_agg"
    attributes_view = f"""CREATE VIEW inbound_attributes_v1 AS
        SELECT v.user_id, v.integration, j.key AS attribute, j.value AS value,
            COALESCE((v.lineage::json ->> j.key)::bigint, v.import_id) AS import_id
        FROM {VALUE_TABLE} v CROSS JOIN LATERAL json_each_text(v.attrs::json) j WHERE j.value IS NOT NULL"""

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

    def _state(self, cursor: Any, integration: str) -> pl.DataFrame:
        buffer = bytearray()
        query = f"COPY (SELECT user_id, attrs, lineage, import_id FROM {VALUE_TABLE} WHERE integration = %s) TO STDOUT (FORMAT csv)"
        with cursor.copy(query, (integration,)) as copy:
            for chunk in copy:
                buffer += chunk
        if not buffer:
            return pl.DataFrame(schema=STATE_SCHEMA)
        return pl.read_csv(bytes(buffer), has_header=False, new_columns=list(STATE_SCHEMA), schema=STATE_SCHEMA)

    def _copy(self, cursor: Any, table: str, columns: str, rows: pl.DataFrame) -> None:
        """COPY in PostgreSQL's text format: JSON values need no quote doubling there."""
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
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(payload)

    def _apply(self, cursor: Any, integration: str, diff: Diff, import_id: int, when: datetime, bulk_insert: bool) -> None:
        rows = diff.upserts.with_columns(
            pl.lit(integration).alias("integration"), pl.lit(import_id).alias("import_id"), pl.lit(when.isoformat()).alias("updated_at")
        ).select("integration", "user_id", "attrs", "lineage", "import_id", "updated_at")
        columns = "integration, user_id, attrs, lineage, import_id, updated_at"
        if diff.deletes.len():
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS inbound_gone (user_id TEXT) ON COMMIT DROP")
            self._copy(cursor, "inbound_gone", "user_id", diff.deletes.to_frame("user_id"))
            cursor.execute(
                f"DELETE FROM {VALUE_TABLE} v USING inbound_gone g WHERE v.integration = %s AND v.user_id = g.user_id",
                (integration,),
            )
        if not rows.height:
            return
        if bulk_insert:  # the integration had no rows: nothing to conflict with
            self._copy(cursor, VALUE_TABLE, columns, rows)
            return
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS inbound_stage (LIKE {VALUE_TABLE}) ON COMMIT DROP")
        self._copy(cursor, "inbound_stage", columns, rows)
        cursor.execute(
            f"""INSERT INTO {VALUE_TABLE} ({columns}) SELECT {columns} FROM inbound_stage
                ON CONFLICT (user_id, integration) DO UPDATE SET attrs = excluded.attrs,
                    lineage = excluded.lineage, import_id = excluded.import_id, updated_at = excluded.updated_at"""
        )

    def close(self) -> None:
        self._conn.close()
