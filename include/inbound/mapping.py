"""A frame of strings to an attribute set: user-ID checks, casts to declared types, rejects.

Rules (documented in the README):
- a row whose user ID is empty is rejected;
- a non-empty value that does not fit its attribute's declared type rejects its row
  (never a silently null attribute);
- a user ID that appears more than once in a file is a data problem: every row with that
  ID is rejected and listed, so the user keeps what the store had (we never guess which
  row is right);
- a row with more or fewer fields than the header is rejected (never silently padded);
- an empty cell is "no value in this file": with `blank: keep` (default) the stored value
  stays, with `blank: clear` it is removed.

The casts themselves (text to a declared type) live in `inbound.casts`, shared with
segment rules, discovery and the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from inbound.casts import cast_series
from inbound.config import Attribute, Integration
from inbound.errors import BadFile, Problem
from inbound.reading import FIELD_COUNT_COLUMN, SOURCE_LINE_COLUMN, Table
from inbound.suggest import closest

USER_ID = "user_id"  # the attribute set's (and the store's) user column
REJECT_COLUMNS = {"line": pl.Int64, USER_ID: pl.String, "column": pl.String, "value": pl.String, "reason": pl.String}
TYPE_HINTS = {
    "integer": "not a whole number",
    "number": "not a number",
    "boolean": "not a boolean (true/false, yes/no, 1/0, ja/nein)",
    "date": "not a date (YYYY-MM-DD)",
    "timestamp": "not a timestamp (YYYY-MM-DD HH:MM:SS, optionally with a zone offset)",
}
_BAD = "__bad"


@dataclass(frozen=True)
class AttributeSet:
    """What one file says about its users, ready for the store."""

    frame: pl.DataFrame  # `user_id` plus one typed column per attribute name
    rejects: pl.DataFrame  # line, user_id, column, value, reason (REJECT_COLUMNS)
    rows_read: int

    @property
    def rows_rejected(self) -> int:
        return self.rejects.get_column("line").n_unique() if self.rejects.height else 0


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_COLUMNS)


def cast_attribute(text: pl.Series, attribute: Attribute, decimal: str = ".", timezone: str = "UTC") -> pl.Series:
    """Stripped text (empty is null) to the attribute's declared type; a misfit becomes null."""
    return cast_series(text, attribute.type, format=attribute.format, decimal=decimal, timezone=timezone)


def map_table(table: Table, integration: Integration) -> AttributeSet:
    """Select, check and type the columns the integration declares.

    One pass computes the typed columns and a per-row `bad` flag; the reasons are worked
    out only for the (few) bad rows.
    """
    _check_header(table.header, integration)
    if table.frame.height == 0:
        raise BadFile("the file has a header but no data rows", Problem.EMPTY)
    typed = _typed(table.frame, integration)
    duplicated = _duplicated(typed)
    typed_attributes = [a for a in integration.attributes if a.type != "string"]
    width = len(table.header)
    typed = typed.with_columns(
        pl.any_horizontal(
            pl.col(FIELD_COUNT_COLUMN) != width,
            pl.col(USER_ID).is_null(),
            duplicated,
            *[_cast_failed(a) for a in typed_attributes],
        ).alias(_BAD)
    )
    good = typed.filter(~pl.col(_BAD)).select(USER_ID, *[a.attribute for a in integration.attributes])
    bad = typed.filter(pl.col(_BAD))
    if bad.height == 0:
        return AttributeSet(frame=good, rejects=empty_rejects(), rows_read=table.rows)
    id_column = integration.user_id.column
    rejects = pl.concat(
        [
            _ragged_rejects(bad, width),
            _empty_id_rejects(bad, id_column),
            _duplicate_rejects(typed.filter(duplicated), id_column),
            *[_cast_rejects(bad, a) for a in typed_attributes],
        ],
        how="vertical",
    ).sort("line", "column", nulls_last=False)
    return AttributeSet(frame=good, rejects=rejects, rows_read=table.rows)


def _check_header(header: list[str], integration: Integration) -> None:
    """Every column the integration reads is in the header, or the file is refused."""
    id_column = integration.user_id.column
    if id_column not in header:
        raise _missing_column("user-ID", id_column, header)
    for attribute in integration.attributes:
        if attribute.column not in header:
            raise _missing_column(f"attribute {attribute.attribute!r}:", attribute.column, header)


def _looks_like_data(header: list[str]) -> bool:
    return any("@" in h or re.fullmatch(r"[+-]?[\d.,:/ -]+", h) for h in header if h)


def _missing_column(kind: str, column: str, header: list[str]) -> BadFile:
    if _looks_like_data(header):
        return BadFile(
            f"{kind} column {column!r} is not in the file's header, and the first line looks like data, "
            "not column names: the file needs a header line (export it with column headers)",
            Problem.HEADER,
            line=1,
            column=column,
        )
    suggestions = [h for h in header if h.lower() == column.lower()] or closest(column, header, cutoff=0.5, n=3)
    hint = f"; closest header names: {', '.join(map(repr, suggestions))}" if suggestions else ""
    return BadFile(
        f"{kind} column {column!r} is not in the file's header{hint}. "
        f"The header has: {', '.join(map(repr, header[:20]))}{' ...' if len(header) > 20 else ''}. "
        "Fix the export or the config's `column:`",
        Problem.MISSING_COLUMN,
        column=column,
    )


