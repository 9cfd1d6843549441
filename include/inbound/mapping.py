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
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import polars as pl

from inbound.config import Attribute, Integration
from inbound.reading import FIELDS as READ_FIELDS
from inbound.reading import LINE as READ_LINE
from inbound.reading import FileRejected, Table

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


def _looks_like_data(header: list[str]) -> bool:
    import re

    return any("@" in h or re.fullmatch(r"[+-]?[\d.,:/ -]+", h) for h in header if h)


def _missing_column(kind: str, column: str, header: list[str]) -> FileRejected:
    close = difflib.get_close_matches(column, header, n=3, cutoff=0.5)
    lowered = [h for h in header if h.lower() == column.lower()]
    suggestions = lowered or close
    hint = f"; closest header names: {', '.join(map(repr, suggestions))}" if suggestions else ""
    if _looks_like_data(header):
        return FileRejected(
            f"{kind} column {column!r} is not in the file's header, and the first line looks like data, "
            "not column names: the file needs a header line (export it with column headers)"
        )
    return FileRejected(
        f"{kind} column {column!r} is not in the file's header{hint}. "
        f"The header has: {', '.join(map(repr, header[:20]))}{' ...' if len(header) > 20 else ''}. "
        "Fix the export or the config's `column:`"
    )


def _number_text(text: pl.Expr, decimal: str) -> pl.Expr:
    """Drop thousands separators (only in well-formed groups) and make the decimal mark '.'."""
    if decimal == ",":
        grouped = text.str.contains(r"^[+-]?\d{1,3}(\.\d{3})+(,\d*)?$")
        text = pl.when(grouped).then(text.str.replace_all(".", "", literal=True)).otherwise(text)
        return text.str.replace(",", ".", literal=True)
    grouped = text.str.contains(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
    return pl.when(grouped).then(text.str.replace_all(",", "", literal=True)).otherwise(text)


def _localize(naive: pl.Expr, timezone: str) -> pl.Expr:
    """A zone-less time read in the integration's zone, as UTC."""
    return naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")


def clean_text(column: str) -> pl.Expr:
    """The cell as read, without surrounding spaces; empty is null (no value)."""
    text = pl.col(column).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text).alias(column)


def _parse(text: pl.Series, expr: pl.Expr) -> pl.Series:
    return text.to_frame("v").select(expr.alias("v")).to_series()


