"""What discovery concludes from a sample, without S3: encoding, decimal mark, types, names."""

from __future__ import annotations

import polars as pl
import pytest

from inbound.discovery.infer import (
    attribute_names,
    decimal_mark,
    guess_encoding,
    id_rank,
    infer_type,
    integration_name,
    key_glob,
    snake_case,
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
    assert decimal_mark(frame, frame.columns, ",") == "."  # a comma-separated file never has decimal commas
    assert infer_type(frame, "Umsatz", ",") == ("number", None)
    assert infer_type(frame, "Tage", ",") == ("integer", None)
    assert infer_type(frame, "Seit", ",") == ("date", "%d.%m.%Y")
    zips = pl.DataFrame({"PLZ": ["01067", "80331"], "Flag": ["ja", "nein"], "Leer": ["", " "]})
    assert infer_type(zips, "PLZ", ".") == ("string", None)  # leading zeros: never a number
    assert infer_type(zips, "Flag", ".") == ("boolean", None)
    assert infer_type(zips, "Leer", ".") == ("string", None)
