"""Casts: file text to typed columns, typed columns to the store's canonical text, and back to JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from inbound.values.casts import canonical, cast_series, to_text
from inbound.values.text import from_text


def cast(values: list[str | None], kind: str, **options) -> list:
    return cast_series(pl.Series("v", values, pl.String), kind, **options).to_list()


@pytest.mark.parametrize(
    ("kind", "values", "options", "expected"),
    [
        ("string", ["a b", None], {}, ["a b", None]),
        ("integer", ["42", "-7", "1,234", "1.5", "x"], {}, [42, -7, 1234, None, None]),
        ("integer", ["1.234", "12"], {"decimal": ","}, [1234, 12]),
        ("number", ["3.5", "1,234.56", "inf", "nan"], {}, [3.5, 1234.56, None, None]),
        ("number", ["3,5", "1.234,56"], {"decimal": ","}, [3.5, 1234.56]),
        ("boolean", ["Ja", "nein", "T", "0", "maybe"], {}, [True, False, True, False, None]),
        ("date", ["2024-01-02", "02.01.2024"], {}, [date(2024, 1, 2), None]),
        ("date", ["02.01.2024"], {"format": "%d.%m.%Y"}, [date(2024, 1, 2)]),
    ],
)
def test_casts_take_what_the_readme_promises(kind, values, options, expected) -> None:
    assert cast(values, kind, **options) == expected


def test_timestamps_in_their_spellings_end_up_in_utc() -> None:
    found = cast(
        ["2024-01-02T10:00:00+02:00", "2024-01-02 08:00:00Z", "2024-01-02 09:00", "2024-01-02", "soon"],
        "timestamp",
        timezone="Europe/Berlin",
    )
    assert found == [
        datetime(2024, 1, 2, 8, tzinfo=UTC),
        datetime(2024, 1, 2, 8, tzinfo=UTC),
        datetime(2024, 1, 2, 8, tzinfo=UTC),  # no zone: read in the integration's zone
        datetime(2024, 1, 1, 23, tzinfo=UTC),
        None,
    ]
    assert cast(["02.01.2024 10:00"], "timestamp", format="%d.%m.%Y %H:%M") == [datetime(2024, 1, 2, 10, tzinfo=UTC)]


def test_an_unknown_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown attribute type 'money'"):
        cast(["1"], "money")


def test_canonical_text_round_trips_to_json() -> None:
    types = {"s": "string", "i": "integer", "n": "number", "b": "boolean", "d": "date", "t": "timestamp"}
    typed = pl.DataFrame(
        {
            "user_id": ["u"],
            "s": ["x"],
            "i": [12],
            "n": [4.5],
            "b": [False],
            "d": [date(2021, 10, 25)],
            "t": [datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)],
        }
    )
    text = to_text(typed, types).row(0, named=True)
    assert text == {
        "user_id": "u",
        "s": "x",
        "i": "12",
        "n": "4.5",
        "b": "false",
        "d": "2021-10-25",
        "t": "2026-01-02T03:04:05.600000Z",
    }
    assert {name: from_text(text[name], kind) for name, kind in types.items()} == {
        "s": "x",
        "i": 12,
        "n": 4.5,
        "b": False,
        "d": "2021-10-25",
        "t": "2026-01-02T03:04:05.600000+00:00",
    }


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("1,234", "integer", "1234"),
        ("ja", "boolean", "true"),
        ("2024-01-02 10:00:00+02:00", "timestamp", "2024-01-02T08:00:00.000000Z"),
        ("premium", "string", "premium"),
        ("nope", "boolean", None),
        ("yesterday", "date", None),
    ],
)
def test_one_value_as_the_store_keeps_it(text: str, kind: str, expected: str | None) -> None:
    assert canonical(text, kind) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T10:15Z", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28 10:15+05:45", datetime(2026, 11, 28, 4, 30, tzinfo=UTC)),
        ("2026-11-28 10:15:30.123456+01", datetime(2026, 11, 28, 9, 15, 30, 123456, tzinfo=UTC)),  # PostgreSQL's COPY
        ("2026-11-28T10:15:30-0330", datetime(2026, 11, 28, 13, 45, 30, tzinfo=UTC)),
        ("2026-11-28T10:15-03", datetime(2026, 11, 28, 13, 15, tzinfo=UTC)),
        ("2026-11-28T10:15:30.123456789Z", datetime(2026, 11, 28, 10, 15, 30, 123456, tzinfo=UTC)),
    ],
)
def test_every_iso_offset_form_reads_as_its_utc_instant(text: str, expected: datetime) -> None:
    """Issue 25, item 2: `Z`, ±hh, ±hhmm and ±hh:mm, with or without seconds and fractions."""
    assert cast([text], "timestamp", timezone="Europe/Berlin") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T10:15+1",  # an offset is two digits of hours
        "2026-11-28T10:15+01:0",
        "2026-11-28T10:15:30+01:00:30",  # seconds in an offset: not ISO 8601
        "2026-11-28 10:15:30 +01:00",  # a space before the zone
        "2026-11-28T10:15:30.Z",
        "2026-11-28T10:15:3",
        "2026-11-28T1:15",
        "2026-11-28T10",  # hours alone
        "2026-11-28+01:00",  # a zone needs a time
        "26-11-28T10:15Z",  # a two-digit year
        "+2026-11-28T10:15Z",
        "2026-11-28  10:15",
        "2026-11-28T10:15Zx",
        "2026-11-28t10:15z",
    ],
)
def test_a_timestamp_outside_the_documented_iso_forms_is_rejected(text: str) -> None:
    assert cast([text], "timestamp") == [None]


@pytest.mark.parametrize(
    "text",
    ["26-01-05", "+2026-01-05", "2026-1-5", "-026-01-05", "20266-01-05", "2026-01-05T00:00"],
)
def test_a_date_is_exactly_yyyy_mm_dd(text: str) -> None:
    """`-026-01-05` raised out of polars (the whole file failed); `26-01-05` was the year 26."""
    assert cast([text, "2026-01-05"], "date") == [None, date(2026, 1, 5)]


@pytest.mark.parametrize(
    "text",
    [
        "05.01.26",
        "05.01.202",
        "05.01.20266",
        "05.01.+2026",
        "05.01.-026",
        "05.01.2026x",
        "05.01.2026 10:00",
        "5..1.2026",
    ],
)
def test_a_value_that_does_not_fit_the_format_exactly_is_rejected(text: str) -> None:
    """Issue 25, item 3: under `%Y` (four digits) `05.01.26` was stored as the year 26."""
    assert cast([text, "05.01.2026"], "date", format="%d.%m.%Y") == [None, date(2026, 1, 5)]


@pytest.mark.parametrize(
    ("text", "kind", "options"),
    [
        ("0000-01-01", "date", {}),
        ("0000-01-01T00:00", "timestamp", {}),
        ("0001-01-01T00:30+01:00", "timestamp", {}),  # the year 0 in UTC
        ("9999-12-31T23:30-01:00", "timestamp", {}),  # the year 10000 in UTC
        ("01.01.0000", "date", {"format": "%d.%m.%Y"}),
    ],
)
def test_a_date_outside_the_years_1_to_9999_is_rejected(text: str, kind: str, options: dict[str, str]) -> None:
    """Stored, it would be text Python cannot read back (`from_text` raised on `0000-01-01`)."""
    assert cast([text], kind, **options) == [None]