def _raw(attribute: Attribute) -> str:
    return f"__raw_{attribute.attribute}"


def _typed(frame: pl.DataFrame, integration: Integration) -> pl.DataFrame:
    """The user ID and each attribute's stripped text (empty: null) and typed value, per row."""
    stripped = frame.select(
        pl.col(SOURCE_LINE_COLUMN),
        pl.col(FIELD_COUNT_COLUMN),
        pl.col(integration.user_id.column).str.strip_chars().alias(USER_ID),
        *[pl.col(a.column).str.strip_chars().alias(_raw(a)) for a in integration.attributes],
    )
    # A cell of only spaces is empty: null it where such cells exist (usually nowhere).
    text_columns = [USER_ID, *[_raw(a) for a in integration.attributes]]
    has_empty = stripped.select((pl.col(c).str.len_bytes() == 0).any() for c in text_columns).row(0)
    clean = stripped.with_columns(
        pl.when(pl.col(c).str.len_bytes() == 0).then(None).otherwise(pl.col(c)).alias(c)
        for c, empty in zip(text_columns, has_empty)
        if empty
    )
    decimal, timezone = integration.format.decimal, integration.timezone
    return clean.with_columns(
        cast_attribute(clean.get_column(_raw(a)), a, decimal, timezone).alias(a.attribute)
        for a in integration.attributes
    )


def _duplicated(typed: pl.DataFrame) -> pl.Expr:
    """Rows whose user ID appears more than once.

    Distinct hashes prove distinct IDs cheaply; only a (rare) tie needs the exact check.
    """
    ids = typed.select(pl.col(USER_ID).drop_nulls().hash().n_unique().alias("h"), pl.col(USER_ID).count().alias("n"))
    if ids.item(0, "h") < ids.item(0, "n"):
        return pl.col(USER_ID).is_duplicated() & pl.col(USER_ID).is_not_null()
    return pl.lit(False)


def _hint(attribute: Attribute) -> str:
    if attribute.format:
        return f"not a {attribute.type} in the format {attribute.format!r}"
    return TYPE_HINTS[attribute.type]


def _cast_failed(attribute: Attribute) -> pl.Expr:
    return (pl.col(_raw(attribute)).str.len_bytes().fill_null(0) > 0) & pl.col(attribute.attribute).is_null()


def _cast_rejects(bad: pl.DataFrame, attribute: Attribute) -> pl.DataFrame:
    """Rows whose value did not survive the cast to the declared type."""
    return bad.filter(_cast_failed(attribute)).select(
        pl.col(SOURCE_LINE_COLUMN).alias("line"),
        pl.col(USER_ID),
        pl.lit(attribute.column).alias("column"),
        pl.col(_raw(attribute)).alias("value"),
        pl.lit(f"{_hint(attribute)} (attribute {attribute.attribute!r} is declared {attribute.type})").alias("reason"),
    )


def _ragged_rejects(bad: pl.DataFrame, width: int) -> pl.DataFrame:
    """Rows with more or fewer fields than the header."""
    fields = pl.col(FIELD_COUNT_COLUMN)
    return bad.filter(fields != width).select(
        pl.col(SOURCE_LINE_COLUMN).alias("line"),
        pl.col(USER_ID),
        pl.lit(None, pl.String).alias("column"),
        pl.lit(None, pl.String).alias("value"),
        pl.when(fields < 0)
        .then(pl.format("row has more fields than the header ({})", pl.lit(width)))
        .otherwise(pl.format("row has {} fields, the header has {}", fields, pl.lit(width)))
        .alias("reason"),
    )


def _empty_id_rejects(bad: pl.DataFrame, id_column: str) -> pl.DataFrame:
    return bad.filter(pl.col(USER_ID).is_null()).select(
        pl.col(SOURCE_LINE_COLUMN).alias("line"),
        pl.lit(None, pl.String).alias(USER_ID),
        pl.lit(id_column).alias("column"),
        pl.lit(None, pl.String).alias("value"),
        pl.lit("empty user ID").alias("reason"),
    )


def _duplicate_rejects(duplicates: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """Every row of a repeated user ID, each naming all the lines it appears on."""
    line = pl.col(SOURCE_LINE_COLUMN)
    return duplicates.select(
        line.alias("line"),
        pl.col(USER_ID),
        pl.lit(id_column).alias("column"),
        pl.col(USER_ID).alias("value"),
        pl.format(
            "user ID appears {} times in the file (lines {}); all its rows are rejected",
            pl.len().over(USER_ID),
            line.cast(pl.String).str.join(", ").over(USER_ID),
        ).alias("reason"),
    )
