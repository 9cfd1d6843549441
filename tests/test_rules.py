"""Segment rules evaluated inside the store, on both backends."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from inbound.errors import RuleError
from inbound.rules import evaluate
from inbound.store import FileImport

CRM = {"plan": "string", "department": "string", "seats": "integer", "since": "date", "admin": "boolean"}
SUPPORT = {"open_tickets": "integer", "csat": "number"}
DECLARED = {**CRM, **SUPPORT}


@pytest.fixture
def filled(store):
    crm = pl.DataFrame(
        {
            "user_id": ["ada", "bob", "cy", "di"],
            "plan": ["premium", "free", "premium", None],
            "department": ["Sales", "Engineering", "Sales_Ops", "HR"],
            "seats": [12, 3, 100, 7],
            "since": [date(2021, 1, 5), date(2023, 6, 1), date(2020, 12, 31), None],
            "admin": [True, False, None, False],
        }
    )
    store.write_file(FileImport("crm", "s3://b/crm.csv", "e1", "v", "t", 4), types=CRM, frame=crm)
    support = pl.DataFrame({"user_id": ["ada", "bob", "ed"], "open_tickets": [3, 1, 5], "csat": [4.5, 2.0, None]})
    store.write_file(FileImport("zendesk", "s3://b/z.csv", "e2", "v", "t", 3), types=SUPPORT, frame=support)
    return store


def users(store, rule) -> list[str]:
    result = evaluate(store, rule, DECLARED, sample=100)
    assert result.count == len(result.sample)
    return result.sample


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"attribute": "plan", "op": "eq", "value": "premium"}, ["ada", "cy"]),  # the brief's three examples
        ({"attribute": "department", "op": "eq", "value": "Sales"}, ["ada"]),
        ({"attribute": "open_tickets", "op": "gt", "value": 2}, ["ada", "ed"]),
        ({"attribute": "plan", "op": "ne", "value": "premium"}, ["bob"]),
        ({"attribute": "seats", "op": "gte", "value": 12}, ["ada", "cy"]),  # numeric, not text, order
        ({"attribute": "seats", "op": "lt", "value": "7"}, ["bob"]),
        ({"attribute": "csat", "op": "lte", "value": 2.0}, ["bob"]),
        ({"attribute": "since", "op": "lt", "value": "2021-01-05"}, ["cy"]),  # a date compares as a date
        ({"attribute": "admin", "op": "eq", "value": True}, ["ada"]),
        ({"attribute": "admin", "op": "eq", "value": "nein"}, ["bob", "di"]),
        ({"attribute": "department", "op": "in", "value": ["HR", "Engineering"]}, ["bob", "di"]),
        ({"attribute": "department", "op": "not_in", "value": ["HR"]}, ["ada", "bob", "cy"]),
        ({"attribute": "department", "op": "contains", "value": "_Op"}, ["cy"]),  # _ is literal, not a wildcard
        ({"attribute": "csat", "op": "exists"}, ["ada", "bob"]),
        ({"attribute": "plan", "op": "not_exists"}, ["di", "ed"]),
        (
            {
                "all": [
                    {"attribute": "plan", "op": "eq", "value": "premium"},
                    {"attribute": "open_tickets", "op": "gt", "value": 2},
                ]
            },
            ["ada"],
        ),
        (
            {
                "any": [
                    {"attribute": "seats", "op": "gt", "value": 50},
                    {
                        "all": [
                            {"attribute": "open_tickets", "op": "gte", "value": 5},
                            {"attribute": "plan", "op": "not_exists"},
                        ]
                    },
                ]
            },
            ["cy", "ed"],
        ),
    ],
)
def test_rules(filled, rule, expected) -> None:
    assert users(filled, rule) == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"attribute": "plna", "op": "eq", "value": "x"}, "unknown attribute 'plna'; did you mean 'plan'?"),
        ({"attribute": "plan", "op": "equals", "value": "x"}, "unknown op 'equals'"),
        ({"attribute": "admin", "op": "gt", "value": True}, "gt does not apply to 'admin', a boolean"),
        ({"attribute": "seats", "op": "contains", "value": "1"}, "contains applies to string attributes"),
        ({"attribute": "seats", "op": "eq", "value": "many"}, "'many' is not a integer"),
        ({"attribute": "since", "op": "gt", "value": "yesterday"}, "is not a date"),
        ({"attribute": "plan", "op": "in", "value": "premium"}, "needs a non-empty list"),
        ({"all": []}, "non-empty list"),
        ({"all": [{"attribute": "plan", "op": "eq"}]}, "rule.all[0]: eq needs a value"),
        ({"attribute": "plan", "op": "eq", "value": "x'; DROP TABLE inbound_import_log; --"}, None),
    ],
)
def test_rule_errors_and_injection(filled, rule, message) -> None:
    if message is None:
        assert users(filled, rule) == []  # a value is a bound parameter, never SQL
        assert filled.imports("crm")
        return
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace("?", r"\?").replace("[", r"\[")):
        evaluate(filled, rule, DECLARED)


def test_declared_attribute_without_values_matches_nobody(store) -> None:
    assert evaluate(store, {"attribute": "plan", "op": "eq", "value": "x"}, {"plan": "string"}).to_dict() == {
        "count": 0,
        "sample": [],
    }


def test_a_stale_table_never_answers_for_an_attribute_declared_elsewhere(store) -> None:
    """`plan` moved from a removed integration `legacy` (text) to `crm` (integer): only crm's table answers,
    in segments and in user lookups, and a stale text value never reaches an integer cast."""
    legacy = pl.DataFrame({"user_id": ["ada", "zed"], "plan": ["abc", "9"]})
    store.write_file(FileImport("legacy", "s3://b/old.csv", "e0", "v", "t", 2), types={"plan": "string"}, frame=legacy)
    crm = pl.DataFrame({"user_id": ["bob"], "plan": [3]})
    store.write_file(FileImport("crm", "s3://b/crm.csv", "e1", "v", "t", 1), types={"plan": "integer"}, frame=crm)
    declared, owners = {"plan": "integer"}, {"plan": "crm"}
    rule = {"attribute": "plan", "op": "gt", "value": 2}
    assert evaluate(store, rule, declared, sample=10, owners=owners).sample == ["bob"]
    missing = {"attribute": "plan", "op": "not_exists"}
    assert evaluate(store, missing, declared, sample=10, owners=owners).sample == []  # only crm's users count
    assert store.user_attributes("ada", declared, owners)["attributes"] == {}  # was a 500: int('abc')
    assert store.user_attributes("bob", declared, owners)["attributes"] == {"plan": 3}
    # Even without owners the declared type keeps a text column out of an integer comparison.
    legacy_string = pl.DataFrame({"user_id": ["ann"], "plan": ["xyz"]})
    store.write_file(
        FileImport("legacy2", "s3://b/o2.csv", "e9", "v", "t", 1), types={"plan": "string"}, frame=legacy_string
    )
    assert store.user_attributes("ann", declared)["attributes"] == {}


def test_a_rule_is_bounded_in_depth_conditions_and_values(filled) -> None:
    """A 100-deep rule was a 500 on SQLite, and an `in` list of 60,000 values cost seconds: refused."""
    deep: dict = {"attribute": "plan", "op": "exists"}
    for _ in range(100):
        deep = {"all": [deep]}
    with pytest.raises(RuleError, match="nest more than 16 deep"):
        users(filled, deep)
    with pytest.raises(RuleError, match="at most 1000 values"):
        users(filled, {"attribute": "plan", "op": "in", "value": [str(i) for i in range(60_000)]})
    many = {"any": [{"attribute": "plan", "op": "eq", "value": "x"} for _ in range(201)]}
    with pytest.raises(RuleError, match="at most 200 conditions"):
        users(filled, many)
    with pytest.raises(RuleError, match="at most 1000 characters"):
        users(filled, {"attribute": "plan", "op": "eq", "value": "x" * 1001})
    nested_16 = {"attribute": "plan", "op": "eq", "value": "premium"}
    for _ in range(16):
        nested_16 = {"all": [nested_16]}
    assert users(filled, nested_16) == ["ada", "cy"]  # at the limit: still answered


def test_null_means_no_value_and_contains_has_one_case_rule(filled) -> None:
    assert users(filled, {"attribute": "plan", "op": "eq", "value": None}) == users(
        filled, {"attribute": "plan", "op": "not_exists"}
    )
    assert users(filled, {"attribute": "plan", "op": "ne", "value": None}) == ["ada", "bob", "cy"]
    with pytest.raises(RuleError, match="gt needs a value"):
        users(filled, {"attribute": "seats", "op": "gt", "value": None})
    # contains is case-sensitive on both stores (SQLite's LIKE would have matched "sales" too)
    assert users(filled, {"attribute": "department", "op": "contains", "value": "Sales"}) == ["ada", "cy"]
    assert users(filled, {"attribute": "department", "op": "contains", "value": "sales"}) == []
    assert users(filled, {"attribute": "department", "op": "contains", "value": "s_O"}) == ["cy"]  # no wildcards


@pytest.mark.parametrize(("value", "problem"), [("a\x00b", "a NUL character"), ("\ud800", "a lone surrogate")])
@pytest.mark.parametrize(
    "rule",
    [
        {"attribute": "plan", "op": "eq", "value": "{}"},
        {"attribute": "plan", "op": "in", "value": ["premium", "{}"]},
        {"attribute": "plan", "op": "contains", "value": "{}"},
        {"all": [{"attribute": "plan", "op": "exists"}, {"attribute": "department", "op": "ne", "value": "{}"}]},
    ],
)
def test_a_value_no_store_holds_is_a_rule_error_on_both_stores(filled, rule, value, problem) -> None:
    """A lone surrogate was a UnicodeEncodeError in either driver, a NUL a DataError on PostgreSQL
    (and quietly nobody on SQLite): a RuleError that says which value, the same on both stores."""
    import json

    text = json.dumps(rule).replace('"{}"', json.dumps(value))
    with pytest.raises(RuleError, match=f"^rule.*: a value contains {problem}") as caught:
        users(filled, json.loads(text))
    str(caught.value).encode("utf-8")  # the message itself is text an API can answer with


def test_a_rule_error_never_echoes_text_that_is_no_utf_8(filled) -> None:
    """A group with a second key named by a lone surrogate put it raw into the message: the API's
    JSON answer could not encode it (a 500)."""
    with pytest.raises(RuleError, match="exactly one key") as caught:
        users(filled, {"all": [{"attribute": "plan", "op": "exists"}], "\ud800": 1})
    str(caught.value).encode("utf-8")
