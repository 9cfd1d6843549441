"""Bytes to a polars frame of strings, batch by batch: the reading package's entry points.

`read_batches` and `read_table` give `Table`s; `decoding` makes the bytes UTF-8 text, `header`
reads the header line, `records` parses a batch's records; here the text is cut into batches
between records, never inside a quoted value.

What a file is, is decided by its content, not its key: gzip by its magic bytes, UTF-16
and UTF-8 by their byte-order marks, the delimiter by the header line. Every column is
read as text; types are the mapping's job, so that a value that does not fit its declared
type becomes a rejected row with its reason instead of a silent null from inference.

A file that cannot be read raises `BadFile` with the kind of problem (`Problem`) and,
where it sits at one spot, its line. Messages never quote the file's values (they end up
in task logs); they give line numbers, column names and what to do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

import polars as pl

from inbound.config.sections import Format
from inbound.errors import BadFile, Problem
from inbound.reading import records
from inbound.reading.decoding import SENTINEL, refuse_control_bytes, utf8_text
from inbound.reading.header import Header, header_start, parse_header
from inbound.reading.quoting import for_polars, rewrite

DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
DEFAULT_BATCH_BYTES = 8 * 1024 * 1024  # `INBOUND_BATCH_MB`: text parsed (and mapped) at a time
MIN_RECORD_BYTES = 16 * 1024 * 1024  # one record may always grow this long before it is refused
_TERMINATOR = f"{SENTINEL}batch-end"  # a record after a batch's last line: swallowed if a quote is open
# What polars' `strip_chars` takes off besides spaces and line breaks: tab, VT, FF, CR, and the first byte
# of every non-ASCII Unicode space in UTF-8 (U+0085 and U+00A0: C2; U+1680: E1; U+2000-U+205F: E2; U+3000: E3).
_OTHER_SPACES = (b"\t", b"\x0b", b"\x0c", b"\r", b"\xc2", b"\xe1", b"\xe2", b"\xe3")


@dataclass(frozen=True)
class Table:
    """A parsed export: strings only, with each record's line and field count."""

    frame: pl.DataFrame  # header columns (stripped names) + records.SOURCE_LINE_COLUMN + records.FIELD_COUNT_COLUMN
    header: list[str]
    delimiter: str
    encoding: str
    compressed: bool
    # Whether the text may hold whitespace other than spaces at a value's ends (a tab, a carriage return,
    # a non-ASCII space, a line break in a quoted value); False: only a value that starts or ends with
    # a space differs when stripped (the mapping strips only the columns that hold such a value).
    other_spaces: bool = True

    @property
    def rows(self) -> int:
        return self.frame.height


@dataclass(frozen=True)
class _Batch:
    """A parsed batch, or where it must be cut instead (`open_line`)."""

    table: Table | None
    open_line: int | None = None  # a quoted value opened on this line goes on past the batch
    swallowing: int | None = None  # see `records.swallowing`: refused if it is the file's last record
    line_breaks: int = 0  # the batch's line breaks (its lines, but a last one without a line break)


