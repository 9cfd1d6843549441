"""What discovery concludes from a sample, without S3: encoding, decimal mark, types, names."""

from __future__ import annotations

import polars as pl
import pytest

from inbound.config.names import attribute_names, snake_case
from inbound.discovery.infer import (
    decimal_mark,
    fitting_formats,
    guess_encoding,
    id_rank,
    infer_type,
    integration_name,
    key_glob,
)


def test_names() -> None:
    assert integration_name("crm/users_2026-11-28.csv") == "crm_users"
    assert integration_name("Export 28.11.2026.CSV") == "export"
    assert integration_name("2026-11-28.csv") == "integration"
    assert key_glob("crm/users_2026-11-28.csv") == "crm/users_*.csv"
    assert key_glob("crm/users_20261128T0530Z.csv") == "crm/users_*.csv"
    assert key_glob("crm/users_12345678.csv") == "crm/users_12345678.csv"
    assert key_glob("2026-11-28/users.csv") == "2026-11-28/users.csv"
    assert snake_case("Straße (PLZ)") == "strasse_plz" and snake_case("lastLoginAt") == "last_login_at"
    assert snake_case("1. Wahl") == "a_1_wahl"


def test_attribute_names_are_valid_and_unique() -> None:
    assert attribute_names(["Plan", "E-Mail", "e_mail", "Kunde seit"]) == {
        "Plan": "Plan",  # already a valid name: kept
        "E-Mail": "e_mail_2",  # its snake_case is taken by a column of that name
        "e_mail": "e_mail",
        "Kunde seit": "kunde_seit",
    }


def test_id_rank_prefers_email_then_user_then_id() -> None:
    ranked = sorted(["Kundennr.", "CustomerId", "userName", "E-Mail", "workEmail"], key=id_rank)
    assert ranked == ["E-Mail", "workEmail", "userName", "CustomerId", "Kundennr."]


@pytest.mark.parametrize(
    ("data", "encoding", "bom", "hint"),
    [
        (b"\xef\xbb\xbfEmail\n", "utf-8", True, None),
        ("Email\n".encode("utf-16"), "utf-16", True, None),
        ("Email\nMüller\n".encode(), "utf-8", False, None),
        ("Email\nMüller\n".encode("cp1252"), "cp1252", False, "byte 0xfc on line 2 is not valid UTF-8"),
        (b"Email\n\x81\x8d\n", "latin-1", False, "nor Windows-1252"),
    ],
)
def test_guess_encoding(data: bytes, encoding: str, bom: bool, hint: str | None) -> None:
    found = guess_encoding(data)
    assert found[:2] == (encoding, bom)
    assert found[2] is None if hint is None else hint in (found[2] or "")


def test_decimal_mark_and_types() -> None:
    frame = pl.DataFrame({"Umsatz": ["1.234,56", "980,00"], "Tage": ["1", "2"], "Seit": ["01.03.1980", "24.12.1975"]})
    assert decimal_mark(frame, frame.columns, ";") == ","
    assert decimal_mark(frame, frame.columns, ",") == ","  # quoted in a comma-separated file: the values decide
    assert infer_type(frame, "Umsatz", ",") == ("number", None)
    assert infer_type(frame, "Tage", ",") == ("integer", None)
    assert infer_type(frame, "Seit", ",") == ("date", "%d.%m.%Y")
    zips = pl.DataFrame({"PLZ": ["01067", "80331"], "Flag": ["ja", "nein"], "Leer": ["", " "]})
    assert infer_type(zips, "PLZ", ".") == ("string", None)  # leading zeros: never a number
    assert infer_type(zips, "Flag", ".") == ("boolean", None)
    assert infer_type(zips, "Leer", ".") == ("string", None)


@pytest.mark.parametrize(
    ("values", "delimiter", "decimal", "kind"),
    [
        (["38,5"], ";", ",", "number"),  # never `integer`: 38,5 is no whole number
        (["38,5", "7"], ",", ",", "number"),  # quoted in a comma-separated file
        (["1.234,50", "3"], ";", ",", "number"),
        (["1.234", "980"], ";", ".", "number"),  # reads either way: the point is a decimal point by default
        (["1,234", "980"], ",", ".", "integer"),
        (["3.5", "1,234.56"], ",", ".", "number"),
    ],
)
def test_a_decimal_comma_is_proposed_from_the_values(
    values: list[str], delimiter: str, decimal: str, kind: str
) -> None:
    frame = pl.DataFrame({"Score": values})
    assert decimal_mark(frame, ["Score"], delimiter) == decimal
    assert infer_type(frame, "Score", decimal) == (kind, None)


@pytest.mark.parametrize(
    ("values", "kind", "fmt"),
    [
        (["05.01.1990", "31.12.2001"], "date", "%d.%m.%Y"),
        (["05.01.90", "31.12.01"], "date", "%d.%m.%y"),
        (["01/25/1990", "12/31/2001"], "date", "%m/%d/%Y"),
        (["25/01/1990"], "date", "%d/%m/%Y"),
        (["1990/01/25"], "date", "%Y/%m/%d"),
        (["25-01-1990"], "date", "%d-%m-%Y"),
        (["05.01.1990 10:15", "31.12.2001 23:59"], "timestamp", "%d.%m.%Y %H:%M"),
        (["05.01.1990 10:15:30"], "timestamp", "%d.%m.%Y %H:%M:%S"),
        (["05.01.90 10:15"], "timestamp", "%d.%m.%y %H:%M"),
        (["01/25/1990 10:15"], "timestamp", "%m/%d/%Y %H:%M"),
        (["01/25/1990 10:15 PM"], "timestamp", "%m/%d/%Y %I:%M %p"),
        (["2026-11-28", "2026-01-05"], "date", None),
        (["2026-11-28 10:15"], "timestamp", None),
    ],
)
def test_date_and_timestamp_layouts_are_proposed_from_the_samples(
    values: list[str], kind: str, fmt: str | None
) -> None:
    frame = pl.DataFrame({"At": values})
    assert infer_type(frame, "At", ".") == (kind, fmt)
    if fmt is not None:
        assert fmt in fitting_formats(frame, "At", kind, ".")


def test_every_layout_that_fits_is_offered_first_the_proposed_one() -> None:
    ambiguous = pl.DataFrame({"At": ["01/02/2026", "03/04/2026"]})  # January 2nd or February 1st?
    assert fitting_formats(ambiguous, "At", "date", ".") == ["%m/%d/%Y", "%d/%m/%Y"]
    assert fitting_formats(ambiguous, "At", "string", ".") == []
