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

import re
from dataclasses import dataclass, field, replace

import polars as pl

from inbound.config.model import Integration
from inbound.config.sections import Attribute
from inbound.errors import BadFile, ConfigInvalid, Problem
from inbound.reading.decoding import SENTINEL
from inbound.reading.header import NO_HEADER_LINE, is_configured, positions, shown_cell
from inbound.reading.reader import Table
from inbound.reading.records import FIELD_COUNT_COLUMN, SOURCE_LINE_COLUMN
from inbound.settings import number_setting
from inbound.values.casts import cast_series
from inbound.values.datetimes import misfit_hint

USER_ID = "user_id"  # the attribute set's (and the store's) user column
REJECT_COLUMNS = {"line": pl.Int64, USER_ID: pl.String, "column": pl.String, "value": pl.String, "reason": pl.String}
TYPE_HINTS = {
    "integer": "not a whole number",
    "number": "not a number",
    "boolean": "not a boolean (true/false, yes/no, 1/0, ja/nein)",
}
_BAD = f"{SENTINEL}bad"
_ID = f"{SENTINEL}id"  # the user ID while mapping; `user_id` only in what leaves
DEFAULT_MAX_VALUE_BYTES = 64 * 1024
MAX_VALUE_BYTES_ENV = "INBOUND_MAX_VALUE_BYTES"
DUPLICATE_LINES_SHOWN = 10  # a reason names at most this many of a repeated user ID's lines
BOM = "\ufeff"  # `cat` of two exports that each start with one puts the second mid-file, before the header
REPEATED_HEADER_REASON = (
    "repeated header line (the header again inside the data, as when exports are joined with `cat`): "
    "skipped, not imported and not counted as rejected"
)

# Why a row was rejected, as a fixed word (the reason text names lines and counts): what
# lineage and metrics group rejected rows by. Each is recognised by how its reason begins.
EMPTY_ID_REASON = "empty user ID"
_DUPLICATE_START = "user ID appears "
_RAGGED_START = "row has "
_LONG_START = "value longer than "
REJECT_KINDS = ("empty_user_id", "duplicate_user_id", "wrong_field_count", "value_too_long", "invalid_value")


def reject_kind(reason: pl.Expr) -> pl.Expr:
    """The kind (`REJECT_KINDS`) of each rejected row, from its reason; a type misfit is `invalid_value`."""
    return (
        pl.when(reason == EMPTY_ID_REASON)
        .then(pl.lit("empty_user_id"))
        .when(reason.str.starts_with(_DUPLICATE_START))
        .then(pl.lit("duplicate_user_id"))
        .when(reason.str.starts_with(_LONG_START))
        .then(pl.lit("value_too_long"))
        .when(reason.str.starts_with(_RAGGED_START))
        .then(pl.lit("wrong_field_count"))
        .otherwise(pl.lit("invalid_value"))
    )


def rejected_by_kind(rejects: pl.LazyFrame) -> list[tuple[str, str | None, int]]:
    """Rejected rows per (kind, column), in a fixed order: a row rejected twice counts in both."""
    counts = (
        rejects.group_by(reject_kind(pl.col("reason")).alias("kind"), pl.col("column"))
        .agg(pl.col("line").n_unique().alias("rows"))
        .sort("kind", "column", nulls_last=False)
        .collect()
    )
    return [(str(k), c, int(n)) for k, c, n in counts.iter_rows()]


LINES_SHOWN = 20  # line numbers per (kind, column) in a result: enough to find the rows, bounded for XCom


def rejected_lines(
    rejects: pl.LazyFrame, limit: int = LINES_SHOWN
) -> list[tuple[str, str | None, int, tuple[int, ...]]]:
    """`rejected_by_kind` with the first `limit` line numbers of each group: where to look, never the values."""
    groups = (
        rejects.group_by(reject_kind(pl.col("reason")).alias("kind"), pl.col("column"))
        .agg(pl.col("line").n_unique().alias("rows"), pl.col("line").unique().sort().head(limit).alias("lines"))
        .sort("kind", "column", nulls_last=False)
        .collect()
    )
    return [(str(k), c, int(n), tuple(int(x) for x in lines)) for k, c, n, lines in groups.iter_rows()]


