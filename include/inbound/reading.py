"""Bytes to a polars frame of strings: decoding, delimiter, header clean-up.

Every column is read as text; types are the mapping's job, so that a value that does not
fit its declared type becomes a rejected row with its reason instead of a silent null
from polars' schema inference.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter

import polars as pl

from inbound.config import Format

DELIMITERS = (",", ";", "\t", "|")


class FileRejected(Exception):
    """The whole file cannot be imported; the message says what to fix."""


def decode(data: bytes, encoding: str) -> str:
    """Text of the file; a BOM wins over the declared encoding, a bad byte names its line."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            encoding = codec
            break
    else:
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRejected(
            f"line {line}: byte 0x{data[exc.start]:02x} is not valid {encoding}; "
            "set `format.encoding` to the file's encoding (for example cp1252 for Excel on Windows)"
        ) from None


def detect_delimiter(header: str) -> str:
    """The most frequent of `, ; tab |` in the header line (a header has no quoted data)."""
    counts = Counter({d: header.count(d) for d in DELIMITERS})
    delimiter, count = counts.most_common(1)[0]
    return delimiter if count else ","


def read_frame(data: bytes, fmt: Format) -> pl.DataFrame:
    """Parse a CSV export into a frame of strings with clean, unique header names."""
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRejected("the file is binary, not CSV text")
    text = decode(data, fmt.encoding)
    if not text.strip():
        raise FileRejected("the file is empty; expected a header line and data rows")
    header_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = fmt.delimiter or detect_delimiter(header_line)
    try:
        frame = pl.read_csv(
            text.encode("utf-8"),
            separator=delimiter,
            infer_schema=False,
            has_header=True,
            empty_string_is_null=True,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0]
        raise FileRejected(f"cannot parse as CSV with delimiter {delimiter!r}: {first}") from None
    header = [name.strip() for name in next(csv.reader([header_line.rstrip("\r")], delimiter=delimiter))]
    duplicated = sorted({n for n in header if header.count(n) > 1})
    if duplicated:
        raise FileRejected(f"the header names {', '.join(map(repr, duplicated))} more than once; column names must be unique")
    return frame.rename({old: old.strip() for old in frame.columns})
