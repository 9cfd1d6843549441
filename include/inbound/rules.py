"""Segment rules: JSON -> a parameterized SQL condition over the attribute store.

    {"all": [{"attribute": "plan", "op": "eq", "value": "premium"},
             {"any": [{"attribute": "open_tickets", "op": "gt", "value": 2},
                      {"attribute": "department", "op": "in", "value": ["Sales", "HR"]}]}]}

`all` / `any` groups nest; a condition compares one attribute, typed by its declared
type (a date compares as a date). Values are bound parameters, never SQL text, and
nothing is evaluated in Python. `ne`, `not_in`, `gt`... match users that have the
attribute; `not_exists` matches users without it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import polars as pl

from inbound.config import Attribute

OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists")
ORDERED = ("integer", "number", "date", "timestamp", "string")
COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class RuleError(ValueError):
    """A rule that cannot be evaluated; the message says where and why."""


@dataclass(frozen=True)
class Column:
    """Where an attribute lives in the store and how to compare it."""

    table: str | None  # None: declared, but nothing stored yet
    name: str
    type: str


def _canonical(value: Any, attribute: str, kind: str, where: str) -> str:
    """A rule value as the store's canonical text, through the import's own casts."""
    from inbound.mapping import cast_series
    from inbound.store.base import to_text

    text = pl.Series("v", ["true" if value is True else "false" if value is False else str(value)], pl.String)
    typed = cast_series(text, Attribute(column="v", name="v", type=kind))
    if typed.null_count():
        raise RuleError(f"{where}: {value!r} is not a {kind} (attribute {attribute!r} is declared {kind})")
    return to_text(pl.DataFrame({"user_id": ["-"], "v": typed}), {"v": kind}).item(0, "v")


class Compiler:
    """Turns a rule into SQL for one store dialect (`?` placeholders, cast spellings)."""

    def __init__(self, columns: dict[str, Column], integer_type: str = "INTEGER", real_type: str = "REAL"):
        self.columns = columns
        self.casts = {"integer": integer_type, "number": real_type}
        self.params: list[Any] = []
        self.tables: set[str] = set()  # the tables the rule reads
        self.needs_everyone = False  # not_exists matches users outside those tables

    def compile(self, rule: Any, where: str = "rule") -> str:
        if not isinstance(rule, dict):
            raise RuleError(f"{where}: expected an object with `all`, `any` or `attribute`, got {type(rule).__name__}")
        groups = [k for k in ("all", "any") if k in rule]
        if groups:
            if len(rule) != 1:
                raise RuleError(
                    f"{where}: a group has exactly one key, `all` or `any`; found {', '.join(sorted(rule))}"
                )
            key = groups[0]
            items = rule[key]
            if not isinstance(items, list) or not items:
                raise RuleError(f"{where}.{key}: expected a non-empty list of conditions or groups")
            parts = [self.compile(item, f"{where}.{key}[{i}]") for i, item in enumerate(items)]
            return "(" + (" AND " if key == "all" else " OR ").join(parts) + ")"
        return self._condition(rule, where)

    def _condition(self, rule: dict[str, Any], where: str) -> str:
        unknown = set(rule) - {"attribute", "op", "value"}
        if unknown or "attribute" not in rule or "op" not in rule:
            raise RuleError(f'{where}: a condition is {{"attribute", "op", "value"}}; got keys {sorted(rule)}')
        name, op = rule["attribute"], rule["op"]
        column = self.columns.get(name)
        if column is None:
            close = difflib.get_close_matches(str(name), list(self.columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RuleError(f"{where}: unknown attribute {name!r}{hint}")
        if op not in OPS:
            close = difflib.get_close_matches(str(op), OPS, n=1)
            raise RuleError(
                f"{where}: unknown op {op!r}{'; did you mean ' + repr(close[0]) + '?' if close else ''}; ops: {', '.join(OPS)}"
            )
        kind, ref = column.type, f'"{column.name}"'
        if op in ("gt", "gte", "lt", "lte") and kind not in ORDERED:
            raise RuleError(f"{where}: {op} does not apply to {name!r}, a {kind}; use eq or ne")
        if op == "contains" and kind != "string":
            raise RuleError(f"{where}: contains applies to string attributes; {name!r} is a {kind}")
        if op in ("exists", "not_exists"):
            if "value" in rule:
                raise RuleError(f"{where}: {op} takes no value")
            if op == "not_exists":
                self.needs_everyone = True
            if column.table is None:
                return "1 = 0" if op == "exists" else "1 = 1"
            self.tables.add(column.table)
            inner = f"SELECT _user_id FROM {column.table} WHERE {ref} IS NOT NULL"
            return f"user_id {'IN' if op == 'exists' else 'NOT IN'} ({inner})"
        if "value" not in rule:
            raise RuleError(f"{where}: {op} needs a value")
        value = rule["value"]
        bound = len(self.params)
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                raise RuleError(f"{where}: {op} needs a non-empty list of values")
            texts = [_canonical(v, name, kind, where) for v in value]
            self.params.extend(texts)
            test = f"{ref} {'IN' if op == 'in' else 'NOT IN'} ({', '.join('?' for _ in texts)})"
        elif op == "contains":
            escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            self.params.append(f"%{escaped}%")
            test = f"{ref} LIKE ? ESCAPE '\\'"
        else:
            if isinstance(value, list):
                raise RuleError(f"{where}: {op} takes one value, not a list (use in / not_in)")
            self.params.append(_canonical(value, name, kind, where))
            if kind in self.casts:
                test = f"CAST({ref} AS {self.casts[kind]}) {COMPARE[op]} CAST(? AS {self.casts[kind]})"
            else:  # canonical text of strings, booleans, dates and timestamps compares as the value does
                test = f"{ref} {COMPARE[op]} ?"
        if column.table is None:  # checked like any other, but nothing is stored to match
            del self.params[bound:]
            return "1 = 0"
        self.tables.add(column.table)
        return f"user_id IN (SELECT _user_id FROM {column.table} WHERE {ref} IS NOT NULL AND {test})"
