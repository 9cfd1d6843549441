"""A batch's records through polars: the marker field, each record's line and field count, tidying.

Two facts polars does not keep are recovered here with vectorized passes over the raw
lines: the physical line on which each record starts (quoted fields may hold newlines),
and how many fields each record really had (polars pads a short row with empty values).
They travel as two extra columns of the frame, `SOURCE_LINE_COLUMN` and
`FIELD_COUNT_COLUMN`. A last record that is short and holds line breaks is a quote that
swallowed the rest of the file (`swallowing`).
"""

from __future__ import annotations

import polars as pl

from inbound.errors import BadFile, Problem
from inbound.reading.decoding import SENTINEL, utf8_problem

SOURCE_LINE_COLUMN = f"{SENTINEL}line"  # the physical line (1 = the first line of the file) a record starts on
FIELD_COUNT_COLUMN = f"{SENTINEL}fields"  # how many fields the record had; -1: more than the header
SENTINEL_COLUMN = f"{SENTINEL}end"


def mark(body: bytes, delimiter: str) -> tuple[bytes, int]:
    """End every line with one more field holding SENTINEL.

    Parsed with one extra header column, a record with the right number of fields has
    SENTINEL in that column; a short record has it in an earlier column (polars pads
    short records silently); a long record has a value of its own there. A line break
    inside a quoted value gets the marker too, inside the value, where `read_table` takes
    it out again. Also returns the number of lines (one marker each).
    """
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")  # also inside quoted values: line breaks become \n
    if not body.endswith(b"\n"):
        body += b"\n"
    marker = f"{delimiter}{SENTINEL}".encode()
    marked = body.replace(b"\n", marker + b"\n")
    return marked, (len(marked) - len(body)) // len(marker)  # and the number of lines


def parse(data: bytes | bytearray, body: bytes, delimiter: str, first_line: int) -> pl.DataFrame:
    """The marked body as a frame of strings (the header's columns, then SENTINEL_COLUMN)."""
    try:
        frame = pl.read_csv(
            body,
            separator=delimiter,
            infer_schema=False,
            has_header=True,
            empty_string_is_null=True,
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            raise utf8_problem(data, "the file is not valid UTF-8; set `format.encoding`", first_line) from None
        raise BadFile(
            f"cannot parse the file as CSV with delimiter {delimiter!r}; check quoting "
            "(a quote that is never closed swallows the rest of the file) and `format.delimiter`",
            Problem.MALFORMED,
        ) from None
    return frame.rename({frame.columns[-1]: SENTINEL_COLUMN})


def _field_count(columns: list[str]) -> pl.Expr:
    """Each record's real number of fields, from where its SENTINEL landed (-1: too many)."""
    position = pl.coalesce(
        *[pl.when(pl.col(c) == SENTINEL).then(pl.lit(i + 1, pl.Int32)) for i, c in enumerate(columns)]
    )
    return (
        pl.when(pl.col(SENTINEL_COLUMN) == SENTINEL)
        .then(pl.lit(len(columns), pl.Int32))
        .when(pl.col(SENTINEL_COLUMN).is_not_null())
        .then(pl.lit(-1, pl.Int32))
        .otherwise(position - 1)
        .fill_null(-1)
    )


def _line_breaks(columns: list[str]) -> pl.Expr:
    """How many line breaks a record's quoted values hold."""
    return pl.sum_horizontal(pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in columns)


def _complete(frame: pl.DataFrame) -> bool:
    """Whether every record had the header's number of fields (SENTINEL in the marker column): the
    usual batch, whose field counts need no look at the other columns."""
    return bool(frame.select((pl.col(SENTINEL_COLUMN) == SENTINEL).fill_null(False).all()).item())


def locate(frame: pl.DataFrame, columns: list[str], delimiter: str, first_line: int, embedded: int) -> pl.DataFrame:
    """Add each record's source line and field count; take the markers out of quoted line breaks."""
    line = pl.lit(first_line, pl.Int64) + pl.int_range(pl.len(), dtype=pl.Int64)
    if embedded:
        marker = f"{delimiter}{SENTINEL}"
        frame = frame.with_columns(pl.col(c).str.replace_all(marker, "", literal=True) for c in columns)
        breaks = _line_breaks(columns)
        line = line + (breaks.cum_sum() - breaks)
    fields = pl.lit(len(columns), pl.Int32) if _complete(frame) else _field_count(columns)
    return frame.with_columns(line.alias(SOURCE_LINE_COLUMN), fields.alias(FIELD_COUNT_COLUMN))


def _without_marker(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame without SENTINEL_COLUMN, its other columns as they are (`drop` would cost a pass)."""
    frame = frame.clone()  # shallow: the columns are shared
    frame.drop_in_place(SENTINEL_COLUMN)
    return frame


def tidy(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Drop blank lines and the marker column; a short record's marker is no value."""
    if len(columns) > 1 and _complete(frame):  # no blank line (one field) and no short record
        return _without_marker(frame)
    blank = (pl.col(FIELD_COUNT_COLUMN) == 1) & pl.col(columns[0]).is_null()
    if frame.select(blank.any()).item():
        frame = frame.filter(~blank)
    frame = _without_marker(frame)
    short = (pl.col(FIELD_COUNT_COLUMN) >= 0) & (pl.col(FIELD_COUNT_COLUMN) < len(columns))
    if frame.select(short.any()).item():
        # a short record's marker landed in a data column: it is no value
        frame = frame.with_columns(
            pl.when(pl.col(c) == SENTINEL).then(None).otherwise(pl.col(c)).alias(c) for c in columns
        )
    return frame


def swallowing(frame: pl.DataFrame, columns: list[str]) -> int | None:
    """The line of the table's last record if it looks like a quote that swallowed the rest of the file.

    Short (or long), and holding line breaks: a stray quote that closed only at the end, or never.
    """
    if not frame.height or frame.get_column(FIELD_COUNT_COLUMN).tail(1).item() >= len(columns):
        return None
    last = frame.tail(1)
    return int(last.get_column(SOURCE_LINE_COLUMN).item()) if last.select(_line_breaks(columns)).item() else None


def unclosed_quote(line: int) -> BadFile:
    return BadFile(
        f"line {line}: a quote opened in this record is never closed and swallows "
        "the rest of the file; fix the quoting of the export",
        Problem.MALFORMED,
        line=line,
    )
