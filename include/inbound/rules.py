"""Segment rules: JSON -> a parameterized SQL condition, run by the attribute store.

    {"all": [{"attribute": "plan", "op": "eq", "value": "premium"},
             {"any": [{"attribute": "open_tickets", "op": "gt", "value": 2},
                      {"attribute": "department", "op": "in", "value": ["Sales", "HR"]}]}]}

`all` / `any` groups nest; a condition compares one attribute, typed by its declared
type (a date compares as a date). Values are bound parameters, never SQL text, and
nothing is evaluated in Python. `ne`, `not_in`, `gt`... match users that have the
attribute; `not_exists` matches users without it.

The store does not know rules: `evaluate` asks it which attribute columns it holds,
compiles the rule against them and hands it the condition to run (`match_users`).
"""

from __future__ import annotations

from collections.abc import Mapping

from inbound.errors import RuleError
from inbound.store import AttributeStore, Segment
from inbound.store.base import not_text
from inbound.store.contract import served
from inbound.suggest import did_you_mean
from inbound.values.casts import canonical

OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists")
# Bounds on what one rule may ask (a rule comes from anyone who may call the API).
MAX_DEPTH = 16  # nested `all` / `any` groups
MAX_CONDITIONS = 200  # conditions in one rule
MAX_VALUES = 1000  # values of one rule, `in` lists included
MAX_VALUE_CHARS = 1000  # characters of one value
ORDERED = ("integer", "number", "date", "timestamp", "string")
COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def evaluate(
    store: AttributeStore,
    rule: object,
    declared: dict[str, str],
    sample: int = 20,
    owners: Mapping[str, str] | None = None,
) -> Segment:
    """How many users match `rule` over the `declared` attributes (name -> type), and the first few.

    An attribute is compared only where the store holds it with its declared type and, with
    `owners` (name -> declaring integration), in that integration's table; one declared but
    not (or differently, or elsewhere) stored matches nobody. Raises `RuleError`.
    """
    stored = [
        a
        for a in store.stored_attributes()
        if declared.get(a.name) == a.type and served(a.name, a.type, a.integration, declared, owners)
    ]
    located = {a.name: a.table for a in stored}
    compiler = Compiler(declared, located, *store.number_casts, substring_position=store.substring_position)
    condition = compiler.compile(rule)
    if len(compiler.tables) == 1 and not compiler.needs_everyone:
        # One table, one row per user: each condition is a test on that row, no join at all.
        (table,) = compiler.tables
        inline = Compiler(
            declared, located, *store.number_casts, substring_position=store.substring_position, inline=table
        )
        return store.match_rows(table, inline.compile(rule), inline.params, sample)
    # The candidates: users of the tables the rule reads (everyone only for not_exists).
    # not_exists matches users outside the rule's tables: take them only from the tables that hold
    # a declared attribute (the API declares only what the caller may read), never every table.
    held = {a.table for a in stored}
    scope = held if compiler.needs_everyone else compiler.tables
    return store.match_users(condition, compiler.params, scope, sample)


def _storable(value: object, where: str) -> None:
    """A text value no store holds (a NUL character, a lone surrogate) matches nobody: a `RuleError` says why."""
    problem = not_text(value) if isinstance(value, str) else None
    if problem is not None:
        raise RuleError(f"{where}: a value {problem}, which no stored value holds")


def _canonical(value: object, attribute: str, kind: str, where: str) -> str:
    """A rule value as the store's canonical text, through the import's own casts."""
    if isinstance(value, (dict, list)) or len(str(value)) > MAX_VALUE_CHARS:
        raise RuleError(f"{where}: a value is a string, number or boolean of at most {MAX_VALUE_CHARS} characters")
    _storable(value, where)
    text = canonical("true" if value is True else "false" if value is False else str(value), kind)
    if text is None:
        raise RuleError(f"{where}: {value!r} is not a {kind} (attribute {attribute!r} is declared {kind})")
    return text


