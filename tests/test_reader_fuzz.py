"""Mutated exports through the whole file path, checked against an independent reference reader.

Each example puts a mutated export (bytes flipped, inserted, deleted; cut anywhere; any
encoding declared) in moto's S3 and runs the integration on a SQLite store that already
holds values. The outcome must be one of two:

- the file in `success/` and the store holding exactly what `reference` (Python's `csv`
  module over the decoded text, applying the README's rules: "What files are read",
  "Types", "Rows and files that are bad") says the file holds, on top of what was there;
- the file in `failed/` with an `error.txt` that gives a reason, and the store unchanged.

Never an uncaught exception, never a partial import. The reference is written from the
README, not from `inbound.reading.reader`: it shares no code with the reader under test.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import BUCKET, integration_dict
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.config.sections import Format
from inbound.run import Run
from inbound.s3.source import list_new_files
from inbound.store import FileImport, open_store
from test_properties import ENCODINGS, INSERTS

MAX_REJECTED_RATIO = 0.5
MAX_VALUE_BYTES = 65536
MAX_NAME_BYTES = 1024
# Unicode's White_Space: what "surrounding spaces" means (Python's str.strip also takes \x1c-\x1f).
SPACES = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
INTEGER = re.compile(r"[+-]?(\d+|\d{1,3}(,\d{3})+)")
PRIOR = {"ada@example.com": {"plan": "old", "n": 1}, "zoe@example.com": {"plan": "oldz", "n": 2}, "x@y": {"plan": "k"}}
TYPES = {"plan": "string", "n": "integer"}
# Mostly good rows (so that most mutations still import), with what the rules are about:
# quoted delimiters, quotes and line breaks, a thousands separator, empty cells, spaces, a bad integer.
EXPORT = (
    "Email,Plan,N,Notes\n"
    'ada@example.com,premium,3,"said ""hi"", twice"\n'
    'jürgen@example.de,free,0,"Straße 1\nBerlin"\n'
    'grace@example.com,enterprise,"1,234",\n'
    "bob@example.com,free,,x\n"
    "cy@example.com,,7,y\n"
    "\n"
    'dan@example.com,pro,-2,"a;b|c"\n'
    "zoe@example.com, trial ,12,x\n"
    "eve@example.com,x,many,not an integer\n"
    'kim@example.com,27" 4K,5,fine\n'  # a lone quote in the middle or at the end of an unquoted
    'lee@example.com,5\'11",6,O"Brien 24"\n'  # value is a literal character (issue 25, item 1)
)
CRLF = EXPORT.replace("\n", "\r\n").encode()
BASES = {
    "plain": EXPORT.encode(),
    "crlf": CRLF,
    "gzip": gzip.compress(CRLF),
    "two gzip members": gzip.compress(CRLF[:90]) + gzip.compress(CRLF[90:]),
    "cp1252": EXPORT.encode("cp1252"),
    "utf-16": EXPORT.encode("utf-16"),
    "utf-8 bom": codecs.BOM_UTF8 + CRLF,
    "semicolons": EXPORT.replace(",", ";").replace('"1;234"', "1234").encode(),
}


def config(fmt: Format, folder: str) -> Integration:
    return Integration.model_validate(
        integration_dict(
            "fuzz",
            source={"bucket": BUCKET, "key": f"{folder}/*"},
            attributes=[{"column": "Plan", "name": "plan"}, {"column": "N", "name": "n", "type": "integer"}],
            max_rejected_ratio=MAX_REJECTED_RATIO,
            format=fmt.model_dump(exclude_none=True),
        )
    )


# -- the reference reader ---------------------------------------------------------------
@dataclass
class Refused:
    why: str


def decoded(data: bytes, encoding: str) -> str | Refused:
    """Gzip by its magic bytes (every member); a UTF-8 or UTF-16 BOM wins over `encoding`."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            return Refused(f"gzip: {exc}")
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[3:], "utf-8"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    try:
        text = data.decode(encoding)
    except (UnicodeError, LookupError, TypeError, ValueError) as exc:
        return Refused(f"decode: {exc}")
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        return Refused("NUL")
    return text


# Python's csv module ends a record at a lone CR too; the README's rule is "CRLF or LF line
# ends", so a lone CR is data: it is parsed as this stand-in and put back in every field.
LONE_CR = "\ue000"


def split_lines(text: str) -> list[str]:
    """Physical lines: CRLF or LF ends them; a lone CR (as `LONE_CR`) is part of a line.

    A CR that ends the file is a line end (a CRLF cut before its LF).
    """
    text = text.replace("\r\n", "\n")
    text = text[:-1] + "\n" if text.endswith("\r") else text
    return text.replace("\r", LONE_CR).split("\n")


