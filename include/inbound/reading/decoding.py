"""Bytes to UTF-8 text: gzip inflated, the size capped, the encoding decoded; what is no CSV text refused.

What a file is, is decided by its content, not its key: gzip by its magic bytes, UTF-16 and
UTF-8 by their byte-order marks, a workbook, PDF or other binary by its first bytes. A byte
that is not the file's encoding, or a NUL byte, refuses the file at its line; so does SENTINEL,
which no text export holds and which names the reader's own columns.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain

from inbound.config.sections import Format
from inbound.errors import BadFile, Problem
from inbound.reading.compression import GZIP_MAGIC, inflate

SENTINEL = "\x01"  # a file holding it is refused: so no header name holds it, and no attribute name can
_HEAD = 64 * 1024  # bytes looked at to tell what a file is
_NOT_CSV = {
    b"PK\x03\x04": (Problem.NOT_CSV, "a ZIP archive (an Excel .xlsx workbook?); export the sheet as CSV"),
    b"\xd0\xcf\x11\xe0": (Problem.NOT_CSV, "an old Excel .xls workbook; export the sheet as CSV"),
    b"%PDF": (Problem.NOT_CSV, "a PDF document, not CSV"),
    b"PAR1": (Problem.NOT_CSV, "a Parquet file, not CSV"),
    b"BZh": (Problem.COMPRESSION, "bzip2-compressed; only gzip compression is read"),
    b"\xfd7zXZ": (Problem.COMPRESSION, "xz-compressed; only gzip compression is read"),
}
EMPTY_FILE = "the file is empty; expected a header line and data rows"


def _not_csv(data: bytes) -> None:
    for magic, (problem, what) in _NOT_CSV.items():
        if data.startswith(magic):
            raise BadFile(f"the file is {what}", problem)
    if b"\x00" in data[:65536]:
        raise BadFile("the file is binary (it contains NUL bytes), not CSV text", Problem.NOT_CSV)


def _nul(data: bytes | bytearray, first_line: int = 1) -> None:
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


def refuse_control_bytes(data: bytes | bytearray, first_line: int) -> None:
    """Refuse NUL bytes and SENTINEL, which no text export holds (and SENTINEL marks our own columns)."""
    _nul(data, first_line)
    if SENTINEL.encode() in data:
        raise BadFile("the file contains control characters (byte 0x01); it is not a CSV text export", Problem.NOT_CSV)


def _bad_byte(data: bytes | bytearray, start: int, encoding: str, first_line: int = 1) -> BadFile:
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


def utf8_problem(data: bytes | bytearray, otherwise: str, first_line: int = 1) -> BadFile:
    """Where text that claims to be UTF-8 is not (with the line), else `otherwise` as the message."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _bad_byte(data, exc.start, "utf-8", first_line)
    return BadFile(otherwise, Problem.ENCODING)


@dataclass
class Text:
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


def utf8_text(pieces: Iterable[bytes], fmt: Format, max_bytes: int) -> Text:
    """The file as UTF-8 text in pieces; refuses at once what is no CSV text.

    Gzip is inflated as it is read; a BOM wins over the declared encoding; UTF-8 passes
    through as it is (polars checks it while parsing, `utf8_problem` finds the line).
    """
    head, raw = _head(iter(pieces), _HEAD)
    compressed = head.startswith(GZIP_MAGIC)
    plain = inflate(raw, max_bytes) if compressed else _capped(raw, max_bytes)
    head, plain = _head(plain, _HEAD)
    if not head:
        raise BadFile(EMPTY_FILE, Problem.EMPTY)
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
    return Text(text, "utf-8" if utf8 else encoding, compressed)
