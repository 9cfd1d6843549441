"""The file's header against the config: every column it reads is there (or the file is refused
with the closest names), and the header repeated inside the data (exports joined with `cat`).

A header cell is quoted only when it is a column the config reads: the first line of a file
without a header is a row of values, and values never go into messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from inbound.config.model import Integration
from inbound.errors import BadFile, Problem
from inbound.mapping.drift import renamed
from inbound.mapping.rejects import USER_ID, empty_rejects
from inbound.reading.header import NO_HEADER_LINE, is_configured, positions, shown_cell
from inbound.reading.reader import Table
from inbound.reading.records import FIELD_COUNT_COLUMN, SOURCE_LINE_COLUMN

BOM = "\ufeff"  # `cat` of two exports that each start with one puts the second mid-file, before the header


REPEATED_HEADER_REASON = (
    "repeated header line (the header again inside the data, as when exports are joined with `cat`): "
    "skipped, not imported and not counted as rejected"
)


def repeated_header(columns: list[str], header: list[str]) -> pl.Expr:
    """True on a record that is the header line again: every cell, stripped as the reader strips
    the header's names, equals the header's name at its position (case and all), and the record
    has as many fields as the header.

    Two exports joined with `cat` carry the second header mid-file; read as data it would be a
    user named like the ID column, or rows rejected as repeated IDs and misfit values. A user
    whose ID happens to be `Email` but whose other cells differ is data, and kept. The first
    cell may start with a UTF-8 BOM (each export had one; mid-file it is no longer taken off)
    and be quoted behind it (the parser unquotes only a quote that opens a field).
    `columns`: the frame's columns of the header's names, in the header's order.
    """
    first = pl.col(columns[0]).str.strip_prefix(BOM).str.strip_chars().fill_null("")
    quoted = '"' + header[0].replace('"', '""') + '"'
    return pl.all_horizontal(
        first.is_in([header[0], quoted]),
        pl.col(FIELD_COUNT_COLUMN) == len(header),
        *[pl.col(c).str.strip_chars().fill_null("") == name for c, name in zip(columns[1:], header[1:])],
    )


def without_repeated_headers(table: Table) -> tuple[Table, pl.DataFrame]:
    """The table without its repeated header lines (`repeated_header`), and those lines as report rows.

    Done before any cast or check, so that a header cell is never a misfit value (`Seats` in
    an integer column) nor its first cell a repeated user ID. A cheap look at the first
    column alone settles the usual case, a table without one.
    """
    columns = table.frame.columns[: len(table.header)]
    name = table.header[0]
    first = pl.col(columns[0]).str.contains(name, literal=True) if name else pl.lit(True)
    if not table.frame.select(first.any()).item():
        return table, empty_rejects()
    again = repeated_header(columns, table.header)
    skipped = table.frame.filter(again).select(
        pl.col(SOURCE_LINE_COLUMN).alias("line"),
        *[pl.lit(None, pl.String).alias(c) for c in (USER_ID, "column", "value")],
        pl.lit(REPEATED_HEADER_REASON).alias("reason"),
    )
    if not skipped.height:
        return table, empty_rejects()
    return replace(table, frame=table.frame.filter(~again)), skipped


def read_columns(integration: Integration) -> list[str]:
    """The columns the integration reads: its user-ID column, then each attribute's (config order).

    The only header cells a message quotes (`inbound.reading.header.shown_cell`).
    """
    rule = [] if integration.delete_when is None else [integration.delete_when.column]
    return list(dict.fromkeys([integration.user_id.column, *(a.column for a in integration.attributes), *rule]))


def check_header(header: list[str], integration: Integration, known: Sequence[str] = ()) -> None:
    """Every column the integration reads is in the header, or the file is refused.

    A header cell is quoted only when it is a column the config reads (`is_configured`);
    the others are named by position: a file without a header line has a row of values
    there, and values never go into messages. With no such cell at all, the first line is
    no header of this export: only the number of fields is given. `known`: the header of the
    integration's last import, for the name a missing column was renamed to (`drift.renamed`).
    """
    wanted = [("user-ID", integration.user_id.column)]
    wanted += [(f"attribute {a.attribute!r}:", a.column) for a in integration.attributes]
    if integration.delete_when is not None:
        wanted.append(("delete_when", integration.delete_when.column))
    missing = [(kind, column) for kind, column in wanted if column not in header]
    if not missing:
        return
    kind, column = missing[0]
    columns = read_columns(integration)
    if any(is_configured(h, columns) for h in header):
        raise _missing_column(kind, column, header, columns, renamed(column, header, known, integration))
    fields = f"{len(header)} field{'s' if len(header) != 1 else ''}, not shown as they may be values"
    if _looks_like_data(header):
        raise BadFile(
            f"{kind} column {column!r} is not in the file's header, and the first line looks like data, "
            f"not column names ({fields}): the file needs a header line (export it with column headers)",
            Problem.HEADER,
            line=1,
            column=column,
        )
    raise BadFile(
        f"{kind} column {column!r} is not in the file's header, and neither is any other column the config "
        f"reads: the first line ({fields}) is the header of another export or a line of data. "
        "Export the file with its header line, or fix the config's `column:` names",
        Problem.MISSING_COLUMN,
        column=column,
    )


def _looks_like_data(header: list[str]) -> bool:
    return any("@" in h or re.fullmatch(r"[+-]?[\d.,:/ -]+", h) for h in header if h)


SHOWN_NAMES = 20  # header names a missing column's message quotes


def _missing_column(kind: str, column: str, header: list[str], columns: list[str], rename: str | None) -> BadFile:
    """A header that holds some of the columns the config reads, but not `column`.

    It quotes the cells that are configured columns (`is_configured`), and names the others
    by position. A "closest" name is only `column` written another way (case, spaces, `-`, `_`,
    `.`): a cell one letter off a configured name may be a value (`Jane` for `Name`).
    """
    near = [shown_cell(h, i, [column]) for i, h in enumerate(header, 1) if is_configured(h, [column])]
    hint = f"; closest header names: {', '.join(near)}" if near else (rename or "")
    found = [(i, h) for i, h in enumerate(header, 1) if is_configured(h, columns)]
    others = [i for i, h in enumerate(header, 1) if not is_configured(h, columns)]
    shown = ", ".join(shown_cell(h, i, columns) for i, h in found[:SHOWN_NAMES])
    more = f" and {len(found) - SHOWN_NAMES} more" if len(found) > SHOWN_NAMES else ""
    rest, fix = "", "Fix the export or the config's `column:`"
    if others:
        rest = (
            f"; its other names (column{'s' if len(others) != 1 else ''} {positions(others)}) are not quoted, "
            "as a name the config does not read may be a value"
        )
        if _looks_like_data([header[i - 1] for i in others]):
            fix = f"{NO_HEADER_LINE[:1].upper()}{NO_HEADER_LINE[1:]} Else fix the export or the config's `column:`"
    return BadFile(
        f"{kind} column {column!r} is not in the file's header{hint}. "
        f"Of the columns the config reads, the header has {shown}{more}{rest}. {fix}",
        Problem.MISSING_COLUMN,
        column=column,
    )
