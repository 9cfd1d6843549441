"""Properties: any table in any supported dialect reads back equal; any mutated export imports or fails cleanly."""

from __future__ import annotations

import codecs
import csv
import gzip
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import integration_dict
from inbound.config.model import Integration
from inbound.config.sections import Format
from inbound.errors import BadFile, Problem
from inbound.mapping.mapper import AttributeSet, map_table
from inbound.reading.reader import read_table
from inbound.reading.records import FIELD_COUNT_COLUMN as FIELDS
from inbound.reading.records import SOURCE_LINE_COLUMN as LINE

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


# Hostile input: mutated exports through the reader and the mapping. Every outcome is an
# attribute set or a `BadFile` with a reason, never another exception.

EXPORT = (
    "Email,Plan,N,Notes\r\n"
    'ada@example.com,premium,3,"said ""hi"", twice"\r\n'
    'jürgen@example.de,free,0,"Straße 1\r\nBerlin"\r\n'
    "grace@example.com,enterprise,many,\r\n"
    ",free,1,no id\r\n"
    "bob@example.com,free\r\n"
    "\r\n"
    "ada@example.com,again,4,duplicate\r\n"
    "zoe@example.com, trial ,12,x\r\n"
)
MAPPED = Integration.model_validate(
    integration_dict(
        attributes=[{"column": "Plan", "name": "plan"}, {"column": "N", "name": "n", "type": "integer"}],
        max_rejected_ratio=1,
    )
)
PLAIN = EXPORT.encode()
BASES = {
    "plain": PLAIN,
    "gzip": gzip.compress(PLAIN),
    "two gzip members": gzip.compress(PLAIN[:60]) + gzip.compress(PLAIN[60:]),
    "cp1252": EXPORT.encode("cp1252"),
    "utf-16": EXPORT.encode("utf-16"),
    "utf-8 bom": codecs.BOM_UTF8 + PLAIN,
}
ENCODINGS = [
    "utf-8",
    "cp1252",
    "latin-1",
    "utf-16",
    "utf-16-be",
    "utf-32",
    "ascii",
    "shift_jis",
    "rot13",
    "idna",
    "hex",
]
INSERTS = st.binary(min_size=1, max_size=8) | st.sampled_from(
    [b'"', b",", b";", b"\n", b"\r", b"\r\n", b"\x00", b"\x01", b"\xff", b"\xef\xbb\xbf", b"\x1f\x8b", b"\xff\xfe"]
)


def import_or_refuse(data: bytes, fmt: Format) -> AttributeSet | None:
    """The attribute set, or None for a file refused with a reason; anything else fails the test."""
    try:
        result = map_table(read_table(data, fmt, 1024 * 1024), MAPPED.model_copy(update={"format": fmt}))
    except BadFile as exc:
        assert exc.message and exc.problem in Problem
        return None
    ids = result.frame.get_column("user_id")
    assert ids.null_count() == 0 and ids.is_unique().all()
    assert result.frame.columns == ["user_id", "plan", "n"]
    assert result.rows_read == result.frame.height + result.rows_rejected
    return result


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, Format]:
    data = bytearray(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif op == "insert":
            data[at:at] = draw(INSERTS)
        else:
            del data[at : at + draw(st.integers(min_value=1, max_value=16))]
    fmt = Format(
        encoding=draw(st.sampled_from(ENCODINGS)),
        delimiter=draw(st.sampled_from([None, ",", ";", "\t", "|", '"', "\n", "\r", " ", "a", "\x01", "\x00"])),
    )
    return bytes(data), fmt


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_export_imports_or_fails_with_a_reason(case: tuple[bytes, Format]) -> None:
    import_or_refuse(*case)


def test_every_truncation_of_a_small_export() -> None:
    """A gzip cut anywhere fails; a plain file cut anywhere imports what it holds or fails with a reason."""
    for name, data in BASES.items():
        for cut in range(len(data)):
            result = import_or_refuse(data[:cut], Format(encoding="cp1252" if name == "cp1252" else "utf-8"))
            if name.endswith(("gzip", "members")) and cut > 1:
                assert result is None, (name, cut)
        assert import_or_refuse(data, Format(encoding="cp1252" if name == "cp1252" else "utf-8")) is not None
