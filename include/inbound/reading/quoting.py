"""Quotes as the README reads them, rewritten so that polars reads them the same.

The README's rule (Python's csv, Excel and spreadsheets agree): only a quote at a value's start
opens a quoted value; a quote anywhere else in an unquoted value is a literal character
(`O"Brien`, `24"`, `27" 4K`, `5'11"`). Polars toggles its quote state at every quote, so a lone
literal quote would swallow the delimiters and line breaks after it. `for_polars` finds such
values and quotes them (`O"Brien` becomes `"O""Brien"`), which polars reads as written.

The rule is exact and vectorized: it looks at runs of consecutive quotes, never at bytes or rows
one by one. A run of `k` quotes does one of three things to the state (inside a quoted value or
not): at a value's start, or inside a quoted value, an odd run toggles it (opens or closes, the
rest are `""` pairs); outside, a run in the middle of a value is literal and leaves it outside, as
does an odd run inside (which closes the value); an even run changes nothing. So the state after
each run is the parity of the toggles since the last run that sets it outside: a cumulative sum
and a running maximum. The common cases cost less: a text without quotes one `memchr`; a slice
whose quotes all sit where polars' parity puts them (only quoted values) a few passes over every
other quote (`_fits_parity`), and polars gets it as it is.

Text after a quoted value's closing quote (`"ab"x`) has no meaning and refuses the file, as does
a quoted value still open at the end of the file, each at the line where that value opens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inbound.errors import BadFile, Problem

QUOTE = ord('"')
LF, CR = ord("\n"), ord("\r")
_STEP = 4 << 20  # bytes scanned at a time: the arrays of quote runs stay small whatever the batch

Ints = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


def _bytes_in(values: Iterable[int]) -> Flags:
    """A lookup table over byte values: True for `values`."""
    table = np.zeros(256, np.bool_)
    table[list(values)] = True
    return table


def _slices(data: npt.NDArray[np.uint8]) -> Iterator[tuple[int, int]]:
    """`data` in slices of about `_STEP` bytes, never cut inside a run of quotes."""
    start, step = 0, _STEP
    while start < len(data):
        end = min(start + step, len(data))
        while end < len(data) and data[end] == QUOTE and data[end - 1] == QUOTE:
            end += 1
        yield start, end
        start = end


@dataclass(frozen=True)
class _Runs:
    """The runs of consecutive quotes in a slice, and what each does by the README's rule."""

    start: Ints  # offset of each run's first quote
    length: Ints
    at_value_start: Flags  # after a delimiter, a line break or at the text's start
    inside_before: Flags  # the state before the run: inside a quoted value
    inside_after: Flags


def _fits_parity(data: npt.NDArray[np.uint8], quotes: Ints, inside: bool, delimiter: int) -> bool:
    """Whether polars' quote parity is the README's state for `quotes` (from the state `inside`):
    the common case, checked with a few vectorized passes over every other quote.

    By parity every other quote opens (or re-enters after the first of a `""`) and the others
    close. An opening quote fits at a value's start or right after a quote (a `""`); a closing
    quote fits before a delimiter, a line end (LF or CRLF), the text's end or a quote. If every
    quote fits, none is literal and no text follows a closing quote.
    """
    first, size, fits = 1 if inside else 0, len(data), _bytes_in((delimiter, LF, QUOTE))
    opening, closing = quotes[first::2], quotes[1 - first :: 2]
    opens = fits[data[opening - 1]]  # opening 0 reads the last byte
    if not (opens.all() or (opening[0] == 0 and opens[1:].all())):
        return False
    followed = data[np.minimum(closing + 1, size - 1)]  # a quote that ends the text reads itself: fits
    misfits = np.flatnonzero(~fits[followed])
    crlf = (followed[misfits] == CR) & (data[np.minimum(closing[misfits] + 2, size - 1)] == LF)
    return bool((crlf & (closing[misfits] + 2 < size)).all())


def _runs(data: npt.NDArray[np.uint8], quotes: Ints, inside: bool, delimiter: int) -> _Runs:
    """The runs of `quotes` (a slice's), the state before the first being `inside`."""
    first = np.ones(len(quotes), np.bool_)
    first[1:] = quotes[1:] != quotes[:-1] + 1
    begins = np.flatnonzero(first)
    length = np.diff(np.append(begins, len(quotes)))
    offset = quotes[begins]
    at_value_start = _bytes_in((delimiter, LF))[data[offset - 1]] | (offset == 0)  # offset 0 reads the last byte
    odd = (length & 1).astype(np.bool_)
    toggles = odd & at_value_start  # opens outside, closes inside
    outside = odd & ~at_value_start  # a literal run outside; a closing one inside
    count = np.cumsum(toggles)
    last = np.maximum.accumulate(np.where(outside, np.arange(len(offset)), -1))
    since = np.where(last >= 0, count - count[np.maximum(last, 0)], count + inside)
    after = (since & 1).astype(np.bool_)
    before = np.concatenate([[inside], after[:-1]]) if len(after) else after
    return _Runs(offset, length, at_value_start, before, after)


