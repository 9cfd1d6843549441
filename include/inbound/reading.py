"""Bytes to a polars frame of strings: compression, encoding, delimiter, header, raggedness.

What a file is, is decided by its content, not its key: gzip by its magic bytes, UTF-16
and UTF-8 by their byte-order marks, the delimiter by the header line. Every column is
read as text; types are the mapping's job, so that a value that does not fit its declared
type becomes a rejected row with its reason instead of a silent null from inference.

Two facts polars does not keep are recovered here with vectorized passes over the raw
lines: the physical line on which each record starts (quoted fields may hold newlines),
and how many fields each record really had (polars pads a short row with empty values).
They travel as two extra columns of the frame, `SOURCE_LINE_COLUMN` and
`FIELD_COUNT_COLUMN`.

A file that cannot be read raises `BadFile` with the kind of problem (`Problem`) and,
where it sits at one spot, its line. Messages never quote the file's values (they end up
in task logs); they give line numbers, column names and what to do.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

import polars as pl

from inbound.compression import decompress
from inbound.config import Format
from inbound.errors import BadFile, Problem

DELIMITERS = (",", ";", "\t", "|")
SENTINEL = "\x01"  # a file holding it is refused: so no header name holds it, and no attribute name can
SOURCE_LINE_COLUMN = f"{SENTINEL}line"  # the physical line (1 = the first line of the file) a record starts on
FIELD_COUNT_COLUMN = f"{SENTINEL}fields"  # how many fields the record had; -1: more than the header
SENTINEL_COLUMN = f"{SENTINEL}end"
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
MAX_NAME_BYTES = 1024  # a longer header field is no column name
_NOT_CSV = {
    b"PK\x03\x04": (Problem.NOT_CSV, "a ZIP archive (an Excel .xlsx workbook?); export the sheet as CSV"),
    b"\xd0\xcf\x11\xe0": (Problem.NOT_CSV, "an old Excel .xls workbook; export the sheet as CSV"),
    b"%PDF": (Problem.NOT_CSV, "a PDF document, not CSV"),
    b"PAR1": (Problem.NOT_CSV, "a Parquet file, not CSV"),
    b"BZh": (Problem.COMPRESSION, "bzip2-compressed; only gzip compression is read"),
    b"\xfd7zXZ": (Problem.COMPRESSION, "xz-compressed; only gzip compression is read"),
}
_NO_DELIMITERS = ('"', "\n", "\r", SENTINEL, "\x00")
_QUOTED = r'"(?:[^"]|"")*"'
_EMPTY = "the file is empty; expected a header line and data rows"


@dataclass(frozen=True)
class Table:
    """A parsed export: strings only, with each record's line and field count."""

    frame: pl.DataFrame  # header columns (stripped names) + SOURCE_LINE_COLUMN + FIELD_COUNT_COLUMN
    header: list[str]
    delimiter: str
    encoding: str
    compressed: bool

    @property
    def rows(self) -> int:
        return self.frame.height


def _not_csv(data: bytes) -> None:
    for magic, (problem, what) in _NOT_CSV.items():
        if data.startswith(magic):
            raise BadFile(f"the file is {what}", problem)
    if b"\x00" in data[:65536]:
        raise BadFile("the file is binary (it contains NUL bytes), not CSV text", Problem.NOT_CSV)


def _nul(data: bytes) -> None:
    """Refuse text with a NUL byte anywhere: no store keeps it, and no clean text export writes it."""
    at = data.find(b"\x00")
    if at != -1:
        line = data.count(b"\n", 0, at) + 1
        raise BadFile(
            f"line {line}: the file contains a NUL byte (0x00), which text never holds: a corrupted file "
            "(a block of zeros), binary data in a value, or a wrong `format.encoding`; fix the export",
            Problem.NOT_CSV,
            line=line,
        )


def _bad_byte(data: bytes, start: int, encoding: str) -> BadFile:
    line = data[:start].count(b"\n") + 1
    hint = "set `format.encoding` to the file's encoding"
    if encoding.replace("-", "").lower() in ("utf8", "utf8sig"):
        try:
            data.decode("cp1252")
            hint = "the file looks like Windows-1252 (Excel on Windows): set `format.encoding: cp1252`"
        except UnicodeDecodeError:
            pass
    return BadFile(
        f"line {line}: byte 0x{data[start]:02x} is not valid {encoding}; {hint}", Problem.ENCODING, line=line
    )


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
    except (UnicodeError, LookupError, ValueError, TypeError):  # e.g. `rot13`, `hex`: no text encodings
        raise BadFile(
            f"the file cannot be decoded as {encoding!r}; set `format.encoding` to a text encoding "
            "such as utf-8 or cp1252",
            Problem.ENCODING,
        ) from None
    return text.lstrip("\ufeff").encode("utf-8"), encoding