def parse(lines: list[str], delimiter: str) -> list[list[str]]:
    """Records of `lines` with Python's csv module, strict: a quote never closed, or text after
    a closing quote (`"ab"c`), raises `csv.Error` (the README: such a file fails)."""
    rows = csv.reader(io.StringIO("\n".join(lines), newline=""), delimiter=delimiter, strict=True)
    return [[field.replace(LONE_CR, "\r") for field in row] for row in rows]


def header_of(lines: list[str], delimiter: str | None) -> tuple[int, list[str], str] | Refused:
    """(index of the header line, its names stripped, the delimiter): the first non-blank line."""
    at = next((i for i, line in enumerate(lines) if line.strip(LONE_CR)), None)
    if at is None or not lines[at].replace(LONE_CR, "").strip():
        return Refused("empty")
    line = lines[at]
    if delimiter is None:
        bare = re.sub(r'"[^"]*"', "", line)
        counts = {d: bare.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","
    try:
        names = [name.strip(SPACES) for name in parse([line], delimiter)[0]]
    except csv.Error:
        return Refused("header does not parse")
    if max(len(n.encode()) for n in names) > MAX_NAME_BYTES:
        return Refused("header field too long")
    if len({n for n in names if n}) < len([n for n in names if n]):
        return Refused("duplicated name")
    return at, names, delimiter


def records(lines: list[str], delimiter: str) -> list[list[str]] | Refused:
    """The body's records, blank lines skipped; a quote never closed refuses the file."""
    try:
        rows = parse(lines, delimiter)
    except csv.Error as exc:
        return Refused(f"csv: {exc}")
    return [row for row in rows if row != []]


def integer(text: str) -> int | None:
    if not INTEGER.fullmatch(text):
        return None
    value = int(text.replace(",", ""))
    return value if -(2**63) <= value < 2**63 else None


def reference(data: bytes, fmt: Format) -> dict[str, dict[str, Any]] | Refused:
    """What the file sets, per user ({attribute: value}; an empty cell sets nothing), or why it is refused."""
    text = decoded(data, fmt.encoding)
    if isinstance(text, Refused):
        return text
    lines = split_lines(text)
    found = header_of(lines, fmt.delimiter)
    if isinstance(found, Refused):
        return found
    at, names, delimiter = found
    if not {"Email", "Plan", "N"} <= set(names):
        return Refused("missing column")
    rows = records(lines[at + 1 :], delimiter)
    if isinstance(rows, Refused):
        return rows
    if not rows:
        return Refused("header only")
    index = {name: names.index(name) for name in ("Email", "Plan", "N")}
    ids = [row[index["Email"]].strip(SPACES) if len(row) > index["Email"] else "" for row in rows]
    seen = {i: ids.count(i) for i in ids if i}
    good: dict[str, dict[str, Any]] = {}
    for row, user in zip(rows, ids):
        if len(row) != len(names) or not user or seen[user] > 1 or len(user.encode()) > MAX_VALUE_BYTES:
            continue
        plan, n = row[index["Plan"]].strip(SPACES), row[index["N"]].strip(SPACES)
        if len(plan.encode()) > MAX_VALUE_BYTES or len(n.encode()) > MAX_VALUE_BYTES:
            continue
        number = integer(n) if n else None
        if n and number is None:
            continue
        good[user] = {k: v for k, v in (("plan", plan or None), ("n", number)) if v is not None}
    rejected = len(rows) - len(good)
    if rejected / len(rows) > MAX_REJECTED_RATIO:
        return Refused("too many rejected rows")
    return good


# -- the whole file path ------------------------------------------------------------------
# Text bases more often than gzip and UTF-16 ones, which almost any mutation breaks (and must).
WEIGHTED = ["plain", "crlf", "semicolons", "cp1252", "utf-8 bom"] * 3 + ["gzip", "two gzip members", "utf-16"]


@st.composite
def exports(draw: st.DrawFn) -> tuple[bytes, Format]:
    base = draw(st.sampled_from(WEIGHTED))
    data = bytearray(BASES[base])
    if draw(st.integers(0, 4)) == 0:
        del data[draw(st.integers(0, len(data))) :]  # cut short anywhere
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif op == "insert":
            data[at:at] = draw(INSERTS | st.sampled_from([b"  ", b"x", b'""', b",,", b"\n\n", b"9", b"-"]))
        else:
            del data[at : at + draw(st.integers(min_value=1, max_value=16))]
    declared = "cp1252" if base == "cp1252" else "utf-8"
    fmt = Format(
        encoding=draw(st.sampled_from([declared] * 30 + ENCODINGS)),
        delimiter=draw(st.sampled_from([None, None, ",", ";", "|"])),
    )
    return bytes(data), fmt


def stored(store: Any, users: set[str]) -> dict[str, dict[str, Any]]:
    found = {u: store.user_attributes(u, TYPES)["attributes"] for u in users}
    return {u: values for u, values in found.items() if values}


def seed(store: Any) -> None:
    frame = pl.DataFrame(
        [(u, v.get("plan"), v.get("n")) for u, v in PRIOR.items()],
        schema={"user_id": pl.String, "plan": pl.String, "n": pl.Int64},
        orient="row",
    )
    store.write_file(
        FileImport("fuzz", "s3://acme-exports/fuzz/prior.csv", "e0", "v0", "test", 3), types=TYPES, frame=frame
    )


def keys(s3: Any, folder: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{folder}/").get("Contents", [])}


# CI runs the same 300 examples each time (derandomized); INBOUND_FUZZ_EXAMPLES=3000 explores anew.
@settings(
    max_examples=int(os.environ.get("INBOUND_FUZZ_EXAMPLES", "300")),
    derandomize="INBOUND_FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(exports())
def test_a_mutated_export_imports_what_the_reference_reads_or_fails_whole(s3, tmp_path, case) -> None:
    outcome = through_the_whole_path(s3, tmp_path, *case)
    event(f"{outcome}; reference {'refuses' if isinstance(reference(*case), Refused) else 'reads'}")


SMALL = b'Email,Plan,N\nada@x,"a,\nb",1\nbob@x,free,"2,000"\ncy@x,,3\n'


def test_every_truncation_of_a_small_export_through_the_whole_path(s3, tmp_path) -> None:
    """Cut at every byte: a gzip always fails; a plain file imports what the reference reads, or fails."""
    outcomes = {}
    for name, data in {"plain": SMALL, "gzip": gzip.compress(SMALL)}.items():
        for cut in range(len(data) + 1):
            outcomes[name, cut] = through_the_whole_path(s3, tmp_path, data[:cut], Format())
    assert all(outcomes["gzip", cut] == "failed" for cut in range(len(gzip.compress(SMALL))))
    assert outcomes["gzip", len(gzip.compress(SMALL))] == outcomes["plain", len(SMALL)] == "success"
    assert sum(outcomes["plain", cut] == "success" for cut in range(len(SMALL))) >= 3  # cut at a line end, say


def through_the_whole_path(s3: Any, tmp_path: Path, data: bytes, fmt: Format) -> str:
    """Run the file through S3, the reader, the mapping and a seeded store; check the outcome."""
    folder = f"fuzz/{time.time_ns()}"  # one folder (and store) per example: nothing carries over
    integration = config(fmt, folder)
    with open_store(f"sqlite:///{tmp_path / (folder.replace('/', '_') + '.db')}", migrate=True) as store:
        seed(store)
        key = f"{folder}/export.csv"
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        summary = Run(integration, s3, store, "fuzz", "test", catalog=Catalog())(
            list_new_files(s3, BUCKET, integration.source.key)
        )
        (result,) = summary.files
        expected = reference(data, fmt)
        users = set(PRIOR) | (set(expected) if isinstance(expected, dict) else set())
        after = stored(store, users)
    moved = result.final_key
    assert moved and key not in keys(s3, folder) and moved in keys(s3, folder)
    if result.outcome == "failed":
        assert moved.startswith(f"{folder}/failed/")
        reason = s3.get_object(Bucket=BUCKET, Key=f"{moved}.error.txt")["Body"].read().decode()
        assert reason.strip() and result.error
        assert after == PRIOR, "a failed file changed the store"
        return "failed"
    assert result.outcome == "success" and moved.startswith(f"{folder}/success/"), result
    assert not isinstance(expected, Refused), f"imported a file the reference refuses ({expected.why}): {data!r}"
    want = {u: dict(v) for u, v in PRIOR.items()}
    for user, values in expected.items():
        want.setdefault(user, {}).update(values)  # an empty cell keeps the stored value
    assert after == {u: v for u, v in want.items() if v}, data
    return "success"


def test_the_reference_reads_the_unmutated_exports() -> None:
    """The reference is no vacuous oracle: it reads every base export, and the same users each time."""
    readings = [reference(data, Format(encoding="cp1252" if n == "cp1252" else "utf-8")) for n, data in BASES.items()]
    assert all(isinstance(r, dict) for r in readings)
    first = readings[0]
    assert first == {
        "ada@example.com": {"plan": "premium", "n": 3},
        "jürgen@example.de": {"plan": "free", "n": 0},
        "grace@example.com": {"plan": "enterprise", "n": 1234},
        "bob@example.com": {"plan": "free"},
        "cy@example.com": {"n": 7},
        "dan@example.com": {"plan": "pro", "n": -2},
        "zoe@example.com": {"plan": "trial", "n": 12},
        "kim@example.com": {"plan": '27" 4K', "n": 5},
        "lee@example.com": {"plan": "5'11\"", "n": 6},
    }
    assert all(r == first for r in readings)


def test_every_unmutated_export_imports(s3, tmp_path) -> None:
    """Lone quotes and all: each base export imports what the reference reads, whatever its encoding."""
    for name, data in BASES.items():
        fmt = Format(encoding="cp1252" if name == "cp1252" else "utf-8")
        assert through_the_whole_path(s3, tmp_path, data, fmt) == "success", name


# -- quotes as exports write them: the reader must read what the reference reads, and refuse the rest --
LITERALS = ['O"Brien', '24"', '27" 4K', "5'11\"", 'He said "hi"', 'ab""', ' "x', '"', '""', "a,b", "", " trial "]
TEXT = st.sampled_from(LITERALS) | st.text(alphabet="ab \"'4,;|\n", max_size=6)


def field(value: str, delimiter: str, quoted: bool) -> str:
    """`value` as a field: quoted (inner quotes doubled) when asked or when it must be (it holds the
    delimiter or a line break, or starts with a quote); else as it is, any quote in it a literal."""
    if quoted or delimiter in value or "\n" in value or value.startswith('"'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def quoted_exports(draw: st.DrawFn) -> tuple[bytes, Format, int | None]:
    """An export whose values hold quotes as exporters write them: lone quotes in the middle and at
    the end of unquoted values, quoted values with `""` and line breaks; sometimes one broken value,
    text after a closing quote, or a last value that opens a quote and never closes it (then its line)."""
    delimiter = draw(st.sampled_from([",", ";", "|", "\t"]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    header = ["Email", "Plan", "N", draw(st.sampled_from(["Notes", 'Size 27"', "Height 5'11\""]))]
    lines = [delimiter.join(field(name, delimiter, False) for name in header)]
    for i in range(draw(st.integers(1, 8))):
        user = draw(st.sampled_from([f"u{i}@x", f'o"b{i}@x', f"u{i}@x'"]))
        values = [user, draw(TEXT), str(i), draw(TEXT)]
        lines.append(delimiter.join(field(v, delimiter, draw(st.booleans())) for v in values))
    broken = draw(st.sampled_from([None] * 8 + ["after closing quote", "never closed"]))
    never_closed = None
    if broken == "after closing quote":
        lines.insert(draw(st.integers(1, len(lines))), delimiter.join(["z@x", '"ab"x', "1", "n"]))
    elif broken == "never closed":
        never_closed = "".join(lines).count("\n") + len(lines) + 1  # the line the last record starts on
        lines.append(delimiter.join(["z@x", "free", "1", '"never closed']))
    fmt = Format(delimiter=draw(st.sampled_from([None, delimiter])))
    return (end.join(lines) + end).encode(), fmt, never_closed


@settings(
    max_examples=int(os.environ.get("INBOUND_FUZZ_EXAMPLES", "200")),
    derandomize="INBOUND_FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(quoted_exports())
def test_quotes_as_exports_write_them_import_exactly_when_the_reference_reads_them(s3, tmp_path, case) -> None:
    """Both ways: imported iff the reference reads the file (then exactly its values); a quote never
    closed is refused at the line where its record starts."""
    data, fmt, never_closed = case
    expected = reference(data, fmt)
    outcome = through_the_whole_path(s3, tmp_path, data, fmt)
    assert outcome == ("failed" if isinstance(expected, Refused) else "success"), (data, expected)
    event(f"{outcome}{'; never closed' if never_closed else ''}")
    if never_closed is not None:
        assert isinstance(expected, Refused)
        assert f"\nReason: line {never_closed}: " in last_error(s3), (data, last_error(s3))


def last_error(s3: Any) -> str:
    """The newest `error.txt` in the bucket (folders are named by the time; one page holds 1000 keys)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="fuzz/")
    found = [o["Key"] for page in pages for o in page.get("Contents", []) if o["Key"].endswith(".error.txt")]
    return s3.get_object(Bucket=BUCKET, Key=max(found))["Body"].read().decode()
