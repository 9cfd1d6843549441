"""Property: any table written in any supported dialect reads back equal."""

from __future__ import annotations

import codecs
import csv
import gzip
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbound.config import Format
from inbound.reading import FIELD_COUNT_COLUMN as FIELDS
from inbound.reading import SOURCE_LINE_COLUMN as LINE
from inbound.reading import read_table

CP1252_SAFE = st.characters(
    codec="cp1252", exclude_categories=("Cs", "Cc"), exclude_characters="\x00"
) | st.sampled_from(["\n", '"', ",", ";", "\t", "|", " ", "ä", "ß", "€"])
NAME = st.text(alphabet=st.characters(categories=("L", "N"), codec="cp1252"), min_size=1, max_size=12)


@st.composite
def tables(draw):
    header = draw(st.lists(NAME, min_size=2, max_size=6, unique_by=str.lower))
    n = draw(st.integers(min_value=1, max_value=8))
    cell = st.text(alphabet=CP1252_SAFE, max_size=15)
    rows = [[draw(NAME)] + [draw(cell) for _ in header[1:]] for _ in range(n)]
    return header, rows


@st.composite
def dialects(draw):
    return {
        "delimiter": draw(st.sampled_from([",", ";", "\t", "|"])),
        "terminator": draw(st.sampled_from(["\n", "\r\n"])),
        "quoting": draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"])),
        "gzip": draw(st.booleans()),
        "declare_delimiter": draw(st.booleans()),
    }


def encode(header, rows, dialect) -> bytes:
    out = io.StringIO()
    writer = csv.writer(
        out, delimiter=dialect["delimiter"], lineterminator=dialect["terminator"], quoting=dialect["quoting"]
    )
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode(dialect["encoding"])
    return gzip.compress(data) if dialect["gzip"] else data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), dialects())
def test_any_table_in_any_dialect_reads_back_equal(table, dialect) -> None:
    header, rows = table
    data = encode(header, rows, dialect)
    declared = "cp1252" if dialect["encoding"] == "cp1252" else "utf-8"
    fmt = Format(encoding=declared, delimiter=dialect["delimiter"] if dialect["declare_delimiter"] else None)
    read = read_table(data, fmt)
    frame = read.frame
    assert read.header == header
    empty_is_none = lambda row: tuple(v if v != "" else None for v in row)  # noqa: E731 - an empty cell is no value
    assert [empty_is_none(r) for r in frame.drop(LINE, FIELDS).rows()] == [empty_is_none(r) for r in rows]
    assert frame.get_column(FIELDS).to_list() == [len(header)] * len(rows)
    assert read.compressed is dialect["gzip"]
    # each record starts on the line its text says
    text = data if not dialect["gzip"] else gzip.decompress(data)
    if dialect["encoding"] == "utf-16":
        text = text.decode("utf-16").encode()
    elif dialect["encoding"] == "cp1252":
        text = text.decode("cp1252").encode()
    text = text.removeprefix(codecs.BOM_UTF8)
    lines = text.split(b"\n")
    for line, row in zip(frame.get_column(LINE).to_list(), rows):
        assert lines[line - 1].decode().startswith((row[0], f'"{row[0]}'))
