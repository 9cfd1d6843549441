"""Schema drift: the header an export has now against the one it had at the integration's last import.

Exports change under an integration that runs for years: a column is added, one nobody reads
goes away, the columns are reordered, one is renamed. Each import records the header it saw
(`Shape`, kept in the import log), and each file is compared with the latest successful one:

- **new columns**: names the config does not read (nor lists under `ignore_columns`) that the
  last import's header did not have, or that it already reported as new. Each keeps the day it
  first appeared until the config reads it or ignores it ("2 new columns since 2026-12-01"),
  and comes with the config lines that would map it. `on_new_columns` says what they do:
  `ignore` (recorded, not reported), `warn` (the default: reported, alerted once, imported
  without them) or `fail` (the file fails, nothing written, unless forced).
- **gone**: names of the last header the config does not read, missing now (a column the
  config reads fails the file as ever; `renamed` names the new header it may have become).
- **reordered**: the columns both headers share, in another order.

The first import of an integration has nothing to compare with: it only records. A header is
quoted in messages only once it passed `check_header` (it holds every column the config reads,
so it is a header line, not a row of values), and only as `echo` cuts it. What is kept is
bounded: `INBOUND_MAX_HEADER_COLUMNS` names, each cut to `NAME_CHARS` characters.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from inbound.config.model import Integration
from inbound.config.names import RESERVED_ATTRIBUTE_NAMES, attribute_names
from inbound.settings import number_setting
from inbound.suggest import echo

MAX_HEADER_COLUMNS_ENV = "INBOUND_MAX_HEADER_COLUMNS"
DEFAULT_MAX_HEADER_COLUMNS = 1000
NAME_CHARS = 200  # a header name is kept (and compared) up to this many characters
SHOWN = 10  # names a message lists; the rest are counted
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_ ./()-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _read(integration: Integration) -> set[str]:
    """The columns the config reads (`mapping.header.read_columns`, which checks headers with `renamed`)."""
    rule = () if integration.delete_when is None else (integration.delete_when.column,)
    return {integration.user_id.column, *(a.column for a in integration.attributes), *rule}


def max_header_columns() -> int:
    """`INBOUND_MAX_HEADER_COLUMNS` (default 1000): header names an import records and compares."""
    return int(number_setting(MAX_HEADER_COLUMNS_ENV, DEFAULT_MAX_HEADER_COLUMNS, minimum=1))


def kept(header: Sequence[str]) -> tuple[str, ...]:
    """The header as the import log keeps it: its first names, each cut to `NAME_CHARS`."""
    return tuple(str(name)[:NAME_CHARS] for name in header[: max_header_columns()])


@dataclass(frozen=True)
class Shape:
    """One import's header and how it drifted from the import before it (the import log's `shape`)."""

    columns: tuple[str, ...]  # the header, as `kept`
    cut: bool = False  # the header had more names than are kept
    new: tuple[tuple[str, str], ...] = ()  # (column, the day it first appeared): unread, not ignored
    appeared: tuple[str, ...] = ()  # of `new`, those first seen in this file (what an alert tells once)
    gone: tuple[str, ...] = ()  # unread columns of the last import's header that this one lacks
    reordered: bool = False  # the shared columns in another order than the last import's
    compared_with: str | None = None  # the day of the import it was compared with (None: the first)
    filled: tuple[tuple[str, int], ...] = ()  # (attribute, rows with a value): what the volume guard compares

    @property
    def drifted(self) -> bool:
        return bool(self.new or self.gone or self.reordered)

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "cut": self.cut,
            "new": [{"column": c, "since": d} for c, d in self.new],
            "appeared": list(self.appeared),
            "gone": list(self.gone),
            "reordered": self.reordered,
            "compared_with": self.compared_with,
            "filled": dict(self.filled),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: object) -> Shape | None:
        """A shape from the import log or XCom (which users can edit): None for anything malformed,
        every name cut as `kept` cuts it, so what comes back is bounded whatever was stored."""
        if not isinstance(data, dict):
            return None
        try:
            limit = max_header_columns()
            names = [str(c)[:NAME_CHARS] for c in list(data.get("columns") or ())[:limit]]
            new = [(str(n["column"])[:NAME_CHARS], str(n["since"])[:10]) for n in list(data.get("new") or ())[:limit]]
            return cls(
                columns=tuple(names),
                cut=bool(data.get("cut")),
                new=tuple(new),
                appeared=tuple(str(c)[:NAME_CHARS] for c in list(data.get("appeared") or ())[:limit]),
                gone=tuple(str(c)[:NAME_CHARS] for c in list(data.get("gone") or ())[:limit]),
                reordered=bool(data.get("reordered")),
                compared_with=None if data.get("compared_with") is None else str(data["compared_with"])[:10],
                filled=tuple(
                    (str(a)[:NAME_CHARS], int(n)) for a, n in list(dict(data.get("filled") or {}).items())[:limit]
                ),
            )
        except (TypeError, KeyError, AttributeError, ValueError):
            return None

    @classmethod
    def loads(cls, text: str | None) -> Shape | None:
        if not text:
            return None
        try:
            return cls.from_json(json.loads(text))
        except ValueError:
            return None


@dataclass(frozen=True)
class Known:
    """The header of the integration's latest successful import (or of an earlier file of this run)."""

    shape: Shape
    day: str  # when it was imported: YYYY-MM-DD
    recent_rows: tuple[int, ...] = ()  # rows read by the latest successful imports, newest first (`mapping.volume`)


