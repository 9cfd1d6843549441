"""Any JSON as a rule, on both stores: a result or a `RuleError` with a message, never another exception."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbound.errors import RuleError
from inbound.rules import OPS, evaluate
from inbound.store import FileImport

DECLARED = {"plan": "string", "seats": "integer", "csat": "number", "admin": "boolean", "since": "date"}
NAMES = [*DECLARED, "nope", "", "plan\x00", '"; DROP TABLE x; --']
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["2024-01-02", "ja", "1e309", "NaN", "%", "_", "\\", "'"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
conditions = st.fixed_dictionaries(
    {"attribute": st.sampled_from(NAMES), "op": st.sampled_from([*OPS, "EQ", "like", ""])},
    optional={"value": json_values},
)
rules = st.recursive(
    conditions | json_values,
    lambda inner: st.dictionaries(
        st.sampled_from(["all", "any", "attribute"]), st.lists(inner, max_size=4), max_size=2
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=rules)
def test_any_json_rule_is_a_result_or_a_rule_error(store, rule) -> None:
    if not store.integrations():
        frame = pl.DataFrame({"user_id": ["ada", "bob"], "plan": ["premium", None], "seats": [3, 12]})
        store.write_file(
            FileImport("crm", "s3://b/a.csv", "e", "v", "t", 2),
            types={"plan": "string", "seats": "integer"},
            frame=frame,
        )
    try:
        result = evaluate(store, rule, DECLARED, sample=5)
    except RuleError as exc:
        assert str(exc).startswith("rule")  # names the place in the rule
        return
    assert result.count >= 0 and len(result.sample) <= 5
