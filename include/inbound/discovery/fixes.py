"""Why an import rejected rows, on the page: the rows of a `.rejected.csv` grouped by column and
reason kind, with a fix where the rejected values show one.

A group is its column (None for a row-level reason), its kind (`mapping.rejects.REJECT_KINDS`,
`repeated_header`, or `missing_column` for a failed file's missing column), how many rows, their
first line numbers, the first distinct values, and a `suggestion`: the config lines to paste.
A suggestion is offered only when it is verified: the settings, pasted as YAML and read back
as the config reads them (`config.sections`), cast every distinct rejected value of the group
through the import's own casts (`mapping.mapper.cast_attribute`). The layouts tried are
discovery's (`discovery.infer`), and `%y` for two-digit years.

Bounded: at most `MAX_REPORT_ROWS` rows (and, read by the caller, `MAX_REPORT_BYTES` bytes) of a
report are grouped; `ReportPart.truncated` says the counts are of that part only. At most
`MAX_GROUPS` groups, `LINES_SHOWN` line numbers and `VALUES_SHOWN` values of `VALUE_CHARS`
characters each. Values are personal data: whoever shows a group must only show it to those who
may read the integration's reports.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

import polars as pl
import yaml
from pydantic import ValidationError
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.config.model import Integration
from inbound.config.sections import Attribute, Format, UserId
from inbound.discovery.infer import DATE_FORMATS, TIMESTAMP_FORMATS
from inbound.mapping.mapper import cast_attribute
from inbound.mapping.rejects import REJECT_COLUMNS, reject_kind
from inbound.reading.header import is_configured

MAX_REPORT_ROWS = 10_000  # rows of a report grouped: the counts say when there were more
MAX_REPORT_BYTES = 8 * 1024 * 1024  # bytes of a report read (a ranged GET): about 10,000 rows of long values
MAX_GROUPS = 50  # groups answered, the largest first
LINES_SHOWN = 20  # line numbers per group
VALUES_SHOWN = 10  # distinct values per group
VALUE_CHARS = 200  # characters of a value shown; longer ones end in "…"

# Cells the pipeline wrote with a leading `'` so a spreadsheet keeps them text
# (`pipeline.steps.FORMULA_START`; the layers keep discovery and pipeline apart).
FORMULA_START = r"^[=+\-@\t\r]"
_NEUTRALIZED = re.compile("'" + FORMULA_START[1:])
_REPEATED_HEADER = "repeated header line"  # how `mapping.header.REPEATED_HEADER_REASON` begins
# Layouts tried for a date or timestamp, after ISO-8601: discovery's, then with two-digit years.
_DATE_LAYOUTS = (*DATE_FORMATS, *(f.replace("%Y", "%y") for f in DATE_FORMATS))
_TIMESTAMP_LAYOUTS = (*TIMESTAMP_FORMATS, *(f.replace("%Y", "%y") for f in TIMESTAMP_FORMATS))
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]*[A-Za-z0-9_]|[A-Za-z_]")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
# `mapping.header.check_header`'s message for a missing column that has closest names.
_MISSING = re.compile(
    r"^(?:user-ID|attribute '[^']*':) column (?P<column>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") "
    r"is not in the file's header(?:; closest header names: (?P<near>.*?))?\. Of the columns"
)
_NEAR = re.compile(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") \(column \d+\)")


class Suggestion(TypedDict):
    changes: dict[str, str]  # setting -> new value: format, decimal, type, column
    yaml: str  # the config lines to paste (an attribute's whole entry, with its other settings)
    checked: int  # distinct rejected values re-cast with it: every one cast
    note: str | None  # what to check before pasting (another layout reads them too)


class RejectionGroup(TypedDict):
    column: str | None  # the CSV column; None for a row-level reason (empty ID, field count, header)
    attribute: str | None  # the attribute the current config reads from it, if any
    kind: str  # REJECT_KINDS, "repeated_header", or "missing_column"
    reason: str  # the first row's reason, as the report says it
    rows: int  # rejected rows (distinct lines) in the part of the report read
    lines: list[int]  # the first LINES_SHOWN of them
    values: list[str]  # the first VALUES_SHOWN distinct values; for a missing column, its closest header names
    suggestion: Suggestion | None


@dataclass(frozen=True)
class ReportPart:
    frame: pl.DataFrame  # REJECT_COLUMNS
    truncated: bool  # the report has more rows than these


def read_report(data: bytes, *, whole: bool, max_rows: int = MAX_REPORT_ROWS) -> ReportPart:
    """The first `max_rows` rows of a `.rejected.csv` (the bytes read of it: `whole` if all of them).

    A ranged read may end inside a record: then the last record is dropped. A cell the pipeline
    neutralized (`'=...`) reads back as the value. ValueError for a file that is not a report.
    """
    text = data.decode("utf-8", errors="replace")
    records = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(records, None)
    except csv.Error as exc:
        raise ValueError(f"not a rejected-rows report ({exc})") from None
    if header is None:
        return ReportPart(pl.DataFrame(schema=REJECT_COLUMNS), truncated=not whole)
    if header != list(REJECT_COLUMNS):
        raise ValueError(f"not a rejected-rows report: its header is not {','.join(REJECT_COLUMNS)}")
    rows: list[list[str]] = []
    truncated = not whole
    try:
        for record in records:
            if len(rows) == max_rows:
                truncated = True
                break
            rows.append(record)
    except csv.Error:  # a field over the csv module's limit: the part before it
        truncated = True
    if not whole and rows:
        rows.pop()  # maybe cut by the range
    return ReportPart(_frame(rows), truncated)


def _frame(rows: list[list[str]]) -> pl.DataFrame:
    def cell(row: list[str], i: int) -> str | None:
        value = row[i] if i < len(row) else ""
        if _NEUTRALIZED.match(value):
            value = value[1:]
        return value or None

    def line(row: list[str]) -> int | None:
        found = cell(row, 0)
        return int(found) if found and found.isascii() and found.isdigit() and len(found) < 19 else None

    columns: dict[str, list[Any]] = {"line": [line(r) for r in rows]}
    columns.update({name: [cell(r, i) for r in rows] for i, name in enumerate(REJECT_COLUMNS) if i})
    return pl.DataFrame(columns, schema=REJECT_COLUMNS)


def group_rejects(frame: pl.DataFrame, integration: Integration) -> list[RejectionGroup]:
    """The rejected rows by (column, kind), the largest group first, each with its verified fix."""
    if not frame.height:
        return []
    reason = pl.col("reason").fill_null("")
    kind = (
        pl.when(reason.str.starts_with(_REPEATED_HEADER)).then(pl.lit("repeated_header")).otherwise(reject_kind(reason))
    )
    grouped = (
        frame.with_row_index("order")
        .group_by(pl.col("column"), kind.alias("kind"))
        .agg(
            pl.col("line").drop_nulls().n_unique().alias("rows"),
            pl.col("line").drop_nulls().unique().sort().head(LINES_SHOWN).alias("lines"),
            pl.col("reason").first().alias("reason"),
            pl.col("value").drop_nulls().unique(maintain_order=True).alias("values"),
            pl.col("order").min().alias("order"),
        )
        .sort(["rows", "order"], descending=[True, False])
        .head(MAX_GROUPS)
    )
    by_column = {a.column: a for a in integration.attributes}
    groups = []
    for column, kind_, rows, lines, reason_, values in grouped.select(
        "column", "kind", "rows", "lines", "reason", "values"
    ).iter_rows():
        attribute = by_column.get(column) if column is not None else None
        fix = suggest_fix(values, attribute, integration) if attribute and kind_ == "invalid_value" else None
        groups.append(
            RejectionGroup(
                column=column,
                attribute=attribute.attribute if attribute else None,
                kind=kind_,
                reason=reason_ or "",
                rows=rows,
                lines=list(lines),
                values=[_shown(v) for v in values[:VALUES_SHOWN]],
                suggestion=fix,
            )
        )
    return groups


def _shown(value: str) -> str:
    return value if len(value) <= VALUE_CHARS else value[:VALUE_CHARS] + "…"


# --------------------------------------------------------------------------- suggestions


def suggest_fix(values: list[str], attribute: Attribute, integration: Integration) -> Suggestion | None:
    """The first setting that reads every one of an attribute's rejected `values`, verified; else None.

    Dates and timestamps: ISO-8601 or a layout; numbers: the other decimal mark; whole numbers:
    the other mark, else `type: number` (with the other mark if need be). When another layout
    reads them too (05/01/2026), the note says which, as only a person can tell.
    """
    distinct = sorted({v.strip() for v in values} - {""})
    if not distinct:
        return None
    found = [c for c in _candidates(attribute, integration) if _reads(distinct, c, attribute, integration)]
    if not found:
        return None
    changes = found[0]
    note = None
    others = [c["format"] for c in found[1:] if "format" in c and c["format"] != "ISO-8601"]
    if "format" in changes and others:
        note = f"the values also read as {', '.join(others)}: check which one the export writes"
    if "decimal" in changes and len(integration.attributes) > 1:
        note = "the decimal mark is the file's: it applies to every number column of this integration"
    return Suggestion(changes=changes, yaml=_yaml(changes, attribute), checked=len(distinct), note=note)


def _candidates(attribute: Attribute, integration: Integration) -> list[dict[str, str]]:
    other = "," if integration.format.decimal == "." else "."
    if attribute.type in ("date", "timestamp"):
        layouts = (*_DATE_LAYOUTS, *_TIMESTAMP_LAYOUTS)
        if attribute.type == "timestamp":
            layouts = (*_TIMESTAMP_LAYOUTS, *_DATE_LAYOUTS)
        iso = [{"format": "ISO-8601"}] if attribute.format else []
        return iso + [{"format": f} for f in layouts if f != attribute.format]
    if attribute.type == "number":
        return [{"decimal": other}]
    if attribute.type == "integer":
        return [{"decimal": other}, {"type": "number"}, {"decimal": other, "type": "number"}]
    return []


def _reads(values: list[str], changes: dict[str, str], attribute: Attribute, integration: Integration) -> bool:
    """Whether the config lines of `changes`, pasted and read back as the config reads them, cast every value."""
    try:
        pasted = yaml.safe_load(_yaml(changes, attribute))
        entry = pasted.get("attributes", [attribute.model_dump(exclude_none=True)])[0]
        fixed = Attribute.model_validate(entry)
        decimal = Format.model_validate({**integration.format.model_dump(), **pasted.get("format", {})}).decimal
    except (yaml.YAMLError, ValidationError, AttributeError, KeyError, IndexError, TypeError):
        return False
    typed = cast_attribute(pl.Series(values, dtype=pl.String), fixed, decimal, integration.timezone)
    return typed.null_count() == 0


def _yaml(changes: dict[str, str], attribute: Attribute) -> str:
    """The config lines to paste: `format.decimal`, and the attribute's whole entry when it changes."""
    lines = []
    if "decimal" in changes:
        lines += ["format:", f"  decimal: {_scalar(changes['decimal'])}"]
    if set(changes) - {"decimal"}:
        entry = attribute.model_dump(exclude_none=True)
        entry.update((k, v) for k, v in changes.items() if k != "decimal")
        if entry.get("format") == "ISO-8601":
            del entry["format"]
        if "column" in changes and "name" not in entry:
            entry = {"column": entry["column"], "name": attribute.attribute, **entry}  # targeting keeps its name
        lines.append("attributes:")
        for i, (key, value) in enumerate((k, entry[k]) for k in ("column", "name", "type", "format") if k in entry):
            lines.append(f"{'  - ' if i == 0 else '    '}{key}: {_scalar(str(value), quote=key == 'format')}")
    return "".join(f"{line}\n" for line in lines)


