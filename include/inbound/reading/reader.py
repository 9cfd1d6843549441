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

A header cell is a value when the export has no header line, so a message quotes a header
cell only when it is the name of a column the config reads (`is_configured`: the same name
but for case, spaces, `-`, `_` and `.`); any other cell it names by its position, "column 3"
(`shown_cell`). A near miss one letter off is never quoted: `Jane` is one letter from `Name`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

import polars as pl

from inbound.config.sections import Format
from inbound.errors import BadFile, Problem
from inbound.reading.compression import GZIP_MAGIC, inflate
from inbound.reading.quoting import for_polars

DELIMITERS = (",", ";", "\t", "|")
SENTINEL = "\x01"  # a file holding it is refused: so no header name holds it, and no attribute name can
SOURCE_LINE_COLUMN = f"{SENTINEL}line"  # the physical line (1 = the first line of the file) a record starts on
FIELD_COUNT_COLUMN = f"{SENTINEL}fields"  # how many fields the record had; -1: more than the header
SENTINEL_COLUMN = f"{SENTINEL}end"
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
DEFAULT_BATCH_BYTES = 32 * 1024 * 1024  # `INBOUND_BATCH_MB`: text parsed (and mapped) at a time
MIN_RECORD_BYTES = 16 * 1024 * 1024  # one record may always grow this long before it is refused
_TERMINATOR = f"{SENTINEL}batch-end"  # a record after a batch's last line: swallowed if a quote is open
_HEAD = 64 * 1024  # bytes looked at to tell what a file is
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


def _nul(data: bytes, first_line: int = 1) -> None:
    """Refuse text with a NUL byte anywhere: no store keeps it, and no clean text export writes it."""
    at = data.find(b"\x00")
    if at != -1:
        line = data.count(b"\n", 0, at) + first_line
        raise BadFile(
            f"line {line}: the file contains a NUL byte (0x00), which text never holds: a corrupted file "
            "(a block of zeros), binary data in a value, or a wrong `format.encoding`; fix the export",
            Problem.NOT_CSV,
            line=line,
        )


def _bad_byte(data: bytes, start: int, encoding: str, first_line: int = 1) -> BadFile:
    line = data[:start].count(b"\n") + first_line
    hint = "set `format.encoding` to the file's encoding"
    if encoding.replace("-", "").lower() in ("utf8", "utf8sig"):
        try:
            data.decode("cp1252")
            hint = "the file looks like Windows-1252 (Excel on Windows): set `format.encoding: cp1252`"
        except UnicodeDecodeError:
            pass
    what = f"byte 0x{data[start]:02x}" if start < len(data) else "the file's last bytes"
    return BadFile(f"line {line}: {what} is not valid {encoding}; {hint}", Problem.ENCODING, line=line)


def utf8_problem(data: bytes, otherwise: str, first_line: int = 1) -> BadFile:
    """Where text that claims to be UTF-8 is not (with the line), else `otherwise` as the message."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _bad_byte(data, exc.start, "utf-8", first_line)
    return BadFile(otherwise, Problem.ENCODING)


def detect_delimiter(header: str) -> str:
    """The most frequent of `, ; tab |` in the header line (outside quotes)."""
    bare = re.sub(_QUOTED, "", header)
    counts = {d: bare.count(d) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d])
    return delimiter if counts[delimiter] else ","


@dataclass
class _Text:
    """A file as UTF-8 text in pieces, and what it was (its encoding, whether it was gzip)."""

    pieces: Iterator[bytes]
    encoding: str
    compressed: bool


def _head(pieces: Iterator[bytes], size: int) -> tuple[bytes, Iterator[bytes]]:
    """The first `size` bytes (or all there are), and the stream again from its start."""
    seen: list[bytes] = []
    held = 0
    for piece in pieces:
        seen.append(piece)
        held += len(piece)
        if held >= size:
            break
    head = b"".join(seen)
    return head, chain([head], pieces) if head else pieces


def _capped(pieces: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > max_bytes:
            raise BadFile(
                f"the file is over the limit of {max_bytes / 1024 / 1024:.0f} MB (max_file_mb); "
                "split the export or raise the limit",
                Problem.TOO_LARGE,
            )
        yield piece


def _decoded(pieces: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """Text in any encoding as UTF-8, piece by piece; a byte that is not `encoding` fails with its line."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
    except LookupError:
        decoder = None
    lines, first, piece = 1, True, b""
    for piece in pieces:
        try:
            if decoder is None:
                raise LookupError(encoding)
            text = decoder.decode(piece)
        except UnicodeDecodeError as exc:
            raise _bad_byte(piece, exc.start, encoding, lines) from None
        except (UnicodeError, LookupError, ValueError, TypeError):  # e.g. `rot13`, `hex`: no text encodings
            raise BadFile(
                f"the file cannot be decoded as {encoding!r}; set `format.encoding` to a text encoding "
                "such as utf-8 or cp1252",
                Problem.ENCODING,
            ) from None
        if first:
            text, first = text.lstrip("\ufeff"), False
        out = text.encode("utf-8")
        lines += out.count(b"\n")
        if out:
            yield out
    try:
        if decoder is not None:
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _bad_byte(piece, len(piece), encoding, lines - piece.count(b"\n")) from None