def compare(header: Sequence[str], known: Known | None, integration: Integration, today: str) -> Shape:
    """This file's shape: its header, and how it drifted from `known` (nothing, for the first import)."""
    columns = kept(header)
    shape = Shape(columns=columns, cut=len(header) > len(columns))
    if known is None:
        return shape
    unread = _read(integration) | set(integration.ignore_columns)
    before = known.shape
    earlier = dict(before.new)
    seen = set(before.columns)
    new = [(c, earlier.get(c, today)) for c in columns if c not in unread and (c in earlier or c not in seen)]
    appeared = tuple(c for c, _ in new if c not in earlier)
    now = set(columns)
    gone = tuple(c for c in before.columns if c not in now and c not in unread)
    if before.cut or shape.cut:
        gone = ()  # a name past the limit is not known to be gone
    shared = [c for c in columns if c in seen]
    reordered = shared != [c for c in before.columns if c in now]
    if integration.on_new_columns == "ignore":
        new, appeared = [], ()
    return replace(shape, new=tuple(new), appeared=appeared, gone=gone, reordered=reordered, compared_with=known.day)


def outstanding(shape: Shape, integration: Integration) -> Shape:
    """A recorded shape's drift as the current config sees it: a new column it now reads or
    ignores (the config changed since that import) is no longer new; `ignore` reports none."""
    unread = _read(integration) | set(integration.ignore_columns)
    new = () if integration.on_new_columns == "ignore" else tuple((c, d) for c, d in shape.new if c not in unread)
    return replace(shape, new=new, appeared=tuple(c for c in shape.appeared if c in dict(new)))


def summary(shape: Shape) -> str | None:
    """The drift in a few words, as the management table shows it: `2 new columns since 2026-12-01`."""
    parts = []
    if shape.new:
        parts.append(
            f"{len(shape.new)} new column{'s' if len(shape.new) != 1 else ''} since {min(d for _, d in shape.new)}"
        )
    if shape.gone:
        parts.append(f"{len(shape.gone)} column{'s' if len(shape.gone) != 1 else ''} gone")
    if shape.reordered:
        parts.append("columns reordered")
    return ", ".join(parts) or None


def _names(columns: Sequence[str]) -> str:
    shown = ", ".join(echo(c) for c in columns[:SHOWN])
    return shown + (f" and {len(columns) - SHOWN} more" if len(columns) > SHOWN else "")


def _scalar(text: str) -> str:
    """A YAML scalar: plain when it reads back as itself, else double-quoted (JSON's quoting is YAML's)."""
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS and not text.endswith(" "):
        return text
    return json.dumps(text, ensure_ascii=False)


def config_lines(integration: Integration, columns: Sequence[str]) -> str:
    """The config lines that would map `columns` (appended under `attributes:`), typed string:
    change the type where the values are numbers, dates or booleans."""
    taken = {a.attribute.lower() for a in integration.attributes} | RESERVED_ATTRIBUTE_NAMES
    names = attribute_names(list(columns))
    lines = ["attributes:  # add to the list; pick each type (string, integer, number, boolean, date, timestamp)"]
    for column in columns[:SHOWN]:
        name, n = names[column], 2
        while name.lower() in taken:
            name = f"{names[column][:60]}_{n}"
            n += 1
        taken.add(name.lower())
        lines.append(f"  - column: {_scalar(column)}")
        if name != column:
            lines.append(f"    name: {name}")
        lines.append("    type: string")
    return "".join(f"{line}\n" for line in lines)


def note(shape: Shape) -> str | None:
    """What drifted, in a sentence for the import result and the log (None: nothing did)."""
    if not shape.drifted:
        return None
    parts = []
    if shape.new:
        since = min(d for _, d in shape.new)
        parts.append(
            f"{len(shape.new)} new column{'s' if len(shape.new) != 1 else ''} since {since} not read by the "
            f"config ({_names([c for c, _ in shape.new])}): map them or list them under `ignore_columns`"
        )
    if shape.gone:
        parts.append(f"no longer in the export, not read by the config: {_names(shape.gone)}")
    if shape.reordered:
        parts.append("the columns are in another order than at the import of " + str(shape.compared_with))
    return "header changed: " + "; ".join(parts)


def new_columns_refused(shape: Shape, integration: Integration) -> str:
    """Why a file with new columns fails under `on_new_columns: fail`, and the ways on."""
    columns = [c for c, _ in shape.new]
    return (
        f"the header has {len(columns)} column{'s' if len(columns) != 1 else ''} the config does not read "
        f"and the import of {shape.compared_with} did not have ({_names(columns)}), and on_new_columns is "
        "fail: nothing was imported. Map them or list them under `ignore_columns`, then re-import the file; or "
        "re-import it with force (the DAG's key and force params, or `inbound run <name> --key <key> --force`). "
        f"Config lines to map them:\n{config_lines(integration, columns)}"
    )


def renamed(column: str, header: Sequence[str], known: Sequence[str], integration: Integration) -> str | None:
    """A hint for a read column missing from `header` that the last import's header had: the new header
    name closest to it, which the export may have renamed it to. Only for the same export (the two
    headers share at least half of the last one's names), and only a name the last header lacked."""
    if column not in known:
        return None
    now = set(header)
    if 2 * sum(1 for c in known if c in now) < len(known):
        return None
    read = _read(integration)
    before = set(known)
    candidates = [h for h in kept(header) if h not in before and h not in read]
    if not candidates:
        return None
    best = max(candidates, key=lambda c: difflib.SequenceMatcher(None, column.lower(), c.lower()).ratio())
    return (
        f"; the last import's header had it, and this one has {echo(best)}, which that one did not: "
        f"if the export renamed the column, set `column: {_scalar(best)}` in the config"
    )
