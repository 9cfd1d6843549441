"""The reads targeting uses: a user's attributes, user counts, and running a segment query.

Targeting reads through these methods (or the SQL view `inbound_attributes_v1`), never
the tables directly: the tables may change between schema versions, the contract does
not. Segment rules are compiled outside the store (`inbound.rules`), from the stored
columns this module lists, and run here as a parameterized condition.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from inbound.store.base import Cursor, bounded, check_text, first
from inbound.store.importlog import ImportLog
from inbound.store.schema import INTEGRATION_TABLE, VIEW, Schema, Types
from inbound.values.text import JsonValue, from_text


class Source(TypedDict):
    """Where a value came from; file and time are None for values carried over from schema v1."""

    integration: str
    file: str | None
    updated_at: str | None


class UserAttributes(TypedDict):
    user_id: str
    attributes: dict[str, JsonValue]  # typed as declared, or the stored text without `declared`
    sources: dict[str, Source]


def served(name: str, kind: str, integration: str, declared: Types | None, owners: Mapping[str, str] | None) -> bool:
    """Whether a stored column answers for `name`: a current config declares it and, with `owners`,
    this integration is the one declaring it (a table left behind answers nothing)."""
    if declared is None:
        return True
    return name in declared and (owners is None or owners.get(name) == integration)


@dataclass(frozen=True)
class StoredAttribute:
    """One attribute column of the store: what a segment rule can compare."""

    table: str
    name: str
    type: str  # the declared type it was stored as
    integration: str = ""  # the integration whose table holds it


@dataclass(frozen=True)
class Location:
    """Where an integration's values live, for those who name datasets (OpenLineage).

    `database` is PostgreSQL's database, or the SQLite file's absolute path; `schema` is the
    schema the store's tables are created in (PostgreSQL's current schema, SQLite's `main`).
    `table` is None before the integration's first write created it.
    """

    kind: str  # "postgresql" or "sqlite"
    host: str | None
    port: int | None
    database: str
    schema: str
    table: str | None
    view: str = VIEW


@dataclass(frozen=True)
class Segment:
    """How many users a segment rule matches, and the first few of them (by user ID)."""

    count: int
    sample: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """For the CLI's JSON and the API boundary."""
        return {"count": self.count, "sample": list(self.sample)}


def _segment_params(params: Sequence[str]) -> tuple[str, ...]:
    """A segment query's values, each one a store can hold (else a ValueError that says which is not)."""
    return tuple(check_text("a segment value", p) for p in params)


def _lineage(lineage: str | None) -> dict[str, int]:
    """A stored row's per-value lineage overrides (attribute -> import id)."""
    return {k: int(v) for k, v in (json.loads(lineage) if lineage else {}).items() if v is not None}