def _text(pieces: Iterable[bytes], fmt: Format, max_bytes: int) -> _Text:
    """The file as UTF-8 text in pieces; refuses at once what is no CSV text.

    Gzip is inflated as it is read; a BOM wins over the declared encoding; UTF-8 passes
    through as it is (polars checks it while parsing, `utf8_problem` finds the line).
    """
    head, raw = _head(iter(pieces), _HEAD)
    compressed = head.startswith(GZIP_MAGIC)
    plain = inflate(raw, max_bytes) if compressed else _capped(raw, max_bytes)
    head, plain = _head(plain, _HEAD)
    if not head:
        raise BadFile(_EMPTY, Problem.EMPTY)
    if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        _not_csv(head)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8"
        plain = chain([next(plain)[len(codecs.BOM_UTF8) :]], plain)
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = fmt.encoding
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        utf8 = False
    text = plain if utf8 else _decoded(plain, encoding)
    head, text = _head(text, _HEAD)
    _not_csv(head)
    return _Text(text, "utf-8" if utf8 else encoding, compressed)


@dataclass(frozen=True)
class _Header:
    """The header line as found: its names, the delimiter, its raw bytes and its line."""

    names: list[str]
    delimiter: str
    raw: bytes  # the line as in the file, ending in a line break
    line: int


def _header_start(data: bytes | bytearray) -> int:
    """Where the header line starts: after blank lines."""
    start = 0
    while start < len(data) and data[start : start + 1] in (b"\n", b"\r"):
        start += 1
    return start


def _plain_name(name: str) -> str:
    """A column name as `is_configured` compares it: no case, spaces, `-`, `_` or `.`."""
    return re.sub(r"[\s._-]+", "", name).casefold()


def is_configured(cell: str, columns: Collection[str]) -> bool:
    """Whether a header cell is one of `columns` (the config's), written the same but for case, spaces,
    `-`, `_` and `.`: such a cell says nothing the config does not, so a message may quote it."""
    plain = _plain_name(cell)
    return bool(plain) and any(plain == _plain_name(column) for column in columns)


def shown_cell(cell: str, position: int, columns: Collection[str]) -> str:
    """A header cell (`position` from 1) as a message names it: quoted only if `is_configured`, else
    by its position, as it may be a value (a file without a header line has a row of values there)."""
    return f"{cell!r} (column {position})" if is_configured(cell, columns) else f"column {position}"


def positions(found: Sequence[int]) -> str:
    """Column positions in words, runs of three or more shortened: `1 and 3`, `1, 4-9 and 12`."""
    runs: list[list[int]] = []
    for position in sorted(found):
        if runs and position == runs[-1][-1] + 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    words: list[str] = []
    for run in runs:
        words += [f"{run[0]}-{run[-1]}"] if len(run) > 2 else [str(p) for p in run]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


NO_HEADER_LINE = "the first line looks like data, not a header: does the export have a header line?"


def _repeated(names: list[str], columns: Collection[str], line: int) -> BadFile | None:
    """The refusal of a header that names a column twice, each repeat by its positions; the name
    only if the config reads it (`shown_cell`). None if every name is unique."""
    at: dict[str, list[int]] = {}
    for position, name in enumerate(names, 1):
        if name:
            at.setdefault(name, []).append(position)
    repeats = [(name, found) for name, found in at.items() if len(found) > 1]
    if not repeats:
        return None
    said = [
        f"{name!r} is in columns {positions(found)}"
        if is_configured(name, columns)
        else f"columns {positions(found)} hold the same name (not quoted, as it may be a value)"
        for name, found in repeats
    ]
    header = any(is_configured(name, columns) for name in names) or not columns  # no config: no telling
    return BadFile(
        f"line {line}: the header repeats a name: {'; '.join(said)}; column names must be unique: "
        + ("rename the columns in the export" if header else f"{NO_HEADER_LINE} Else rename the columns in the export"),
        Problem.HEADER,
        line=line,
        column=repeats[0][0] if len(repeats) == 1 and is_configured(repeats[0][0], columns) else None,
    )


def _header(data: bytes, delimiter: str | None, columns: Collection[str] = ()) -> tuple[list[str], str, int]:
    """Header names, delimiter, and the index of the header's first byte (after blank lines).

    `columns`: the names of the columns the config reads, the only header cells a message quotes.
    """
    start = _header_start(data)
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
    repeated = _repeated(names, columns, header_line)
    if repeated is not None:
        raise repeated
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


