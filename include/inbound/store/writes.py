"""Everything that changes values: a file's write (and its dry run), purge, erasure.

Each write first checks the schema version the opened store read (`Schema.check_writable`): a
store migrated by a newer inbound is never written by an older one.

Every file is written in one transaction together with its import-log entry: a failed or
killed write leaves the store as it was. A file's attribute set comes in parts (a set of
any size is never held whole), each row with its content hash (`store.row_hash`): into an
integration without users they go straight into its table; otherwise the stored hashes are
read (8 bytes a user), only the rows whose hash is not among them go into a temporary
table, and those are compared with the stored users in SQL (`store.diff`), so only changed
rows travel and are written, and a dry run is the same code.

Whatever changes a user's stored values other than a file's write must clear that row's
`_hash` (or remove the row): a stored hash says "these values are what this file row
gives". A schema change (`Schema._ensure_table`) clears them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from inbound.errors import BadFile, MirrorGuard, Problem
from inbound.outcome import Outcome
from inbound.store.base import Cursor, check_text, first
from inbound.store.deletions import Deletions, guard_deletions
from inbound.store.diff import (
    CHANGE_TABLE,
    FILE_TABLE,
    KEEP_TABLE,
    PRESENT_TABLE,
    ROW,
    ChangedUser,
    Counts,
    DiffSql,
    sample_users,
)
from inbound.store.importlog import FileImport, ImportLog, ImportRecord
from inbound.store.row_hash import HASH, encoded, hash_of, separators
from inbound.store.schema import COUNT_COLUMNS, Schema, Types

if TYPE_CHECKING:  # polars (about half a second to import) is loaded by the writes themselves
    import polars as pl


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
    deleted: int = 0  # users the file deleted (`delete_when`)
    skipped: bool = False  # the same file, config and data as an earlier import: nothing done
    # Rows sent to the database to compare and write: those whose content hash was not stored
    # (new users, changed rows); the others were known unchanged without it.
    sent: int = 0
    sample: tuple[ChangedUser, ...] = ()

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.removed + self.deleted

    def to_dict(self) -> dict[str, Any]:
        """For the XCom and API boundary (JSON)."""
        return {**asdict(self), "sample": list(self.sample), "rows_written": self.rows_written}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WriteResult:
        """The result `to_dict` wrote (keys it does not know, such as `rows_written`, are ignored)."""
        known = {f.name for f in fields(cls)}
        found = {k: v for k, v in data.items() if k in known}
        return cls(**{**found, "sample": tuple(found.get("sample", ()))})


def _result(
    counts: Counts, import_id: int, rows_read: int, rows_rejected: int, sample: Iterable[ChangedUser] = ()
) -> WriteResult:
    return WriteResult(
        import_id=import_id,
        rows_read=rows_read,
        rows_rejected=rows_rejected,
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        values_written=counts.values_written,
        cleared=counts.cleared,
        removed=counts.removed,
        deleted=counts.deleted,
        sent=counts.sent,
        sample=tuple(sample),
    )


def _parts(frame: pl.DataFrame | Iterable[pl.DataFrame], types: Types, clear_blanks: bool) -> Iterator[pl.DataFrame]:
    """A file's attribute set, a part at a time, as canonical text (`user_id` + a column per name)
    with each row's content hash (`HASH`)."""
    # polars takes about half a second to import: only writes load it, reads stay fast.
    import polars as pl

    from inbound.values.casts import to_text

    row, nuls = 0, separators(types)
    for part in [frame] if isinstance(frame, pl.DataFrame) else frame:
        text = to_text(part, types).select("user_id", *types).with_columns(encoded(types).alias("_encoded"))
        # A value holding a NUL shows as one NUL too many in its row's encoding (one pass for both).
        if text.select((pl.col("_encoded").str.count_matches("\x00", literal=True) != nuls).any()).item():
            _refuse_nul(text.drop("_encoded"), row)
        row += text.height
        yield text.select("user_id", hash_of(pl.col("_encoded"), types, clear_blanks), *types)


def _refuse_nul(part: pl.DataFrame, before: int) -> None:
    """A NUL character in a value: `BadFile` for the whole file (rolled back, nothing written).

    PostgreSQL refuses it mid-COPY with a driver error, SQLite would keep it: refused on both
    alike, with where it is. Reading a CSV refuses NUL bytes first (`inbound.reading.decoding`); this
    holds for any other caller of the store. `before`: the rows of the set's earlier parts.
    """
    import polars as pl

    for column in part.columns:
        if part.schema[column] != pl.String:
            continue
        hits = part.get_column(column).str.contains("\x00", literal=True)
        if hits.any():
            row = before + int(hits.arg_true()[0]) + 1
            raise BadFile(
                f"row {row} of the attribute set: the {column} value contains a NUL character (0x00), "
                "which no store holds; nothing was written",
                Problem.NOT_CSV,
            )


