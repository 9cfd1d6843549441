from __future__ import annotations

import gzip

import polars as pl
import pytest

from inbound.config import Format
from inbound.errors import BadFile, Problem
from inbound.reading import (
    FIELD_COUNT_COLUMN,
    SOURCE_LINE_COLUMN,
    decompress,
    detect_delimiter,
    gunzip,
    read_table,
)


def read_frame(data: bytes, fmt: Format) -> pl.DataFrame:
    return read_table(data, fmt).frame.drop(SOURCE_LINE_COLUMN, FIELD_COUNT_COLUMN)


def refusal(data: bytes, fmt: Format | None = None, max_bytes: int = 1024 * 1024) -> BadFile:
    with pytest.raises(BadFile) as caught:
        read_table(data, fmt or Format(), max_bytes)
    return caught.value


def test_reads_everything_as_text_with_clean_headers() -> None:
    frame = read_frame(b"\xef\xbb\xbfEmail , Plan\r\na@x.com,0042\r\n", Format())
    assert frame.columns == ["Email", "Plan"]
    assert frame.row(0) == ("a@x.com", "0042")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_detects_delimiter(delimiter: str) -> None:
    data = delimiter.join(["Email", "Plan", "Notes"]) + "\n" + delimiter.join(["a@x", "p", '"x, y; z"']) + "\n"
    frame = read_frame(data.encode(), Format())
    assert frame.columns == ["Email", "Plan", "Notes"]
    assert detect_delimiter(data.splitlines()[0]) == delimiter


def test_quoted_newlines_and_delimiters() -> None:
    frame = read_frame(b'Email,Note\na@x,"line one\nline two, with comma"\n', Format())
    assert frame.item(0, "Note") == "line one\nline two, with comma"


def test_each_record_keeps_its_source_line_and_field_count() -> None:
    table = read_table(b'\nEmail,Note\na@x,"one\ntwo"\nb@x\nc@x,n,extra\n', Format())
    assert table.frame.get_column(SOURCE_LINE_COLUMN).to_list() == [3, 5, 6]  # a blank line before the header
    assert table.frame.get_column(FIELD_COUNT_COLUMN).to_list() == [2, 1, -1]  # -1: more fields than the header
    assert table.frame.item(1, "Note") is None  # a short record is padded with no value, never the marker


def test_declared_encoding() -> None:
    frame = read_frame("Email;Name\na@x;Müller\n".encode("cp1252"), Format(encoding="cp1252"))
    assert frame.item(0, "Name") == "Müller"


def test_undecodable_byte_names_its_line() -> None:
    with pytest.raises(BadFile, match=r"line 3: byte 0xfc is not valid utf-8.*format.encoding") as caught:
        read_frame("Email,Name\na@x,ok\nb@x,Müller\n".encode("cp1252"), Format())
    assert (caught.value.problem, caught.value.line) == (Problem.ENCODING, 3)


@pytest.mark.parametrize(
    ("data", "reason", "problem"),
    [
        (b"", "empty", Problem.EMPTY),
        (b"\n\n", "empty", Problem.EMPTY),
        (b"\x00\x01\x02PK", "binary", Problem.NOT_CSV),
        (b"PK\x03\x04rest", "ZIP archive", Problem.NOT_CSV),
        (b"BZh91AY&SY", "bzip2-compressed", Problem.COMPRESSION),
        (b"Email,Plan\x01\na,b\n", "control characters", Problem.NOT_CSV),
        (b"Email,Email\na,b\n", "more than once", Problem.HEADER),
        (b"\x1f\x8bnot really gzip", "does not decompress", Problem.COMPRESSION),
    ],
)
def test_bad_files(data: bytes, reason: str, problem: Problem) -> None:
    error = refusal(data)
    assert reason in str(error) and error.problem is problem


def test_a_duplicated_header_name_is_placed() -> None:
    error = refusal(b"\nEmail,Plan,Email\na,b,c\n")
    assert (error.problem, error.line, error.column) == (Problem.HEADER, 2, "Email")


def test_a_quote_that_swallows_the_rest_is_malformed() -> None:
    error = refusal(b'Email,Note,N\na,ok,0\nb,"x\nc,y,1\nd,z"\n')  # the last record: short, full of lines
    assert "line 3: a quote opened in this record is never closed" in str(error)
    assert (error.problem, error.line) == (Problem.MALFORMED, 3)
    error = refusal(b'Email,Note\na@x,ok\nb@x,"never closed\nc@x,swallowed\n')  # polars itself gives up
    assert "cannot parse the file as CSV" in str(error) and error.problem is Problem.MALFORMED


def test_size_limits_hold_before_and_after_decompression() -> None:
    body = b"Email\n" + b"a@x\n" * 1000
    assert refusal(body, max_bytes=1000).problem is Problem.TOO_LARGE
    bomb = refusal(gzip.compress(body), max_bytes=1000)
    assert "decompresses to more than" in str(bomb) and bomb.problem is Problem.TOO_LARGE
    assert decompress(gzip.compress(body), len(body)) == (body, True)
    assert decompress(body, len(body)) == (body, False)


def test_gunzip_stops_at_the_limit_and_reads_streams() -> None:
    body = b"0123456789" * 1000
    packed = gzip.compress(body)
    whole = gunzip([packed], len(body))
    assert (whole.data, whole.over_limit, whole.ended) == (body, False, True)
    head = gunzip([packed[i : i + 100] for i in range(0, len(packed), 100)], 25)
    assert (head.data, head.over_limit, head.ended) == (body[:25], True, False)
    cut = gunzip([packed[: len(packed) // 2]], len(body))  # a truncated upload: what came out, not ended
    assert body.startswith(cut.data) and not cut.over_limit and not cut.ended