class Contract(Schema, ImportLog):
    """Read-only queries over the values."""

    def user_attributes(
        self, user_id: str, declared: Types | None = None, owners: Mapping[str, str] | None = None
    ) -> UserAttributes:
        """A user's attributes, typed, with where each value came from.

        With `declared` (attribute name -> type of the loaded configs), only attributes
        that a current config declares, stored with that type, are served, typed as declared;
        with `owners` (attribute name -> the integration declaring it) only from that
        integration's table: a table left by a removed integration, or an attribute that moved
        to another integration, answers nothing. A user ID no store holds (a NUL character, a
        lone surrogate) is a ValueError that says so.
        """
        check_text("user ID", user_id)
        with self.transaction() as cur:
            found = self._user_values(cur, user_id, declared, owners)
            imports = self._import_sources(cur, {import_id for *_, import_id in found})
        attributes: dict[str, JsonValue] = {}
        sources: dict[str, Source] = {}
        for name, text, integration, import_id in sorted(found):
            try:
                attributes[name] = from_text(text, declared[name]) if declared else text
            except ValueError:  # stored under another type that does not read as the declared one
                continue
            file, at = imports.get(import_id, (None, None))
            sources[name] = Source(integration=integration, file=file, updated_at=at)
        return UserAttributes(user_id=user_id, attributes=attributes, sources=sources)

    def _user_values(
        self, cur: Cursor, user_id: str, declared: Types | None, owners: Mapping[str, str] | None
    ) -> list[tuple[str, str, str, int]]:
        """(attribute, stored text, integration, import id) of each value the user has."""
        found: list[tuple[str, str, str, int]] = []
        for integration, (table, types) in self._tables(cur).items():
            names = [n for n, kind in types.items() if served(n, kind, integration, declared, owners)]
            if not names:
                continue
            columns = ", ".join(f'"{n}"' for n in names)
            cur.execute(
                self._sql(f"SELECT _import_id, _lineage, {columns} FROM {table} WHERE _user_id = ?"), (user_id,)
            )
            row = cur.fetchone()
            if row is None:
                continue
            overrides = _lineage(row[1])
            for name, text in zip(names, row[2:]):
                if text is not None:
                    found.append((name, text, integration, overrides.get(name, int(row[0]))))
        return found

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

    def location(self, integration: str) -> Location:
        """The database, schema, table and view that hold `integration`'s values; reads only."""
        with self.transaction() as cur:
            found = self._tables(cur).get(integration) if self._table_exists(cur, INTEGRATION_TABLE) else None
            kind, host, port, database, schema = self._where(cur)
        return Location(kind, host, port, database, schema, found[0] if found else None)

    def user_count(self, integration: str) -> int:
        """One integration's users: its own table counted, not every integration's."""
        with self.transaction() as cur:
            found = self._tables(cur).get(integration)
            if found is None:
                return 0
            cur.execute(f"SELECT COUNT(*) FROM {found[0]}")
            return int(first(cur))

    def stored_attributes(self) -> list[StoredAttribute]:
        """Every attribute column that holds values, by integration name then attribute."""
        with self.transaction() as cur:
            tables = self._tables(cur)
        return [
            StoredAttribute(table, name, kind, integration)
            for integration, (table, types) in tables.items()
            for name, kind in types.items()
        ]

    def match_rows(self, table: str, condition: str, params: Sequence[str], sample: int) -> Segment:
        """Users of one table whose row satisfies `condition` (SQL over its columns), counted, and the first few.

        The sample walks the table in user order (its primary key) and stops at `sample` matches.
        """
        params, sample = _segment_params(params), bounded("sample", sample)
        where = f" FROM {table} WHERE {condition}"
        with self.transaction() as cur:
            cur.execute(self._sql("SELECT COUNT(*)" + where), params)
            count = int(first(cur))
            cur.execute(self._sql("SELECT _user_id" + where + f" ORDER BY _user_id LIMIT {sample}"), params)
            return Segment(count, [row[0] for row in cur.fetchall()])

    def match_users(self, condition: str, params: Sequence[str], tables: Collection[str], sample: int) -> Segment:
        """Users of `tables` for whom `condition` holds, counted, with the first `sample` of them.

        `condition` is SQL over a `user_id` column with `?` parameters (`inbound.rules`
        compiles it from stored attributes); the candidates are the users of `tables`.
        """
        params, sample = _segment_params(params), bounded("sample", sample)
        users = " UNION ".join(f"SELECT _user_id AS user_id FROM {table}" for table in sorted(tables))
        users = users or "SELECT CAST(NULL AS TEXT) AS user_id WHERE 1 = 0"
        prefix, where = f"WITH users AS ({users}) SELECT ", f" FROM users WHERE {condition}"
        with self.transaction() as cur:
            cur.execute(self._sql(prefix + "COUNT(*)" + where), params)
            count = int(first(cur))
            cur.execute(self._sql(prefix + "user_id" + where + f" ORDER BY user_id LIMIT {sample}"), params)
            return Segment(count, [row[0] for row in cur.fetchall()])
