"""Casts between file text, typed polars columns and the store's canonical text.

    CSV text --cast_series--> typed column --to_text / text_expr--> canonical text (the store)
    a rule's value --canonical--> canonical text

The import (`mapping`), discovery, segment rules (`rules`) and the store's writes go
through these functions, so a value a rule compares with is spelled exactly as the import
stored it, and discovery proposes only types the import accepts. Nothing here knows about
configs: a cast takes the declared type and its options as plain values. The way back,
stored text to JSON, is `inbound.values.text.from_text`; it is kept apart because it needs no
polars, so reading the store never loads it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from inbound.values.datetimes import ISO_DATE, ISO_TIMESTAMP, layout
from inbound.values.text import DATE_TEXT, FALSE_WORDS, TIMESTAMP_TEXT, TRUE_WORDS

_FIRST, _LAST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)  # what Python reads back
_BOOLEANS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


def cast_series(
    text: pl.Series,
    kind: str,
    *,
    format: str | None = None,
    decimal: str = ".",
    timezone: str = "UTC",
) -> pl.Series:
    """Stripped text (empty is null) to the declared type `kind`; a misfit becomes null.

    A null where the text was not is how callers find values that do not fit. Costly steps
    (thousands separators, further timestamp layouts) run only when the column needs them,
    so a clean column costs one cast (dates and timestamps: and one regex match, see
    `inbound.values.datetimes`).
    """
    value = pl.col("v")
    if kind == "string":
        return text
    if kind in ("integer", "number"):
        return _parse(text, _number(text, kind, decimal))
    if kind == "boolean":
        return _parse(text, value.str.to_lowercase().replace_strict(_BOOLEANS, default=None, return_dtype=pl.Boolean))
    if kind == "date":
        found = layout(format) if format else None
        pattern, chrono = (found.pattern, found.chrono) if found else (ISO_DATE, DATE_TEXT)
        return _in_years(_parse(text, _exactly(pattern).str.to_date(chrono, strict=False)))
    if kind == "timestamp" and format:
        return _formatted_timestamp(text, format, timezone)
    if kind == "timestamp":
        return _iso_timestamp(text, timezone)
    raise ValueError(f"unknown attribute type {kind!r}")


def _parse(text: pl.Series, expr: pl.Expr) -> pl.Series:
    return text.to_frame("v").select(expr.alias("v")).to_series()


def _number(text: pl.Series, kind: str, decimal: str) -> pl.Expr:
    value = pl.col("v")
    marks = (",", ".") if decimal == "," else (",",)
    if any(text.str.contains(m, literal=True).any() for m in marks):
        value = _number_text(value, decimal)
    if kind == "integer":
        return value.cast(pl.Int64, strict=False)
    number = value.cast(pl.Float64, strict=False)
    return pl.when(number.is_finite()).then(number)  # inf and nan are not numbers a person meant


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


def _exactly(pattern: str) -> pl.Expr:
    """The text where it matches `pattern` whole, else null: chrono sees only values it reads as they are spelled.

    chrono alone reads `26` under `%Y` as the year 26, and raises on `-026` instead of failing the one value.
    """
    value = pl.col("v")
    return pl.when(value.str.contains(pattern)).then(value)


def _in_years(moments: pl.Series) -> pl.Series:
    """Null outside the years 1 to 9999 (in UTC): `0000-01-01`, or an offset past either end, is no date
    Python (`values.from_text`) can read back from the store. A step of its own: inside one expression
    with the parse, polars would parse twice."""
    value = pl.col("v")
    if moments.dtype == pl.Date:
        return _parse(moments, pl.when(value >= date.min).then(value))  # four digits: never past 9999
    return _parse(moments, pl.when(value.is_between(_FIRST, _LAST)).then(value))


def _formatted_timestamp(text: pl.Series, format: str, timezone: str) -> pl.Series:
    """The attribute's `format`: with an offset directive the text's own zone, else read in `timezone`.

    A format without a time of day reads midnight, as a bare ISO date does.
    """
    found = layout(format)
    parsed = _exactly(found.pattern).str.to_datetime(found.chrono, strict=False, time_unit="us")
    return _in_years(_parse(text, parsed.dt.convert_time_zone("UTC") if found.zoned else _localize(parsed, timezone)))


def _iso_timestamp(text: pl.Series, timezone: str) -> pl.Series:
    """ISO-8601 in the README's forms (`datetimes.ISO_TIMESTAMP`), tried commonest first.

    `%#z` reads every offset form (Z, ±hh, ±hhmm, ±hh:mm); `%.f` a fraction or none. A layout
    runs only while values are left that matched the forms and no layout before it read.
    """
    iso = _parse(text, _exactly(ISO_TIMESTAMP))
    if iso.str.contains(" ", literal=True).any():
        iso = iso.str.replace(" ", "T", literal=True)
    value = pl.col("v")
    layouts = [
        value.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_unit="us").dt.convert_time_zone("UTC"),
        _localize(value.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us"), timezone),
        value.str.to_datetime("%Y-%m-%dT%H:%M%#z", strict=False, time_unit="us").dt.convert_time_zone("UTC"),
        _localize(value.str.to_datetime("%Y-%m-%dT%H:%M", strict=False, time_unit="us"), timezone),
        _localize(value.str.to_date(DATE_TEXT, strict=False).cast(pl.Datetime("us")), timezone),
    ]
    result = _parse(iso, layouts[0])
    for expr in layouts[1:]:
        if not (iso.is_not_null() & result.is_null()).any():
            break
        result = result.fill_null(_parse(iso, expr))
    return _in_years(result)


def text_expr(name: str, kind: str) -> pl.Expr:
    """The typed column `name` as canonical text: what the store keeps and rules compare."""
    col = pl.col(name)
    if kind == "boolean":
        return pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false")).alias(name)
    if kind == "date":
        return col.dt.to_string(DATE_TEXT).alias(name)
    if kind == "timestamp":
        return col.dt.convert_time_zone("UTC").dt.to_string(TIMESTAMP_TEXT).alias(name)
    return col.cast(pl.String).alias(name)


def to_text(frame: pl.DataFrame, types: dict[str, str]) -> pl.DataFrame:
    """An attribute set (`user_id` + a typed column per name) as canonical text."""
    return frame.select(pl.col("user_id"), *[text_expr(n, t) for n, t in types.items()])


def canonical(text: str, kind: str) -> str | None:
    """One value written as in a file, as the store would keep it; None if it is not a `kind`.

    Read with the defaults (ISO layouts, "." decimals, UTC), as a rule's values are.
    """
    typed = cast_series(pl.Series("v", [text], pl.String), kind)
    if typed.null_count():
        return None
    found: str = typed.to_frame("v").select(text_expr("v", kind)).item()
    return found
