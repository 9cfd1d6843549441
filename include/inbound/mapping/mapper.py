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
  stays, with `blank: clear` it is removed;
- a value (or user ID) longer than `INBOUND_MAX_VALUE_BYTES` rejects its row; the report
  names the column, never the value;
- a record equal to the header line (`repeated_header`: two exports joined with `cat`) is
  skipped before anything is cast or checked: it is no user, and no rejected row either.

The frame's working columns have names no attribute and no header can have (they start
with `SENTINEL`, a byte a readable file never holds), so an attribute may be called
`line`, `value` or `reason`; only `user_id` is taken (the attribute set's user column).

The casts themselves (text to a declared type) live in `inbound.values.casts`, shared with
segment rules, discovery and the store.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from inbound.config.model import Integration
from inbound.config.sections import Attribute
from inbound.errors import BadFile, ConfigInvalid, Problem
from inbound.mapping.header import check_header, without_repeated_headers
from inbound.mapping.rejects import (
    EMPTY_ID_REASON,
    LONG_START,
    RAGGED_START,
    USER_ID,
    duplicate_reason,
    empty_rejects,
)
from inbound.reading.decoding import SENTINEL
from inbound.reading.reader import Table
from inbound.reading.records import FIELD_COUNT_COLUMN, SOURCE_LINE_COLUMN
from inbound.settings import number_setting
from inbound.values.casts import cast_series
from inbound.values.datetimes import misfit_hint

TYPE_HINTS = {
    "integer": "not a whole number",
    "number": "not a number",
    "boolean": "not a boolean (true/false, yes/no, 1/0, ja/nein)",
}


_BAD = f"{SENTINEL}bad"


_CAST_THREADS = os.cpu_count() or 1  # casts run at once (polars lets go of the GIL while it computes)


_ID = f"{SENTINEL}id"  # the user ID while mapping; `user_id` only in what leaves
_DELETE = f"{SENTINEL}delete"  # the row deletes its user (`delete_when`)


DEFAULT_MAX_VALUE_BYTES = 64 * 1024


MAX_VALUE_BYTES_ENV = "INBOUND_MAX_VALUE_BYTES"


def max_value_bytes() -> int:
    """`INBOUND_MAX_VALUE_BYTES` (default 65536): the longest value (and user ID) a row may hold, in bytes."""
    return int(number_setting(MAX_VALUE_BYTES_ENV, DEFAULT_MAX_VALUE_BYTES, minimum=1))


def no_deletions() -> pl.DataFrame:
    """The rows that delete their user, when there are none (`user_id`, `line`)."""
    return pl.DataFrame(schema={USER_ID: pl.String, "line": pl.Int64})


@dataclass(frozen=True)
class AttributeSet:
    """What one file says about its users, ready for the store."""

    frame: pl.DataFrame  # `user_id` plus one typed column per attribute name
    rejects: pl.DataFrame  # line, user_id, column, value, reason (REJECT_COLUMNS)
    rows_read: int  # data rows: a repeated header line is none
    # Without the duplicate check (one batch of a file): every row's user ID (`user_id`,
    # `line`) for the file-wide check, which `inbound.pipeline.batches` does on disk.
    ids: pl.DataFrame | None = None
    # The repeated header lines skipped, in the report's shape (REJECT_COLUMNS: the line and
    # `REPEATED_HEADER_REASON`, no user ID, column or value); never among `rejects`.
    skipped: pl.DataFrame = field(default_factory=empty_rejects)
    # `delete_when`: the rows that delete their user (`user_id`, `line`), never in `frame` nor checked
    # against the attributes' types; a row with an empty, too long or repeated ID, or ragged, is rejected.
    deletions: pl.DataFrame = field(default_factory=no_deletions)

    @property
    def rows_rejected(self) -> int:
        return self.rejects.get_column("line").n_unique() if self.rejects.height else 0

    @property
    def headers_skipped(self) -> int:
        return self.skipped.height


def cast_attribute(text: pl.Series, attribute: Attribute, decimal: str = ".", timezone: str = "UTC") -> pl.Series:
    """Stripped text (empty is null) to the attribute's declared type; a misfit becomes null."""
    return cast_series(text, attribute.type, format=attribute.format, decimal=decimal, timezone=timezone)


def map_table(table: Table, integration: Integration) -> AttributeSet:
    """Select, check and type the columns the integration declares, for a file held whole."""
    if table.frame.height == 0:
        _check(table, integration)
        raise no_data_rows(0)
    mapped = map_batch(table, integration, duplicates=True)
    if not mapped.rows_read:
        raise no_data_rows(mapped.headers_skipped)
    return mapped


def no_data_rows(headers_skipped: int) -> BadFile:
    """A file with a header and no data row: maybe only the header again (`repeated_header`)."""
    again = f" (only {headers_skipped} repeated header line(s))" if headers_skipped else ""
    return BadFile(f"the file has a header but no data rows{again}", Problem.EMPTY)


def _check(table: Table, integration: Integration) -> None:
    if any(a.attribute == USER_ID for a in integration.attributes):
        raise ConfigInvalid(
            f"integration {integration.name!r}: an attribute may not be named {USER_ID!r}, the name of the "
            "user column of every attribute set; give it another `name:`"
        )
    check_header(table.header, integration)


def map_batch(table: Table, integration: Integration, *, duplicates: bool) -> AttributeSet:
    """Select, check and type the columns the integration declares, in one batch of a file.

    One pass computes the typed columns and a per-row `bad` flag; the reasons are worked
    out only for the (few) bad rows. A user ID repeated within the table is rejected only
    with `duplicates` (the table is the whole file); else the set carries its `ids`.
    """
    _check(table, integration)
    table, skipped = without_repeated_headers(table)
    cap = max_value_bytes()
    typed, too_long = _typed(table.frame, integration, cap, table.other_spaces)
    duplicated = _duplicated(typed) if duplicates else pl.lit(False)
    ids = None if duplicates else _ids(typed)
    typed_attributes = [(i, a) for i, a in enumerate(integration.attributes) if a.type != "string"]
    width = len(table.header)
    id_column = integration.user_id.column
    id_too_long = next((flag for flag, column in too_long.items() if column == id_column), None)
    # A row of the user-ID kind of trouble fails whatever it says; a deletion row is not typed.
    row_bad = [pl.col(FIELD_COUNT_COLUMN) != width, pl.col(_ID).is_null(), duplicated]
    row_bad += [pl.col(id_too_long)] if id_too_long else []
    value_bad = [pl.col(flag) for flag in too_long if flag != id_too_long]
    value_bad += [_cast_failed(i) for i, _ in typed_attributes]
    deleting = pl.col(_DELETE) if _DELETE in typed.columns else pl.lit(False)
    typed = typed.with_columns(
        pl.any_horizontal(*row_bad, pl.any_horizontal(*value_bad, pl.lit(False)) & ~deleting).alias(_BAD)
    )
    deletions = no_deletions()
    if _DELETE in typed.columns:
        deletes = ~pl.col(_BAD) & pl.col(_DELETE)
        deletions = typed.filter(deletes).select(pl.col(_ID).alias(USER_ID), pl.col(SOURCE_LINE_COLUMN).alias("line"))
        typed = typed.filter(~deletes)
    kept = {_ID: USER_ID, **{_value(i): a.attribute for i, a in enumerate(integration.attributes)}}
    if not typed.get_column(_BAD).any():  # the usual batch: no row to take out, no pass to take it
        good = pl.DataFrame([typed.get_column(column).alias(name) for column, name in kept.items()])
        return AttributeSet(
            frame=good, rejects=empty_rejects(), rows_read=table.rows, ids=ids, skipped=skipped, deletions=deletions
        )
    good = typed.filter(~pl.col(_BAD)).select(pl.col(column).alias(name) for column, name in kept.items())
    bad = typed.filter(pl.col(_BAD))
    rejects = pl.concat(
        [
            _ragged_rejects(bad, width),
            *[_long_rejects(bad, flag, column, cap) for flag, column in too_long.items()],
            _empty_id_rejects(bad, id_column, id_too_long),
            _duplicate_rejects(typed.filter(duplicated), id_column),
            *[_cast_rejects(bad, i, a) for i, a in typed_attributes],
        ],
        how="vertical",
    ).sort("line", "column", nulls_last=False)
    return AttributeSet(
        frame=good, rejects=rejects, rows_read=table.rows, ids=ids, skipped=skipped, deletions=deletions
    )


def _ids(typed: pl.DataFrame) -> pl.DataFrame:
    """Every row's user ID (as checked: stripped, never empty or too long) and line."""
    return typed.select(pl.col(_ID).alias(USER_ID), pl.col(SOURCE_LINE_COLUMN).alias("line")).drop_nulls(USER_ID)


def _raw(i: int) -> str:
    """Attribute `i`'s stripped text (empty: null) while mapping."""
    return f"{SENTINEL}raw{i}"


def _value(i: int) -> str:
    """Attribute `i`'s typed value while mapping."""
    return f"{SENTINEL}value{i}"


def _typed(
    frame: pl.DataFrame, integration: Integration, cap: int, other_spaces: bool = True
) -> tuple[pl.DataFrame, dict[str, str]]:
    """The user ID and each attribute's stripped text (empty: null) and typed value, per row.

    A value longer than `cap` bytes is nulled (never cast, never reported); the second
    result maps a flag column, true where the value was too long, to its header column,
    for the columns that have such values (usually none). Without `other_spaces` (`Table.other_spaces`)
    only columns with a value that starts or ends with a space are stripped: the others are as read.
    """
    columns = {_ID: integration.user_id.column, **{_raw(i): a.column for i, a in enumerate(integration.attributes)}}
    strip = dict.fromkeys(columns.values(), True)
    if not other_spaces:  # only spaces to strip: only the columns with a value that starts or ends with one
        ends = frame.select(
            (pl.col(c).str.starts_with(" ") | pl.col(c).str.ends_with(" ")).any().alias(c) for c in strip
        ).row(0)
        strip = dict(zip(strip, ends))
    rule = integration.delete_when
    marks = [v.strip().lower() for v in rule.values] if rule else []
    stripped = frame.select(
        pl.col(SOURCE_LINE_COLUMN),
        pl.col(FIELD_COUNT_COLUMN),
        *(
            [pl.col(rule.column).str.strip_chars().str.to_lowercase().is_in(marks).fill_null(False).alias(_DELETE)]
            if rule
            else []
        ),
        *[
            (pl.col(column).str.strip_chars() if strip[column] else pl.col(column)).alias(name)
            for name, column in columns.items()
        ],
    )
    # Each column's longest value and whether it has an empty one, in one pass.
    stats = stripped.select(
        *[pl.col(c).str.len_bytes().max().fill_null(0).alias(f"{c}{SENTINEL}max") for c in columns],
        *[(pl.col(c).str.len_bytes() == 0).any().alias(f"{c}{SENTINEL}empty") for c in columns],
    ).row(0)
    lengths, has_empty = stats[: len(columns)], stats[len(columns) :]
    too_long = {f"{SENTINEL}long{j}": c for j, (c, n) in enumerate(zip(columns, lengths)) if n > cap}
    if too_long:
        stripped = stripped.with_columns(
            (pl.col(c).str.len_bytes() > cap).fill_null(False).alias(flag) for flag, c in too_long.items()
        ).with_columns(pl.when(pl.col(flag)).then(None).otherwise(pl.col(c)).alias(c) for flag, c in too_long.items())
    # A cell of only spaces is empty: null it where such cells exist (usually nowhere).
    clean = stripped.with_columns(
        pl.when(pl.col(c).str.len_bytes() == 0).then(None).otherwise(pl.col(c)).alias(c)
        for c, empty in zip(columns, has_empty)
        if empty
    )
    decimal, timezone = integration.format.decimal, integration.timezone

    def cast(i: int) -> pl.Series:
        attribute = integration.attributes[i]
        return cast_attribute(clean.get_column(_raw(i)), attribute, decimal, timezone).alias(_value(i))

    # One cast is a chain of single-column steps: several casts at once keep every core busy.
    with ThreadPoolExecutor(max_workers=max(1, min(_CAST_THREADS, len(integration.attributes)))) as pool:
        typed = clean.with_columns(pool.map(cast, range(len(integration.attributes))))
    return typed, {flag: columns[c] for flag, c in too_long.items()}


def _duplicated(typed: pl.DataFrame) -> pl.Expr:
    """Rows whose user ID appears more than once.

    Distinct hashes prove distinct IDs cheaply; only a (rare) tie needs the exact check.
    """
    ids = typed.select(pl.col(_ID).drop_nulls().hash().n_unique().alias("h"), pl.col(_ID).count().alias("n"))
    if ids.item(0, "h") < ids.item(0, "n"):
        return pl.col(_ID).is_duplicated() & pl.col(_ID).is_not_null()
    return pl.lit(False)


def _hint(attribute: Attribute) -> str:
    if attribute.type in ("date", "timestamp"):
        return misfit_hint(attribute.type, attribute.format)  # the forms read, and %Y's four digits
    return TYPE_HINTS[attribute.type]


def _cast_failed(i: int) -> pl.Expr:
    return (pl.col(_raw(i)).str.len_bytes().fill_null(0) > 0) & pl.col(_value(i)).is_null()


def _reject(
    rows: pl.DataFrame, column: str | None, value: pl.Expr | None, reason: pl.Expr | str, user_id: bool = True
) -> pl.DataFrame:
    """Reject rows in the report's shape (REJECT_COLUMNS)."""
    return rows.select(
        pl.col(SOURCE_LINE_COLUMN).alias("line"),
        (pl.col(_ID) if user_id else pl.lit(None, pl.String)).alias(USER_ID),
        pl.lit(column, pl.String).alias("column"),
        (value if value is not None else pl.lit(None, pl.String)).alias("value"),
        (pl.lit(reason) if isinstance(reason, str) else reason).alias("reason"),
    )


def _cast_rejects(bad: pl.DataFrame, i: int, attribute: Attribute) -> pl.DataFrame:
    """Rows whose value did not survive the cast to the declared type."""
    reason = f"{_hint(attribute)} (attribute {attribute.attribute!r} is declared {attribute.type})"
    return _reject(bad.filter(_cast_failed(i)), attribute.column, pl.col(_raw(i)), reason)


def _long_rejects(bad: pl.DataFrame, flag: str, column: str, cap: int) -> pl.DataFrame:
    """Rows with a value longer than the cap: the column and the limit, never the value."""
    reason = (
        f"{LONG_START}{cap} bytes ({MAX_VALUE_BYTES_ENV}); not imported and not shown: "
        "shorten it in the export or raise the setting"
    )
    return _reject(bad.filter(pl.col(flag)), column, None, reason)


def _ragged_rejects(bad: pl.DataFrame, width: int) -> pl.DataFrame:
    """Rows with more or fewer fields than the header."""
    fields = pl.col(FIELD_COUNT_COLUMN)
    reason = (
        pl.when(fields < 0)
        .then(pl.format(RAGGED_START + "more fields than the header ({})", pl.lit(width)))
        .otherwise(pl.format(RAGGED_START + "{} fields, the header has {}", fields, pl.lit(width)))
    )
    return _reject(bad.filter(fields != width), None, None, reason)


def _empty_id_rejects(bad: pl.DataFrame, id_column: str, id_too_long: str | None) -> pl.DataFrame:
    empty = pl.col(_ID).is_null() if id_too_long is None else pl.col(_ID).is_null() & ~pl.col(id_too_long)
    return _reject(bad.filter(empty), id_column, None, EMPTY_ID_REASON, user_id=False)


def _duplicate_rejects(duplicates: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """Every row of a repeated user ID, each naming (the first few of) all the lines it appears on."""
    return _reject(duplicates, id_column, pl.col(_ID), duplicate_reason(_ID, SOURCE_LINE_COLUMN))
