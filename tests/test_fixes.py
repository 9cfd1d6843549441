"""Why an import rejected rows, grouped, with a fix computed from the rejected values (issue 27, item 2).

The reports here are made as the pipeline makes them: the export goes through the real reader
and mapper, and its rejected rows are written as `pipeline.steps.write_reports` writes them.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl
import pytest
import yaml

from conftest import integration_dict
from inbound.config.model import Integration
from inbound.config.sections import Attribute
from inbound.discovery.fixes import (
    FORMULA_START,
    MAX_REPORT_ROWS,
    group_rejects,
    missing_column,
    read_report,
    suggest_fix,
)
from inbound.errors import BadFile
from inbound.mapping.header import check_header
from inbound.mapping.mapper import cast_attribute, map_table
from inbound.pipeline import steps
from inbound.reading.reader import read_table


def _integration(*attributes: dict[str, Any], **overrides: Any) -> Integration:
    return Integration.model_validate(integration_dict("support", attributes=list(attributes), **overrides))


def _report(integration: Integration, csv: str) -> bytes:
    """The .rejected.csv the pipeline would write for this export."""
    mapped = map_table(read_table(csv.encode(), integration.format), integration)
    out = io.BytesIO()
    steps.neutralize_formulas(pl.concat([mapped.rejects, mapped.skipped])).write_csv(out)
    return out.getvalue()


def _groups(integration: Integration, csv: str) -> list[Any]:
    part = read_report(_report(integration, csv), whole=True)
    return group_rejects(part.frame, integration)


def _pasted(yaml_text: str) -> dict[str, Any]:
    found = yaml.safe_load(yaml_text)
    assert isinstance(found, dict)
    return found


TICKETS = {"column": "Last Ticket At", "name": "last_ticket_at", "type": "timestamp"}


def test_german_timestamps_with_minutes_get_their_layout() -> None:
    integration = _integration(TICKETS)
    rows = "".join(f"u{i}@x,x,05.01.2026 14:{i:02d}\n" for i in range(30))
    (group,) = _groups(integration, "Email,Plan,Last Ticket At\n" + rows)
    assert group["column"] == "Last Ticket At" and group["attribute"] == "last_ticket_at"
    assert group["kind"] == "invalid_value" and group["rows"] == 30
    assert group["lines"][:3] == [2, 3, 4] and len(group["lines"]) <= 20
    assert group["values"][0] == "05.01.2026 14:00" and "not a timestamp" in group["reason"]
    fix = group["suggestion"]
    assert fix is not None and fix["changes"] == {"format": "%d.%m.%Y %H:%M"}
    assert fix["checked"] == 30
    assert fix["yaml"] == (
        "attributes:\n"
        "  - column: Last Ticket At\n"
        "    name: last_ticket_at\n"
        "    type: timestamp\n"
        '    format: "%d.%m.%Y %H:%M"\n'
    )
    # pasted, the entry is a valid attribute that reads every rejected value
    (entry,) = _pasted(fix["yaml"])["attributes"]
    fixed = Attribute.model_validate(entry)
    values = pl.Series([f"05.01.2026 14:{i:02d}" for i in range(30)])
    assert cast_attribute(values, fixed, timezone=integration.timezone).null_count() == 0


def test_german_dates_get_their_layout_and_ambiguous_ones_say_so() -> None:
    integration = _integration({"column": "Since", "name": "since", "type": "date"})
    (german,) = _groups(integration, "Email,Since\na@x,05.01.2026\nb@x,31.12.2025\n")
    assert german["suggestion"] is not None and german["suggestion"]["changes"] == {"format": "%d.%m.%Y"}
    assert german["suggestion"]["note"] is None
    (slashed,) = _groups(integration, "Email,Since\na@x,05/01/2026\nb@x,06/02/2026\n")
    fix = slashed["suggestion"]
    assert fix is not None and fix["changes"] == {"format": "%m/%d/%Y"}
    assert fix["note"] is not None and "%d/%m/%Y" in fix["note"]  # both read: the person decides
    (day_first,) = _groups(integration, "Email,Since\na@x,05/01/2026\nb@x,31/12/2025\n")
    assert day_first["suggestion"] is not None and day_first["suggestion"]["changes"] == {"format": "%d/%m/%Y"}
    assert day_first["suggestion"]["note"] is None


def test_two_digit_years_get_y() -> None:
    integration = _integration({"column": "Since", "name": "since", "type": "date", "format": "%d.%m.%Y"})
    (group,) = _groups(integration, "Email,Since\na@x,05.01.26\n")
    assert group["suggestion"] is not None and group["suggestion"]["changes"] == {"format": "%d.%m.%y"}


def test_decimal_comma_in_a_number_column() -> None:
    integration = _integration({"column": "CSAT", "name": "csat", "type": "number"})
    (group,) = _groups(integration, 'Email,CSAT\na@x,"38,5"\nb@x,"1.234,5"\nc@x,4\n')
    fix = group["suggestion"]
    assert group["rows"] == 2 and fix is not None and fix["changes"] == {"decimal": ","}
    assert fix["yaml"] == 'format:\n  decimal: ","\n'
    assert _pasted(fix["yaml"]) == {"format": {"decimal": ","}}


def test_decimal_comma_in_an_integer_column_needs_a_number() -> None:
    integration = _integration({"column": "Score", "name": "score", "type": "integer"})
    (group,) = _groups(integration, 'Email,Score\na@x,"38,5"\nb@x,"2,25"\n')
    fix = group["suggestion"]
    assert fix is not None and fix["changes"] == {"decimal": ",", "type": "number"}
    pasted = _pasted(fix["yaml"])
    assert pasted["format"] == {"decimal": ","}
    assert pasted["attributes"] == [{"column": "Score", "name": "score", "type": "number"}]
    # thousands with a dot are whole numbers under a decimal comma: the type stays
    (thousands,) = _groups(integration, "Email,Score\na@x,1.234\nb@x,12.000\n")
    assert thousands["suggestion"] is not None and thousands["suggestion"]["changes"] == {"decimal": ","}


def test_a_column_that_cannot_be_fixed_gets_no_suggestion() -> None:
    integration = _integration(TICKETS, {"column": "Seats", "name": "seats", "type": "integer"})
    csv = "Email,Last Ticket At,Seats\na@x,yesterday,many\nb@x,05.01.2026 14:30,3\nc@x,,lots\n"
    groups = {g["column"]: g for g in _groups(integration, csv)}
    assert groups["Last Ticket At"]["suggestion"] is None  # `yesterday` fits no layout: none for the column
    assert groups["Last Ticket At"]["rows"] == 2
    assert groups["Seats"]["suggestion"] is None and groups["Seats"]["values"] == ["many", "lots"]


def test_other_kinds_are_grouped_without_a_suggestion() -> None:
    integration = _integration({"column": "Seats", "name": "seats", "type": "integer"})
    csv = "Email,Seats\na@x,1\na@x,2\n,3\nb@x,4,5\nEmail,Seats\n"
    groups = {(g["column"], g["kind"]): g for g in _groups(integration, csv)}
    assert set(groups) == {
        ("Email", "duplicate_user_id"),
        ("Email", "empty_user_id"),
        (None, "wrong_field_count"),
        (None, "repeated_header"),
    }
    assert groups[("Email", "duplicate_user_id")]["rows"] == 2
    assert groups[("Email", "duplicate_user_id")]["lines"] == [2, 3]
    assert groups[(None, "repeated_header")]["lines"] == [6]
    assert all(g["suggestion"] is None for g in groups.values())


def test_a_neutralized_formula_is_read_back_as_the_value() -> None:
    assert FORMULA_START == steps.FORMULA_START  # the pipeline's rule, kept apart by the layers
    integration = _integration({"column": "Delta", "name": "delta", "type": "number"})
    (group,) = _groups(integration, 'Email,Delta\na@x,"-3,5"\nb@x,=1+2\n')
    assert group["values"] == ["-3,5", "=1+2"]
    assert group["suggestion"] is None  # `=1+2` is no number with either mark
    (negative,) = _groups(integration, 'Email,Delta\na@x,"-3,5"\n')
    assert negative["suggestion"] is not None and negative["suggestion"]["changes"] == {"decimal": ","}


def test_an_empty_report_has_no_groups() -> None:
    integration = _integration(TICKETS)
    part = read_report(b"line,user_id,column,value,reason\n", whole=True)
    assert part.frame.height == 0 and not part.truncated
    assert group_rejects(part.frame, integration) == []
    assert read_report(b"", whole=True).frame.height == 0


def test_a_long_report_is_read_to_its_bound_and_says_so() -> None:
    header = b"line,user_id,column,value,reason\n"
    rows = b"".join(b"%d,u%d@x,Last Ticket At,05.01.2026 14:30,not a timestamp\n" % (i, i) for i in range(2, 10_100))
    part = read_report(header + rows, whole=True)
    assert part.truncated and part.frame.height == MAX_REPORT_ROWS == 10_000
    # a report cut by a ranged read: its last (maybe partial) record is dropped
    cut = read_report((header + rows)[:1000], whole=False)
    assert cut.truncated and cut.frame.height == (1000 - len(header)) // len(rows.split(b"\n")[0] + b"\n")
    assert cut.frame.get_column("value").str.len_chars().min() == len("05.01.2026 14:30")


def test_hostile_values_are_bounded() -> None:
    integration = _integration(TICKETS)
    huge = "9" * 60_000
    newline = "05.01.2026\n14:30"
    report = _report(integration, f'Email,Last Ticket At\na@x,{huge}\nb@x,"{newline}"\nc@x,<script>\n')
    (group,) = group_rejects(read_report(report, whole=True).frame, integration)
    assert group["rows"] == 3 and group["suggestion"] is None
    assert all(len(v) <= 201 for v in group["values"]) and group["values"][0].endswith("…")
    assert newline in group["values"]
    # a file that is not a report is refused, never guessed at
    with pytest.raises(ValueError, match="not a rejected-rows report"):
        read_report(b'\x00\xff,\n"unclosed\n', whole=True)
    # a column name no config has, hundreds of times: bounded groups, no suggestion
    many = b"line,user_id,column,value,reason\n" + b"".join(b"%d,u,c%d,v,r\n" % (i, i) for i in range(500))
    groups = group_rejects(read_report(many, whole=True).frame, integration)
    assert len(groups) <= 50 and all(g["suggestion"] is None for g in groups)


def test_a_missing_column_suggests_the_closest_header_name() -> None:
    integration = _integration(TICKETS)
    with pytest.raises(BadFile) as caught:
        check_header(["Email", "last_ticket_at", "Plan"], integration)
    group = missing_column(str(caught.value), integration)
    assert group is not None
    assert group["kind"] == "missing_column" and group["column"] == "Last Ticket At"
    assert group["attribute"] == "last_ticket_at" and group["values"] == ["last_ticket_at"]
    fix = group["suggestion"]
    assert fix is not None and fix["changes"] == {"column": "last_ticket_at"}
    assert _pasted(fix["yaml"]) == {
        "attributes": [{"column": "last_ticket_at", "name": "last_ticket_at", "type": "timestamp"}]
    }
    with pytest.raises(BadFile) as caught:
        check_header(["e-mail", "Last Ticket At"], integration)
    user = missing_column(str(caught.value), integration)
    assert user is not None and user["attribute"] is None
    assert user["suggestion"] is not None and _pasted(user["suggestion"]["yaml"]) == {"user_id": {"column": "e-mail"}}
    # no closest name (a cell one letter off may be a value): the group, without a suggestion
    with pytest.raises(BadFile) as caught:
        check_header(["Email", "Last Tickt At"], integration)
    none = missing_column(str(caught.value), integration)
    assert none is not None and none["suggestion"] is None and none["values"] == []
    assert missing_column("12 of 40 rows rejected (30%)", integration) is None


def test_suggest_fix_verifies_through_the_real_casts() -> None:
    integration = _integration(TICKETS)
    attribute = integration.attributes[0]
    assert suggest_fix(["05.01.2026 14:30", "2026-01-05"], attribute, integration) is None  # no one layout reads both
    assert suggest_fix([], attribute, integration) is None
    fix = suggest_fix(["05.01.2026 14:30:15"], attribute, integration)
    assert fix is not None and fix["changes"] == {"format": "%d.%m.%Y %H:%M:%S"}
