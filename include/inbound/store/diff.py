"""What a file changes in the store, computed where the data is: in SQL, inside the file's transaction.

The file's candidate rows (those whose content hash, `inbound.store.row_hash`, is not among
the stored ones: new users and changed rows) are loaded in parts into a temporary table
(`FILE_TABLE`: `_row`, `user_id`, `_hash`, a text column per attribute, canonical text) and
compared with the integration's table by the statements built here, so the database only
ever sees and rewrites the rows that change: an unchanged re-import sends and writes
nothing, a 1% change sends and writes 1% of the rows. The same statements serve `preview`
(dry run) and the real write. Mirror mode also loads every user ID of the file
(`PRESENT_TABLE`), to find the stored users the file lacks.

Per attribute `n`, with `f` the file's row and `o` the stored one:
- the merged value `m(n)` is the file's (`blank: clear`) or the file's, else the stored one;
- it changed, `c(n)`, when it differs from the stored one (NULL-safe);
- a row is `empty` when no merged value is left, `changed` when a value changed and the
  user exists or gets a value; a new user with values is inserted, an existing user left
  without values is deleted, mirror mode deletes the stored users the file lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

FILE_TABLE = "inbound_file"
CHANGE_TABLE = "inbound_change"  # the file's changed rows, worked out once
KEEP_TABLE = "inbound_keep"  # mirror mode: users in the file whose every row was rejected (they stay)
PRESENT_TABLE = "inbound_present"  # mirror mode: every user ID in the file (`FILE_TABLE` has the candidates only)
ROW = "_row"  # the file's order, for a preview's sample


class ChangedUser(TypedDict):
    """One user a preview shows: per changed attribute, [old, new] canonical text (None: no value)."""

    user_id: str
    changes: dict[str, list[str | None]]


def state_schema(names: list[str]) -> dict[str, str]:
    """The columns of an integration's table beside its attributes, and each attribute's.

    The bookkeeping columns start with "_", which no attribute name can (an attribute may be
    called `lineage` or `import_id`).
    """
    bookkeeping = {
        "_user_id": "TEXT",
        "_import_id": "BIGINT",
        "_lineage": "TEXT",
        "_updated_at": "",
        "_hash": "BIGINT",
        ROW: "BIGINT",
    }
    return {**bookkeeping, **dict.fromkeys(names, "TEXT")}


@dataclass(frozen=True)
class Dialect:
    """The few spellings the backends differ in."""

    distinct: str  # NULL-safe "differs": `IS DISTINCT FROM` (PostgreSQL), `IS NOT` (SQLite)
    now: str  # the current timestamp
    json_object: Callable[[Sequence[tuple[str, str]]], str]  # SQL building a JSON object text from (key, SQL) pairs
    lineage: Callable[[str], str]  # SQL for the import id a stored lineage override gives one attribute
    temp: str  # the schema of temporary tables: `pg_temp`, `temp`


@dataclass(frozen=True)
class Counts:
    """What a file does, counted before anything is written."""

    rows: int  # users in the file
    existing: int  # users the integration had before
    inserted: int
    updated: int
    cleared: int  # values removed by empty cells (blank: clear)
    removed: int  # users dropped by mirror mode
    values_written: int
    sent: int = 0
    deleted: int = 0  # users the file deletes (`delete_when`)  # rows the database compared: their content hash was not stored (new or changed)

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated


def _q(name: str) -> str:
    return f'"{name}"'


@dataclass(frozen=True)
class DiffSql:
    """The statements that compare `FILE_TABLE` with an integration's table and apply the difference.

    :param table: the integration's table; None when it has none yet (a dry run of a new integration).
    :param names: the file's attributes.
    :param stored: those of `names` whose stored values count (same declared type); the others start empty.
    """

    dialect: Dialect
    table: str | None
    names: tuple[str, ...]
    stored: frozenset[str]
    clear_blanks: bool
    keep: bool = False  # mirror mode: `KEEP_TABLE` lists users present in the file but rejected

    @property
    def file(self) -> str:
        return f"{self.dialect.temp}.{FILE_TABLE}"

    def old(self, n: str) -> str:
        return f"o.{_q(n)}" if n in self.stored and self.table else "NULL"

    def merged(self, n: str) -> str:
        return f"f.{_q(n)}" if self.clear_blanks else f"COALESCE(f.{_q(n)}, {self.old(n)})"

    def differs(self, n: str) -> str:
        return f"({self.merged(n)} {self.dialect.distinct} {self.old(n)})"

    @property
    def exists(self) -> str:
        return "(o._user_id IS NOT NULL)"

    @property
    def empty(self) -> str:
        return "(" + " AND ".join(f"{self.merged(n)} IS NULL" for n in self.names) + ")" if self.names else "(1 = 1)"

    @property
    def changed(self) -> str:
        if not self.names:
            return "(1 = 0)"
        some = " OR ".join(self.differs(n) for n in self.names)
        return f"(({some}) AND ({self.exists} OR NOT {self.empty}))"

    @property
    def joined(self) -> str:
        stored = (
            self.table
            if self.table
            else "(SELECT CAST(NULL AS TEXT) AS _user_id, CAST(NULL AS BIGINT) AS _import_id, "
            "CAST(NULL AS TEXT) AS _lineage)"
        )
        return f"{self.file} f LEFT JOIN {stored} o ON o._user_id = f.user_id"

    @property
    def change(self) -> str:
        return f"{self.dialect.temp}.{CHANGE_TABLE}"

    def changes(self, options: str) -> str:
        """Create `CHANGE_TABLE`: the changed rows only (one pass over the file), with what each needs.

        `_row`, `user_id`, `_exists`, `_empty`, `_lineage`, and per attribute (by position `i`)
        the stored value `o<i>`, the merged one `m<i>` and whether it changed `c<i>` (1/0).
        """
        each = "".join(
            f", {self.old(n)} AS o{i}, {self.merged(n)} AS m{i}, CASE WHEN {self.differs(n)} THEN 1 ELSE 0 END AS c{i}"
            for i, n in enumerate(self.names)
        )
        return (
            f"CREATE TEMP TABLE {CHANGE_TABLE}{options} AS SELECT f.{ROW} AS {ROW}, f.user_id AS user_id, f._hash AS _hash, "
            f"CASE WHEN {self.exists} THEN 1 ELSE 0 END AS _exists, CASE WHEN {self.empty} THEN 1 ELSE 0 END AS _empty, "
            f"{self.lineage_json()} AS _lineage{each} FROM {self.joined} WHERE {self.changed}"
        )

    def counts(self) -> str:
        """One row: inserted, updated, values cleared, values written (from `CHANGE_TABLE`)."""

        def total(parts: list[str]) -> str:
            return " + ".join(parts) if parts else "0"

        cleared = total(
            [f"CASE WHEN o{i} IS NOT NULL AND m{i} IS NULL THEN 1 ELSE 0 END" for i in range(len(self.names))]
        )
        written = total([f"CASE WHEN c{i} = 1 AND m{i} IS NOT NULL THEN 1 ELSE 0 END" for i in range(len(self.names))])
        return (
            f"SELECT COALESCE(SUM(CASE WHEN _exists = 0 AND _empty = 0 THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM(_exists), 0), COALESCE(SUM({cleared}), 0), COALESCE(SUM({written}), 0) FROM {self.change}"
        )

    def existing(self) -> str:
        """One row: the integration's users, and those the file lacks (what mirror mode removes)."""
        if not self.table:
            return "SELECT 0, 0"
        lacks = f"SELECT COUNT(*) FROM {self.table} o WHERE {self._lacks('o')}"
        return f"SELECT (SELECT COUNT(*) FROM {self.table}), ({lacks})"

    def _lacks(self, stored: str) -> str:
        """A stored user the file does not hold, neither as a row nor (`keep`) as a rejected row."""
        present = f"{self.dialect.temp}.{PRESENT_TABLE}"
        lacks = f"NOT EXISTS (SELECT 1 FROM {present} p WHERE p.user_id = {stored}._user_id)"
        if self.keep:
            keep = f"{self.dialect.temp}.{KEEP_TABLE}"
            lacks += f" AND NOT EXISTS (SELECT 1 FROM {keep} k WHERE k.user_id = {stored}._user_id)"
        return lacks

    def lineage(self, n: str) -> str:
        """The import a kept value came from; NULL for a value this file sets (or none)."""
        return (
            f"CASE WHEN {self.merged(n)} IS NULL OR {self.differs(n)} THEN NULL "
            f"ELSE COALESCE({self.dialect.lineage(n)}, o._import_id) END"
        )

    def lineage_json(self) -> str:
        pairs = [(n, self.lineage(n)) for n in self.names]
        if not pairs:
            return "NULL"
        some = " OR ".join(f"({sql}) IS NOT NULL" for _, sql in pairs)
        return f"CASE WHEN {some} THEN {self.dialect.json_object(pairs)} ELSE NULL END"

    def delete_emptied(self) -> str:
        """Delete the existing users the file leaves without a value (only `blank: clear` can)."""
        return f"DELETE FROM {self.table} WHERE _user_id IN (SELECT user_id FROM {self.change} WHERE _empty = 1)"

    def upsert(self, import_id: int) -> str:
        """Insert the new users with values, update the changed ones; nothing else is touched."""
        if not self.table:
            raise ValueError("an upsert needs the integration's table")
        columns = "".join(f", {_q(n)}" for n in self.names)
        merged = "".join(f", m{i}" for i in range(len(self.names)))
        updates = "".join(f", {_q(n)} = excluded.{_q(n)}" for n in self.names)
        return (
            f"INSERT INTO {self.table} (_user_id, _lineage, _import_id, _hash{columns}) "
            f"SELECT user_id, _lineage, {int(import_id)}, _hash{merged} FROM {self.change} WHERE _empty = 0 "
            f"ON CONFLICT (_user_id) DO UPDATE SET _lineage = excluded._lineage, _import_id = excluded._import_id, "
            f"_hash = excluded._hash, _updated_at = {self.dialect.now}{updates}"
        )

    def refresh_hashes(self) -> str:
        """Store the file's hash for the candidates whose values did not change after all.

        A row is sent when its hash is not stored, yet its values may be: the first import
        after the hash was added (`_hash` NULL), a blank cell that keeps a stored value. Their
        hash is stored now, so the next import of the same row does not send it again.
        """
        table = self.table
        return (
            f"UPDATE {table} SET _hash = f._hash FROM {self.file} f "
            f"WHERE {table}._user_id = f.user_id AND {table}._hash {self.dialect.distinct} f._hash"
        )

    def delete_missing(self) -> str:
        """Mirror mode: delete the stored users the file lacks."""
        return f"DELETE FROM {self.table} WHERE {self._lacks(str(self.table))}"

    def sample(self, n: int) -> str:
        """The first `n` changed users in file order: user ID, then per attribute old, merged, changed."""
        each = "".join(f", o{i}, m{i}, c{i}" for i in range(len(self.names)))
        return f"SELECT user_id{each} FROM {self.change} ORDER BY {ROW} LIMIT {int(n)}"


def sample_users(rows: Sequence[Sequence[object]], names: Sequence[str]) -> list[ChangedUser]:
    """`DiffSql.sample`'s rows as users with old -> new per changed attribute."""
    users = []
    for row in rows:
        changes = {n: [_text(row[1 + 3 * i]), _text(row[2 + 3 * i])] for i, n in enumerate(names) if row[3 + 3 * i]}
        users.append(ChangedUser(user_id=str(row[0]), changes=changes))
    return users


def _text(value: object) -> str | None:
    return None if value is None else str(value)
