from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, date, datetime

import pytest

from conftest import integration_dict
from inbound.config.model import Integration
from inbound.config.sections import Format
from inbound.errors import BadFile, ConfigInvalid, Problem
from inbound.mapping.mapper import map_table
from inbound.mapping.rejects import REJECT_KINDS, rejected_by_kind
from inbound.reading.reader import read_table


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


def renamed(config: Integration, name: str) -> Integration:
    """The config with its first attribute renamed, past validation (as a config from elsewhere might be)."""
    first = config.attributes[0].model_copy(update={"name": name})
    return config.model_copy(update={"attributes": [first, *config.attributes[1:]]})


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
    with pytest.raises(BadFile, match="attribute 'Plan': column 'Plan' is not in the file's header") as refused:
        map_table(read_table(b"Email,Plans\na,b\n", Format()), config)
    assert refused.value.column == "Plan"
    message = str(refused.value)  # 'Plans' is no configured name: it may be a value, it is placed, not quoted
    assert "'Plans'" not in message and "'Email' (column 1)" in message and "column 2" in message
    with pytest.raises(BadFile, match="header but no data rows") as refused:
        map_table(read_table(b"Email,Plan\n", Format()), config)
    assert refused.value.problem is Problem.EMPTY


def test_a_first_line_of_data_is_a_missing_header() -> None:
    config = Integration.model_validate(integration_dict(attributes=[{"column": "Plan"}]))
    with pytest.raises(BadFile, match="the first line looks like data") as refused:
        map_table(read_table(b"ada@example.com,premium\nbob@example.com,free\n", Format()), config)
    assert (refused.value.problem, refused.value.line) == (Problem.HEADER, 1)


def test_a_first_line_of_values_with_one_configured_name_quotes_only_that_name() -> None:
    """A headerless file whose first row holds a value equal to a configured column (issue 24, 6)."""
    config = Integration.model_validate(integration_dict(attributes=[{"column": "Plan"}]))
    with pytest.raises(BadFile, match="user-ID column 'Email' is not in the file's header") as refused:
        map_table(read_table(b"SECRETVAL2@x.com,Plan,7\nbob@x,free,3\n", Format()), config)
    message = str(refused.value)
    assert "SECRETVAL2" not in message and "'7'" not in message
    assert "'Plan' (column 2)" in message and "columns 1 and 3" in message
    assert "does the export have a header line?" in message


def test_a_near_miss_is_suggested_only_when_it_is_the_configured_name_written_another_way() -> None:
    """Case, spaces, '-', '_' and '.' aside the same name: shown. One letter off ('Jane' for 'Name'): never."""
    config = Integration.model_validate(
        integration_dict(attributes=[{"column": "Name"}, {"column": "Open Tickets", "name": "tickets"}])
    )
    with pytest.raises(BadFile) as refused:
        map_table(read_table(b"E-MAIL,Jane,open_tickets\nbob@x,x,3\n", Format()), config)
    message = str(refused.value)
    assert "user-ID column 'Email' is not in the file's header; closest header names: 'E-MAIL' (column 1)" in message
    assert "Jane" not in message and "'open_tickets' (column 3)" in message


def test_a_value_over_the_size_cap_rejects_its_row_without_showing_it(monkeypatch) -> None:
    monkeypatch.setenv("INBOUND_MAX_VALUE_BYTES", "100")
    long = "y" * 101
    result = mapped(f"a@x,{long},1,,,,,\nb@x,p,1,,,,,{long}\n{long}@x,p,1,,,,,\n{long},p,{long},,,,,\n")
    assert result.frame.get_column("user_id").to_list() == ["b@x"]  # a long value in an unread column is no matter
    rejects = result.rejects.to_dicts()
    assert [(r["line"], r["column"], r["user_id"], r["value"]) for r in rejects] == [
        (2, "Plan", "a@x", None),
        (4, "Email", None, None),
        (5, "Email", None, None),
        (5, "Open Tickets", None, None),
    ]
    assert all("value longer than 100 bytes (INBOUND_MAX_VALUE_BYTES)" in r["reason"] for r in rejects)
    assert long not in str(rejects)
    assert result.rows_rejected == 3


def test_a_200000_character_field_rejects_its_row_by_default() -> None:
    result = mapped(f'a@x,{"y" * 200_000},1,,,,,\nb@x,"{"z" * 200_000}",1,,,,,\nc@x,p,1,,,,,\n')
    assert result.frame.get_column("user_id").to_list() == ["c@x"]
    assert result.rejects.get_column("line").to_list() == [2, 3]
    assert "65536 bytes" in result.rejects.item(0, "reason")