def _few(rows: int, sent: int) -> bool:
    """Whether the rows sent are few beside the file's (so, about, the stored users'): under a tenth."""
    return sent * 10 < rows


def _no_file(integration: str, triggered_by: str) -> FileImport:
    """The log identity of a purge or an erasure: no file, no config version."""
    return FileImport(integration, "-", None, None, triggered_by)


def _writer_lock(integration: str) -> str:
    """The lock every writer of one integration holds: two runs never interleave."""
    return f"inbound_integration:{integration}"


def _guard_mirror(diff: Counts, mirror_max_removed: float, force: bool) -> None:
    """Refuse a mirror file that would remove more than `mirror_max_removed` of the users."""
    if not diff.removed or force or not diff.existing:
        return
    share = diff.removed / diff.existing
    if share > mirror_max_removed:
        raise MirrorGuard(
            f"mirror mode would remove {diff.removed} of {diff.existing} users ({share:.0%}), more than "
            f"mirror_max_removed {mirror_max_removed:.0%}: a truncated export? Nothing was written. If the "
            "removal is right, re-run with force (trigger param `force`, or `inbound run --force`)"
        )


class Writes(Schema, ImportLog, Deletions):
    """The store's writes; each is one transaction."""

    def write_file(
        self,
        entry: FileImport,
        *,
        types: Types,
        frame: pl.DataFrame | Iterable[pl.DataFrame],
        clear_blanks: bool = False,
        mirror: bool = False,
        mirror_max_removed: float = 1.0,
        force: bool = False,
        keep: Iterable[pl.DataFrame] | None = None,
        deletions: Iterable[pl.DataFrame] | None = None,
        max_deleted: float = 1.0,
    ) -> WriteResult:
        """Write what one file changes, and its import-log entry, in one transaction.

        `frame` is the file's attribute set, whole or in parts. An empty (null) value keeps
        the stored value, or with `clear_blanks` removes it. In mirror mode users missing
        from the file lose this integration's values, unless that would remove more than
        `mirror_max_removed` of its users (then `MirrorGuard` is raised and nothing is
        written), which `force` overrides. `keep`: the file's rejected rows (a `user_id`
        column); a user among them is in the file, so mirror mode never removes it. `deletions`:
        the users the file deletes (`delete_when`, a `user_id` column), guarded by `max_deleted`
        (`DeletionGuard`, which `force` overrides too).
        """
        self.check_writable()
        names = list(types)
        with self.transaction(lock=_writer_lock(entry.integration)) as cur:
            earlier = None if force else self._imported(cur, entry)
            if earlier is not None:  # another run imported this very file while this one mapped it
                return self._log_repeat(cur, entry, earlier)
            import_id = self._log(cur, entry, Outcome.SUCCESS, attributes=len(types))
            # A new table (invisible to others until the commit) gets its key after its first load.
            defer_key = self.key_after_first_load and entry.integration not in self._tables(cur)
            table = self._ensure_table(cur, entry.integration, types, keyed=not defer_key)
            if self._has_rows(cur, table):
                diff = DiffSql(self.dialect, table, tuple(names), frozenset(names), clear_blanks, keep=mirror)
                stored = self._hashes(cur, table)
                rows, sent = self._load_file(cur, names, _parts(frame, types, clear_blanks), stored, mirror)
                if mirror:
                    self._load_keep(cur, keep or ())
                counts = self._count(cur, diff, rows, sent, mirror)
                _guard_mirror(counts, mirror_max_removed, force)
                if deletions is not None:
                    self._load_deletions(cur, deletions)
                    deleted, existing = self._count_deletions(cur, table)
                    guard_deletions(deleted, existing, max_deleted, force)
                    counts = replace(counts, deleted=deleted)
                self._apply(cur, diff, counts, import_id, mirror)
                if deletions is not None:
                    self._apply_deletions(cur, table)
                self._drop_file(cur)
            else:  # nothing to compare with: straight in
                counts = self._apply_bulk(cur, table, names, _parts(frame, types, clear_blanks), import_id)
            if defer_key:
                self._add_key(cur, table)
            result = _result(counts, import_id, entry.rows_read, entry.rows_rejected)
            self._set_counts(cur, import_id, {c: getattr(result, c) for c in ("rows_written", *COUNT_COLUMNS)})
        return result

    def _has_rows(self, cur: Cursor, table: str) -> bool:
        cur.execute(f"SELECT 1 FROM {table} LIMIT 1")
        return cur.fetchone() is not None

    def _load_file(
        self, cur: Cursor, names: list[str], parts: Iterable[pl.DataFrame], stored: pl.Series | None, mirror: bool
    ) -> tuple[int, int]:
        """The file's candidate rows into `FILE_TABLE` (replacing an earlier one of this connection),
        and in mirror mode every user ID into `PRESENT_TABLE`; returns the file's rows and the candidates.

        A candidate is a row whose hash is not in `stored` (sorted; None: every row is one).
        """
        import polars as pl

        temp = self.dialect.temp
        for table in (FILE_TABLE, PRESENT_TABLE):
            cur.execute(f"DROP TABLE IF EXISTS {temp}.{table}")
        columns = "".join(f', "{n}" TEXT' for n in names)
        options = self.temp_table_options
        cur.execute(f"CREATE TEMP TABLE {FILE_TABLE} ({ROW} BIGINT, user_id TEXT, {HASH} BIGINT{columns}){options}")
        if mirror:
            cur.execute(f"CREATE TEMP TABLE {PRESENT_TABLE} (user_id TEXT){options}")
        row = sent = 0
        known = stored if stored is not None and stored.len() else None  # sorted: searched per part
        for part in parts:
            numbered = part.select(pl.int_range(row, row + part.height, dtype=pl.Int64).alias(ROW), pl.all())
            if known is not None:
                hashes = numbered.get_column(HASH)
                found = known.gather(known.search_sorted(hashes).clip(upper_bound=known.len() - 1)) == hashes
                numbered = numbered.filter(~found)
            sent += numbered.height
            self._copy_rows(cur, f"{temp}.{FILE_TABLE}", [ROW, "user_id", HASH, *names], numbered)
            if mirror:
                self._copy_rows(cur, f"{temp}.{PRESENT_TABLE}", ["user_id"], part.select("user_id"))
            row += part.height
        self._loaded(cur, f"{temp}.{FILE_TABLE}")
        if mirror:
            self._loaded(cur, f"{temp}.{PRESENT_TABLE}")
        return row, sent

    def _load_keep(self, cur: Cursor, rejected: Iterable[pl.DataFrame]) -> None:
        """`KEEP_TABLE`: the user IDs of the file's rejected rows (mirror mode leaves those users be)."""
        self._load_user_ids(cur, KEEP_TABLE, rejected)

    def _drop_file(self, cur: Cursor) -> None:
        for table in (FILE_TABLE, CHANGE_TABLE, KEEP_TABLE, PRESENT_TABLE):
            cur.execute(f"DROP TABLE IF EXISTS {self.dialect.temp}.{table}")
        self._drop_deletions(cur)

    def _count(self, cur: Cursor, diff: DiffSql, rows: int, sent: int, mirror: bool) -> Counts:
        """Work out the changed rows (`CHANGE_TABLE`, one pass over the file) and count what they do."""
        cur.execute(f"DROP TABLE IF EXISTS {diff.change}")
        with self._probing(cur, few=_few(rows, sent)):
            cur.execute(diff.changes(self.temp_table_options))
        cur.execute(diff.counts())
        inserted, updated, cleared, written = cur.fetchone() or (0, 0, 0, 0)
        existing = missing = 0
        if mirror:  # (the guard needs both; nothing else does)
            cur.execute(diff.existing())
            existing, missing = cur.fetchone() or (0, 0)
        return Counts(
            rows=rows,
            existing=int(existing),
            inserted=int(inserted),
            updated=int(updated),
            cleared=int(cleared),
            removed=int(missing) if mirror else 0,
            values_written=int(written),
            sent=sent,
        )

    def _apply(self, cur: Cursor, diff: DiffSql, counts: Counts, import_id: int, mirror: bool) -> None:
        """Write the difference: users left without values go, new and changed users are upserted."""
        if diff.clear_blanks:
            cur.execute(diff.delete_emptied())
        cur.execute(diff.upsert(import_id))
        if counts.sent > counts.inserted + counts.updated:  # some rows sent had the stored values after all
            with self._probing(cur, few=_few(counts.rows, counts.sent)):
                cur.execute(diff.refresh_hashes())
        if mirror:
            cur.execute(diff.delete_missing())

    def _apply_bulk(
        self, cur: Cursor, table: str, names: list[str], parts: Iterable[pl.DataFrame], import_id: int
    ) -> Counts:
        """A first load: the users with a value go straight into the integration's empty table."""
        import polars as pl

        rows = inserted = values = 0
        for part in parts:
            rows += part.height
            kept = part.filter(pl.any_horizontal(pl.col(n).is_not_null() for n in names)) if names else part.clear()
            inserted += kept.height
            values += int(kept.select(pl.sum_horizontal(pl.col(n).count() for n in names)).item()) if names else 0
            with_id = kept.select(pl.col("user_id"), pl.lit(import_id, pl.Int64).alias("_import_id"), HASH, *names)
            self._copy_rows(cur, table, ["_user_id", "_import_id", HASH, *names], with_id)
        return Counts(
            rows=rows, existing=0, inserted=inserted, updated=0, cleared=0, removed=0, values_written=values, sent=rows
        )

    def _log_repeat(self, cur: Cursor, entry: FileImport, earlier: ImportRecord) -> WriteResult:
        """A write that finds its file already imported: logged as a skip, nothing written."""
        unchanged = entry.rows_read - entry.rows_rejected
        import_id = self._log(
            cur,
            entry,
            Outcome.SUCCESS,
            attributes=earlier.attributes,
            error=f"skipped: same content, config and data as import {earlier.id}",
            unchanged=unchanged,
        )
        return WriteResult(
            import_id=import_id,
            rows_read=entry.rows_read,
            rows_rejected=entry.rows_rejected,
            inserted=0,
            updated=0,
            unchanged=unchanged,
            values_written=0,
            skipped=True,
        )

    def preview(
        self,
        *,
        integration: str,
        types: Types,
        frame: pl.DataFrame | Iterable[pl.DataFrame],
        rows_read: int,
        rows_rejected: int,
        clear_blanks: bool = False,
        mirror: bool = False,
        sample: int = 10,
        keep: Iterable[pl.DataFrame] | None = None,
        mirror_max_removed: float = 1.0,
        force: bool = False,
        deletions: Iterable[pl.DataFrame] | None = None,
        max_deleted: float = 1.0,
    ) -> WriteResult:
        """What `write_file` would do, with a sample of changed users; writes nothing.

        A mirror file the guard would refuse raises `MirrorGuard` here too: a dry run says so.
        """
        names = list(types)
        with self.transaction() as cur:
            known = self._tables(cur).get(integration)
            table, stored = known if known is not None else (None, {})
            present = frozenset(n for n in names if stored.get(n) == types[n])  # re-typed or new: no value yet
            diff = DiffSql(self.dialect, table, tuple(names), present, clear_blanks, keep=mirror)
            hashes = self._hashes(cur, table) if table else None
            rows, sent = self._load_file(cur, names, _parts(frame, types, clear_blanks), hashes, mirror)
            if mirror:
                self._load_keep(cur, keep or ())
            counts = self._count(cur, diff, rows, sent, mirror)
            _guard_mirror(counts, mirror_max_removed, force)
            if deletions is not None and table is not None:
                self._load_deletions(cur, deletions)
                deleted, existing = self._count_deletions(cur, table)
                guard_deletions(deleted, existing, max_deleted, force)
                counts = replace(counts, deleted=deleted)
            cur.execute(diff.sample(sample))
            changed: list[ChangedUser] = sample_users(cur.fetchall(), names) if sample else []
            self._drop_file(cur)
        return _result(counts, 0, rows_read, rows_rejected, changed)

    def purge(self, integration: str, triggered_by: str) -> int:
        """Remove every value an integration set (its config is gone); returns the users."""
        self.check_writable()
        with self.transaction(lock=_writer_lock(integration)) as cur:
            known = self._tables(cur).get(integration)
            if known is None:
                return 0
            cur.execute(f"SELECT COUNT(*) FROM {known[0]}")
            users = int(first(cur))
            self._drop_table(cur, integration, known[0])
            self._log(cur, _no_file(integration, triggered_by), Outcome.PURGED, rows_written=users, removed=users)
        return users

    def forget(self, user_id: str, triggered_by: str) -> dict[str, list[str]]:
        """Erase one person: every value of `user_id` in every integration; says which.

        A user ID no store holds (a NUL character, a lone surrogate) is a ValueError that says so.
        """
        check_text("user ID", user_id)
        self.check_writable()
        found: dict[str, list[str]] = {}
        with self.transaction(lock="inbound_forget") as cur:
            for integration, (table, types) in self._tables(cur).items():
                names = list(types)
                columns = ", ".join(f'"{n}"' for n in names)
                cur.execute(self._sql(f"SELECT {columns} FROM {table} WHERE _user_id = ?"), (user_id,))
                row = cur.fetchone()
                if row is None:
                    continue
                found[integration] = sorted(n for n, v in zip(names, row) if v is not None)
                cur.execute(self._sql(f"DELETE FROM {table} WHERE _user_id = ?"), (user_id,))
                # The user ID itself is not logged: it is personal data.
                self._log(cur, _no_file(integration, triggered_by), Outcome.FORGOTTEN, rows_written=1, removed=1)
        return found