def max_value_bytes() -> int:
    """`INBOUND_MAX_VALUE_BYTES` (default 65536): the longest value (and user ID) a row may hold, in bytes."""
    return int(number_setting(MAX_VALUE_BYTES_ENV, DEFAULT_MAX_VALUE_BYTES, minimum=1))


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_COLUMNS)


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
    _check_header(table.header, integration)


def map_batch(table: Table, integration: Integration, *, duplicates: bool) -> AttributeSet:
    """Select, check and type the columns the integration declares, in one batch of a file.

    One pass computes the typed columns and a per-row `bad` flag; the reasons are worked
    out only for the (few) bad rows. A user ID repeated within the table is rejected only
    with `duplicates` (the table is the whole file); else the set carries its `ids`.
    """
    _check(table, integration)
    table, skipped = _without_repeated_headers(table)
    cap = max_value_bytes()
    typed, too_long = _typed(table.frame, integration, cap)
    duplicated = _duplicated(typed) if duplicates else pl.lit(False)
    ids = None if duplicates else _ids(typed)
    typed_attributes = [(i, a) for i, a in enumerate(integration.attributes) if a.type != "string"]
    width = len(table.header)
    typed = typed.with_columns(
        pl.any_horizontal(
            pl.col(FIELD_COUNT_COLUMN) != width,
            pl.col(_ID).is_null(),
            duplicated,
            *[pl.col(flag) for flag in too_long],
            *[_cast_failed(i) for i, _ in typed_attributes],
        ).alias(_BAD)
    )
    good = typed.filter(~pl.col(_BAD)).select(
        pl.col(_ID).alias(USER_ID),
        *[pl.col(_value(i)).alias(a.attribute) for i, a in enumerate(integration.attributes)],
    )
    bad = typed.filter(pl.col(_BAD))
    if bad.height == 0:
        return AttributeSet(frame=good, rejects=empty_rejects(), rows_read=table.rows, ids=ids, skipped=skipped)
    id_column = integration.user_id.column
    id_too_long = next((flag for flag, column in too_long.items() if column == id_column), None)
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
    return AttributeSet(frame=good, rejects=rejects, rows_read=table.rows, ids=ids, skipped=skipped)


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


def _without_repeated_headers(table: Table) -> tuple[Table, pl.DataFrame]:
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


def _ids(typed: pl.DataFrame) -> pl.DataFrame:
    """Every row's user ID (as checked: stripped, never empty or too long) and line."""
    return typed.select(pl.col(_ID).alias(USER_ID), pl.col(SOURCE_LINE_COLUMN).alias("line")).drop_nulls(USER_ID)


def read_columns(integration: Integration) -> list[str]:
    """The columns the integration reads: its user-ID column, then each attribute's (config order).

    The only header cells a message quotes (`inbound.reading.header.shown_cell`).
    """
    return [integration.user_id.column, *(a.column for a in integration.attributes)]


def _check_header(header: list[str], integration: Integration) -> None:
    """Every column the integration reads is in the header, or the file is refused.

    A header cell is quoted only when it is a column the config reads (`is_configured`);
    the others are named by position: a file without a header line has a row of values
    there, and values never go into messages. With no such cell at all, the first line is
    no header of this export: only the number of fields is given.
    """
    wanted = [("user-ID", integration.user_id.column)]
    wanted += [(f"attribute {a.attribute!r}:", a.column) for a in integration.attributes]
    missing = [(kind, column) for kind, column in wanted if column not in header]
    if not missing:
        return
    kind, column = missing[0]
    columns = read_columns(integration)
    if any(is_configured(h, columns) for h in header):
        raise _missing_column(kind, column, header, columns)
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


def _missing_column(kind: str, column: str, header: list[str], columns: list[str]) -> BadFile:
    """A header that holds some of the columns the config reads, but not `column`.

    It quotes the cells that are configured columns (`is_configured`), and names the others
    by position. A "closest" name is only `column` written another way (case, spaces, `-`, `_`,
    `.`): a cell one letter off a configured name may be a value (`Jane` for `Name`).
    """
    near = [shown_cell(h, i, [column]) for i, h in enumerate(header, 1) if is_configured(h, [column])]
    hint = f"; closest header names: {', '.join(near)}" if near else ""
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


