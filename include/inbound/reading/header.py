"""The header line: the delimiter, the column names, and how a message may name a header cell.

The delimiter is the header line's most frequent candidate, unless the config sets one.

A header cell is a value when the export has no header line, so a message quotes a header
cell only when it is the name of a column the config reads (`is_configured`: the same name
but for case, spaces, `-`, `_` and `.`); any other cell it names by its position, "column 3"
(`shown_cell`). A near miss one letter off is never quoted: `Jane` is one letter from `Name`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from inbound.errors import BadFile, Problem
from inbound.reading.decoding import EMPTY_FILE, SENTINEL, utf8_problem

DELIMITERS = (",", ";", "\t", "|")
MAX_NAME_BYTES = 1024  # a longer header field is no column name
_NO_DELIMITERS = ('"', "\n", "\r", SENTINEL, "\x00")
_QUOTED = r'"(?:[^"]|"")*"'


def detect_delimiter(header: str) -> str:
    """The most frequent of `, ; tab |` in the header line (outside quotes)."""
    bare = re.sub(_QUOTED, "", header)
    counts = {d: bare.count(d) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d])
    return delimiter if counts[delimiter] else ","


@dataclass(frozen=True)
class Header:
    """The header line as found: its names, the delimiter, its raw bytes and its line."""

    names: list[str]
    delimiter: str
    raw: bytes  # the line as in the file, ending in a line break
    line: int


def header_start(data: bytes | bytearray) -> int:
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


def parse_header(data: bytes, delimiter: str | None, columns: Collection[str] = ()) -> tuple[list[str], str, int]:
    """Header names, delimiter, and the index of the header's first byte (after blank lines).

    `columns`: the names of the columns the config reads, the only header cells a message quotes.
    """
    start = header_start(data)
    end = data.find(b"\n", start)
    try:
        line = data[start : end if end != -1 else len(data)].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise utf8_problem(data, "the header is not valid UTF-8") from None
    if not line.strip():
        raise BadFile(EMPTY_FILE, Problem.EMPTY)
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
