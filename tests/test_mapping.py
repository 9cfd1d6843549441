from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from conftest import integration_dict
from inbound.config import Format, Integration
from inbound.errors import BadFile, Problem
from inbound.mapping import map_table
from inbound.reading import read_table


def integration(**overrides) -> Integration:
    attributes = [
        {"column": "Plan", "name": "plan"},
        {"column": "Open Tickets", "name": "open_tickets", "type": "integer"},
        {"column": "Score", "name": "score", "type": "number"},
        {"column": "VIP", "name": "vip", "type": "boolean"},
        {"column": "Since", "name": "since", "type": "date"},
        {"column": "Seen", "name": "seen", "type": "timestamp"},
    ]
    return Integration.model_validate(integration_dict(attributes=attributes, **overrides))


HEADER = "Email,Plan,Open Tickets,Score,VIP,Since,Seen,Ignored\n"


def mapped(body: str, **overrides):
    config = integration(**overrides)
    return map_table(read_table((HEADER + body).encode(), config.format), config)


def test_casts_to_declared_types() -> None:
    result = mapped("a@x,premium,3,1.5,ja,2024-01-02,2024-01-02T10:00:00+02:00,z\n")
    row = result.frame.row(0, named=True)
    assert row == {
        "user_id": "a@x",
        "plan": "premium",
        "open_tickets": 3,
        "score": 1.5,
        "vip": True,
        "since": date(2024, 1, 2),
        "seen": datetime(2024, 1, 2, 8, 0, tzinfo=UTC),
    }
    assert result.rows_read == 1 and result.rows_rejected == 0


def test_decimal_comma() -> None:
    config = integration(format={"delimiter": ";", "decimal": ","})
    table = read_table((b"Email;Plan;Open Tickets;Score;VIP;Since;Seen\na@x;p;1;1.234,5;no;;\n"), config.format)
    assert map_table(table, config).frame.item(0, "score") == 1234.5


def test_bad_values_reject_their_row_with_reason() -> None:
    result = mapped("a@x,p,three,,,,,\nb@x,p,1,,maybe,,,\n,p,1,,,,,\nc@x,p,2,,,,,\n")
    assert result.frame.get_column("user_id").to_list() == ["c@x"]
    rejects = result.rejects.to_dicts()
    assert [(r["line"], r["column"], r["value"]) for r in rejects] == [
        (2, "Open Tickets", "three"),
        (3, "VIP", "maybe"),
        (4, "Email", None),
    ]
    assert "not a whole number" in rejects[0]["reason"] and rejects[2]["reason"] == "empty user ID"
    assert result.rows_rejected == 3


def test_duplicate_user_ids_reject_every_row_of_that_user() -> None:
    result = mapped("a@x,p,1,,,,,\nb@x,p,1,,,,,\na@x,q,2,,,,,\n")
    assert result.frame.get_column("user_id").to_list() == ["b@x"]
    assert result.rejects.get_column("line").to_list() == [2, 4]
    assert "appears 2 times in the file (lines 2, 4)" in result.rejects.item(0, "reason")


def test_empty_cells_are_null() -> None:
    result = mapped("a@x,,,,,,,\n")
    assert result.frame.row(0) == ("a@x", None, None, None, None, None, None)


@pytest.mark.parametrize(
    ("user_id_column", "data", "message"),
    [
        (
            "email",
            b"Email,Plan\na,b\n",
            "user-ID column 'email' is not in the file's header; closest header names: 'Email'",
        ),
        ("Email", b"Mail,Plan\na,b\n", "user-ID column 'Email' is not in the file's header"),
    ],
)
def test_missing_user_id_column(user_id_column: str, data: bytes, message: str) -> None:
    config = Integration.model_validate(
        integration_dict(user_id={"column": user_id_column}, attributes=[{"column": "Plan"}])
    )
    with pytest.raises(BadFile, match=message) as refused:
        map_table(read_table(data, Format()), config)
    assert (refused.value.problem, refused.value.column) == (Problem.MISSING_COLUMN, user_id_column)


def test_missing_attribute_column_and_header_only() -> None:
    config = Integration.model_validate(integration_dict(attributes=[{"column": "Plan"}]))
    with pytest.raises(
        BadFile, match="attribute 'Plan': column 'Plan' is not in the file's header; closest header names: 'Plans'"
    ) as refused:
        map_table(read_table(b"Email,Plans\na,b\n", Format()), config)
    assert refused.value.column == "Plan"
    with pytest.raises(BadFile, match="header but no data rows") as refused:
        map_table(read_table(b"Email,Plan\n", Format()), config)
    assert refused.value.problem is Problem.EMPTY


def test_a_first_line_of_data_is_a_missing_header() -> None:
    config = Integration.model_validate(integration_dict(attributes=[{"column": "Plan"}]))
    with pytest.raises(BadFile, match="the first line looks like data") as refused:
        map_table(read_table(b"ada@example.com,premium\nbob@example.com,free\n", Format()), config)
    assert (refused.value.problem, refused.value.line) == (Problem.HEADER, 1)
