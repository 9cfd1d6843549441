"""Deletions from the export (`delete_when`): the users a file deletes lose this integration's values.

They go in the file's own transaction, after its upserts, counted (`deleted` in the import log,
the run's summary and the lineage) and guarded like mirror mode's removals: a file that would
delete more than `max_deleted` of the integration's users is refused as suspicious, nothing
written, unless forced. Only this integration's table is touched; the user's values of other
integrations stay (erasing a person everywhere is `inbound forget`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from inbound.errors import DeletionGuard
from inbound.store.base import Cursor, StoreBase, first

if TYPE_CHECKING:
    import polars as pl

DELETION_TABLE = "inbound_deletion"  # the user IDs one file deletes (a temporary table of the write's connection)


def guard_deletions(deleted: int, existing: int, max_deleted: float, force: bool) -> None:
    """Refuse a file that would delete more than `max_deleted` of the integration's users."""
    if not deleted or force or not existing:
        return
    share = deleted / existing
    if share > max_deleted:
        raise DeletionGuard(
            f"the file would delete {deleted} of {existing} users ({share:.0%}) by its delete_when rule, more than "
            f"max_deleted {max_deleted:.0%}: a wrong export or rule? Nothing was written. If the deletions are "
            "right, re-run with force (trigger param `force`, or `inbound run --force`)"
        )


class Deletions(StoreBase):
    """The deletion step of a write (or of its preview), inside the caller's transaction."""

    def _load_deletions(self, cur: Cursor, parts: Iterable[pl.DataFrame]) -> None:
        self._load_user_ids(cur, DELETION_TABLE, parts)

    def _count_deletions(self, cur: Cursor, table: str) -> tuple[int, int]:
        """(users of the table the file deletes, users the table holds)."""
        temp = self.dialect.temp
        cur.execute(  # from the (few) deleted IDs, each looked up by the table's key: not a pass over the table
            f"SELECT COUNT(*) FROM {temp}.{DELETION_TABLE} d WHERE EXISTS "
            f"(SELECT 1 FROM {table} t WHERE t._user_id = d.user_id)"
        )
        deleted = int(first(cur) or 0)
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        return deleted, int(first(cur) or 0)

    def _apply_deletions(self, cur: Cursor, table: str) -> None:
        cur.execute(f"DELETE FROM {table} WHERE _user_id IN (SELECT user_id FROM {self.dialect.temp}.{DELETION_TABLE})")

    def _drop_deletions(self, cur: Cursor) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {self.dialect.temp}.{DELETION_TABLE}")