@pytest.mark.parametrize("value", ["x", "65536", "0"])
def test_the_value_cap_setting_is_checked(monkeypatch, value: str) -> None:
    monkeypatch.setenv("INBOUND_MAX_VALUE_BYTES", value)
    with pytest.raises(ValueError, match="INBOUND_MAX_VALUE_BYTES") if value != "65536" else nullcontext():
        mapped("a@x,p,1,,,,,\n")


@pytest.mark.parametrize("name", ["line", "column", "value", "reason", "fields", "bad", "raw0", "value0", "id"])
@pytest.mark.parametrize("kind", ["string", "integer"])
def test_any_attribute_name_maps_even_with_rejected_rows(name: str, kind: str) -> None:
    """Mapping's own columns never collide with attribute names (the config also reserves `line`)."""
    config = renamed(
        Integration.model_validate(
            integration_dict(attributes=[{"column": "Plan", "type": kind}, {"column": "N", "type": "integer"}])
        ),
        name,
    )
    data = b"Email,Plan,N\n,1,1\nb@x,2,x\nc@x,3,3\nc@x,4,4\nd@x,5,5\n"
    result = map_table(read_table(data, Format()), config)
    assert result.frame.columns == ["user_id", name, "N"]
    assert result.frame.row(0) == ("d@x", "5" if kind == "string" else 5, 5)
    assert result.rejects.columns == ["line", "user_id", "column", "value", "reason"]
    assert result.rejects.get_column("line").to_list() == [2, 3, 4, 5]


def test_an_attribute_named_user_id_is_a_config_error() -> None:
    """The config refuses the name; should one get through, mapping refuses it, never a polars error."""
    config = renamed(Integration.model_validate(integration_dict(attributes=[{"column": "Plan"}])), "user_id")
    with pytest.raises(ConfigInvalid, match="may not be named 'user_id'"):
        map_table(read_table(b"Email,Plan\na@x,p\n", Format()), config)


def test_a_repeated_user_id_names_only_its_first_lines() -> None:
    """20,000 rows of one user: each reason names 10 lines, not 20,000 (that was 20,000 x 20,000 digits)."""
    result = mapped("a@x,p,1,,,,,\n" * 20_000)
    reasons = result.rejects.get_column("reason")
    assert reasons.n_unique() == 1
    assert reasons[0] == (
        "user ID appears 20000 times in the file (lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...); all its rows are rejected"
    )


@pytest.mark.parametrize(
    "first_line",
    [
        "Ada Lovelace,premium,yes",  # nothing in it looks like a value, but it is one
        "ada@example.com,premium,yes",
        "Ada Lovelace,42,2024-01-02",
    ],
)
def test_a_first_line_of_values_is_never_shown(first_line: str) -> None:
    """A headerless file: the "header" is a row of values, and values never go into messages."""
    config = Integration.model_validate(integration_dict(attributes=[{"column": "Plan"}]))
    with pytest.raises(BadFile, match="user-ID column 'Email' is not in the file's header") as refused:
        map_table(read_table(f"{first_line}\nGrace Hopper,free,no\n".encode(), Format()), config)
    message = str(refused.value)
    assert "3 fields, not shown as they may be values" in message
    for value in first_line.split(","):
        assert value not in message
    assert refused.value.problem in (Problem.HEADER, Problem.MISSING_COLUMN)


def test_every_kind_of_rejected_row_is_counted_by_its_kind_and_column(monkeypatch) -> None:
    """What lineage reports as rejected rows by reason: each kind the mapping rejects for, none lost."""
    monkeypatch.setenv("INBOUND_MAX_VALUE_BYTES", "20")
    long = "x" * 21
    result = mapped(
        "a@x,p,three,,,,,\n"  # invalid integer
        "b@x,p,1,,maybe,,,\n"  # invalid boolean
        ",p,1,,,,,\n"  # empty user ID
        "d@x,p,1,,,,,\n"
        "d@x,p,2,,,,,\n"  # d@x twice: both rows
        "e@x,p,1\n"  # 3 fields of 8
        f"f@x,{long},1,,,,,\n"  # too long
        "g@x,p,four,,nope,,,\n"  # two reasons, one row
    )
    assert rejected_by_kind(result.rejects.lazy()) == [
        ("duplicate_user_id", "Email", 2),
        ("empty_user_id", "Email", 1),
        ("invalid_value", "Open Tickets", 2),
        ("invalid_value", "VIP", 2),
        ("value_too_long", "Plan", 1),
        ("wrong_field_count", None, 1),
    ]
    assert {kind for kind, _, _ in rejected_by_kind(result.rejects.lazy())} == set(REJECT_KINDS)
    assert result.rows_rejected == 8  # a row rejected for two reasons counts once here, in each kind there
