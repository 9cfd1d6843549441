"""The import log: one entry per processed file (and per purge or erasure), newest last.

It is what the management table, the UI's run history, the repeat-import shortcut and
shared files (which integrations processed one object version) read. An import's entry
is written in the same transaction as its values (`store.writes`). Each write checks the
schema version first (`StoreBase.check_writable`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from inbound.outcome import Outcome
from inbound.store.base import Cursor, Row, StoreBase, bounded, first
from inbound.store.schema import LOG_TABLE


@dataclass(frozen=True)
class FileImport:
    """What an import-log entry is about: one object version, one integration, one run.

    A purge or an erasure has no file: `source_file` "-", no ETag or config version.
    """

    integration: str
    source_file: str  # s3://bucket/key as the run found it
    etag: str | None
    config_version: str | None
    triggered_by: str  # the run (or "cli:<user>") that did it
    rows_read: int = 0
    rows_rejected: int = 0


@dataclass(frozen=True)
class ImportRecord:
    """One import-log entry: one processed file."""

    id: int
    integration: str
    source_file: str  # "-" for a purge or an erasure
    etag: str | None
    config_version: str | None
    outcome: Outcome  # success | failed | purged | forgotten
    rows_read: int
    rows_written: int
    rows_rejected: int
    attributes: int
    error: str | None
    triggered_by: str
    finished_at: str  # ISO-8601, UTC
    final_key: str | None
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    cleared: int = 0
    removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def iso(value: object) -> str:
    """A stored timestamp (text on SQLite, a datetime on PostgreSQL) as ISO-8601 text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


# The log's columns, in the order of ImportRecord's fields.
LOG_FIELDS = tuple(f.name for f in fields(ImportRecord))
LOG_COLUMNS = ", ".join(LOG_FIELDS)


def _record(row: Row) -> ImportRecord:
    found = dict(zip(LOG_FIELDS, row))
    return ImportRecord(**{**found, "outcome": Outcome(found["outcome"]), "finished_at": iso(found["finished_at"])})


