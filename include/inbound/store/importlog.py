"""The import log: one entry per processed file (and per purge or erasure), newest last.

It is what the management table, the UI's run history, the repeat-import shortcut and
shared files (which integrations processed one object version) read. An import's entry
is written in the same transaction as its values (`store.writes`). Each write checks the
schema version first (`StoreBase.check_writable`).

Every read is bounded by the latest entries or an index range, never by the history's length
(README "Bounded reads"): the latest entry or success per integration asked, the latest change, a
file's latest move, one object version's entries, a page; the log's length per integration is a
row each append keeps (schema v5).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from inbound.outcome import Outcome
from inbound.store.base import Cursor, Row, StoreBase, bounded, first
from inbound.store.schema import CHANGED_DATA, LOG_SIZE_TABLE, LOG_TABLE, SUCCEEDED

CHUNK = 500  # integrations per statement (a parameter each)
# The entries of one object version read (the newest): its readers' imports and retries, and the
# skips of a file uploaded again and again unchanged, which would otherwise grow with every upload.
VERSION_ENTRIES = 1000


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
    shape: str | None = None  # the header the file had and its drift (`mapping.drift.Shape`, JSON): kept as given


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
    deleted: int = 0  # users the file deleted (`delete_when`; schema v6)
    shape: str | None = None  # the file's header and its drift (`mapping.drift.Shape` as JSON; schema v6)

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
ENTRY_COLUMNS = ", ".join(f"entry.{name}" for name in LOG_FIELDS)  # of the log as `entry`
VERSION_COLUMNS = ", ".join(f"version.{name}" for name in LOG_FIELDS)  # of `_VERSION`
# One object version's newest entries, as `version` (parameters: source_file, etag): the index
# (source_file, etag, id) read backwards, `VERSION_ENTRIES` at most.
_VERSION = (
    f"(SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE source_file = ? AND etag = ? "
    f"ORDER BY id DESC LIMIT {VERSION_ENTRIES}) AS version"
)


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
        import_id = int(first(cur))
        cur.execute(
            self._sql(
                f"INSERT INTO {LOG_SIZE_TABLE} (integration, entries) VALUES (?, 1) "
                f"ON CONFLICT (integration) DO UPDATE SET entries = {LOG_SIZE_TABLE}.entries + 1"
            ),
            (entry.integration,),
        )
        return import_id

    def log_skip(self, repeat_of: int, entry: FileImport) -> int:
        """Log a file of a run skipped as identical to import `repeat_of` (it changes nothing).

        Once per run and file: a retried write finds the entry its earlier try made.
        """
        self.check_writable()
        skipped = f"skipped: same content, config and data as import {int(repeat_of)}"
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"SELECT version.id FROM {_VERSION} WHERE version.integration = ? AND version.triggered_by = ? "
                    "AND version.error = ? ORDER BY version.id DESC LIMIT 1"
                ),
                (entry.source_file, entry.etag, entry.integration, entry.triggered_by, skipped),
            )
            found = cur.fetchone()
            if found is not None:
                return int(found[0])
            cur.execute(self._sql(f"SELECT attributes, shape FROM {LOG_TABLE} WHERE id = ?"), (int(repeat_of),))
            previous = cur.fetchone()
            return self._log(
                cur,
                replace(entry, shape=previous[1] if previous else None),  # the same header: the drift carries on
                Outcome.SUCCESS,
                attributes=int(previous[0]) if previous else 0,
                error=skipped,
                unchanged=entry.rows_read - entry.rows_rejected,
            )

    def moved_to(self, source_file: str, limit: int = 10) -> tuple[str, str] | None:
        """Where a file that is gone went: (its latest key, the run that moved it there last).

        Follows the moves (a key in failed/ re-imported into success/) up to `limit` steps, each the
        newest entry of a key on the index (source_file, id): a key uploaded every hour is not read whole.
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
            cur.execute(  # the partial index of the changes: failures after it are not read
                self._sql(
                    f"SELECT {LOG_COLUMNS} FROM {LOG_TABLE} WHERE integration = ? AND {CHANGED_DATA} "
                    "ORDER BY id DESC LIMIT 1"
                ),
                (integration,),
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
        cur.execute(  # among the version's newest entries: a run that raced this one is there
            self._sql(
                f"SELECT {VERSION_COLUMNS} FROM {_VERSION} WHERE version.integration = ? AND version.config_version = ? "
                "AND version.outcome = ? AND version.error IS NULL ORDER BY version.id DESC LIMIT 1"
            ),
            (entry.source_file, entry.etag, entry.integration, entry.config_version, Outcome.SUCCESS.value),
        )
        row = cur.fetchone()
        return None if row is None else _record(row)

    def file_outcomes(self, source_file: str, etag: str) -> dict[str, ImportRecord]:
        """Per integration, its latest entry for one object version (a file several read), among the
        version's newest `VERSION_ENTRIES`."""
        with self.transaction() as cur:
            cur.execute(self._sql(f"SELECT {VERSION_COLUMNS} FROM {_VERSION} ORDER BY version.id"), (source_file, etag))
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
        """How many entries the integration's import log holds (the history's length): one row, kept by `_log`."""
        with self.transaction() as cur:
            cur.execute(self._sql(f"SELECT entries FROM {LOG_SIZE_TABLE} WHERE integration = ?"), (integration,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def last_imports(self, integrations: Iterable[str] | None = None) -> dict[str, ImportRecord]:
        """Per integration, its latest import-log entry (the reason beside a failed last run).

        Of `integrations` (None: every integration the log has an entry of); one entry read each.
        """
        return self._latest(integrations, "")

    def last_success(self, integrations: Iterable[str] | None = None) -> dict[str, ImportRecord]:
        """Per integration, its last successful import (what "attributes imported" shows).

        Of `integrations` (None: every integration the log has an entry of); one entry read each,
        by the partial index of the successes: the failures since are not read.
        """
        return self._latest(integrations, f"AND latest.{SUCCEEDED}")

    def recent_rows_read(self, integration: str, limit: int) -> list[int]:
        """Rows read by the integration's latest `limit` successful imports (skips repeat theirs), newest
        first: the partial index of the successes, `limit` entries read."""
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"SELECT rows_read FROM {LOG_TABLE} WHERE integration = ? AND {SUCCEEDED} "
                    f"ORDER BY id DESC LIMIT {bounded('limit', limit)}"
                ),
                (integration,),
            )
            return [int(row[0]) for row in cur.fetchall()]

    def _latest(self, integrations: Iterable[str] | None, condition: str) -> dict[str, ImportRecord]:
        """Per integration, its newest entry meeting `condition`: one `ORDER BY id DESC LIMIT 1` each on
        an index of (integration, id), never an aggregate over the log. The integrations come as a
        VALUES list (`CHUNK` a statement), or all of them from the log sizes."""
        asked: list[tuple[str, tuple[str, ...]]]
        if integrations is None:
            asked = [(f"(SELECT integration AS column1 FROM {LOG_SIZE_TABLE}) AS asked", ())]
        else:
            names = sorted(set(integrations))
            chunks = [tuple(names[i : i + CHUNK]) for i in range(0, len(names), CHUNK)]
            asked = [("(VALUES " + ", ".join("(?)" for _ in chunk) + ") AS asked", chunk) for chunk in chunks]
        found: dict[str, ImportRecord] = {}
        with self.transaction() as cur:
            for names_sql, params in asked:
                newest = (
                    f"SELECT (SELECT latest.id FROM {LOG_TABLE} AS latest WHERE latest.integration = asked.column1 "
                    f"{condition} ORDER BY latest.id DESC LIMIT 1) AS id FROM {names_sql}"
                )
                # A join on the ids, not `id IN (...)`: PostgreSQL would run each lookup twice for that.
                cur.execute(
                    self._sql(
                        f"SELECT {ENTRY_COLUMNS} FROM ({newest}) AS newest JOIN {LOG_TABLE} AS entry ON entry.id = newest.id"
                    ),
                    params,
                )
                found.update((record.integration, record) for record in map(_record, cur.fetchall()))
        return found

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
