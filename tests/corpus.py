"""A corpus of realistic exports: every dialect and every bad case the import must handle.

Run as a script to write the files to a folder for a look (`python tests/corpus.py OUT`);
the tests import `CASES`. Each case is the bytes of one export, the config it is read
with, and what must come of it.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADER = ["Email", "Name", "Plan", "Open Tickets", "Score", "VIP", "Since", "Last Seen", "Notes"]
ROWS = [
    [
        "ada@example.com",
        "Lovelace, Ada",
        "premium",
        "3",
        "4.5",
        "true",
        "2021-10-25",
        "2026-11-01 10:00:00",
        'Said "hi"',
    ],
    [
        "jürgen@example.de",
        "Jürgen Müller",
        "free",
        "0",
        "1234.56",
        "false",
        "2020-01-31",
        "2026-11-02T08:30:00Z",
        "Straße 1\nBerlin",
    ],
    ["grace@example.com", "Grace Hopper", "enterprise", "12", "", "yes", "", "", ""],
]
ATTRIBUTES = [
    {"column": "Plan", "name": "plan"},
    {"column": "Open Tickets", "name": "open_tickets", "type": "integer"},
    {"column": "Score", "name": "score", "type": "number"},
    {"column": "VIP", "name": "vip", "type": "boolean"},
    {"column": "Since", "name": "since", "type": "date"},
    {"column": "Last Seen", "name": "last_seen", "type": "timestamp"},
    {"column": "Name", "name": "full_name"},
]
EXPECTED_ADA = {
    "plan": "premium",
    "open_tickets": 3,
    "score": 4.5,
    "vip": True,
    "since": "2021-10-25",
    "last_seen": "2026-11-01T10:00:00+00:00",
    "full_name": "Lovelace, Ada",
}
EXPECTED_JURGEN = {
    "plan": "free",
    "open_tickets": 0,
    "score": 1234.56,
    "vip": False,
    "since": "2020-01-31",
    "last_seen": "2026-11-02T08:30:00+00:00",
    "full_name": "Jürgen Müller",
}


@dataclass
class Case:
    name: str
    key: str
    data: bytes
    config: dict[str, Any] = field(default_factory=dict)  # overrides of the base config
    outcome: str = "success"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> attributes expected (subset)
    error: str | None = None  # substring of the failure reason
    rejects: list[tuple[int, str]] = field(default_factory=list)  # (line, reason substring)


def write(
    rows: list[list[str]],
    header: list[str] = HEADER,
    delimiter: str = ",",
    terminator: str = "\n",
    quoting: int = csv.QUOTE_MINIMAL,
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def csv_rows(rows: list[list[str]]) -> str:
    """Rows without a header line."""
    return write(rows)[len(write([])) :]


def german(row: list[str]) -> list[str]:
    """The same row as German Excel writes it: decimal comma, dd.mm.yyyy, ja/nein."""
    email, name, plan, tickets, score, vip, since, seen, notes = row
    score = f"{float(score):,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") if score else ""
    vip = {"true": "ja", "false": "nein", "yes": "ja"}.get(vip, vip)
    since = f"{since[8:10]}.{since[5:7]}.{since[0:4]}" if since else ""
    seen = f"{seen[8:10]}.{seen[5:7]}.{seen[0:4]} {seen[11:16]}" if seen and not seen.endswith("Z") else ""
    return [email, name, plan, tickets, score, vip, since, seen, notes]


GERMAN_CONFIG = {
    "format": {"delimiter": ";", "decimal": ",", "encoding": "cp1252"},
    "timezone": "Europe/Berlin",
    "attributes": [
        *[a for a in ATTRIBUTES if a["name"] not in ("since", "last_seen")],
        {"column": "Since", "name": "since", "type": "date", "format": "%d.%m.%Y"},
        {"column": "Last Seen", "name": "last_seen", "type": "timestamp", "format": "%d.%m.%Y %H:%M"},
    ],
}


def cases() -> list[Case]:
    good = {"ada@example.com": EXPECTED_ADA, "jürgen@example.de": EXPECTED_JURGEN}
    plain = write(ROWS)
    german_text = write([german(r) for r in ROWS], delimiter=";", terminator="\r\n")
    many = [[f"u{i}@example.com", f"User {i}", "free", str(i), "1.5", "no", "2024-01-01", "", ""] for i in range(60)]
    out: list[Case] = [
        Case("utf8_comma_crlf", "exports/users.csv", write(ROWS, terminator="\r\n").encode(), users=good),
        Case("utf8_bom", "exports/users.csv", codecs.BOM_UTF8 + plain.encode(), users=good),
        Case("semicolon_detected", "exports/users.csv", write(ROWS, delimiter=";").encode(), users=good),
        Case("tab_detected", "exports/users.tsv", write(ROWS, delimiter="\t").encode(), users=good),
        Case("pipe_detected", "exports/users.psv", write(ROWS, delimiter="|").encode(), users=good),
        Case("quote_all", "exports/users.csv", write(ROWS, quoting=csv.QUOTE_ALL).encode(), users=good),
        Case(
            "utf16_excel_unicode_text",
            "exports/users.txt",
            codecs.BOM_UTF16_LE + write(ROWS, delimiter="\t", terminator="\r\n").encode("utf-16-le"),
            users=good,
        ),
        Case(
            "utf16_big_endian",
            "exports/users.txt",
            codecs.BOM_UTF16_BE + write(ROWS, delimiter="\t").encode("utf-16-be"),
            users=good,
        ),
        Case("gzip_by_content", "exports/users.csv.gz", gzip.compress(plain.encode()), users=good),
        Case("gzip_without_extension", "exports/users.csv", gzip.compress(plain.encode()), users=good),
        Case(
            "german_excel_cp1252",
            "exports/users.csv",
            german_text.encode("cp1252"),
            GERMAN_CONFIG,
            users={
                "jürgen@example.de": {**EXPECTED_JURGEN, "last_seen": None},
                "ada@example.com": {**EXPECTED_ADA, "last_seen": "2026-11-01T09:00:00+00:00"},
            },
        ),
        Case(
            "latin1_declared",
            "exports/users.csv",
            plain.encode("latin-1"),
            {"format": {"encoding": "latin-1"}},
            users=good,
        ),
        Case(
            "header_spaces_reordered_extra_columns",
            "exports/users.csv",
            write(
                [[r[8], r[2], r[0], "x", *r[3:8], r[1]] for r in ROWS],
                header=[
                    " Notes",
                    "Plan ",
                    " Email ",
                    "Internal Id",
                    "Open Tickets",
                    "Score",
                    "VIP",
                    "Since",
                    "Last Seen",
                    "Name",
                ],
            ).encode(),
            users=good,
        ),
        Case("blank_lines", "exports/users.csv", ("\n" + plain + "\n\n\r\n").encode(), users=good),
        Case("no_newline_at_end", "exports/users.csv", plain.rstrip("\n").encode(), users=good),
        Case(
            "zoned_timestamps_in_berlin",
            "exports/users.csv",
            plain.encode(),
            {"timezone": "Europe/Berlin"},
            users={
                "ada@example.com": {"last_seen": "2026-11-01T09:00:00+00:00"},
                "jürgen@example.de": {"last_seen": "2026-11-02T08:30:00+00:00"},
            },
        ),
        Case(
            "blank_clear",
            "exports/users.csv",
            plain.encode(),
            {"blank": "clear"},
            users={"grace@example.com": {"plan": "enterprise", "score": None}},
        ),
        Case(  # issue 25, item 2: every ISO 8601 offset form, seconds optional (PostgreSQL's COPY writes `+01`)
            "iso_offsets_as_postgresql_writes_them",
            "exports/users.csv",
            write(
                [
                    ["ada@example.com", "A", "free", "1", "", "", "", "2026-11-28T10:15Z", ""],
                    ["grace@example.com", "G", "free", "1", "", "", "", "2026-11-28 10:15+05:45", ""],
                    ["alan@example.com", "T", "free", "1", "", "", "", "2026-11-28 10:15:30.123456+01", ""],
                    ["edsger@example.com", "D", "free", "1", "", "", "", "2026-11-28T10:15:30-0330", ""],
                ]
            ).encode(),
            users={
                "ada@example.com": {"last_seen": "2026-11-28T10:15:00+00:00"},
                "grace@example.com": {"last_seen": "2026-11-28T04:30:00+00:00"},
                "alan@example.com": {"last_seen": "2026-11-28T09:15:30.123456+00:00"},
                "edsger@example.com": {"last_seen": "2026-11-28T13:45:30+00:00"},
            },
        ),
        Case(  # issue 25, item 3: `%Y` is four digits; Excel's TT.MM.JJ is rejected with a hint, never the year 26
            "two_digit_year_under_percent_Y",
            "exports/users.csv",
            write(
                [
                    ["ada@example.com", "A", "free", "1", "", "", "05.01.2026", "", ""],
                    ["grace@example.com", "G", "free", "1", "", "", "05.01.26", "", ""],
                    ["alan@example.com", "T", "free", "1", "", "", "5.1.2026", "", ""],
                ]
            ).encode(),
            {
                "attributes": [
                    *[a for a in ATTRIBUTES if a["name"] != "since"],
                    {"column": "Since", "name": "since", "type": "date", "format": "%d.%m.%Y"},
                ],
                "max_rejected_ratio": 0.5,
            },
            users={
                "ada@example.com": {"since": "2026-01-05"},
                "grace@example.com": {},
                "alan@example.com": {"since": "2026-01-05"},
            },
            rejects=[(3, "%y")],
        ),
        # rows that are bad, within the threshold: the rest is imported, the rows reported
        Case(
            "bad_rows_within_threshold",
            "exports/users.csv",
            write(
                [
                    *many,
                    ["", "No Id", "free", "1", "", "", "", "", ""],
                    ["bad@example.com", "B", "free", "many", "", "", "", "", ""],
                    ["ragged@example.com", "R", "free"],
                    ["dup@example.com", "D1", "free", "1", "", "", "", "", ""],
                    ["dup@example.com", "D2", "premium", "2", "", "", "", "", ""],
                ]
            ).encode(),
            {"max_rejected_ratio": 0.1},
            users={
                "u1@example.com": {"open_tickets": 1},
                "bad@example.com": {},
                "dup@example.com": {},
                "ragged@example.com": {},
            },
            rejects=[
                (62, "empty user ID"),
                (63, "not a whole number"),
                (64, "row has 3 fields, the header has 9"),
                (65, "appears 2 times"),
                (66, "appears 2 times"),
            ],
        ),
        Case(
            "bad_rows_over_threshold",
            "exports/users.csv",
            write([*ROWS, ["bad@example.com", "B", "free", "many", "", "", "", "", ""]]).encode(),
            outcome="failed",
            error="1 of 4 rows rejected",
            rejects=[(6, "not a whole number")],
        ),
        Case(  # issue 25, item 4: `cat` of two exports, each with a BOM: the header again on line 3, skipped
            "two_exports_joined_with_cat",
            "exports/users.csv",
            b"".join(codecs.BOM_UTF8 + write(part).encode() for part in (ROWS[:1], ROWS[1:])),
            users={**good, "Email": {}},
            rejects=[(3, "repeated header line")],  # in the report, not counted as rejected
        ),
        # files that are bad as a whole
        Case(
            "missing_user_id_column",
            "exports/users.csv",
            write(ROWS, header=["E-Mail", *HEADER[1:]]).encode(),
            outcome="failed",
            error="user-ID column 'Email' is not in the file's header; closest header names: 'E-Mail'",
        ),
        Case(
            "missing_attribute_column",
            "exports/users.csv",
            write([r[:3] for r in ROWS], header=HEADER[:3]).encode(),
            outcome="failed",
            error="column 'Open Tickets' is not in the file's header",
        ),
        Case(
            "no_header",
            "exports/users.csv",
            write(ROWS[1:], header=ROWS[0]).encode(),
            outcome="failed",
            error="the first line looks like data",
        ),
        Case("empty_file", "exports/users.csv", b"", outcome="failed", error="the file is empty"),
        Case("blank_file", "exports/users.csv", b"\r\n\n  \n", outcome="failed", error="the file is empty"),
        Case("header_only", "exports/users.csv", write([]).encode(), outcome="failed", error="header but no data rows"),
        Case(
            "binary_png",
            "exports/users.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
            outcome="failed",
            error="binary",
        ),
        Case(
            "xlsx_named_csv", "exports/users.csv", b"PK\x03\x04" + b"\x00" * 100, outcome="failed", error="Excel .xlsx"
        ),
        Case(
            "undeclared_cp1252",
            "exports/users.csv",
            plain.encode("cp1252"),
            outcome="failed",
            error="line 3: byte 0xfc is not valid utf-8; the file looks like Windows-1252",
        ),
        Case(
            "over_size_limit",
            "exports/users.csv",
            (plain + "x" * (2 * 1024 * 1024)).encode(),
            {"max_file_mb": 1},
            outcome="failed",
            error="over the limit of 1 MB",
        ),
        Case(
            "gzip_bomb",
            "exports/users.csv.gz",
            gzip.compress(plain.encode() + b"0" * (50 * 1024 * 1024)),
            {"max_file_mb": 1},
            outcome="failed",
            error="decompresses to more than 1 MB",
        ),
        Case(
            "gzip_two_members",  # `cat a.gz b.gz`: one valid gzip stream
            "exports/users.csv.gz",
            gzip.compress(write(ROWS[:1]).encode()) + gzip.compress(csv_rows(ROWS[1:]).encode()),
            users=good,
        ),
        Case(
            "gzip_truncated",  # an upload cut short: never a partial import
            "exports/users.csv.gz",
            half(gzip.compress(write([*ROWS, *many]).encode())),
            outcome="failed",
            error="the file ends before the end of its gzip stream (truncated",
        ),
        Case(
            "nul_byte_past_the_first_64_kib",
            "exports/users.csv",
            write([*ROWS, *many * 200, ["nul@example.com", "N", "free\x00", "1", "", "", "", "", ""]]).encode(),
            outcome="failed",
            error="line 12006: the file contains a NUL byte",
        ),
        Case(
            "value_of_200000_characters",
            "exports/users.csv",
            write([*ROWS, ["long@example.com", "L" * 200_000, "free", "1", "", "", "", "", ""]]).encode(),
            {"max_rejected_ratio": 0.5},
            users={**good, "long@example.com": {}},
            rejects=[(6, "value longer than 65536 bytes (INBOUND_MAX_VALUE_BYTES)")],
        ),
        Case(
            "header_field_of_200000_characters",
            "exports/users.csv",
            write(ROWS, header=[*HEADER, "H" * 200_000]).encode(),
            outcome="failed",
            error="line 1: the header has a field longer than 1024 bytes",
        ),
        Case(
            "unclosed_quote",
            "exports/users.csv",
            (plain + 'x@example.com,"never closed,free,1\n').encode(),
            outcome="failed",
            error="quot",
        ),
        Case(  # issue 25, item 1: a lone quote inside an unquoted value is a literal (screens, heights, names)
            "lone_quotes_in_unquoted_values",
            "exports/users.csv",
            (
                f"{','.join(HEADER)}\r\n"
                'ada@example.com,Ada O"Brien,27" 4K,3,4.5,true,2021-10-25,2026-11-01 10:00:00,5\'11"\r\n'
                'grace@example.com,"Grace ""Amazing"" Hopper",24",12,,yes,,,"desk 27"", 5\'5"""\r\n'
            ).encode(),
            users={
                "ada@example.com": {"full_name": 'Ada O"Brien', "plan": '27" 4K', "open_tickets": 3},
                "grace@example.com": {"full_name": 'Grace "Amazing" Hopper', "plan": '24"', "open_tickets": 12},
            },
        ),
        Case(  # issue 25, item 1: where a record ends cannot be told: the line where the quoted value opens
            "quote_never_closed_names_its_line",
            "exports/users.csv",
            (plain + 'x@example.com,"never closed,free,1\ny@example.com,Y,free,2\n').encode(),
            outcome="failed",
            error="line 6: a value starts with a quote, which opens a quoted value, and it is never closed",
        ),
    ]
    return out


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    for case in cases():
        path = folder / case.name / case.key.rsplit("/", 1)[-1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.data)
        print(path)


if __name__ == "__main__":
    main()