class ImportLog(StoreBase):
    """Writes and reads of the import log."""

    def _log(
        self,
        cur: Cursor,
        entry: FileImport,
        outcome: Outcome,
        *,
        rows_written: int = 0,
        attributes: int = 0,
        error: str | None = None,
        final_key: str | None = None,
        unchanged: int = 0,
        removed: int = 0,
    ) -> int:
        """Append an entry inside the caller's transaction; returns its id."""
        columns: dict[str, object] = {
            **asdict(entry),
            "outcome": outcome.value,
            "rows_written": rows_written,
            "attributes": attributes,
            "error": error,
            "finished_at": self._timestamp(datetime.now(UTC)),
            "final_key": final_key,
            "unchanged": unchanged,
            "removed": removed,
        }
        marks = ", ".join("?" for _ in columns)
        cur.execute(
            self._sql(f"INSERT INTO {LOG_TABLE} ({', '.join(columns)}) VALUES ({marks}) RETURNING id"),
            tuple(columns.values()),
        )
        return int(first(cur))

    def log_skip(self, repeat_of: int, entry: FileImport) -> int:
        """Log a file of a run skipped as identical to import `repeat_of` (it changes nothing).

        Once per run and file: a retried write finds the entry its earlier try made.
        """
        self.check_writable()
        skipped = f"skipped: same content, config and data as import {int(repeat_of)}"
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"SELECT id FROM {LOG_TABLE} WHERE integration = ? AND source_file = ? AND etag = ? "
                    "AND triggered_by = ? AND error = ? ORDER BY id LIMIT 1"
                ),
                (entry.integration, entry.source_file, entry.etag, entry.triggered_by, skipped),
            )
            found = cur.fetchone()
            if found is not None:
                return int(found[0])
            cur.execute(self._sql(f"SELECT attributes FROM {LOG_TABLE} WHERE id = ?"), (int(repeat_of),))
            previous = cur.fetchone()
            return self._log(
                cur,
                entry,
                Outcome.SUCCESS,
                attributes=int(previous[0]) if previous else 0,
                error=skipped,
                unchanged=entry.rows_read - entry.rows_rejected,
            )

    def moved_to(self, source_file: str, limit: int = 10) -> tuple[str, str] | None:
        """Where a file that is gone went: (its latest key, the run that moved it there last).

        Follows the moves (a key in failed/ re-imported into success/) up to `limit` steps.
        """
        bucket = source_file.removeprefix("s3://").split("/", 1)[0]
        found: tuple[str, str] | None = None
        with self.transaction() as cur:
            for _ in range(limit):
                cur.execute(
                    self._sql(
                        f"SELECT final_key, triggered_by FROM {LOG_TABLE} WHERE source_file = ? "
                        "AND final_key IS NOT NULL ORDER BY id DESC LIMIT 1"
                    ),
                    (source_file,),
                )
                row = cur.fetchone()
                if row is None:
                    break
                found = (str(row[0]), str(row[1]))
                next_file = f"s3://{bucket}/{row[0]}"
                if next_file == source_file:
                    break
                source_file = next_file
        return found

    def log_failure(self, entry: FileImport, error: str, *, final_key: str | None = None) -> int:
        """Record a file that was not imported (the store's attributes stay untouched)."""
        self.check_writable()
        with self.transaction() as cur:
            return self._log(cur, entry, Outcome.FAILED, error=error, final_key=final_key)

    def set_final_key(self, import_id: int, final_key: str) -> None:
        """Where the file went (success/ or failed/), once it has been moved."""
        self.check_writable()
        with self.transaction() as cur:
            cur.execute(self._sql(f"UPDATE {LOG_TABLE} SET final_key = ? WHERE id = ?"), (final_key, import_id))

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
                    f"SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE integration = ? AND outcome <> ? "
                    "ORDER BY id DESC LIMIT 1"
                ),
                (integration, Outcome.FAILED.value),
            )
            row = cur.fetchone()
        if row is None:
            return None
        record = _record(row)
        same = (record.outcome, record.etag, record.config_version) == (Outcome.SUCCESS, etag, config_version)
        return record if same else None

    def _imported(self, cur: Cursor, entry: FileImport) -> ImportRecord | None:
        """This integration's successful import of this object version with this config, if any
        (inside the caller's transaction: under the writer's lock it sees every committed write)."""
        cur.execute(
            self._sql(
                f"SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE integration = ? AND source_file = ? AND etag = ? "
                "AND config_version = ? AND outcome = ? AND error IS NULL ORDER BY id DESC LIMIT 1"
            ),
            (entry.integration, entry.source_file, entry.etag, entry.config_version, Outcome.SUCCESS.value),
        )
        row = cur.fetchone()
        return None if row is None else _record(row)

    def file_outcomes(self, source_file: str, etag: str) -> dict[str, ImportRecord]:
        """Per integration, its latest entry for one object version (a file several read)."""
        with self.transaction() as cur:
            cur.execute(
                self._sql(f"SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE source_file = ? AND etag = ? ORDER BY id"),
                (source_file, etag),
            )
            rows = cur.fetchall()
        return {row[1]: _record(row) for row in rows}

    def imports(self, integration: str | None = None, limit: int = 50, offset: int = 0) -> list[ImportRecord]:
        """The import log, newest first; `offset` entries skipped (a page of it).

        `limit` and `offset` are whole numbers from 0 to 2**63 - 1 (ValueError otherwise: the
        databases' BIGINT, which they would refuse as a driver error).
        """
        where, params = ("WHERE integration = ?", (integration,)) if integration else ("", ())
        page = f"LIMIT {bounded('limit', limit)} OFFSET {bounded('offset', offset)}"
        with self.transaction() as cur:
            cur.execute(self._sql(f"SELECT {LOG_COLUMNS} FROM {LOG_TABLE} {where} ORDER BY id DESC {page}"), params)
            rows = cur.fetchall()
        return [_record(row) for row in rows]

    def import_count(self, integration: str) -> int:
        """How many entries the integration's import log holds (the history's length)."""
        with self.transaction() as cur:
            cur.execute(self._sql(f"SELECT COUNT(*) FROM {LOG_TABLE} WHERE integration = ?"), (integration,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def last_imports(self) -> dict[str, ImportRecord]:
        """Per integration, its latest import-log entry (the reason beside a failed last run)."""
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE id IN (SELECT MAX(id) FROM {LOG_TABLE} GROUP BY integration)"
                )
            )
            rows = cur.fetchall()
        return {record.integration: record for record in map(_record, rows)}

    def last_success(self) -> dict[str, ImportRecord]:
        """Per integration, its last successful import (what "attributes imported" shows)."""
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"""SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE id IN (
                        SELECT MAX(id) FROM {LOG_TABLE} WHERE outcome = ? GROUP BY integration)"""
                ),
                (Outcome.SUCCESS.value,),
            )
            rows = cur.fetchall()
        return {row[1]: _record(row) for row in rows}

    def _import_sources(self, cur: Cursor, ids: set[int]) -> dict[int, tuple[str, str]]:
        """Per import id, the file it read and when it finished."""
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        cur.execute(
            self._sql(f"SELECT id, source_file, finished_at FROM {LOG_TABLE} WHERE id IN ({marks})"), tuple(ids)
        )
        return {int(i): (f, iso(at)) for i, f, at in cur.fetchall()}

    def _set_counts(self, cur: Cursor, import_id: int, counts: dict[str, int]) -> None:
        """An entry's counts, once its write knows them (inside the write's transaction)."""
        assignments = ", ".join(f"{c} = ?" for c in counts)
        cur.execute(self._sql(f"UPDATE {LOG_TABLE} SET {assignments} WHERE id = ?"), (*counts.values(), import_id))