class Compiler:
    """Turns a rule into SQL for one store dialect (`?` placeholders, cast spellings).

    :param declared: attribute name -> declared type (what a rule may name).
    :param located: attribute name -> the store table that holds it (with its declared type).
    :param inline: the one table a rule reads (and no `not_exists`): conditions become tests on
        its rows instead of `user_id IN (...)` subqueries (see `evaluate`).
    """

    def __init__(
        self,
        declared: dict[str, str],
        located: dict[str, str],
        integer_type: str = "INTEGER",
        real_type: str = "REAL",
        *,
        substring_position: str = "instr",
        inline: str | None = None,
    ) -> None:
        self.declared = declared
        self.inline = inline  # the one table the rule reads: conditions test its row directly
        self.located = located
        self.casts = {"integer": integer_type, "number": real_type}
        self.substring_position = substring_position
        self.conditions = 0
        self.params: list[str] = []
        self.tables: set[str] = set()  # the tables the rule reads
        self.needs_everyone = False  # not_exists matches users outside those tables

    def compile(self, rule: object, where: str = "rule", depth: int = 0) -> str:
        if depth > MAX_DEPTH:
            raise RuleError(f"{where}: groups nest more than {MAX_DEPTH} deep; flatten the rule")
        if not isinstance(rule, dict):
            raise RuleError(f"{where}: expected an object with `all`, `any` or `attribute`, got {type(rule).__name__}")
        groups = [k for k in ("all", "any") if k in rule]
        if not groups:
            return self._condition(rule, where)
        if len(rule) != 1:
            raise RuleError(
                f"{where}: a group has exactly one key, `all` or `any`; found {', '.join(map(repr, sorted(rule)))}"
            )
        key = groups[0]
        items = rule[key]
        if not isinstance(items, list) or not items:
            raise RuleError(f"{where}.{key}: expected a non-empty list of conditions or groups")
        parts = [self.compile(item, f"{where}.{key}[{i}]", depth + 1) for i, item in enumerate(items)]
        return "(" + (" AND " if key == "all" else " OR ").join(parts) + ")"

    def _condition(self, rule: dict[str, object], where: str) -> str:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise RuleError(f"{where}: a rule has at most {MAX_CONDITIONS} conditions")
        name, op, kind = self._check(rule, where)
        if op in ("exists", "not_exists"):
            if "value" in rule:
                raise RuleError(f"{where}: {op} takes no value")
            return self._existence(name, op)
        if "value" not in rule:
            raise RuleError(f"{where}: {op} needs a value")
        if rule["value"] is None:  # "no value": `eq null` is not_exists, `ne null` is exists
            if op not in ("eq", "ne"):
                raise RuleError(f"{where}: {op} needs a value; for users without one use not_exists")
            return self._existence(name, "not_exists" if op == "eq" else "exists")
        bound = len(self.params)
        test = self._test(name, op, kind, rule["value"], where)
        table = self.located.get(name)
        if table is None:  # checked like any other, but nothing is stored to match
            del self.params[bound:]
            return "1 = 0"
        self.tables.add(table)
        if self.inline == table:
            return f'("{name}" IS NOT NULL AND {test})'
        return f'user_id IN (SELECT _user_id FROM {table} WHERE "{name}" IS NOT NULL AND {test})'

    def _check(self, rule: dict[str, object], where: str) -> tuple[str, str, str]:
        """The condition's attribute, op and the attribute's type, once they fit together."""
        unknown = set(rule) - {"attribute", "op", "value"}
        if unknown or "attribute" not in rule or "op" not in rule:
            raise RuleError(f'{where}: a condition is {{"attribute", "op", "value"}}; got keys {sorted(rule)}')
        name, op = rule["attribute"], rule["op"]
        if not isinstance(name, str) or name not in self.declared:
            raise RuleError(f"{where}: unknown attribute {name!r}{did_you_mean(str(name), self.declared)}")
        kind = self.declared[name]
        if not isinstance(op, str) or op not in OPS:
            raise RuleError(f"{where}: unknown op {op!r}{did_you_mean(str(op), OPS)}; ops: {', '.join(OPS)}")
        if op in ("gt", "gte", "lt", "lte") and kind not in ORDERED:
            raise RuleError(f"{where}: {op} does not apply to {name!r}, a {kind}; use eq or ne")
        if op == "contains" and kind != "string":
            raise RuleError(f"{where}: contains applies to string attributes; {name!r} is a {kind}")
        return name, op, kind

    def _existence(self, name: str, op: str) -> str:
        if op == "not_exists":
            self.needs_everyone = True
        table = self.located.get(name)
        if table is None:
            return "1 = 0" if op == "exists" else "1 = 1"
        self.tables.add(table)
        if self.inline == table and op == "exists":
            return f'"{name}" IS NOT NULL'
        inner = f'SELECT _user_id FROM {table} WHERE "{name}" IS NOT NULL'
        return f"user_id {'IN' if op == 'exists' else 'NOT IN'} ({inner})"

    def _test(self, name: str, op: str, kind: str, value: object, where: str) -> str:
        """The comparison of one stored value with the rule's value(s), bound as parameters."""
        ref = f'"{name}"'
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                raise RuleError(f"{where}: {op} needs a non-empty list of values")
            if len(self.params) + len(value) > MAX_VALUES:
                raise RuleError(f"{where}: a rule has at most {MAX_VALUES} values in all")
            if any(v is None for v in value):
                raise RuleError(f"{where}: {op} takes values, not null; combine with not_exists for users without one")
            texts = [_canonical(v, name, kind, where) for v in value]
            self.params.extend(texts)
            return f"{ref} {'IN' if op == 'in' else 'NOT IN'} ({', '.join('?' for _ in texts)})"
        if op == "contains":  # case-sensitive on both stores (LIKE is not: SQLite folds ASCII case)
            if isinstance(value, (dict, list)) or len(str(value)) > MAX_VALUE_CHARS:
                raise RuleError(f"{where}: contains takes one text of at most {MAX_VALUE_CHARS} characters")
            _storable(value, where)
            self.params.append(str(value))
            return f"{self.substring_position}({ref}, ?) > 0"
        if isinstance(value, list):
            raise RuleError(f"{where}: {op} takes one value, not a list (use in / not_in)")
        self.params.append(_canonical(value, name, kind, where))
        if kind in self.casts:
            return f"CAST({ref} AS {self.casts[kind]}) {COMPARE[op]} CAST(? AS {self.casts[kind]})"
        return f"{ref} {COMPARE[op]} ?"  # canonical text of strings, booleans, dates and timestamps orders as the values do
