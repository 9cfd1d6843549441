"""What both backends share: schema, the transactional file write, the reads.

Backends differ only in how they connect, lock, move rows in and out in bulk and spell a
few types; what a file changes is decided once, in polars (`store.diff`), so the same
tests hold for both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from inbound.store.diff import Diff, compute_diff, parse_lineage, state_schema

SCHEMA_VERSION = 3
OLD_VALUE_TABLE = "inbound_attribute_value"
LOG_TABLE = "inbound_import_log"
INTEGRATION_TABLE = "inbound_integration"
VIEW = "inbound_attributes_v1"
COUNT_COLUMNS = ("inserted", "updated", "unchanged", "cleared", "removed")


class MirrorGuard(Exception):
    """A mirror file would remove too many users: refused as suspicious (a data problem)."""


TIMESTAMP_TEXT = "%Y-%m-%dT%H:%M:%S%.6fZ"


@dataclass(frozen=True)
class WriteResult:
    """What one file did to the store. Users are rows of the file that were imported."""

    import_id: int
    rows_read: int
    rows_rejected: int
    inserted: int  # users that had no value of this integration before
    updated: int  # users with at least one changed (or cleared) value
    unchanged: int  # users whose values were all already stored
    values_written: int
    cleared: int = 0  # values removed by empty cells (blank: clear)
    removed: int = 0  # users dropped by mirror mode
    skipped: bool = False  # the same file, config and data as an earlier import: nothing done
    sample: tuple[dict[str, Any], ...] = ()

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.removed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sample": list(self.sample), "rows_written": self.rows_written}


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
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    cleared: int = 0
    removed: int = 0

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
    return datetime.now(UTC)


def iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


LOG_COLUMNS = (
    "id, integration, source_file, etag, config_version, outcome, rows_read, rows_written, rows_rejected, "
    "attributes, error, triggered_by, finished_at, final_key, inserted, updated, unchanged, cleared, removed"
)


def _record(row: Any) -> ImportRecord:
    values = list(row)
    values[12] = iso(values[12])
    return ImportRecord(*values)


class AttributeStore:
    """The store's interface; subclasses provide the connection and the bulk moves."""

    placeholder = "?"
    timestamp_type = "TEXT"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    number_casts = ("INTEGER", "REAL")

    # -- backend specifics ---------------------------------------------------------
    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Any]:  # pragma: no cover
        raise NotImplementedError
        yield

    def _state(self, cursor: Any, table: str, names: list[str]) -> pl.DataFrame:  # pragma: no cover
        """An integration's current rows: user_id, import_id, lineage and a column per name."""
        raise NotImplementedError

    def _apply(
        self, cursor: Any, table: str, diff: Diff, import_id: int, bulk_insert: bool
    ) -> None:  # pragma: no cover
        raise NotImplementedError

    def _lineage_sql(self, name: str) -> str:  # pragma: no cover
        """SQL for the import id a lineage override gives one attribute."""
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def __enter__(self) -> AttributeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------
    def _migrations(self) -> dict[int, list[Any]]:
        ts, ident = self.timestamp_type, self.id_column
        return {
            1: [
                f"""CREATE TABLE {OLD_VALUE_TABLE} (
                    user_id TEXT NOT NULL,
                    attribute TEXT NOT NULL,
                    type TEXT NOT NULL,
                    value TEXT NOT NULL,
                    integration TEXT NOT NULL,
                    source_file TEXT NOT NULL,
                    updated_at {ts} NOT NULL,
                    PRIMARY KEY (user_id, attribute))""",
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
            ],
            # v2: a table per integration (a text column per attribute, per-value lineage),
            # diffed in polars; the import log gets the full counts.
            2: [
                f"""CREATE TABLE {INTEGRATION_TABLE} (
                    id {ident},
                    integration TEXT NOT NULL UNIQUE,
                    attributes TEXT NOT NULL)""",
                *[f"ALTER TABLE {LOG_TABLE} ADD COLUMN {c} INTEGER NOT NULL DEFAULT 0" for c in COUNT_COLUMNS],
                self._from_v1,
                f"DROP TABLE {OLD_VALUE_TABLE}",
            ],
            # v3: which integrations processed one object version (files shared by several).
            3: [f"CREATE INDEX ix_{LOG_TABLE}_file ON {LOG_TABLE} (source_file, etag)"],
        }

    def _from_v1(self, cur: Any) -> None:
        """Carry values of schema v1 (one row per value) into the per-integration tables."""
        cur.execute(f"SELECT DISTINCT integration, attribute, type FROM {OLD_VALUE_TABLE} ORDER BY 1, 2")
        found: dict[str, dict[str, str]] = {}
        for integration, attribute, kind in cur.fetchall():
            found.setdefault(integration, {})[attribute] = kind
        for integration, types in found.items():
            table = self._ensure_table(cur, integration, types)
            cur.execute(
                self._sql(f"SELECT user_id, attribute, value FROM {OLD_VALUE_TABLE} WHERE integration = ?"),
                (integration,),
            )
            rows = pl.DataFrame(cur.fetchall(), schema=["user_id", "attribute", "value"], orient="row")
            wide = rows.pivot(on="attribute", index="user_id", values="value") if rows.height else rows
            for name in types:
                if name not in wide.columns:
                    wide = wide.with_columns(pl.lit(None, pl.String).alias(name))
            diff = compute_diff(
                pl.DataFrame(schema=state_schema(list(types))), wide.select("user_id", *types), list(types), 0
            )
            self._apply(cur, table, diff, 0, bulk_insert=True)

    def _tables(self, cur: Any) -> dict[str, tuple[str, dict[str, str]]]:
        """Every integration with values: its table and its stored attribute types."""
        cur.execute(f"SELECT id, integration, attributes FROM {INTEGRATION_TABLE} ORDER BY integration")
        return {name: (f"inbound_values_{id_}", json.loads(types)) for id_, name, types in cur.fetchall()}

    def _ensure_table(self, cur: Any, integration: str, types: dict[str, str]) -> str:
        """The integration's table, with exactly the declared attributes as columns.

        New attributes get a column; removed ones lose theirs (their values go with this
        write); a re-typed attribute's values are cleared, to be re-read from files.
        """
        known = self._tables(cur).get(integration)
        if known is None:
            cur.execute(
                self._sql(f"INSERT INTO {INTEGRATION_TABLE} (integration, attributes) VALUES (?, ?) RETURNING id"),
                (integration, json.dumps(types)),
            )
            table = f"inbound_values_{int(cur.fetchone()[0])}"
            columns = "".join(f', "{n}" TEXT' for n in types)
            cur.execute(
                f"""CREATE TABLE {table} (_user_id TEXT PRIMARY KEY, _import_id BIGINT NOT NULL, _lineage TEXT,
                    _updated_at {self.timestamp_type} NOT NULL DEFAULT CURRENT_TIMESTAMP{columns})"""
            )
            self._create_view(cur)
            return table
        table, stored = known
        if stored == types:
            return table
        cur.execute(f"DROP VIEW IF EXISTS {VIEW}")  # it names the columns; recreated below
        for name in stored:
            if name not in types:
                cur.execute(f'ALTER TABLE {table} DROP COLUMN "{name}"')
        for name, kind in types.items():
            if name not in stored:
                cur.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" TEXT')
            elif stored[name] != kind:
                cur.execute(f'UPDATE {table} SET "{name}" = NULL')
        cur.execute(
            self._sql(f"UPDATE {INTEGRATION_TABLE} SET attributes = ? WHERE integration = ?"),
            (json.dumps(types), integration),
        )
        self._create_view(cur)
        return table

    def _create_view(self, cur: Any) -> None:
        """The read contract for SQL consumers (versioned by its name): one row per value.

        Values are canonical text; their types are the configs' declared types.
        """
        cur.execute(f"DROP VIEW IF EXISTS {VIEW}")
        selects = [
            f"""SELECT _user_id AS user_id, '{integration}' AS integration, '{name}' AS attribute, "{name}" AS value,
                COALESCE({self._lineage_sql(name)}, _import_id) AS import_id FROM {table} WHERE "{name}" IS NOT NULL"""
            for integration, (table, types) in self._tables(cur).items()
            for name in types
        ]
        empty = "SELECT CAST(NULL AS TEXT) AS user_id, CAST(NULL AS TEXT) AS integration, CAST(NULL AS TEXT) AS attribute, CAST(NULL AS TEXT) AS value, CAST(NULL AS BIGINT) AS import_id WHERE 1 = 0"
        cur.execute(f"CREATE VIEW {VIEW} AS " + (" UNION ALL ".join(selects) or empty))

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
                    statement(cur) if callable(statement) else cur.execute(statement)
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
        mirror: bool = False,
        mirror_max_removed: float = 1.0,
        force: bool = False,
    ) -> WriteResult:
        """Write what one file changes, and its import-log entry, in one transaction.

        An empty (null) value keeps the stored value, or with `clear_blanks` removes it. In
        mirror mode users missing from the file lose this integration's values, unless
        that would remove more than `mirror_max_removed` of its users (then `MirrorGuard`
        is raised and nothing is written), which `force` overrides.
        """
        new = to_text(frame, types)
        when = now_utc()
        with self.transaction(lock=f"inbound_integration:{integration}") as cur:
            import_id = self._log(
                cur,
                integration=integration,
                source_file=source_file,
                etag=etag,
                config_version=config_version,
                outcome="success",
                rows_read=rows_read,
                rows_written=0,
                rows_rejected=rows_rejected,
                attributes=len(types),
                error=None,
                triggered_by=triggered_by,
                finished_at=when,
            )
            table = self._ensure_table(cur, integration, types)
            state = self._state(cur, table, list(types))
            diff = compute_diff(state, new, list(types), import_id, clear_blanks=clear_blanks, mirror=mirror)
            _guard(diff, mirror_max_removed, force)
            self._apply(cur, table, diff, import_id, bulk_insert=state.height == 0)
            counts = {c: getattr(diff, c) for c in COUNT_COLUMNS}
            rows_written = diff.inserted + diff.updated + diff.removed
            assignments = ", ".join(f"{c} = ?" for c in counts)
            cur.execute(
                self._sql(f"UPDATE {LOG_TABLE} SET rows_written = ?, {assignments} WHERE id = ?"),
                (rows_written, *counts.values(), import_id),
            )
        return WriteResult(
            import_id=import_id,
            rows_read=rows_read,
            rows_rejected=rows_rejected,
            inserted=diff.inserted,
            updated=diff.updated,
            unchanged=diff.unchanged,
            values_written=diff.values_written,
            cleared=diff.cleared,
            removed=diff.removed,
        )

    def preview(
        self,
        *,
        integration: str,
        types: dict[str, str],
        frame: pl.DataFrame,
        rows_read: int,
        rows_rejected: int,
        clear_blanks: bool = False,
        mirror: bool = False,
        sample: int = 10,
    ) -> WriteResult:
        """What `write_file` would do, with a sample of changed users; writes nothing."""
        names = list(types)
        with self.transaction() as cur:
            known = self._tables(cur).get(integration)
            if known is None:
                state = pl.DataFrame(schema=state_schema(names))
            else:
                table, stored = known
                present = [n for n in names if n in stored and stored[n] == types[n]]
                state = self._state(cur, table, present).with_columns(
                    pl.lit(None, pl.String).alias(n) for n in names if n not in present
                )
        diff = compute_diff(
            state, to_text(frame, types), names, 0, clear_blanks=clear_blanks, mirror=mirror, sample=sample
        )
        return WriteResult(
            import_id=0,
            rows_read=rows_read,
            rows_rejected=rows_rejected,
            inserted=diff.inserted,
            updated=diff.updated,
            unchanged=diff.unchanged,
            values_written=diff.values_written,
            cleared=diff.cleared,
            removed=diff.removed,
            sample=tuple(diff.sample),
        )

    def already_imported(self, integration: str, etag: str | None, config_version: str) -> ImportRecord | None:
        """The earlier import this file would repeat exactly, if nothing changed the data since.

        True only when the integration's latest entry that changed (or could have changed)
        its data is a successful import of the same object content (ETag) with the same
        config version; purges, erasures and other files all break the chain.
        """
        if not etag:
            return None
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE integration = ? AND outcome <> 'failed' "
                    "ORDER BY id DESC LIMIT 1"
                ),
                (integration,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        record = _record(row)
        same = (record.outcome, record.etag, record.config_version) == ("success", etag, config_version)
        return record if same else None

    def file_outcomes(self, source_file: str, etag: str) -> dict[str, ImportRecord]:
        """Per integration, its latest entry for one object version (a file several read)."""
        with self.transaction() as cur:
            cur.execute(
                self._sql(f"SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE source_file = ? AND etag = ? ORDER BY id"),
                (source_file, etag),
            )
            rows = cur.fetchall()
        return {row[1]: _record(row) for row in rows}

    def log_skip(self, previous: ImportRecord, source_file: str, triggered_by: str = "skip") -> int:
        """Log a file skipped as identical to `previous` (it changes nothing)."""
        with self.transaction() as cur:
            return self._log(
                cur,
                integration=previous.integration,
                source_file=source_file,
                etag=previous.etag,
                config_version=previous.config_version,
                outcome="success",
                rows_read=previous.rows_read,
                rows_written=0,
                rows_rejected=previous.rows_rejected,
                attributes=previous.attributes,
                error=f"skipped: same content, config and data as import {previous.id}",
                triggered_by=triggered_by,
                finished_at=now_utc(),
                unchanged=previous.rows_read - previous.rows_rejected,
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

    def purge(self, integration: str, triggered_by: str) -> int:
        """Remove every value an integration set (its config is gone); returns the users."""
        with self.transaction(lock=f"inbound_integration:{integration}") as cur:
            known = self._tables(cur).get(integration)
            if known is None:
                return 0
            cur.execute(f"SELECT COUNT(*) FROM {known[0]}")
            users = int(cur.fetchone()[0])
            cur.execute(f"DROP VIEW IF EXISTS {VIEW}")
            cur.execute(f"DROP TABLE {known[0]}")
            cur.execute(self._sql(f"DELETE FROM {INTEGRATION_TABLE} WHERE integration = ?"), (integration,))
            self._create_view(cur)
            self._log(
                cur,
                integration=integration,
                source_file="-",
                etag=None,
                config_version=None,
                outcome="purged",
                rows_read=0,
                rows_written=users,
                rows_rejected=0,
                attributes=0,
                error=None,
                triggered_by=triggered_by,
                finished_at=now_utc(),
                removed=users,
            )
        return users

    def forget(self, user_id: str, triggered_by: str) -> dict[str, list[str]]:
        """Erase one person: every value of `user_id` in every integration; says which."""
        found: dict[str, list[str]] = {}
        with self.transaction(lock="inbound_forget") as cur:
            for integration, (table, types) in self._tables(cur).items():
                names = list(types)
                cur.execute(
                    self._sql(
                        f"SELECT {', '.join(chr(34) + n + chr(34) for n in names)} FROM {table} WHERE _user_id = ?"
                    ),
                    (user_id,),
                )
                row = cur.fetchone()
                if row is None:
                    continue
                found[integration] = sorted(n for n, v in zip(names, row) if v is not None)
                cur.execute(self._sql(f"DELETE FROM {table} WHERE _user_id = ?"), (user_id,))
                self._log(  # the user ID itself is not logged: it is personal data
                    cur,
                    integration=integration,
                    source_file="-",
                    etag=None,
                    config_version=None,
                    outcome="forgotten",
                    rows_read=0,
                    rows_written=1,
                    rows_rejected=0,
                    attributes=0,
                    error=None,
                    triggered_by=triggered_by,
                    finished_at=now_utc(),
                    removed=1,
                )
        return found

    def _timestamp(self, value: datetime) -> Any:
        return value.isoformat() if self.timestamp_type == "TEXT" else value

    def _log(self, cur: Any, **fields: Any) -> int:
        fields["finished_at"] = self._timestamp(fields["finished_at"])
        fields.setdefault("final_key", None)
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        cur.execute(
            self._sql(f"INSERT INTO {LOG_TABLE} ({columns}) VALUES ({marks}) RETURNING id"), tuple(fields.values())
        )
        return int(cur.fetchone()[0])

    # -- reads (the contract targeting uses) ---------------------------------------
    def user_attributes(self, user_id: str, declared: dict[str, str] | None = None) -> dict[str, Any]:
        """A user's attributes, typed, with where each value came from.

        With `declared` (attribute name -> type of the loaded configs), only attributes
        that a current config declares are served, typed as declared.
        """
        found: list[tuple[str, str, str, int]] = []
        with self.transaction() as cur:
            for integration, (table, types) in self._tables(cur).items():
                names = [n for n in types if declared is None or n in declared]
                if not names:
                    continue
                columns = ", ".join(f'"{n}"' for n in names)
                cur.execute(
                    self._sql(f"SELECT _import_id, _lineage, {columns} FROM {table} WHERE _user_id = ?"), (user_id,)
                )
                row = cur.fetchone()
                if row is None:
                    continue
                overrides = parse_lineage(row[1])
                for name, text in zip(names, row[2:]):
                    if text is not None:
                        found.append((name, text, integration, overrides.get(name, int(row[0]))))
            imports = self._import_sources(cur, {i for *_, i in found})
        attributes: dict[str, Any] = {}
        sources: dict[str, Any] = {}
        for name, text, integration, import_id in sorted(found):
            attributes[name] = from_text(text, declared[name]) if declared else text
            file, at = imports.get(import_id, (None, None))
            sources[name] = {"integration": integration, "file": file, "updated_at": at}
        return {"user_id": user_id, "attributes": attributes, "sources": sources}

    def _import_sources(self, cur: Any, ids: set[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        cur.execute(
            self._sql(f"SELECT id, source_file, finished_at FROM {LOG_TABLE} WHERE id IN ({marks})"), tuple(ids)
        )
        return {int(i): (f, iso(at)) for i, f, at in cur.fetchall()}

    def imports(self, integration: str | None = None, limit: int = 50) -> list[ImportRecord]:
        """The import log, newest first."""
        where, params = ("WHERE integration = ?", (integration,)) if integration else ("", ())
        with self.transaction() as cur:
            cur.execute(
                self._sql(f"SELECT {LOG_COLUMNS} FROM {LOG_TABLE} {where} ORDER BY id DESC LIMIT {int(limit)}"), params
            )
            rows = cur.fetchall()
        return [_record(row) for row in rows]

    def last_success(self) -> dict[str, ImportRecord]:
        """Per integration, its last successful import (what "attributes imported" shows)."""
        with self.transaction() as cur:
            cur.execute(
                f"""SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE id IN (
                    SELECT MAX(id) FROM {LOG_TABLE} WHERE outcome = 'success' GROUP BY integration)"""
            )
            rows = cur.fetchall()
        return {row[1]: _record(row) for row in rows}

    def segment(self, rule: Any, declared: dict[str, str], sample: int = 20) -> dict[str, Any]:
        """How many users match a segment rule (`inbound.rules`), and the first few of them."""
        from inbound.rules import Column, Compiler

        with self.transaction() as cur:
            tables = self._tables(cur)
            columns = {name: Column(None, name, kind) for name, kind in declared.items()}
            for table, stored in tables.values():
                for name, kind in stored.items():
                    if declared.get(name) == kind:
                        columns[name] = Column(table, name, kind)
            compiler = Compiler(columns, *self.number_casts)
            condition = compiler.compile(rule)
            # The candidates: users of the tables the rule reads (everyone only for not_exists).
            scope = [t for t, _ in tables.values() if compiler.needs_everyone or t in compiler.tables]
            users = " UNION ".join(f"SELECT _user_id AS user_id FROM {table}" for table in scope)
            users = users or "SELECT CAST(NULL AS TEXT) AS user_id WHERE 1 = 0"
            base = f"WITH users AS ({users}) SELECT {{}} FROM users WHERE {condition}"
            cur.execute(self._sql(base.format("COUNT(*)")), tuple(compiler.params))
            count = int(cur.fetchone()[0])
            cur.execute(
                self._sql(base.format("user_id") + f" ORDER BY user_id LIMIT {int(sample)}"), tuple(compiler.params)
            )
            return {"count": count, "sample": [row[0] for row in cur.fetchall()]}

    def user_count(self, integration: str) -> int:
        return self.integrations().get(integration, 0)

    def integrations(self) -> dict[str, int]:
        """Every integration that holds values, with its number of users, in one statement."""
        with self.transaction() as cur:
            tables = list(self._tables(cur).items())
            if not tables:
                return {}
            cur.execute(
                " UNION ALL ".join(f"SELECT {i}, COUNT(*) FROM {table}" for i, (_, (table, _t)) in enumerate(tables))
            )
            counts = {tables[int(i)][0]: int(n) for i, n in cur.fetchall()}
        return {name: n for name, n in counts.items() if n}


def _guard(diff: Diff, mirror_max_removed: float, force: bool) -> None:
    if not diff.removed or force or not diff.existing:
        return
    share = diff.removed / diff.existing
    if share > mirror_max_removed:
        raise MirrorGuard(
            f"mirror mode would remove {diff.removed} of {diff.existing} users ({share:.0%}), more than "
            f"mirror_max_removed {mirror_max_removed:.0%}: a truncated export? Nothing was written. If the "
            "removal is right, re-run with force (trigger param `force`, or `inbound run --force`)"
        )
