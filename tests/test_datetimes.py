"""Issue 25, items 2 and 3, as properties: every documented ISO-8601 form reads as its UTC instant,
`strftime(format)` reads back equal, and text that does not fit exactly is rejected, never read as
another date (Python's own parsers are the oracle)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from inbound.config.sections import Attribute
from inbound.values.casts import cast_series
from inbound.values.datetimes import format_problem, layout

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
MOMENTS = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30))
TIMESPECS = {"minutes": 0, "seconds": 0, "milliseconds": 3, "microseconds": 6, "auto": 6}


def cast(values: list[str], kind: str, **options) -> list:
    return cast_series(pl.Series("v", values, pl.String), kind, **options).to_list()


def truncated(moment: datetime, timespec: str) -> datetime:
    """The instant `isoformat(timespec=...)` writes."""
    if timespec == "minutes":
        return moment.replace(second=0, microsecond=0)
    if timespec == "seconds":
        return moment.replace(microsecond=0)
    if timespec == "milliseconds":
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return moment


@st.composite
def iso_texts(draw) -> tuple[str, datetime]:
    """A documented ISO form of an instant (`isoformat` and the offset variants), and the instant in UTC."""
    moment = draw(MOMENTS)
    timespec = draw(st.sampled_from(list(TIMESPECS)))
    zoned = draw(st.booleans())
    if zoned:
        moment = moment.replace(tzinfo=draw(OFFSETS))
    text = moment.isoformat(sep=draw(st.sampled_from(["T", " "])), timespec=timespec)
    if zoned:
        body, offset = text[:-6], text[-6:]  # isoformat writes ±hh:mm
        forms = [offset, offset.replace(":", "")]
        forms += [offset[:3]] if offset.endswith(":00") else []
        forms += ["Z"] if offset == "+00:00" else []
        text = body + draw(st.sampled_from(forms))
    if timespec in ("microseconds", "auto") and "." in text and draw(st.booleans()):  # nanoseconds: truncated
        at = text.index(".") + 7
        text = text[:at] + draw(st.sampled_from(["0", "999", "123"])) + text[at:]
    instant = truncated(moment, timespec)
    return text, instant.astimezone(UTC) if zoned else instant.replace(tzinfo=UTC)


@PROPERTY
@given(st.lists(iso_texts(), min_size=1, max_size=12))
def test_any_instant_in_any_documented_iso_form_reads_back_as_its_utc_instant(texts) -> None:
    """A column mixes the forms (the layouts fill in for each other), naive values are read in `timezone`."""
    assert cast([t for t, _ in texts], "timestamp", timezone="UTC") == [instant for _, instant in texts]


MUTATION_CHARACTERS = "0123456789-:+.TZ tz/"


@st.composite
def mutated(draw, texts: st.SearchStrategy[str]) -> str:
    """A text with one to three characters inserted, deleted or replaced."""
    text = draw(texts)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        how = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(MUTATION_CHARACTERS))
        if how == "insert":
            text = text[:at] + char + text[at:]
        elif at < len(text):
            text = text[:at] + (char if how == "replace" else "") + text[at + 1 :]
    return text


@PROPERTY
@given(mutated(iso_texts().map(lambda pair: pair[0])))
def test_a_mutated_iso_timestamp_is_rejected_or_read_as_python_reads_it(text: str) -> None:
    (found,) = cast([text], "timestamp", timezone="UTC")
    if found is not None:
        python = datetime.fromisoformat(text)  # raises: we read what Python does not
        assert found == (python if python.tzinfo else python.replace(tzinfo=UTC)).astimezone(UTC), text


# ---------------------------------------------------------------------------------------- format

DAYS, MONTHS, YEARS = ["%d", "%-d"], ["%m", "%-m", "%b", "%B"], ["%Y", "%y"]
TIMES = ["", " %H:%M", " %H:%M:%S", "T%H:%M:%S.%f", " %I:%M %p", " %-I:%M %p", "T%H:%M:%S%z", " %-H:%M", " %T", "%H%M"]


@st.composite
def formats(draw) -> str:
    """A format a config may hold: day, month and year in any order and separator, maybe a time."""
    parts = draw(
        st.permutations([draw(st.sampled_from(DAYS)), draw(st.sampled_from(MONTHS)), draw(st.sampled_from(YEARS))])
    )
    text = draw(st.sampled_from([".", "/", "-", " ", ""])).join(parts)
    text = draw(st.sampled_from(["", "%a ", "%A, "])) + text + draw(st.sampled_from(TIMES))
    assume(format_problem(text) is None)  # `%-d%m`: a number without its zero between digits is no layout
    return text


@st.composite
def written(draw) -> tuple[str, datetime, str]:
    """(format, a moment, the moment as strftime writes it in that format)."""
    fmt = draw(formats())
    low, high = (
        (datetime(1970, 1, 1), datetime(2069, 12, 31))
        if "%y" in fmt
        else (datetime(1000, 1, 1), datetime(9999, 12, 31))
    )
    moment = draw(st.datetimes(min_value=low, max_value=high))
    if "%z" in fmt:
        moment = moment.replace(tzinfo=draw(OFFSETS))
    if "%f" not in fmt:
        moment = moment.replace(microsecond=0)
    if "%S" not in fmt and "%T" not in fmt:
        moment = moment.replace(second=0)
    if "%M" not in fmt:
        moment = moment.replace(hour=0, minute=0)
    return fmt, moment, moment.strftime(fmt)


def expected(kind: str, moment: datetime) -> date | datetime:
    if kind == "date":
        return moment.date()
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@PROPERTY
@given(written(), st.sampled_from(["date", "timestamp"]))
def test_strftime_in_the_format_reads_back_equal(case, kind: str) -> None:
    fmt, moment, text = case
    assert cast([text], kind, format=fmt) == [expected(kind, moment)], (fmt, text)


def python_reads(text: str, fmt: str) -> datetime:
    """Python's strptime of `text`, with chrono's %y window (00-69 is 20xx; Python's is 00-68)."""
    for short, long in {"%T": "%H:%M:%S", "%F": "%Y-%m-%d", "%R": "%H:%M", "%D": "%m/%d/%y"}.items():
        fmt = fmt.replace(short, long)  # strftime writes them, strptime does not know them
    found = datetime.strptime(text, fmt.replace("%-", "%"))
    if "%y" in fmt and found.year == 1969:
        found = found.replace(year=2069)
    return found


@PROPERTY
@given(written(), st.sampled_from(["date", "timestamp"]), st.data())
def test_text_that_does_not_fit_the_format_is_rejected_never_read_as_another_date(case, kind: str, data) -> None:
    fmt, _, text = case
    bad = data.draw(mutated(st.just(text)))
    (found,) = cast([bad], kind, format=fmt)
    if found is not None:
        assert found == expected(kind, python_reads(bad, fmt)), (fmt, text, bad)  # strptime raises: not the layout


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("%d.%m.%Y", "05.01.26"),  # Excel's TT.MM.JJ under %Y
        ("%d.%m.%Y", "05.01.202"),
        ("%d.%m.%Y", "05.01.02026"),
        ("%d.%m.%y", "05.01.2026"),  # %y is two digits
        ("%d.%m.%y", "5.1.6"),
        ("%Y%m%d", "2026015"),  # between digits a number keeps its zero
        ("%d.%m.%Y", "05.01.2026 10:00"),  # a date format on a timestamp: no trailing time
        ("%d.%m.%Y %H:%M", "05.01.2026"),  # nor a missing one
        ("%d.%m.%Y %H:%M", "05.01.2026  10:00"),
        ("%d.%m.%Y %H:%M", "05.01.2026 10:5"),  # minutes and seconds are two digits
        ("%d.%m.%Y %H:%M:%S", "05.01.2026 23:59:60"),  # no leap second (chrono: the next minute)
        ("%d %b %Y", "05 Janu 2026"),
        ("%d.%m.%Y %H:%M:%S%z", "05.01.2026 10:00:00Z"),  # %z is ±hhmm or ±hh:mm; %#z also Z and ±hh
    ],
)
def test_a_value_off_the_layout_is_rejected(fmt: str, text: str) -> None:
    assert cast([text], "timestamp", format=fmt, timezone="UTC") == [None]
    assert cast([text], "date", format=fmt) == [None]


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("%d.%m.%Y", "5.1.2026", date(2026, 1, 5)),  # day and month without their zero, between separators
        ("%m/%d/%Y", "1/5/2026", date(2026, 1, 5)),
        ("%d.%m.%y", "05.01.69", date(2069, 1, 5)),  # chrono's window: 00-69 is 20xx,
        ("%d.%m.%y", "05.01.70", date(1970, 1, 5)),  # 70-99 is 19xx
        ("%d %b %Y", "05 JAN 2026", date(2026, 1, 5)),  # English month names, any case
        ("%d.%m.%Y %H:%M", "05.01.2026 9:05", date(2026, 1, 5)),  # a date attribute reads the date of a time
    ],
)
def test_what_a_format_reads(fmt: str, text: str, expected: date) -> None:
    assert cast([text], "date", format=fmt) == [expected]


