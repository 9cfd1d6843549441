from __future__ import annotations

import pytest

from inbound.config import Format
from inbound.reading import FIELDS, LINE, FileRejected, detect_delimiter, read_table


def read_frame(data: bytes, fmt: Format):
    return read_table(data, fmt).frame.drop(LINE, FIELDS)


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


def test_declared_encoding() -> None:
    frame = read_frame("Email;Name\na@x;Müller\n".encode("cp1252"), Format(encoding="cp1252"))
    assert frame.item(0, "Name") == "Müller"


def test_undecodable_byte_names_its_line() -> None:
    with pytest.raises(FileRejected, match=r"line 3: byte 0xfc is not valid utf-8.*format.encoding"):
        read_frame("Email,Name\na@x,ok\nb@x,Müller\n".encode("cp1252"), Format())


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"\n\n", "empty"), (b"\x00\x01\x02PK", "binary"), (b"Email,Email\na,b\n", "more than once")],
)
def test_bad_files(data: bytes, reason: str) -> None:
    with pytest.raises(FileRejected, match=reason):
        read_frame(data, Format())