def _scalar(text: str, *, quote: bool = False) -> str:
    """A YAML scalar: plain when it reads back as itself, else double-quoted (JSON's quoting is YAML's)."""
    if not quote and _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


# --------------------------------------------------------------------------- a missing column


def missing_column(error: str, integration: Integration) -> RejectionGroup | None:
    """A failed file's missing column (the import log's `error`) as a group, with its closest header name.

    The closest names are those `mapping.header.check_header` put in its message: the column
    written another way (case, spaces, `-`, `_`, `.`), never a cell that may be a value.
    None when the error is no missing column.
    """
    found = _MISSING.match(error)
    if found is None:
        return None
    column = ast.literal_eval(found["column"])
    near = [ast.literal_eval(n) for n in _NEAR.findall(found["near"] or "")]
    near = [n for n in near if isinstance(n, str) and is_configured(n, [column])]
    attribute = next((a for a in integration.attributes if a.column == column), None)
    is_id = integration.user_id.column == column
    fix = None
    if near and (attribute is not None or is_id):
        fix = _rename(column, near, attribute)
    return RejectionGroup(
        column=column,
        attribute=attribute.attribute if attribute else None,
        kind="missing_column",
        reason=error,
        rows=0,
        lines=[],
        values=[_shown(n) for n in near[:VALUES_SHOWN]],
        suggestion=fix,
    )


def _rename(column: str, near: list[str], attribute: Attribute | None) -> Suggestion | None:
    changes = {"column": near[0]}
    if attribute is None:
        text = f"user_id:\n  column: {_scalar(near[0])}\n"
    else:
        text = _yaml(changes, attribute)
    try:  # verified as the config reads it
        pasted = yaml.safe_load(text)
        if attribute is None:
            ok = UserId.model_validate(pasted["user_id"]).column == near[0]
        else:
            fixed = Attribute.model_validate(pasted["attributes"][0])
            ok = fixed.column == near[0] and fixed.attribute == attribute.attribute
    except (yaml.YAMLError, ValidationError, KeyError, IndexError, TypeError):
        ok = False
    if not ok:
        return None
    others = near[1:]
    note = f"the header also has {', '.join(repr(n) for n in others)}" if others else None
    return Suggestion(changes=changes, yaml=text, checked=1, note=note)