def test_a_date_format_on_a_timestamp_is_midnight_in_the_timezone() -> None:
    found = cast(["05.01.2026"], "timestamp", format="%d.%m.%Y", timezone="Europe/Berlin")
    assert found == [datetime(2026, 1, 4, 23, tzinfo=UTC)]


def test_a_format_with_an_offset_is_its_own_zone() -> None:
    found = cast(
        ["05.01.2026 10:00 +0545", "05.01.2026 10:00 -03:30"],
        "timestamp",
        format="%d.%m.%Y %H:%M %z",
        timezone="Europe/Berlin",
    )
    assert found == [datetime(2026, 1, 5, 4, 15, tzinfo=UTC), datetime(2026, 1, 5, 13, 30, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [
        ("%d.%m.%Q", "'%Q' is not a directive inbound reads; it reads %Y %y %m"),
        ("%Y-%j", "'%j' is not a directive"),
        ("%d.%m.%Y %", "'%' is not a directive"),
        ("%H:%M", "lacks a year (%Y or %y) and a month (%m or %b) and a day (%d)"),
        ("%m/%Y", "lacks a day (%d)"),
        ("%d.%m.%Y %I:%M", "%I (hour 1-12) and %p (AM/PM) go together"),
        ("%-d%m%Y", "%-d next to a digit"),
    ],
)
def test_a_format_inbound_cannot_read_is_a_config_error(fmt: str, problem: str) -> None:
    assert problem in (format_problem(fmt) or "")
    with pytest.raises(ValueError, match="format"):
        Attribute(column="Born", type="date", format=fmt)


def test_layout_is_exactly_the_format() -> None:
    assert layout("%d.%m.%Y").pattern == r"^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}$"
    assert layout("%Y%m%d %H:%M").pattern == "^[0-9]{4}[0-9]{2}[0-9]{2} [0-9]{1,2}:[0-5][0-9]$"
    assert layout("%Y-%m-%dT%H:%M:%S.%f").chrono == "%Y-%m-%dT%H:%M:%S.%6f"  # Python's %f: microseconds
    assert layout("%F %T%z").zoned and not layout("%d.%m.%Y").zoned