def _parse_batch(header: Header, body: bytes | bytearray, first_line: int, last: bool) -> _Batch:
    """One batch of whole lines (`first_line` the first's number) as a `Table`.

    Polars gets the header and the batch with every literal quote (`O"Brien`) in a quoted value
    (`quoting.rewrite`), as it would take any quote for an opening one; that scan also tells
    whether a quote is still open at the batch's end. Only then (unless the batch is the `last`)
    a terminator record after its last line shows where the record that goes on in the next
    batch starts (it swallows the terminator): no table, and the line on which that record
    starts (where the batch must be cut instead). In the last batch an open quote is the file's
    last record (`records.swallowing`). Text, marker and frame are each held once at a time.
    """
    refuse_control_bytes(body, first_line)
    delimiter = header.delimiter
    text, open_at_end = rewrite(body, delimiter, first_line, last)
    terminated = not last and open_at_end is not False  # a quote open at the end, or not known
    parts = [for_polars(header.raw, delimiter, header.line, last=False), text]
    if terminated:
        parts.append(_TERMINATOR.encode() + b"\n")
    del text
    marked, lines = records.mark(b"".join(parts), delimiter)
    del parts
    other_spaces = any(byte in marked for byte in _OTHER_SPACES)
    ends_open = bool(body) and not body.endswith(b"\n")  # a last line without a line break is marked too
    line_breaks = lines - 1 - int(terminated) - int(ends_open)  # the header's, the terminator's: not the batch's
    try:
        frame = records.parse(body, marked, delimiter, first_line)
    except BadFile as exc:
        if last or exc.problem is not Problem.MALFORMED:
            raise
        return _Batch(None)  # polars refuses some quotes left open at the end: read on, then say
    del marked
    columns = frame.columns[:-1]
    if len(columns) != len(header.names):  # the body's parser read the header otherwise: say so, never guess
        raise BadFile(
            f"line {header.line}: the header does not parse as CSV (a stray quote in a column name?); "
            "fix the export's header line",
            Problem.HEADER,
            line=header.line,
        )
    embedded = lines - 1 - frame.height  # line breaks inside quoted values (the terminator: a line and a row)
    frame = records.locate(frame, columns, delimiter, first_line, embedded)
    if terminated:
        if frame.get_column(columns[0]).tail(1).item() != _TERMINATOR:  # swallowed: a quote is open at the end
            return _Batch(None, open_line=int(frame.get_column(records.SOURCE_LINE_COLUMN).tail(1).item()))
        frame = frame.head(frame.height - 1)
    frame = records.tidy(frame, columns)
    swallowing = records.swallowing(frame, columns) if embedded else None
    other_spaces = other_spaces or bool(embedded)
    # The header's names as Python's csv module reads them (polars keeps a name's `""` doubled);
    # an empty name keeps the one polars gave it (`_duplicated_0`), as names must be unique.
    frame = frame.rename({old: name or old.strip() for old, name in zip(columns, header.names)})
    table = Table(frame, header.names, delimiter, encoding="", compressed=False, other_spaces=other_spaces)
    return _Batch(table, swallowing=swallowing, line_breaks=line_breaks)


def _last_record_line(body: bytes | bytearray, delimiter: str, first_line: int) -> int:
    """The line the batch's last record starts on, by Python's csv (which reads an open quote to the end).

    Only for a batch polars refused to parse, which has a quote open at its end: the slow path.
    """
    reader = csv.reader(io.StringIO(body.decode("utf-8", "replace"), newline=""), delimiter=delimiter)
    before = 0  # lines before the record being read
    previous = 0
    for _ in reader:
        before, previous = previous, reader.line_num
    return first_line + before