def cast_series(text: pl.Series, attribute: Attribute, decimal: str = ".", timezone: str = "UTC") -> pl.Series:
    """Clean text (see `clean_text`) to the declared type; a misfit becomes null (and is caught).

    Costly steps (thousands separators, further timestamp layouts) run only when the
    column needs them, so a clean column costs one cast.
    """
    value = pl.col("v")
    kind = attribute.type
    if kind == "string":
        return text
    if kind in ("integer", "number"):
        marks = (",", ".") if decimal == "," else (",",)
        if any(text.str.contains(m, literal=True).any() for m in marks):
            value = _number_text(value, decimal)
        if kind == "integer":
            return _parse(text, value.cast(pl.Int64, strict=False))
        number = value.cast(pl.Float64, strict=False)
        return _parse(text, pl.when(number.is_finite()).then(number))
    if kind == "boolean":
        words = {**{w: True for w in TRUE_WORDS}, **{w: False for w in FALSE_WORDS}}
        return _parse(text, value.str.to_lowercase().replace_strict(words, default=None, return_dtype=pl.Boolean))
    if kind == "date":
        return _parse(text, value.str.to_date(attribute.format or "%Y-%m-%d", strict=False))
    if kind != "timestamp":
        raise ValueError(f"unknown attribute type {kind!r}")
    if attribute.format:
        parsed = value.str.to_datetime(attribute.format, strict=False, time_unit="us")
        if "%z" in attribute.format or "%#z" in attribute.format:
            return _parse(text, parsed.dt.convert_time_zone("UTC"))
        return _parse(text, _localize(parsed, timezone))
    iso = value
    if text.str.contains(" ", literal=True).any():
        iso = iso.str.replace(" ", "T", literal=True)
    zoned = iso.str.replace("Z", "+00:00", literal=True) if text.str.contains("Z", literal=True).any() else iso
    layouts = [
        zoned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us").dt.convert_time_zone("UTC"),
        _localize(iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us"), timezone),
        _localize(iso.str.to_datetime("%Y-%m-%dT%H:%M", strict=False, time_unit="us"), timezone),
        _localize(value.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")), timezone),
    ]
    result = _parse(text, layouts[0])
    for layout in layouts[1:]:
        if not (text.is_not_null() & result.is_null()).any():
            break
        result = result.fill_null(_parse(text, layout))
    return result


def _hint(attribute: Attribute) -> str:
    if attribute.format:
        return f"not a {attribute.type} in the format {attribute.format!r}"
    return TYPE_HINTS[attribute.type]


def _raw(attribute: Attribute) -> str:
    return f"__raw_{attribute.attribute}"


def _cast_failed(attribute: Attribute) -> pl.Expr:
    return (pl.col(_raw(attribute)).str.len_bytes().fill_null(0) > 0) & pl.col(attribute.attribute).is_null()


def _cast_rejects(bad: pl.DataFrame, attribute: Attribute) -> pl.DataFrame:
    """Rows whose value did not survive the cast to the declared type."""
    return bad.filter(_cast_failed(attribute)).select(
        pl.col(LINE),
        pl.col(USER_ID),
        pl.lit(attribute.column).alias("column"),
        pl.col(_raw(attribute)).alias("value"),
        pl.lit(f"{_hint(attribute)} (attribute {attribute.attribute!r} is declared {attribute.type})").alias("reason"),
    )


def map_table(table: Table, integration: Integration) -> AttributeSet:
    """Select, check and type the columns the integration declares.

    One pass computes the typed columns and a per-row `bad` flag; the reasons are worked
    out only for the (few) bad rows.
    """
    header = table.header
    id_column = integration.user_id.column
    if id_column not in header:
        raise _missing_column("user-ID", id_column, header)
    for attribute in integration.attributes:
        if attribute.column not in header:
            raise _missing_column(f"attribute {attribute.attribute!r}:", attribute.column, header)
    frame = table.frame
    if frame.height == 0:
        raise FileRejected("the file has a header but no data rows")
    fmt, tz = integration.format, integration.timezone
    typed_attributes = [a for a in integration.attributes if a.type != "string"]
    stripped = frame.select(
        pl.col(READ_LINE).alias(LINE),
        pl.col(READ_FIELDS),
        pl.col(id_column).str.strip_chars().alias(USER_ID),
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
    typed = clean.with_columns(
        cast_series(clean.get_column(_raw(a)), a, fmt.decimal, tz).alias(a.attribute) for a in integration.attributes
    )
    width = len(header)
    # Distinct hashes prove distinct IDs cheaply; only a (rare) tie needs the exact check.
    ids = typed.select(pl.col(USER_ID).drop_nulls().hash().n_unique().alias("h"), pl.col(USER_ID).count().alias("n"))
    has_duplicates = ids.item(0, "h") < ids.item(0, "n")
    duplicated = pl.col(USER_ID).is_duplicated() & pl.col(USER_ID).is_not_null() if has_duplicates else pl.lit(False)
    typed = typed.with_columns(
        pl.any_horizontal(
            pl.col(READ_FIELDS) != width,
            pl.col(USER_ID).is_null(),
            duplicated,
            *[_cast_failed(a) for a in typed_attributes],
        ).alias("__bad")
    )
    good = typed.filter(~pl.col("__bad")).select(USER_ID, *[a.attribute for a in integration.attributes])
    bad = typed.filter(pl.col("__bad"))
    if bad.height == 0:
        return AttributeSet(frame=good, rejects=empty_rejects(), rows_read=frame.height)
    ragged = bad.filter(pl.col(READ_FIELDS) != width).select(
        pl.col(LINE),
        pl.col(USER_ID),
        pl.lit(None, pl.String).alias("column"),
        pl.lit(None, pl.String).alias("value"),
        pl.when(pl.col(READ_FIELDS) < 0)
        .then(pl.format("row has more fields than the header ({})", pl.lit(width)))
        .otherwise(pl.format("row has {} fields, the header has {}", pl.col(READ_FIELDS), pl.lit(width)))
        .alias("reason"),
    )
    empty_id = bad.filter(pl.col(USER_ID).is_null()).select(
        pl.col(LINE),
        pl.lit(None, pl.String).alias(USER_ID),
        pl.lit(id_column).alias("column"),
        pl.lit(None, pl.String).alias("value"),
        pl.lit("empty user ID").alias("reason"),
    )
    duplicates = (
        typed.filter(duplicated).select(
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
        if has_duplicates
        else empty_rejects()
    )
    rejects = pl.concat(
        [ragged, empty_id, duplicates, *[_cast_rejects(bad, a) for a in typed_attributes]], how="vertical"
    ).sort(LINE, "column", nulls_last=False)
    return AttributeSet(frame=good, rejects=rejects, rows_read=frame.height)
