"""Bytes to a polars frame of strings: compression, encoding, delimiter, header, raggedness.

What a file is, is decided by its content, not its key: gzip by its magic bytes, UTF-16
and UTF-8 by their byte-order marks, the delimiter by the header line. Every column is
read as text; types are the mapping's job, so that a value that does not fit its declared
type becomes a rejected row with its reason instead of a silent null from inference.

Two facts polars does not keep are recovered here with vectorized passes over the raw
lines: the physical line on which each record starts (quoted fields may hold newlines),
and how many fields each record really had (polars pads a short row with empty values).

Messages never quote the file's values (they end up in task logs); they give line
numbers, column names and what to do.
"""

from __future__ import annotations

import codecs
import csv
import zlib
from dataclasses import dataclass

import polars as pl

from inbound.config import Format

DELIMITERS = (",", ";", "\t", "|")
LINE = "__line"
FIELDS = "__fields"
SENTINEL = "\x01"
SENTINEL_COLUMN = "__end"
GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
_NOT_CSV = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?); export the sheet as CSV",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook; export the sheet as CSV",
    b"%PDF": "a PDF document, not CSV",
    b"PAR1": "a Parquet file, not CSV",
    b"BZh": "bzip2-compressed; only gzip compression is read",
    b"\xfd7zXZ": "xz-compressed; only gzip compression is read",
}
_QUOTED = r'"(?:[^"]|"")*"'


class FileRejected(Exception):
    """The whole file cannot be imported; the message says what to fix."""


@dataclass(frozen=True)
class Table:
    """A parsed export: strings only, with each record's line and field count."""

    frame: pl.DataFrame  # header columns (stripped names) + __line + __fields
    header: list[str]
    delimiter: str
    encoding: str
    compressed: bool

    @property
    def rows(self) -> int:
        return self.frame.height


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def decompress(data: bytes, max_bytes: int) -> tuple[bytes, bool]:
    """Gunzip (detected by magic bytes) without ever holding more than `max_bytes`."""
    if not data.startswith(GZIP_MAGIC):
        if len(data) > max_bytes:
            raise FileRejected(f"the file is {_mb(len(data))}, over the limit of {_mb(max_bytes)} (max_file_mb)")
        return data, False
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    parts, size = [], 0
    try:
        chunk = inflater.decompress(data, max_bytes + 1)
        while True:
            size += len(chunk)
            parts.append(chunk)
            if size > max_bytes:
                raise FileRejected(
                    f"the gzip file decompresses to more than {_mb(max_bytes)} (max_file_mb): "
                    "an export this large or a gzip bomb; split the export or raise max_file_mb"
                )
            if not inflater.unconsumed_tail:
                break
            chunk = inflater.decompress(inflater.unconsumed_tail, max_bytes + 1 - size)
        parts.append(inflater.flush())
    except zlib.error as exc:
        raise FileRejected(f"the file starts like gzip but does not decompress ({exc}); re-export it") from None
    return b"".join(parts), True


def _not_csv(data: bytes) -> None:
    for magic, what in _NOT_CSV.items():
        if data.startswith(magic):
            raise FileRejected(f"the file is {what}")
    head = data[:65536]
    if b"\x00" in head:
        raise FileRejected("the file is binary (it contains NUL bytes), not CSV text")


def _bad_byte(data: bytes, start: int, encoding: str) -> FileRejected:
    line = data[:start].count(b"\n") + 1
    hint = "set `format.encoding` to the file's encoding"
    if encoding.replace("-", "").lower() in ("utf8", "utf8sig"):
        try:
            data.decode("cp1252")
            hint = "the file looks like Windows-1252 (Excel on Windows): set `format.encoding: cp1252`"
        except UnicodeDecodeError:
            pass
    return FileRejected(f"line {line}: byte 0x{data[start]:02x} is not valid {encoding}; {hint}")


def to_utf8(data: bytes, declared: str) -> tuple[bytes, str]:
    """UTF-8 bytes for polars and the encoding used; a BOM wins over the declaration."""
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[len(codecs.BOM_UTF8) :], "utf-8"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = declared
    if codecs.lookup(encoding).name == "utf-8":
        return data, "utf-8"  # polars checks it while parsing; `utf8_problem` finds the line
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _bad_byte(data, exc.start, encoding) from None
    return text.lstrip("\ufeff").encode("utf-8"), encoding