def _line_start(body: bytes | bytearray, lines: int) -> int:
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

    def fill(self, size: int) -> None:
        while not self.ended and len(self.pending) < size:
            self.more()

    def take(self, cut: int) -> bytearray:
        """The first `cut` bytes of the text, in their own buffer (the one they are in: no copy)."""
        body, self.pending = self.pending, self.pending[cut:]
        del body[cut:]
        return body

    def header(self, delimiter: str | None, columns: Collection[str]) -> Header:
        """Read and take the header line (`columns`: the config's, see `parse_header`)."""
        while not self.ended and self.pending.find(b"\n", header_start(self.pending)) == -1:
            if len(self.pending) > self.max_record:
                break  # no line break in sight: `parse_header` says the line is no header
            self.more()
        data = bytes(self.pending[: self.max_record])
        names, delimiter, start = parse_header(data, delimiter, columns)
        end = data.find(b"\n", start)
        end = len(data) if end == -1 else end + 1
        refuse_control_bytes(data[:end], 1)
        raw = data[start:end] if data[start:end].endswith(b"\n") else data[start:end] + b"\n"
        del self.pending[:end]
        return Header(names, delimiter, raw, data[:start].count(b"\n") + 1)

    def too_long(self, line: int) -> BadFile:
        return BadFile(
            f"line {line}: a record longer than {self.max_record:,} bytes: a quote opened here is "
            "never closed, or a line without line breaks; fix the quoting of the export (or raise INBOUND_BATCH_MB)",
            Problem.MALFORMED,
            line=line,
        )

    def tables(self, header: Header) -> Iterator[Table]:
        first_line, swallowing, size = header.line + 1, None, self.batch_bytes
        while True:
            self.fill(size)
            last = self.ended  # the rest of the file is one batch, whatever its size (at most a piece more)
            # Whole lines, at most `size` bytes of them: more only for a line longer than that.
            cut = len(self.pending) if last else self.pending.rfind(b"\n", 0, size) + 1 or self.pending.rfind(b"\n") + 1
            if cut == 0 and not last:  # one line longer than a batch
                if len(self.pending) > self.max_record:
                    raise self.too_long(first_line)
                self.more()
                continue
            body = self.take(cut)
            batch = _parse_batch(header, body, first_line, last=last)
            if batch.table is None:  # a quoted value goes on past the cut: cut before its record
                open_line = batch.open_line or _last_record_line(body, header.delimiter, first_line)
                cut = _line_start(body, open_line - first_line)
                if cut:
                    self.pending[:0] = body[cut:]
                    del body[cut:]
                    batch = _parse_batch(header, body, first_line, last=False)
            if batch.table is None:  # that record is all there is (or polars still refuses): read on
                self.pending[:0] = body
                if len(self.pending) > self.max_record:
                    raise self.too_long(open_line)
                size = len(self.pending) + len(self.ahead or b"")  # the next batch: all there is and a piece more
                self.more()
                continue
            if batch.table.rows:
                swallowing = batch.swallowing
            first_line += batch.line_breaks
            size = self.batch_bytes
            table = batch.table
            del batch, body  # the batch's text goes before it is mapped
            yield table
            del table  # and its table before the next batch is read
            if self.ended and not self.pending:
                break
        if swallowing is not None:  # the file's last record
            raise records.unclosed_quote(swallowing)


def read_batches(
    pieces: Iterable[bytes],
    fmt: Format,
    max_bytes: int = DEFAULT_MAX_BYTES,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    columns: Collection[str] = (),
) -> Iterator[Table]:
    """Parse an export as it streams in, at most `batch_bytes` of text per `Table` (more only for a
    record longer than that, and the file's last: at most a piece more), never the whole file.

    Batches are cut between records, so a quoted value with line breaks is never split and
    every line number is the file's. At least one table comes (empty for a header only).
    A file that is not an export raises `BadFile`, possibly after some batches came: the
    caller must not treat those as a file until the last one came. `columns`: the names of
    the columns the config reads, the only header cells a message may quote (`shown_cell`).
    """
    text = utf8_text(pieces, fmt, max_bytes)
    batches = _Batches(text.pieces, batch_bytes)
    header = batches.header(fmt.delimiter, columns)
    for table in batches.tables(header):
        yield Table(table.frame, table.header, table.delimiter, text.encoding, text.compressed, table.other_spaces)


def read_table(data: bytes, fmt: Format, max_bytes: int = DEFAULT_MAX_BYTES, columns: Collection[str] = ()) -> Table:
    """Parse an export held whole into one `Table`; raises `BadFile` for a file that is not one."""
    tables = list(read_batches([data], fmt, max_bytes, batch_bytes=max(len(data), 1) * 1024, columns=columns))
    if len(tables) == 1:
        return tables[0]
    first = tables[0]
    frame = pl.concat([t.frame for t in tables])
    other_spaces = any(t.other_spaces for t in tables)
    return Table(frame, first.header, first.delimiter, first.encoding, first.compressed, other_spaces)