def utf8_problem(data: bytes, otherwise: str) -> BadFile:
    """Where a file that claims to be UTF-8 is not (with the line), else `otherwise` as the message."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _bad_byte(data, exc.start, "utf-8")
    return BadFile(otherwise, Problem.ENCODING)


def detect_delimiter(header: str) -> str:
    """The most frequent of `, ; tab |` in the header line (outside quotes)."""
    bare = re.sub(_QUOTED, "", header)
    counts = {d: bare.count(d) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d])
    return delimiter if counts[delimiter] else ","


def _text(data: bytes, fmt: Format, max_bytes: int) -> tuple[bytes, str, bool]:
    """The file as UTF-8 text bytes: (bytes, the encoding it had, was gzip); refuses what is no CSV text."""
    data, compressed = decompress(data, max_bytes)
    if not data or data.isspace():  # (strip() would copy the whole file)
        raise BadFile(_EMPTY, Problem.EMPTY)
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        _not_csv(data)
    data, encoding = to_utf8(data, fmt.encoding)
    _not_csv(data)
    _nul(data)
    if SENTINEL.encode() in data:
        raise BadFile("the file contains control characters (byte 0x01); it is not a CSV text export", Problem.NOT_CSV)
    return data, encoding, compressed


def _header(data: bytes, delimiter: str | None) -> tuple[list[str], str, int]:
    """Header names, delimiter, and the index of the header's first byte (after blank lines)."""
    start = 0
    while start < len(data) and data[start : start + 1] in (b"\n", b"\r"):
        start += 1
    end = data.find(b"\n", start)
    try:
        line = data[start : end if end != -1 else len(data)].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise utf8_problem(data, "the header is not valid UTF-8") from None
    if not line.strip():
        raise BadFile(_EMPTY, Problem.EMPTY)
    header_line = data[:start].count(b"\n") + 1
    if delimiter in _NO_DELIMITERS:
        raise BadFile(
            f"`format.delimiter` {delimiter!r} cannot separate fields (a quote, a line break or a control "
            "character); set the export's delimiter, or leave it out to detect it",
            Problem.MALFORMED,
        )
    delimiter = delimiter or detect_delimiter(line)
    try:
        names = [name.strip() for name in next(csv.reader([line], delimiter=delimiter, strict=True))]
    except csv.Error:
        names = []
    longest = max((len(name.encode()) for name in names), default=MAX_NAME_BYTES + 1)
    if longest > MAX_NAME_BYTES:
        raise BadFile(
            f"line {header_line}: the header has a field longer than {MAX_NAME_BYTES} bytes, or it does not "
            "parse as CSV: the first line is no header of column names; fix the export",
            Problem.HEADER,
            line=header_line,
        )
    duplicated = sorted({n for n in names if names.count(n) > 1 and n})
    if duplicated:
        raise BadFile(
            f"the header names {', '.join(map(repr, duplicated))} more than once; column names must be unique",
            Problem.HEADER,
            line=header_line,
            column=duplicated[0] if len(duplicated) == 1 else None,
        )
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


def _has_match(data: bytes, start: int, pattern: str, step: int = 16 << 20) -> bool:
    """Whether a line of `data` matches `pattern` (which spans no line break), by Rust's regex.

    In slices cut at line ends: never a second copy of a large file, never a cut character.
    Python's `re` takes 3 s on 110 MB for such a class pattern, this about 0.15 s.
    """
    at = start
    while at < len(data):
        end = data.find(b"\n", at + step)
        end = len(data) if end == -1 else end + 1
        try:
            if pl.Series([data[at:end]], dtype=pl.Binary).cast(pl.String).str.contains(pattern).item():
                return True
        except pl.exceptions.PolarsError:
            return False  # not UTF-8: the parse says so, with the line
        at = end
    return False