def _parse(data: bytes, body: bytes, delimiter: str, first_line: int) -> pl.DataFrame:
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


def _swallowing(frame: pl.DataFrame, columns: list[str]) -> int | None:
    """The line of the table's last record if it looks like a quote that swallowed the rest of the file.

    Short (or long), and holding line breaks: a stray quote that closed only at the end, or never.
    """
    if not frame.height or frame.get_column(FIELD_COUNT_COLUMN).tail(1).item() >= len(columns):
        return None
    last = frame.tail(1)
    return int(last.get_column(SOURCE_LINE_COLUMN).item()) if last.select(_line_breaks(columns)).item() else None


def _unclosed_quote(line: int) -> BadFile:
    return BadFile(
        f"line {line}: a quote opened in this record is never closed and swallows "
        "the rest of the file; fix the quoting of the export",
        Problem.MALFORMED,
        line=line,
    )


@dataclass(frozen=True)
class _Batch:
    """A parsed batch, or where it must be cut instead (`open_line`)."""

    table: Table | None
    open_line: int | None = None  # a quoted value opened on this line goes on past the batch
    swallowing: int | None = None  # see `_swallowing`: refused if it is the file's last record


def _parse_batch(header: _Header, body: bytes, first_line: int, last: bool) -> _Batch:
    """One batch of whole lines (`first_line` the first's number) as a `Table`.

    Unless the batch is the `last`, a terminator record after its last line tells whether a
    quote is still open there (it swallows the terminator): a quoted value going on in the
    next batch. Then no table, and the line on which that record starts (where the batch must
    be cut instead). In the last batch an open quote is the file's last record (`_swallowing`).
    Polars gets the header and the batch with every literal quote (`O"Brien`) in a quoted value
    (`for_polars`), as it would take any quote for an opening one.
    """
    _plain_text(body, first_line)
    delimiter = header.delimiter
    text = for_polars(header.raw, delimiter, header.line, last=False) + for_polars(body, delimiter, first_line, last)
    marked, lines = _mark(text + (b"" if last else _TERMINATOR.encode() + b"\n"), delimiter)
    try:
        frame = _parse(body, marked, delimiter, first_line)
    except BadFile as exc:
        if last or exc.problem is not Problem.MALFORMED:
            raise
        return _Batch(None)  # polars refuses some quotes left open at the end: read on, then say
    columns = frame.columns[:-1]
    if len(columns) != len(header.names):  # the body's parser read the header otherwise: say so, never guess
        raise BadFile(
            f"line {header.line}: the header does not parse as CSV (a stray quote in a column name?); "
            "fix the export's header line",
            Problem.HEADER,
            line=header.line,
        )
    embedded = lines - 1 - frame.height  # line breaks inside quoted values
    frame = _locate(frame, columns, delimiter, first_line, embedded)
    if not last:
        if frame.get_column(columns[0]).tail(1).item() != _TERMINATOR:  # swallowed: a quote is open at the end
            return _Batch(None, open_line=int(frame.get_column(SOURCE_LINE_COLUMN).tail(1).item()))
        frame = frame.head(frame.height - 1)
    frame = _tidy(frame, columns)
    swallowing = _swallowing(frame, columns) if embedded else None
    # The header's names as Python's csv module reads them (polars keeps a name's `""` doubled);
    # an empty name keeps the one polars gave it (`_duplicated_0`), as names must be unique.
    frame = frame.rename({old: name or old.strip() for old, name in zip(columns, header.names)})
    return _Batch(Table(frame, header.names, delimiter, encoding="", compressed=False), swallowing=swallowing)


def _plain_text(data: bytes, first_line: int) -> None:
    """Refuse NUL bytes and SENTINEL, which no text export holds (and SENTINEL marks our own columns)."""
    _nul(data, first_line)
    if SENTINEL.encode() in data:
        raise BadFile("the file contains control characters (byte 0x01); it is not a CSV text export", Problem.NOT_CSV)


def _last_record_line(body: bytes, delimiter: str, first_line: int) -> int:
    """The line the batch's last record starts on, by Python's csv (which reads an open quote to the end).

    Only for a batch polars refused to parse, which has a quote open at its end: the slow path.
    """
    reader = csv.reader(io.StringIO(body.decode("utf-8", "replace"), newline=""), delimiter=delimiter)
    before = 0  # lines before the record being read
    previous = 0
    for _ in reader:
        before, previous = previous, reader.line_num
    return first_line + before


def _line_start(body: bytes, lines: int) -> int:
    """Where line `lines` (0: the first) of `body` starts."""
    at = 0
    for _ in range(lines):
        at = body.index(b"\n", at) + 1
    return at