def utf8_problem(data: bytes) -> FileRejected | None:
    """Where a file that claims to be UTF-8 is not, as a message with the line."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _bad_byte(data, exc.start, "utf-8")
    return None


def detect_delimiter(header: str) -> str:
    """The most frequent of `, ; tab |` in the header line (outside quotes)."""
    import re

    bare = re.sub(_QUOTED, "", header)
    counts = {d: bare.count(d) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d])
    return delimiter if counts[delimiter] else ","


def _header(data: bytes, delimiter: str | None) -> tuple[list[str], str, int]:
    """Header names, delimiter, and the index of the header's first byte (after blank lines)."""
    start = 0
    while start < len(data) and data[start : start + 1] in (b"\n", b"\r"):
        start += 1
    end = data.find(b"\n", start)
    line = data[start : end if end != -1 else len(data)].decode("utf-8").rstrip("\r")
    if not line.strip():
        raise FileRejected("the file is empty; expected a header line and data rows")
    delimiter = delimiter or detect_delimiter(line)
    names = [name.strip() for name in next(csv.reader([line], delimiter=delimiter))]
    return names, delimiter, start


def _mark(body: bytes, delimiter: str) -> tuple[bytes, int]:
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


def _fields(frame: pl.DataFrame, columns: list[str]) -> pl.Expr:
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


def read_table(data: bytes, fmt: Format, max_bytes: int = DEFAULT_MAX_BYTES) -> Table:
    """Parse an export into a `Table`; raises `FileRejected` for a file that is not one."""
    data, compressed = decompress(data, max_bytes)
    if not data.strip():
        raise FileRejected("the file is empty; expected a header line and data rows")
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        _not_csv(data)
    data, encoding = to_utf8(data, fmt.encoding)
    _not_csv(data)
    if SENTINEL.encode() in data:
        raise FileRejected("the file contains control characters (byte 0x01); it is not a CSV text export")
    try:
        header, delimiter, start = _header(data, fmt.delimiter)
    except UnicodeDecodeError:
        raise (utf8_problem(data) or FileRejected("the header is not valid UTF-8")) from None
    duplicated = sorted({n for n in header if header.count(n) > 1 and n})
    if duplicated:
        raise FileRejected(
            f"the header names {', '.join(map(repr, duplicated))} more than once; column names must be unique"
        )
    header_line = data[:start].count(b"\n") + 1
    body, lines = _mark(data[start:], delimiter)
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
            raise (utf8_problem(data) or FileRejected("the file is not valid UTF-8; set `format.encoding`")) from None
        raise FileRejected(
            f"cannot parse the file as CSV with delimiter {delimiter!r}; check quoting "
            "(a quote that is never closed swallows the rest of the file) and `format.delimiter`"
        ) from None
    columns = frame.columns[:-1]
    frame = frame.rename({frame.columns[-1]: SENTINEL_COLUMN})
    embedded = lines - 1 - frame.height  # line breaks inside quoted values
    if embedded:
        marker = f"{delimiter}{SENTINEL}"
        frame = frame.with_columns(pl.col(c).str.replace_all(marker, "", literal=True) for c in columns)
        breaks = pl.sum_horizontal(pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in columns)
        line = pl.lit(header_line + 1, pl.Int64) + pl.int_range(pl.len(), dtype=pl.Int64) + (breaks.cum_sum() - breaks)
    else:
        line = pl.lit(header_line + 1, pl.Int64) + pl.int_range(pl.len(), dtype=pl.Int64)
    frame = frame.with_columns(line.alias(LINE), _fields(frame, columns).alias(FIELDS))
    blank = (pl.col(FIELDS) == 1) & pl.col(columns[0]).is_null()
    if frame.select(blank.any()).item():
        frame = frame.filter(~blank)
    frame = frame.drop(SENTINEL_COLUMN)
    if frame.select((pl.col(FIELDS) >= 0) & (pl.col(FIELDS) < len(columns))).to_series().any():
        # a short record's marker landed in a data column: it is no value
        frame = frame.with_columns(
            pl.when(pl.col(c) == SENTINEL).then(None).otherwise(pl.col(c)).alias(c) for c in columns
        )
    if frame.height and frame.get_column(FIELDS).tail(1).item() < len(columns) and embedded:
        last = frame.tail(1)
        if last.select(
            pl.sum_horizontal(pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in columns)
        ).item():
            raise FileRejected(
                f"line {last.get_column(LINE).item()}: a quote opened in this record is never closed and swallows "
                "the rest of the file; fix the quoting of the export"
            )
    frame = frame.rename({old: old.strip() for old in columns})
    return Table(frame=frame, header=header, delimiter=delimiter, encoding=encoding, compressed=compressed)