def _text_after_a_closing_quote(data: bytes, start: int, delimiter: str) -> None:
    """Refuse text after a quoted value's closing quote (`"ab"x`): the README leaves it no meaning.

    Python's csv module would append it (`abx`), polars goes back into quotes at the next
    quote (`"ab"x"y,z"` reads `abxy,z`): never guess. A quote with other text on both sides
    (no delimiter, line end or quote) is the only place it can be, so only a file holding one
    (rare: else a literal quote inside an unquoted value, `5'11"`) is checked record by record.
    """
    boundary = f'[^\\x{{{ord(delimiter):X}}}\\r\\n"]'
    if not _has_match(data, start, f'{boundary}"{boundary}'):
        return
    reader = csv.reader(
        io.StringIO(data[start:].decode("utf-8", "replace"), newline=""), delimiter=delimiter, strict=True
    )
    try:
        for _ in reader:
            pass
    except csv.Error as exc:
        if "expected after" in str(exc):
            line = data[:start].count(b"\n") + reader.line_num
            raise BadFile(
                f"line {line}: text after the closing quote of a quoted value (a quote inside a value must be "
                'doubled, the whole value quoted: "say ""hi"" twice"); fix the quoting of the export',
                Problem.MALFORMED,
                line=line,
            ) from None


def _parse(data: bytes, body: bytes, delimiter: str) -> pl.DataFrame:
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
            raise utf8_problem(data, "the file is not valid UTF-8; set `format.encoding`") from None
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


def _locate(frame: pl.DataFrame, columns: list[str], delimiter: str, first_line: int, embedded: int) -> pl.DataFrame:
    """Add each record's source line and field count; take the markers out of quoted line breaks."""
    line = pl.lit(first_line, pl.Int64) + pl.int_range(pl.len(), dtype=pl.Int64)
    if embedded:
        marker = f"{delimiter}{SENTINEL}"
        frame = frame.with_columns(pl.col(c).str.replace_all(marker, "", literal=True) for c in columns)
        breaks = _line_breaks(columns)
        line = line + (breaks.cum_sum() - breaks)
    return frame.with_columns(line.alias(SOURCE_LINE_COLUMN), _field_count(columns).alias(FIELD_COUNT_COLUMN))


def _tidy(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Drop blank lines and the marker column; a short record's marker is no value."""
    blank = (pl.col(FIELD_COUNT_COLUMN) == 1) & pl.col(columns[0]).is_null()
    if frame.select(blank.any()).item():
        frame = frame.filter(~blank)
    frame = frame.drop(SENTINEL_COLUMN)
    short = (pl.col(FIELD_COUNT_COLUMN) >= 0) & (pl.col(FIELD_COUNT_COLUMN) < len(columns))
    if frame.select(short).to_series().any():
        # a short record's marker landed in a data column: it is no value
        frame = frame.with_columns(
            pl.when(pl.col(c) == SENTINEL).then(None).otherwise(pl.col(c)).alias(c) for c in columns
        )
    return frame


def _unclosed_quote(frame: pl.DataFrame, columns: list[str]) -> None:
    """Refuse a file whose last record is short and holds line breaks: a quote that never closed."""
    if not frame.height or frame.get_column(FIELD_COUNT_COLUMN).tail(1).item() >= len(columns):
        return
    last = frame.tail(1)
    if last.select(_line_breaks(columns)).item():
        line = last.get_column(SOURCE_LINE_COLUMN).item()
        raise BadFile(
            f"line {line}: a quote opened in this record is never closed and swallows "
            "the rest of the file; fix the quoting of the export",
            Problem.MALFORMED,
            line=line,
        )


def read_table(data: bytes, fmt: Format, max_bytes: int = DEFAULT_MAX_BYTES) -> Table:
    """Parse an export into a `Table`; raises `BadFile` for a file that is not one."""
    data, encoding, compressed = _text(data, fmt, max_bytes)
    header, delimiter, start = _header(data, fmt.delimiter)
    _text_after_a_closing_quote(data, start, delimiter)
    body, lines = _mark(data[start:], delimiter)
    frame = _parse(data, body, delimiter)
    columns = frame.columns[:-1]
    if len(columns) != len(header):  # the body's parser read the header otherwise: say so, never guess
        line = data[:start].count(b"\n") + 1
        raise BadFile(
            f"line {line}: the header does not parse as CSV (a stray quote in a column name?); "
            "fix the export's header line",
            Problem.HEADER,
            line=line,
        )
    embedded = lines - 1 - frame.height  # line breaks inside quoted values
    first_line = data[:start].count(b"\n") + 2  # the line after the header
    frame = _tidy(_locate(frame, columns, delimiter, first_line, embedded), columns)
    if embedded:
        _unclosed_quote(frame, columns)
    # The header's names as Python's csv module reads them (polars keeps a name's `""` doubled);
    # an empty name keeps the one polars gave it (`_duplicated_0`), as names must be unique.
    frame = frame.rename({old: name or old.strip() for old, name in zip(columns, header)})
    return Table(frame=frame, header=header, delimiter=delimiter, encoding=encoding, compressed=compressed)
