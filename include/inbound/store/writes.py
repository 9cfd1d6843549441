"""Everything that changes values: a file's write (and its dry run), purge, erasure.

Every file is written in one transaction together with its import-log entry: a failed or
killed write leaves the store as it was. What a file changes is computed in polars first
(`store.diff`), so only changed rows are written and a dry run is the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from inbound.errors import MirrorGuard
from inbound.outcome import Outcome
from inbound.store.base import Cursor, first
from inbound.store.importlog import FileImport, ImportLog, ImportRecord
from inbound.store.schema import COUNT_COLUMNS, Schema, Types

if TYPE_CHECKING:  # polars (about half a second to import) is loaded by the writes themselves
    import polars as pl

    from inbound.store.diff import ChangedUser, Diff


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
    sample: tuple[ChangedUser, ...] = ()

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.removed

    def to_dict(self) -> dict[str, Any]:
        """For the XCom and API boundary (JSON)."""
        return {**asdict(self), "sample": list(self.sample), "rows_written": self.rows_written}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WriteResult:
        """The result `to_dict` wrote (keys it does not know, such as `rows_written`, are ignored)."""
        known = {f.name for f in fields(cls)}
        found = {k: v for k, v in data.items() if k in known}
        return cls(**{**found, "sample": tuple(found.get("sample", ()))})


def _result(diff: Diff, import_id: int, rows_read: int, rows_rejected: int) -> WriteResult:
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
        sample=tuple(diff.sample),
    )


def _no_file(integration: str, triggered_by: str) -> FileImport:
    """The log identity of a purge or an erasure: no file, no config version."""
    return FileImport(integration, "-", None, None, triggered_by)


def _writer_lock(integration: str) -> str:
    """The lock every writer of one integration holds: two runs never interleave."""
    return f"inbound_integration:{integration}"


def _guard_mirror(diff: Diff, mirror_max_removed: float, force: bool) -> None:
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


class Writes(Schema, ImportLog):
    """The store's writes; each is one transaction."""

    def write_file(
        self,
        entry: FileImport,
        *,
        types: Types,
        frame: pl.DataFrame,
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
        # polars takes about half a second to import: only writes load it, reads stay fast.
        from inbound.casts import to_text
        from inbound.store.diff import compute_diff

        new, names = to_text(frame, types), list(types)
        with self.transaction(lock=_writer_lock(entry.integration)) as cur:
            earlier = None if force else self._imported(cur, entry)
            if earlier is not None:  # another run imported this very file while this one mapped it
                return self._log_repeat(cur, entry, earlier)
            import_id = self._log(cur, entry, Outcome.SUCCESS, attributes=len(types))
            table = self._ensure_table(cur, entry.integration, types)
            state = self._state(cur, table, names)
            diff = compute_diff(state, new, names, clear_blanks=clear_blanks, mirror=mirror)
            _guard_mirror(diff, mirror_max_removed, force)
            self._apply(cur, table, diff, import_id, bulk_insert=state.height == 0)
            result = _result(diff, import_id, entry.rows_read, entry.rows_rejected)
            counts = {c: getattr(result, c) for c in ("rows_written", *COUNT_COLUMNS)}
            self._set_counts(cur, import_id, counts)
        return result

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
        frame: pl.DataFrame,
        rows_read: int,
        rows_rejected: int,
        clear_blanks: bool = False,
        mirror: bool = False,
        sample: int = 10,
    ) -> WriteResult:
        """What `write_file` would do, with a sample of changed users; writes nothing."""
        # polars takes about half a second to import: only writes load it, reads stay fast.
        from inbound.casts import to_text
        from inbound.store.diff import compute_diff, state_frame, widen

        names = list(types)
        with self.transaction() as cur:
            known = self._tables(cur).get(integration)
            if known is None:
                state = state_frame([], names)
            else:  # the attributes stored with the file's types; the others are new to the store
                table, stored = known
                present = [n for n in names if stored.get(n) == types[n]]
                state = widen(self._state(cur, table, present), names)
        diff = compute_diff(
            state, to_text(frame, types), names, clear_blanks=clear_blanks, mirror=mirror, sample=sample
        )
        return _result(diff, 0, rows_read, rows_rejected)

    def purge(self, integration: str, triggered_by: str) -> int:
        """Remove every value an integration set (its config is gone); returns the users."""
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
        """Erase one person: every value of `user_id` in every integration; says which."""
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
