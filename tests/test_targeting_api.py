"""The rule builder's API: "N of M users" (the users a rule is drawn from) and attributes of never-imported integrations.

Runs inside the real Airflow API app with the fixtures of tests/test_api.py (imported, not copied):
crm has imported three users, hr is configured but has never imported.
"""

from __future__ import annotations

from test_api import RULE, _store_values, _without, airflow_app, auth, client, env

__all__ = ["airflow_app", "client", "env"]  # fixtures pytest finds by name in this module


def test_a_segment_says_how_many_users_it_is_drawn_from(client, env) -> None:
    response = client.post("/inbound/api/segments/evaluate?total=true", json=RULE, headers=auth("viewer"))
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 2, "sample": ["ada@x", "cy@x"], "total": 3}


def test_without_total_the_answer_is_as_before(client, env) -> None:
    response = client.post("/inbound/api/segments/evaluate", json=RULE, headers=auth("viewer"))
    assert response.json() == {"count": 2, "sample": ["ada@x", "cy@x"]}


def test_the_total_counts_each_user_once_and_only_readable_integrations(client, env, monkeypatch, tmp_path) -> None:
    # ada is in crm and hr; hidden only in hr: 4 distinct users over both, 3 over crm alone.
    _store_values(tmp_path / "store.db", [("ada@x", "x", 1), ("hidden@x", "secret", 1)], integration="hr")
    both = client.post("/inbound/api/segments/evaluate?total=true&sample=0", json=RULE, headers=auth("viewer"))
    assert both.json() == {"count": 2, "sample": [], "total": 4}
    _without(monkeypatch, "inbound_hr")
    crm_only = client.post("/inbound/api/segments/evaluate?total=true&sample=0", json=RULE, headers=auth("viewer"))
    assert crm_only.json() == {"count": 2, "sample": [], "total": 3}


def test_a_bad_rule_is_still_a_400_with_total(client, env) -> None:
    bad = {"attribute": "crm_pln", "op": "eq", "value": "x"}
    response = client.post("/inbound/api/segments/evaluate?total=true", json=bad, headers=auth("viewer"))
    assert response.status_code == 400 and "crm_plan" in response.json()["detail"]


def test_attributes_say_whether_their_integration_ever_imported(client, env) -> None:
    found = client.get("/inbound/api/attributes?imports=true", headers=auth("viewer")).json()
    assert {"attribute": "crm_plan", "type": "string", "integration": "crm", "imported": True} in found
    assert {a["imported"] for a in found if a["integration"] == "hr"} == {False}
    plain = client.get("/inbound/api/attributes", headers=auth("viewer")).json()
    assert all("imported" not in a for a in plain)


def test_the_schema_types_the_new_fields() -> None:
    from inbound.web.app import create_app

    schemas = create_app().openapi()["components"]["schemas"]
    assert schemas["SegmentView"]["properties"]["total"]["type"] == "integer"
    assert "total" not in schemas["SegmentView"]["required"]
    assert schemas["AttributeView"]["properties"]["imported"]["type"] == "boolean"