def _line(text: bytes | bytearray, at: int, first_line: int) -> int:
    return first_line + text.count(b"\n", 0, at)


def _text_after_closing_quote(text: bytes | bytearray, opened: int, closed: int, first_line: int) -> BadFile:
    """The refusal of text after the quote at `closed` that closes the value opened at `opened`: at the
    line the value opens on, where the trouble starts (a stray quote there swallows the lines after it)."""
    line, closing = _line(text, opened, first_line), _line(text, closed, first_line)
    where = "" if closing == line else f" (it opens here and closes on line {closing}: a stray quote?)"
    return BadFile(
        f"line {line}: text after the closing quote of a quoted value{where} (a quote inside a value must be "
        'doubled, the whole value quoted: "say ""hi"" twice"); fix the quoting of the export',
        Problem.MALFORMED,
        line=line,
    )


def never_closed(line: int) -> BadFile:
    """The refusal of a quoted value that opens on `line` and is still open at the end of the file."""
    return BadFile(
        f"line {line}: a value starts with a quote, which opens a quoted value, and it is never closed "
        'before the end of the file; close it, double each quote inside it ("27'
        '"" screen"), or quote the whole value if the quote is part of it; fix the quoting of the export',
        Problem.MALFORMED,
        line=line,
    )


class _Scan:
    """The README's quote state through a text, slice by slice: the literal quote runs, where the
    quoted value open at the end (if any) opened, and a refusal for text after a closing quote."""

    def __init__(self, text: bytes | bytearray, delimiter: str, first_line: int, exact: bool = False) -> None:
        self.text, self.data = text, np.frombuffer(text, np.uint8)
        self.delimiter, self.first_line, self.exact = ord(delimiter), first_line, exact
        self.inside = False
        self.opened: int | None = -1  # where the last quoted value opened; None: not known (`_fits_parity`)
        self.literal: list[tuple[Ints, Ints]] = []  # per slice: (offsets, lengths) of its literal runs
        self.field_end = _bytes_in((self.delimiter, LF))

    def scan(self) -> None:
        """Scan the text; `exact`: every slice by runs, so that `opened` is always known."""
        for start, end in _slices(self.data):
            quotes = np.flatnonzero(self.data[start:end] == QUOTE) + start
            if not len(quotes):
                continue
            if not self.exact and _fits_parity(self.data, quotes, self.inside, self.delimiter):
                self.inside ^= bool(len(quotes) % 2)
                self.opened = None
                continue
            runs = _runs(self.data, quotes, self.inside, self.delimiter)
            opening = ~runs.inside_before & runs.inside_after
            self._check_closing(runs, opening)
            literal = ~runs.inside_before & ~runs.at_value_start  # outside, in a value's middle: all literal
            if literal.any():
                self.literal.append((runs.start[literal], runs.length[literal]))
            if opening.any():
                self.opened = int(runs.start[opening][-1])
            self.inside = bool(runs.inside_after[-1])

    def _check_closing(self, runs: _Runs, opening: Flags) -> None:
        """Refuse text after a closing quote: a run that ends a quoted value (an odd one inside it, or
        an even one at a value's start: `""`) must be followed by a field's end or the text's."""
        odd = (runs.length & 1) == 1
        closes = (runs.inside_before & odd) | (~runs.inside_before & runs.at_value_start & ~odd)
        follows = runs.start + runs.length  # the byte after the run (never a quote)
        size = len(self.data)
        byte = self.data[np.minimum(follows, size - 1)]
        crlf = (byte == CR) & (self.data[np.minimum(follows + 1, size - 1)] == LF) & (follows + 1 < size)
        bad = closes & (follows < size) & ~self.field_end[byte] & ~crlf
        if not bad.any():
            return
        first = int(np.argmax(bad))
        start: int | None = int(runs.start[first])  # `""x`: the run opened the value too
        if runs.inside_before[first]:
            before = runs.start[:first][opening[:first]]
            start = int(before[-1]) if len(before) else self.opened
        if start is None:  # opened in a slice that fit the parity: scan again, every slice by runs (raises)
            _Scan(self.text, chr(self.delimiter), self.first_line, exact=True).scan()
        raise _text_after_closing_quote(self.text, start or 0, int(follows[first]) - 1, self.first_line)


_REACH = 32  # bytes looked at, vectorized, for the ends of a value holding a literal quote; beyond: `bytes.find`


