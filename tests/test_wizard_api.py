"""The wizard's checks (issue 27, item 3): "valid" means the sampled export maps with the config.

`POST /inbound/api/discover` proposes a config and maps the sample with it (the real reader
and mapping) before offering it; `POST /inbound/api/configs/check` checks a config against
the other configs and, given the sample's place, maps that sample with it. Every problem is
listed with its setting, a message for people and a line of the YAML the answer returns.
Airflow's API app, its auth manager and moto's S3 come from tests/test_api.py and conftest.
"""

from __future__ import annotations

from typing import Any

import yaml

from conftest import BUCKET, integration_dict
from test_api import airflow_app, auth, client, env

__all__ = ["airflow_app", "client", "env"]  # fixtures pytest finds by name in this module

DISCOVER = "/inbound/api/discover"
CHECK = "/inbound/api/configs/check"


def _discover(client: Any, s3: Any, key: str, body: bytes) -> dict[str, Any]:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    response = client.post(
        DISCOVER, json={"uri": f"s3://{BUCKET}/{key}", "aws_conn_id": "aws_default"}, headers=auth("user")
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _check(client: Any, config: str, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"config": config}
    if key is not None:
        body["sample"] = {"uri": f"s3://{BUCKET}/{key}", "aws_conn_id": "aws_default"}
    response = client.post(CHECK, json=body, headers=auth("user"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _line(answer: dict[str, Any], line: int | None) -> str:
    """The line of the YAML the answer returns that a problem cites."""
    assert line is not None
    return str(answer["yaml"].splitlines()[line - 1])


def test_a_decimal_comma_export_gets_number_and_decimal_comma_and_maps(client, env, s3) -> None:
    found = _discover(client, s3, "billing/scores.csv", b"Email;Score\na@x.io;38,5\n")
    assert found["decimal"] == ","
    assert {c["name"]: c["type"] for c in found["columns"]}["Score"] == "number"
    assert 'decimal: ","' in found["config"]
    check = found["check"]
    assert check["yaml"] == found["config"]
    assert check["valid"] is True and check["ok"] is True, check
    assert check["sample"]["rows"] == 1 and check["sample"]["rejected"] == 0 and check["sample"]["columns"] == []
    # the same config checked on its own, with the sample re-read from where discovery read it
    again = _check(client, found["config"], "billing/scores.csv")
    assert again["valid"] is True and again["sample"]["rejected"] == 0 and again["yaml"] == found["config"]


def test_a_german_date_export_gets_its_layout_and_maps(client, env, s3) -> None:
    found = _discover(client, s3, "billing/born.csv", b"Email,Born\na@x.io,05.01.1990\n")
    born = next(c for c in found["columns"] if c["name"] == "Born")
    assert (born["type"], born["format"]) == ("date", "%d.%m.%Y")
    assert "%d.%m.%Y" in born["formats"]
    assert 'format: "%d.%m.%Y"' in found["config"]
    assert found["check"]["valid"] is True and found["check"]["sample"]["rejected"] == 0


def test_a_config_whose_type_misfits_its_sample_is_not_valid_and_names_the_column(client, env, s3) -> None:
    body = b"Email;Score\na@x.io;38,5\nb@x.io;7\nc@x.io;12,25\n"
    found = _discover(client, s3, "billing/misfit.csv", body)
    wrong = found["config"].replace("type: number", "type: integer")
    answer = _check(client, wrong, "billing/misfit.csv")
    assert answer["ok"] is True and answer["valid"] is False, answer
    sample = answer["sample"]
    assert sample["rows"] == 3 and sample["rejected"] == 2 and sample["max_rejected_ratio"] == 0.05
    (score,) = sample["columns"]
    assert score["column"] == "Score" and score["attribute"] == "Score" and score["rows"] == 2
    assert score["lines"] == [2, 4] and score["values"] == ["38,5", "12,25"]
    assert "whole number" in score["reason"]
    (problem,) = answer["problems"]
    assert problem["setting"] == "attributes[0].type" and "Score" in problem["message"]
    assert "2 of 3" in problem["message"]
    assert _line(answer, problem["line"]).strip() == "type: integer"
    # never valid without the sample: the config alone is only `ok`
    alone = _check(client, wrong)
    assert alone["ok"] is True and alone["valid"] is False and alone["sample"] is None


def test_a_share_within_max_rejected_ratio_is_valid_and_says_how_many(client, env, s3) -> None:
    rows = b"".join(b"u%d@x.io;%d\n" % (n, n) for n in range(40)) + b"bad@x.io;n/a\n"
    found = _discover(client, s3, "billing/many.csv", b"Email;Score\n" + rows)
    config = found["config"].replace("type: string", "type: integer")
    answer = _check(client, config.replace("attributes:", "max_rejected_ratio: 0.1\nattributes:"), "billing/many.csv")
    assert answer["valid"] is True and answer["sample"]["rejected"] == 1 and answer["sample"]["rows"] == 41
    assert answer["sample"]["max_rejected_ratio"] == 0.1
    assert [p["level"] for p in answer["problems"]] == ["warning"]
    strict = _check(client, config, "billing/many.csv")  # the default 5%: 1 of 41 is within it too
    assert strict["valid"] is True
    tight = _check(client, config.replace("attributes:", "max_rejected_ratio: 0.01\nattributes:"), "billing/many.csv")
    assert tight["valid"] is False and [p["level"] for p in tight["problems"]] == ["error"]


def test_every_problem_is_listed_with_the_line_of_the_yaml_returned(client, env) -> None:
    config = yaml.safe_dump(
        {**integration_dict("Bad-Name"), "attributes": [{"column": "Plan", "type": "numbr"}]}, sort_keys=False
    )
    answer = _check(client, config)
    assert answer["ok"] is False and answer["valid"] is False and answer["yaml"] == config
    by_setting = {p["setting"]: p for p in answer["problems"]}
    assert set(by_setting) == {"name", "attributes[0].type"}, answer["problems"]
    assert _line(answer, by_setting["name"]["line"]).startswith("name: Bad-Name")
    assert _line(answer, by_setting["attributes[0].type"]["line"]).strip() == "type: numbr"
    assert "did you mean 'number'" in by_setting["attributes[0].type"]["message"]


def test_an_invalid_name_says_which_characters_are_allowed(client, env) -> None:
    config = yaml.safe_dump(
        {**integration_dict("billing"), "attributes": [{"column": "Plan", "name": "plan-tier"}]}, sort_keys=False
    )
    (problem,) = _check(client, config.replace("name: billing", "name: Billing"))["problems"][:1]
    assert problem["setting"] == "name"
    assert "lower-case letters" in problem["message"] and "^[" not in problem["message"]
    answer = _check(client, config)
    (problem,) = answer["problems"]
    assert problem["setting"] == "attributes[0].name" and "^[" not in problem["message"]
    assert "letters, digits and _" in problem["message"] and "'plan-tier'" in problem["message"]
    assert _line(answer, problem["line"]).strip() == "name: plan-tier"


def test_a_sample_outside_the_callers_scope_is_refused(client, env, s3) -> None:
    config = yaml.safe_dump(integration_dict("billing"))
    body = {"config": config, "sample": {"uri": f"s3://{BUCKET}/crm/failed/x.csv", "aws_conn_id": "aws_default"}}
    assert client.post(CHECK, json=body, headers=auth("user")).status_code == 403
    other = {**body, "sample": {"uri": f"s3://{BUCKET}/x.csv", "aws_conn_id": "aws_prod"}}
    assert client.post(CHECK, json=other, headers=auth("user")).status_code == 403


def test_the_openapi_schema_carries_the_wizards_models(airflow_app) -> None:
    from inbound.web.app import create_app

    schema = create_app().openapi()
    schemas = schema["components"]["schemas"]
    assert {"ConfigCheck", "CheckBody", "DiscoverBody", "Discovery", "SampleCheck", "RejectedColumn"} <= set(schemas)
    assert {"valid", "ok", "yaml", "problems", "sample"} <= set(schemas["ConfigCheck"]["properties"])
    answer = schema["paths"]["/api/configs/check"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"].endswith("/ConfigCheck")
