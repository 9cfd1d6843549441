"""A frame of strings to an attribute set: user-ID checks, casts to declared types, rejects.

Rules (documented in the README):
- a row whose user ID is empty is rejected;
- a non-empty value that does not fit its attribute's declared type rejects its row
  (never a silently null attribute);
- a user ID that appears more than once in a file is a data problem: every row with that
  ID is rejected and listed, so the user keeps what the store had (we never guess which
  row is right);
- an empty cell is "no value in this file": the attribute keeps its stored value.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import polars as pl

from inbound.config import Attribute, Integration
from inbound.reading import FileRejected

USER_ID = "user_id"
LINE = "line"
REJECT_COLUMNS = {LINE: pl.Int64, USER_ID: pl.String, "column": pl.String, "value": pl.String, "reason": pl.String}

POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int64(),
    "number": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us", "UTC"),
}
TRUE_WORDS = ("true", "t", "yes", "y", "1", "ja", "j", "wahr")
FALSE_WORDS = ("false", "f", "no", "n", "0", "nein", "falsch")
TYPE_HINTS = {
    "integer": "not a whole number",
    "number": "not a number",
    "boolean": "not a boolean (true/false, yes/no, 1/0, ja/nein)",
    "date": "not a date (YYYY-MM-DD)",
    "timestamp": "not a timestamp (YYYY-MM-DD HH:MM:SS, optionally with a zone offset)",
}


@dataclass(frozen=True)
class AttributeSet:
    """What one file says about its users, ready for the store."""

    frame: pl.DataFrame  # `user_id` plus one typed column per attribute name
    rejects: pl.DataFrame  # line, user_id, column, value, reason
    rows_read: int

    @property
    def rows_rejected(self) -> int:
        return self.rejects.get_column(LINE).n_unique() if self.rejects.height else 0


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_COLUMNS)


def _missing_column(kind: str, column: str, header: list[str]) -> FileRejected:
    close = difflib.get_close_matches(column, header, n=3, cutoff=0.5)
    lowered = [h for h in header if h.lower() == column.lower()]
    suggestions = lowered or close
    hint = f"; closest header names: {', '.join(map(repr, suggestions))}" if suggestions else ""
    return FileRejected(
        f"{kind} column {column!r} is not in the file's header{hint}. "
        f"The header has: {', '.join(map(repr, header[:20]))}{' ...' if len(header) > 20 else ''}. "
        "Fix the export or the config's `column:`"
    )


def cast_expression(column: str, attribute_type: str, decimal: str = ".") -> pl.Expr:
    """Text to the declared type; a value that does not fit becomes null (and is caught)."""
    text = pl.col(column).str.strip_chars()
    text = pl.when(text == "").then(None).otherwise(text)
    if attribute_type == "string":
        return text
    if attribute_type == "integer":
        return text.cast(pl.Int64, strict=False)
    if attribute_type == "number":
        if decimal == ",":
            text = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
        return text.cast(pl.Float64, strict=False)
    if attribute_type == "boolean":
        lowered = text.str.to_lowercase()
        return (
            pl.when(lowered.is_in(TRUE_WORDS))
            .then(True)
            .when(lowered.is_in(FALSE_WORDS))
            .then(False)
            .otherwise(None)
        )
    if attribute_type == "date":
        return text.str.to_date("%Y-%m-%d", strict=False)
    if attribute_type == "timestamp":
        iso = text.str.replace(" ", "T", literal=True).str.replace(r"Z$", "+00:00")
        return pl.coalesce(
            iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us"),
            iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us").dt.replace_time_zone("UTC"),
            text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        ).dt.convert_time_zone("UTC")
    raise ValueError(f"unknown attribute type {attribute_type!r}")


def _cast_rejects(frame: pl.DataFrame, attribute: Attribute) -> pl.DataFrame:
    """Rows whose non-empty value did not survive the cast to the declared type."""
    name = attribute.attribute
    return frame.filter(pl.col(f"__raw_{name}").str.strip_chars() != "", pl.col(name).is_null()).select(
        pl.col(LINE),
        pl.col(USER_ID),
        pl.lit(attribute.column).alias("column"),
        pl.col(f"__raw_{name}").alias("value"),
        pl.lit(f"{TYPE_HINTS[attribute.type]} (attribute {name!r} is declared {attribute.type})").alias("reason"),
    )


def map_frame(frame: pl.DataFrame, integration: Integration) -> AttributeSet:
    """Select, check and type the columns the integration declares."""
    header = frame.columns
    id_column = integration.user_id.column
    if id_column not in header:
        raise _missing_column("user-ID", id_column, header)
    for attribute in integration.attributes:
        if attribute.column not in header:
            raise _missing_column(f"attribute {attribute.attribute!r}:", attribute.column, header)
    if frame.height == 0:
        raise FileRejected("the file has a header but no data rows")
    decimal = integration.format.decimal
    typed = frame.with_row_index(LINE, offset=2).select(
        pl.col(LINE).cast(pl.Int64),
        pl.col(id_column).str.strip_chars().alias(USER_ID),
        *[pl.col(a.column).alias(f"__raw_{a.attribute}") for a in integration.attributes],
        *[cast_expression(a.column, a.type, decimal).alias(a.attribute) for a in integration.attributes],
    )
    empty_id = typed.filter(pl.col(USER_ID).is_null() | (pl.col(USER_ID) == "")).select(
        pl.col(LINE),
        pl.lit(None, pl.String).alias(USER_ID),
        pl.lit(id_column).alias("column"),
        pl.lit(None, pl.String).alias("value"),
        pl.lit("empty user ID").alias("reason"),
    )
    duplicates = typed.filter(pl.col(USER_ID).is_not_null(), pl.col(USER_ID).is_duplicated()).select(
        pl.col(LINE),
        pl.col(USER_ID),
        pl.lit(id_column).alias("column"),
        pl.col(USER_ID).alias("value"),
        pl.format(
            "user ID appears {} times in the file (lines {}); all its rows are rejected",
            pl.len().over(USER_ID),
            pl.col(LINE).cast(pl.String).str.join(", ").over(USER_ID),
        ).alias("reason"),
    )
    rejects = pl.concat(
        [empty_id, duplicates, *[_cast_rejects(typed, a) for a in integration.attributes if a.type != "string"]],
        how="vertical",
    ).sort(LINE, "column")
    good = typed.join(rejects.select(LINE).unique(), on=LINE, how="anti").select(
        USER_ID, *[a.attribute for a in integration.attributes]
    )
    return AttributeSet(frame=good, rejects=rejects, rows_read=frame.height)