class _Batches:
    """Whole lines of text, a batch at a time, each cut where no quoted value goes on."""

    def __init__(self, pieces: Iterator[bytes], batch_bytes: int) -> None:
        self.pieces, self.batch_bytes = pieces, batch_bytes
        self.pending = bytearray()
        self.max_record = max(2 * batch_bytes, MIN_RECORD_BYTES)
        self.ahead = next(self.pieces, None)  # one piece read ahead: the last batch knows it is the last
        self.ended = self.ahead is None

    def more(self) -> None:
        if self.ahead is not None:
            self.pending += self.ahead
            self.ahead = next(self.pieces, None)
        self.ended = self.ahead is None

    def fill(self) -> None:
        while not self.ended and len(self.pending) < self.batch_bytes:
            self.more()

    def header(self, delimiter: str | None, columns: Collection[str]) -> _Header:
        """Read and take the header line (`columns`: the config's, see `_header`)."""
        while not self.ended and self.pending.find(b"\n", _header_start(self.pending)) == -1:
            if len(self.pending) > self.max_record:
                break  # no line break in sight: `_header` says the line is no header
            self.more()
        data = bytes(self.pending[: self.max_record])
        names, delimiter, start = _header(data, delimiter, columns)
        end = data.find(b"\n", start)
        end = len(data) if end == -1 else end + 1
        _plain_text(data[:end], 1)
        raw = data[start:end] if data[start:end].endswith(b"\n") else data[start:end] + b"\n"
        del self.pending[:end]
        return _Header(names, delimiter, raw, data[:start].count(b"\n") + 1)

    def too_long(self, line: int) -> BadFile:
        return BadFile(
            f"line {line}: a record longer than {self.max_record:,} bytes: a quote opened here is "
            "never closed, or a line without line breaks; fix the quoting of the export (or raise INBOUND_BATCH_MB)",
            Problem.MALFORMED,
            line=line,
        )

    def tables(self, header: _Header) -> Iterator[Table]:
        first_line, swallowing = header.line + 1, None
        while True:
            self.fill()
            cut = len(self.pending) if self.ended else self.pending.rfind(b"\n") + 1
            if cut == 0 and not self.ended:  # one line longer than a batch
                if len(self.pending) > self.max_record:
                    raise self.too_long(first_line)
                self.more()
                continue
            body = bytes(self.pending[:cut])
            batch = _parse_batch(header, body, first_line, last=self.ended)
            if batch.table is None:  # a quoted value goes on past the cut: cut before its record
                open_line = batch.open_line or _last_record_line(body, header.delimiter, first_line)
                cut = _line_start(body, open_line - first_line)
                if cut:
                    body = body[:cut]
                    batch = _parse_batch(header, body, first_line, last=False)
            if batch.table is None:  # that record is all there is (or polars still refuses): read on
                if len(self.pending) > self.max_record:
                    raise self.too_long(open_line)
                self.more()
                continue
            if batch.table.rows:
                swallowing = batch.swallowing
            yield batch.table
            first_line += body.count(b"\n")
            del self.pending[:cut]
            if self.ended and not self.pending:
                break
        if swallowing is not None:  # the file's last record
            raise _unclosed_quote(swallowing)


def read_batches(
    pieces: Iterable[bytes],
    fmt: Format,
    max_bytes: int = DEFAULT_MAX_BYTES,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    columns: Collection[str] = (),
) -> Iterator[Table]:
    """Parse an export as it streams in, about `batch_bytes` of text per `Table`, never the whole file.

    Batches are cut between records, so a quoted value with line breaks is never split and
    every line number is the file's. At least one table comes (empty for a header only).
    A file that is not an export raises `BadFile`, possibly after some batches came: the
    caller must not treat those as a file until the last one came. `columns`: the names of
    the columns the config reads, the only header cells a message may quote (`shown_cell`).
    """
    text = _text(pieces, fmt, max_bytes)
    batches = _Batches(text.pieces, batch_bytes)
    header = batches.header(fmt.delimiter, columns)
    for table in batches.tables(header):
        yield Table(table.frame, table.header, table.delimiter, text.encoding, text.compressed)


def read_table(data: bytes, fmt: Format, max_bytes: int = DEFAULT_MAX_BYTES, columns: Collection[str] = ()) -> Table:
    """Parse an export held whole into one `Table`; raises `BadFile` for a file that is not one."""
    tables = list(read_batches([data], fmt, max_bytes, batch_bytes=max(len(data), 1) * 1024, columns=columns))
    if len(tables) == 1:
        return tables[0]
    first = tables[0]
    return Table(pl.concat([t.frame for t in tables]), first.header, first.delimiter, first.encoding, first.compressed)