def _raw(i: int) -> str:
    """Attribute `i`'s stripped text (empty: null) while mapping."""
    return f"{SENTINEL}raw{i}"


def _value(i: int) -> str:
    """Attribute `i`'s typed value while mapping."""
    return f"{SENTINEL}value{i}"


def _typed(frame: pl.DataFrame, integration: Integration, cap: int) -> tuple[pl.DataFrame, dict[str, str]]:
    """The user ID and each attribute's stripped text (empty: null) and typed value, per row.

    A value longer than `cap` bytes is nulled (never cast, never reported); the second
    result maps a flag column, true where the value was too long, to its header column,
    for the columns that have such values (usually none).
    """
    columns = {_ID: integration.user_id.column, **{_raw(i): a.column for i, a in enumerate(integration.attributes)}}
    stripped = frame.select(
        pl.col(SOURCE_LINE_COLUMN),
        pl.col(FIELD_COUNT_COLUMN),
        *[pl.col(column).str.strip_chars().alias(name) for name, column in columns.items()],
    )
    lengths = stripped.select(pl.col(c).str.len_bytes().max().fill_null(0) for c in columns).row(0)
    too_long = {f"{SENTINEL}long{j}": c for j, (c, n) in enumerate(zip(columns, lengths)) if n > cap}
    if too_long:
        stripped = stripped.with_columns(
            (pl.col(c).str.len_bytes() > cap).fill_null(False).alias(flag) for flag, c in too_long.items()
        ).with_columns(pl.when(pl.col(flag)).then(None).otherwise(pl.col(c)).alias(c) for flag, c in too_long.items())
    # A cell of only spaces is empty: null it where such cells exist (usually nowhere).
    has_empty = stripped.select((pl.col(c).str.len_bytes() == 0).any() for c in columns).row(0)
    clean = stripped.with_columns(
        pl.when(pl.col(c).str.len_bytes() == 0).then(None).otherwise(pl.col(c)).alias(c)
        for c, empty in zip(columns, has_empty)
        if empty
    )
    decimal, timezone = integration.format.decimal, integration.timezone
    typed = clean.with_columns(
        cast_attribute(clean.get_column(_raw(i)), a, decimal, timezone).alias(_value(i))
        for i, a in enumerate(integration.attributes)
    )
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
        f"{_LONG_START}{cap} bytes ({MAX_VALUE_BYTES_ENV}); not imported and not shown: "
        "shorten it in the export or raise the setting"
    )
    return _reject(bad.filter(pl.col(flag)), column, None, reason)


def _ragged_rejects(bad: pl.DataFrame, width: int) -> pl.DataFrame:
    """Rows with more or fewer fields than the header."""
    fields = pl.col(FIELD_COUNT_COLUMN)
    reason = (
        pl.when(fields < 0)
        .then(pl.format(_RAGGED_START + "more fields than the header ({})", pl.lit(width)))
        .otherwise(pl.format(_RAGGED_START + "{} fields, the header has {}", fields, pl.lit(width)))
    )
    return _reject(bad.filter(fields != width), None, None, reason)


def _empty_id_rejects(bad: pl.DataFrame, id_column: str, id_too_long: str | None) -> pl.DataFrame:
    empty = pl.col(_ID).is_null() if id_too_long is None else pl.col(_ID).is_null() & ~pl.col(id_too_long)
    return _reject(bad.filter(empty), id_column, None, EMPTY_ID_REASON, user_id=False)


def duplicate_reason(user_id: str, line: str) -> pl.Expr:
    """Why each row of a repeated user ID is rejected: how often it appears, and (the first few of) its lines."""
    lines = pl.col(line).sort().cast(pl.String)
    times = pl.len().over(user_id)
    return pl.format(
        _DUPLICATE_START + "{} times in the file (lines {}{}); all its rows are rejected",
        times,
        lines.head(DUPLICATE_LINES_SHOWN).str.join(", ").over(user_id),
        pl.when(times > DUPLICATE_LINES_SHOWN).then(pl.lit(", ...")).otherwise(pl.lit("")),
    )


def _duplicate_rejects(duplicates: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """Every row of a repeated user ID, each naming (the first few of) all the lines it appears on."""
    return _reject(duplicates, id_column, pl.col(_ID), duplicate_reason(_ID, SOURCE_LINE_COLUMN))