def _reach(data: npt.NDArray[np.uint8], bases: Ints) -> npt.NDArray[np.uint8]:
    """The `_REACH` bytes from each of `bases` (clipped into `data`, which must hold that many), no copy of `data`."""
    windows = np.lib.stride_tricks.sliding_window_view(data, _REACH)
    return windows[np.clip(bases, 0, len(data) - _REACH)]


def _value_bounds(text: bytes | bytearray, first: Ints, after: Ints, delimiter: int) -> tuple[Ints, Ints]:
    """Where the values holding the literal quote runs `first`..`after` (exclusive) start and end:
    after the delimiter or line break before them, at the one after them (the CR of a CRLF)."""
    data, size, separators = np.frombuffer(text, np.uint8), len(text), _bytes_in((delimiter, LF))
    start, end = np.full(len(first), -1, np.int64), np.full(len(first), -1, np.int64)
    if size >= _REACH:
        base = np.clip(first - _REACH, 0, size - _REACH)
        found = separators[_reach(data, base)] & (base[:, None] + np.arange(_REACH) < first[:, None])
        back = _REACH - 1 - np.argmax(found[:, ::-1], axis=1)
        start = np.where(found.any(axis=1), base + back + 1, np.where(base == 0, 0, -1))
        base = np.clip(after, 0, size - _REACH)
        found = separators[_reach(data, base)] & (base[:, None] + np.arange(_REACH) >= after[:, None])
        end = np.where(found.any(axis=1), base + np.argmax(found, axis=1), np.where(base + _REACH >= size, size, -1))
    separator = bytes([delimiter])
    for i in np.flatnonzero((start < 0) | (end < 0)).tolist():  # a value longer than the reach
        start[i] = max(text.rfind(separator, 0, first[i]), text.rfind(b"\n", 0, first[i])) + 1
        ends = [e if e != -1 else size for e in (text.find(separator, after[i]), text.find(b"\n", after[i]))]
        end[i] = min(ends)
    crlf = (end < size) & (end > 0)
    crlf[crlf] = (data[end[crlf]] == LF) & (data[end[crlf] - 1] == CR)
    return start, end - crlf


def _distinct(ascending: Ints) -> Ints:
    """An ascending array without repeats (the bounds of a value with several literal quote runs)."""
    distinct: Ints = ascending[np.concatenate([[True], ascending[1:] != ascending[:-1]])]
    return distinct


def _quoted_values(text: bytes | bytearray, literal: list[tuple[Ints, Ints]], delimiter: str) -> bytes:
    """`text` with each unquoted value that holds a literal quote quoted, its quotes doubled: a
    quote put in before the value, before each of its quotes, and after it, in one copy.

    Such a value holds no delimiter and no line break: it runs from the one before the quote to
    the one after it.
    """
    first, length = (np.concatenate(column) for column in zip(*literal, strict=True))
    start, end = _value_bounds(text, first, first + length, ord(delimiter))
    runs = np.repeat(first - np.cumsum(length) + length, length) + np.arange(int(length.sum()))  # every quote
    where = np.sort(np.concatenate([_distinct(start), runs, _distinct(end)]))
    return np.insert(np.frombuffer(text, np.uint8), where, QUOTE).tobytes()


def for_polars(text: bytes, delimiter: str, first_line: int, last: bool) -> bytes:
    """`text` (whole lines from a record's start, the first on `first_line`) as polars must get it
    to read it by the README's rule: the same bytes unless an unquoted value holds a quote.

    A quoted value still open at the end is a record going on in the next batch, unless `last`:
    then the file ends inside it, and it is refused at the line where it opens.
    """
    rewritten = rewrite(text, delimiter, first_line, last)[0]
    assert isinstance(rewritten, bytes)  # bytes in, bytes out
    return rewritten


def rewrite(
    text: bytes | bytearray, delimiter: str, first_line: int, last: bool
) -> tuple[bytes | bytearray, bool | None]:
    """`for_polars`, and whether a quoted value is still open at the end of `text` (None: not known,
    for a delimiter wider than a byte, which polars refuses itself).

    The batch reader needs no look past a batch that ends outside a quoted value (the usual case).
    """
    if b'"' not in text:
        return text, False
    if len(delimiter.encode()) != 1:  # polars refuses a wider delimiter itself
        return text, None
    scan = _Scan(text, delimiter, first_line)
    scan.scan()
    if last and scan.inside:  # the file ends inside a quoted value: where did it open?
        if scan.opened is None:
            scan = _Scan(text, delimiter, first_line, exact=True)
            scan.scan()
        raise never_closed(_line(text, scan.opened or 0, first_line))  # known after an exact scan
    return (_quoted_values(text, scan.literal, delimiter) if scan.literal else text), scan.inside
