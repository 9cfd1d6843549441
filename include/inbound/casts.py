"""Casts between file text, typed polars columns and the store's canonical text.

    CSV text --cast_series--> typed column --to_text / text_expr--> canonical text (the store)
    a rule's value --canonical--> canonical text

The import (`mapping`), discovery, segment rules (`rules`) and the store's writes go
through these functions, so a value a rule compares with is spelled exactly as the import
stored it, and discovery proposes only types the import accepts. Nothing here knows about
configs: a cast takes the declared type and its options as plain values. The way back,
stored text to JSON, is `inbound.values.from_text`; it is kept apart because it needs no
polars, so reading the store never loads it.
"""

from __future__ import annotations

import polars as pl

from inbound.values import DATE_TEXT, FALSE_WORDS, TIMESTAMP_TEXT, TRUE_WORDS

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
    so a clean column costs one cast.
    """
    value = pl.col("v")
    if kind == "string":
        return text
    if kind in ("integer", "number"):
        return _parse(text, _number(text, kind, decimal))
    if kind == "boolean":
        return _parse(text, value.str.to_lowercase().replace_strict(_BOOLEANS, default=None, return_dtype=pl.Boolean))
    if kind == "date":
        return _parse(text, value.str.to_date(format or DATE_TEXT, strict=False))
    if kind == "timestamp":
        return _timestamp(text, format, timezone)
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


def _timestamp(text: pl.Series, format: str | None, timezone: str) -> pl.Series:
    """The given layout, or ISO-8601 in its common spellings, tried narrowest first."""
    value = pl.col("v")
    if format:
        parsed = value.str.to_datetime(format, strict=False, time_unit="us")
        if "%z" in format or "%#z" in format:
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
        _localize(value.str.to_date(DATE_TEXT, strict=False).cast(pl.Datetime("us")), timezone),
    ]
    result = _parse(text, layouts[0])
    for layout in layouts[1:]:
        if not (text.is_not_null() & result.is_null()).any():
            break
        result = result.fill_null(_parse(text, layout))
    return result


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
