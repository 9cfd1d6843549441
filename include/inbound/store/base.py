"""What both backends share: schema, the transactional file write, the reads.

Backends differ only in how they connect, lock, bulk-load the staging table and spell a
few types; the SQL that decides what a file changes is the same on both, so the same
tests hold for both.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterator

import polars as pl

SCHEMA_VERSION = 1
VALUE_TABLE = "inbound_attribute_value"
LOG_TABLE = "inbound_import_log"
TIMESTAMP_TEXT = "%Y-%m-%dT%H:%M:%S%.6fZ"


@dataclass(frozen=True)
class WriteResult:
    """What one file did to the store. Users are rows of the file that were imported."""

    import_id: int
    rows_read: int
    rows_rejected: int
    inserted: int  # users that had no value of this integration before
    updated: int  # users with at least one changed value
    unchanged: int  # users whose values were all already stored
    values_written: int
    values_cleared: int = 0

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "rows_written": self.rows_written}


@dataclass(frozen=True)
class ImportRecord:
    """One import-log entry: one processed file."""

    id: int
    integration: str
    source_file: str
    etag: str | None
    config_version: str | None
    outcome: str  # success | failed
    rows_read: int
    rows_written: int
    rows_rejected: int
    attributes: int
    error: str | None
    triggered_by: str
    finished_at: str
    final_key: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def to_text(frame: pl.DataFrame, types: dict[str, str]) -> pl.DataFrame:
    """Typed attribute columns to their canonical text form (what the store keeps)."""

    def text(name: str, attribute_type: str) -> pl.Expr:
        col = pl.col(name)
        if attribute_type == "boolean":
            return pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false")).alias(name)
        if attribute_type == "date":
            return col.dt.to_string("%Y-%m-%d").alias(name)
        if attribute_type == "timestamp":
            return col.dt.convert_time_zone("UTC").dt.to_string(TIMESTAMP_TEXT).alias(name)
        return col.cast(pl.String).alias(name)

    return frame.select(pl.col("user_id"), *[text(n, t) for n, t in types.items()])


def from_text(value: str, attribute_type: str) -> Any:
    """Stored text back to the typed JSON value targeting reads."""
    if attribute_type == "integer":
        return int(value)
    if attribute_type == "number":
        return float(value)
    if attribute_type == "boolean":
        return value == "true"
    if attribute_type == "date":
        return date.fromisoformat(value).isoformat()
    if attribute_type == "timestamp":
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    return value


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return str(value)


class AttributeStore:
    """The store's interface; subclasses provide the connection and a few dialect bits."""

    placeholder = "?"
    timestamp_type = "TEXT"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"

    # -- backend specifics ---------------------------------------------------------
    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Any]:  # pragma: no cover
        raise NotImplementedError
        yield

    def _load_stage(self, cursor: Any, rows: pl.DataFrame) -> None:  # pragma: no cover
        raise NotImplementedError

    def _create_stage(self, cursor: Any) -> None:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- schema --------------------------------------------------------------------
    def _migrations(self) -> dict[int, list[str]]:
        ts, ident = self.timestamp_type, self.id_column
        return {
            1: [
                f"""CREATE TABLE {VALUE_TABLE} (
                    user_id TEXT NOT NULL,
                    attribute TEXT NOT NULL,
                    type TEXT NOT NULL,
                    value TEXT NOT NULL,
                    integration TEXT NOT NULL,
                    source_file TEXT NOT NULL,
                    updated_at {ts} NOT NULL,
                    PRIMARY KEY (user_id, attribute))""",
                f"CREATE INDEX ix_{VALUE_TABLE}_integration ON {VALUE_TABLE} (integration)",
                f"CREATE INDEX ix_{VALUE_TABLE}_attribute_value ON {VALUE_TABLE} (attribute, value)",
                f"""CREATE TABLE {LOG_TABLE} (
                    id {ident},
                    integration TEXT NOT NULL,
                    source_file TEXT NOT NULL,
                    etag TEXT,
                    config_version TEXT,
                    outcome TEXT NOT NULL,
                    rows_read INTEGER NOT NULL DEFAULT 0,
                    rows_written INTEGER NOT NULL DEFAULT 0,
                    rows_rejected INTEGER NOT NULL DEFAULT 0,
                    attributes INTEGER NOT NULL DEFAULT 0,
                    error TEXT,
                    triggered_by TEXT NOT NULL,
                    finished_at {ts} NOT NULL,
                    final_key TEXT)""",
                f"CREATE INDEX ix_{LOG_TABLE}_integration ON {LOG_TABLE} (integration, id)",
            ]
        }

    def schema_version(self) -> int:
        with self.transaction() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS inbound_schema (version INTEGER NOT NULL)")
            cur.execute("SELECT MAX(version) FROM inbound_schema")
            row = cur.fetchone()
        return int(row[0] or 0)

    def migrate(self) -> int:
        """Create or upgrade the schema to the current version; safe to run concurrently."""
        if self.schema_version() >= SCHEMA_VERSION:
            return SCHEMA_VERSION
        with self.transaction(lock="inbound_schema") as cur:
            cur.execute("SELECT MAX(version) FROM inbound_schema")
            current = int(cur.fetchone()[0] or 0)
            if current > SCHEMA_VERSION:
                raise RuntimeError(f"the store's schema is version {current}, newer than this code ({SCHEMA_VERSION})")
            for version, statements in sorted(self._migrations().items()):
                if version <= current:
                    continue
                for statement in statements:
                    cur.execute(statement)
                cur.execute(self._sql("INSERT INTO inbound_schema (version) VALUES (?)"), (version,))
        return SCHEMA_VERSION

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    # -- writes --------------------------------------------------------------------
    def write_file(
        self,
        *,
        integration: str,
        types: dict[str, str],
        frame: pl.DataFrame,
        source_file: str,
        etag: str | None,
        config_version: str,
        triggered_by: str,
        rows_read: int,
        rows_rejected: int,
        clear_blanks: bool = False,
    ) -> WriteResult:
        """Upsert one file's attribute set and log it, in one transaction.

        An empty (null) value keeps the stored value, or with `clear_blanks` removes it.
        """
        long = (
            to_text(frame, types)
            .unpivot(index="user_id", on=list(types), variable_name="attribute", value_name="value")
            .with_columns(pl.col("attribute").replace_strict(types, return_dtype=pl.String).alias("type"))
            .select("user_id", "attribute", "type", "value")
        )
        if not clear_blanks:
            long = long.drop_nulls("value")
        when = now_utc()
        attribute_names = list(types)
        marks = ", ".join("?" for _ in attribute_names)
        same = f"""EXISTS (SELECT 1 FROM {VALUE_TABLE} v
            WHERE v.user_id = s.user_id AND v.attribute = s.attribute AND v.value = s.value
              AND v.type = s.type AND v.integration = ?)"""
        stored = f"EXISTS (SELECT 1 FROM {VALUE_TABLE} v WHERE v.user_id = s.user_id AND v.attribute = s.attribute)"
        changed = f"s.value IS NOT NULL AND NOT {same}"
        cleared = f"s.value IS NULL AND {stored}"
        with self.transaction(lock=f"inbound_integration:{integration}") as cur:
            self._create_stage(cur)
            self._load_stage(cur, long)
            cur.execute(
                self._sql(
                    f"""SELECT COUNT(DISTINCT s.user_id) FROM inbound_stage s
                    WHERE s.value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {VALUE_TABLE} v
                        WHERE v.user_id = s.user_id AND v.integration = ? AND v.attribute IN ({marks}))"""
                ),
                (integration, *attribute_names),
            )
            inserted = int(cur.fetchone()[0])
            cur.execute(
                self._sql(
                    f"""SELECT COUNT(DISTINCT s.user_id),
                        SUM(CASE WHEN {changed} THEN 1 ELSE 0 END),
                        SUM(CASE WHEN {cleared} THEN 1 ELSE 0 END)
                    FROM inbound_stage s WHERE ({changed}) OR ({cleared})"""
                ),
                (integration, integration),
            )
            changed_users, values_written, values_cleared = (int(x or 0) for x in cur.fetchone())
            cur.execute(
                self._sql(
                    f"""INSERT INTO {VALUE_TABLE}
                        (user_id, attribute, type, value, integration, source_file, updated_at)
                    SELECT s.user_id, s.attribute, s.type, s.value, ?, ?, ? FROM inbound_stage s
                    WHERE {changed}
                    ON CONFLICT (user_id, attribute) DO UPDATE SET
                        type = excluded.type, value = excluded.value, integration = excluded.integration,
                        source_file = excluded.source_file, updated_at = excluded.updated_at"""
                ),
                (integration, source_file, self._timestamp(when), integration),
            )
            if clear_blanks:
                cur.execute(
                    f"""DELETE FROM {VALUE_TABLE} WHERE EXISTS (SELECT 1 FROM inbound_stage s
                        WHERE s.value IS NULL AND s.user_id = {VALUE_TABLE}.user_id
                          AND s.attribute = {VALUE_TABLE}.attribute)"""
                )
            import_id = self._log(
                cur,
                integration=integration,
                source_file=source_file,
                etag=etag,
                config_version=config_version,
                outcome="success",
                rows_read=rows_read,
                rows_written=changed_users,
                rows_rejected=rows_rejected,
                attributes=len(types),
                error=None,
                triggered_by=triggered_by,
                finished_at=when,
            )
        return WriteResult(
            import_id=import_id,
            rows_read=rows_read,
            rows_rejected=rows_rejected,
            inserted=inserted,
            updated=changed_users - inserted,
            unchanged=frame.height - changed_users,
            values_written=values_written,
            values_cleared=values_cleared,
        )

    def log_failure(
        self,
        *,
        integration: str,
        source_file: str,
        etag: str | None,
        config_version: str | None,
        error: str,
        triggered_by: str,
        rows_read: int = 0,
        rows_rejected: int = 0,
        final_key: str | None = None,
    ) -> int:
        """Record a file that was not imported (the store's attributes stay untouched)."""
        with self.transaction() as cur:
            return self._log(
                cur,
                integration=integration,
                source_file=source_file,
                etag=etag,
                config_version=config_version,
                outcome="failed",
                rows_read=rows_read,
                rows_written=0,
                rows_rejected=rows_rejected,
                attributes=0,
                error=error,
                triggered_by=triggered_by,
                finished_at=now_utc(),
                final_key=final_key,
            )

    def set_final_key(self, import_id: int, final_key: str) -> None:
        """Where the file went (success/ or failed/), once it has been moved."""
        with self.transaction() as cur:
            cur.execute(self._sql(f"UPDATE {LOG_TABLE} SET final_key = ? WHERE id = ?"), (final_key, import_id))

    def _timestamp(self, value: datetime) -> Any:
        return value.isoformat() if self.timestamp_type == "TEXT" else value

    def _log(self, cur: Any, **fields: Any) -> int:
        fields["finished_at"] = self._timestamp(fields["finished_at"])
        fields.setdefault("final_key", None)
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        cur.execute(self._sql(f"INSERT INTO {LOG_TABLE} ({columns}) VALUES ({marks}) RETURNING id"), tuple(fields.values()))
        return int(cur.fetchone()[0])

    # -- reads (the contract targeting uses) ---------------------------------------
    def user_attributes(self, user_id: str, declared: dict[str, str] | None = None) -> dict[str, Any]:
        """A user's attributes, typed, with where each value came from.

        With `declared` (attribute name -> type of the loaded configs), only attributes
        that a current config declares are served.
        """
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"""SELECT attribute, type, value, integration, source_file, updated_at
                    FROM {VALUE_TABLE} WHERE user_id = ? ORDER BY attribute"""
                ),
                (user_id,),
            )
            rows = cur.fetchall()
        attributes: dict[str, Any] = {}
        sources: dict[str, Any] = {}
        for attribute, attribute_type, value, integration, source_file, updated_at in rows:
            if declared is not None and attribute not in declared:
                continue
            attributes[attribute] = from_text(value, attribute_type)
            sources[attribute] = {"integration": integration, "file": source_file, "updated_at": iso(updated_at)}
        return {"user_id": user_id, "attributes": attributes, "sources": sources}

    def imports(self, integration: str | None = None, limit: int = 50) -> list[ImportRecord]:
        """The import log, newest first."""
        where, params = ("WHERE integration = ?", (integration,)) if integration else ("", ())
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"""SELECT id, integration, source_file, etag, config_version, outcome, rows_read,
                        rows_written, rows_rejected, attributes, error, triggered_by, finished_at, final_key
                    FROM {LOG_TABLE} {where} ORDER BY id DESC LIMIT {int(limit)}"""
                ),
                params,
            )
            rows = cur.fetchall()
        return [ImportRecord(*row[:12], iso(row[12]), row[13]) for row in rows]

    def last_success(self) -> dict[str, ImportRecord]:
        """Per integration, its last successful import (what "attributes imported" shows)."""
        with self.transaction() as cur:
            cur.execute(
                f"""SELECT id, integration, source_file, etag, config_version, outcome, rows_read,
                    rows_written, rows_rejected, attributes, error, triggered_by, finished_at, final_key
                FROM {LOG_TABLE} WHERE id IN (
                    SELECT MAX(id) FROM {LOG_TABLE} WHERE outcome = 'success' GROUP BY integration)"""
            )
            rows = cur.fetchall()
        return {row[1]: ImportRecord(*row[:12], iso(row[12]), row[13]) for row in rows}

    def user_count(self, integration: str) -> int:
        with self.transaction() as cur:
            cur.execute(
                self._sql(f"SELECT COUNT(DISTINCT user_id) FROM {VALUE_TABLE} WHERE integration = ?"), (integration,)
            )
            return int(cur.fetchone()[0])
