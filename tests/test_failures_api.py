"""Why an import failed, on the page: `GET /api/integrations/{name}/rejections` (issue 27, item 2).

The plugin's app inside Airflow's API app (test_api's fixtures), S3 in moto's in-process mock,
the reports made by the real reader and mapper as the pipeline writes them (test_fixes).
"""

from __future__ import annotations

from typing import Any

import pytest

import test_api
from conftest import integration_dict
from inbound.config.model import Integration
from inbound.errors import BadFile
from inbound.mapping.header import check_header
from test_api import FAILED_KEY, SUCCESS_KEY, _served_app, _without, auth
from test_fixes import _report

# test_api's fixtures: its Airflow app (one per module), a client of it, its configs and store, crm's import log
airflow_app, client, env, runs = test_api.airflow_app, test_api.client, test_api.env, test_api.runs

PATH = "/inbound/api/integrations/crm/rejections"
BUCKET = "acme-exports"
TICKETS = {"column": "Last Ticket At", "name": "crm_last_ticket_at", "type": "timestamp"}


def _crm(env: Any) -> Integration:
    """crm reading a German timestamp column too (the config on disk, as the app reads it)."""
    config = integration_dict("crm", attributes=[*integration_dict("crm")["attributes"], TICKETS])
    env("crm.yaml", config)
    return Integration.model_validate(config)


def _put_report(s3: Any, integration: Integration, rows: int = 300) -> None:
    csv = "Email,Plan,Open Tickets,Last Ticket At\n"
    csv += "".join(f"u{i}@x,pro,{i},05.01.2026 14:{i % 60:02d}\n" for i in range(rows))
    s3.put_object(Bucket=BUCKET, Key=f"{FAILED_KEY}.rejected.csv", Body=_report(integration, csv))


def test_a_reader_sees_the_groups_and_the_suggestion(client, runs, s3) -> None:
    _put_report(s3, _crm(runs))
    for role in ("viewer", "admin"):
        response = client.get(PATH, params={"key": FAILED_KEY}, headers=auth(role))
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["key"] == FAILED_KEY and answer["report"] == f"{FAILED_KEY}.rejected.csv"
        assert answer["truncated"] is False and answer["counted"] == "all 300 rows of the report"
        assert "max_rejected_ratio" in answer["error"]  # the import log's reason for the failed file
        (group,) = answer["groups"]
        assert group["column"] == "Last Ticket At" and group["attribute"] == "crm_last_ticket_at"
        assert group["kind"] == "invalid_value" and group["rows"] == 300
        assert group["lines"][:3] == [2, 3, 4] and group["values"][0] == "05.01.2026 14:00"
        assert group["suggestion"]["changes"] == {"format": "%d.%m.%Y %H:%M"}
        assert '    format: "%d.%m.%Y %H:%M"\n' in group["suggestion"]["yaml"]
        assert response.headers["cache-control"] == "no-store"


def test_a_caller_without_rights_to_the_integration_sees_nothing(client, runs, s3, monkeypatch) -> None:
    _put_report(s3, _crm(runs))
    nobody = client.get(PATH, params={"key": FAILED_KEY}, headers=auth(None))
    assert nobody.status_code == 403 and "05.01.2026" not in nobody.text
    assert client.get(PATH, params={"key": FAILED_KEY}).status_code in (401, 403)
    _without(monkeypatch, "inbound_crm")
    hidden = client.get(PATH, params={"key": FAILED_KEY}, headers=auth("viewer"))
    assert hidden.status_code == 404 and "05.01.2026" not in hidden.text
    unknown = client.get(
        "/inbound/api/integrations/nope/rejections", params={"key": FAILED_KEY}, headers=auth("viewer")
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "key",
    [
        "hr/failed/20260102T000000Z_users_2.csv",  # another integration's file
        "crm/users_2.csv",  # not moved: no report beside it
        f"{FAILED_KEY}.rejected.csv",  # a report, not a file
        "crm/failed/../../hr/failed/20260102T000000Z_users_2.csv",
        "crm/other/20260102T000000Z_users_2.csv",
        "",
    ],
)
def test_a_key_outside_the_integrations_done_folders_is_refused(client, runs, s3, key) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{key}.rejected.csv", Body=b"line,user_id,column,value,reason\n2,a,b,c,d\n")
    response = client.get(PATH, params={"key": key}, headers=auth("admin"))
    assert response.status_code in (404, 422), response.text
    assert "2,a,b" not in response.text


def test_a_truncated_report_says_its_counts_are_of_the_first_rows(client, runs, s3) -> None:
    _put_report(s3, _crm(runs), rows=10_050)
    answer = client.get(PATH, params={"key": FAILED_KEY}, headers=auth("viewer")).json()
    assert answer["truncated"] is True
    assert answer["counted"] == "the first 10,000 rows of the report (it has more): counts are of those"
    (group,) = answer["groups"]
    assert group["rows"] == 10_000 and group["suggestion"]["changes"] == {"format": "%d.%m.%Y %H:%M"}


def test_a_gone_report_is_a_404_with_a_sentence(client, runs, s3) -> None:
    response = client.get(PATH, params={"key": FAILED_KEY}, headers=auth("viewer"))
    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"the rejected-rows report s3://{BUCKET}/{FAILED_KEY}.rejected.csv of this import (12 rows rejected) "
        "is gone: it was deleted, or the file was imported again since and its reports replaced"
    )
    unknown = "crm/failed/20250101T000000Z_users_9.csv"
    response = client.get(PATH, params={"key": unknown}, headers=auth("viewer"))
    assert response.status_code == 404 and response.json()["detail"] == (
        f"no rejected-rows report at s3://{BUCKET}/{unknown}.rejected.csv, and no import in crm's import log "
        f"moved a file to {unknown}"
    )


def test_a_file_without_rejected_rows_has_no_groups(client, runs, s3) -> None:
    answer = client.get(PATH, params={"key": SUCCESS_KEY}, headers=auth("viewer")).json()
    assert answer["groups"] == [] and answer["report"] is None and answer["error"] is None


def test_a_missing_column_suggests_its_closest_header_name(client, runs, s3, tmp_path) -> None:
    from inbound.store import FileImport, open_store

    integration = _crm(runs)
    with pytest.raises(BadFile) as caught:
        check_header(["Email", "Plan", "Open Tickets", "last_ticket_at"], integration)
    key = "crm/failed/20260103T000000Z_users_3.csv"
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.log_failure(
            FileImport("crm", "s3://acme-exports/crm/users_3.csv", "e3", "v1", "t"), str(caught.value), final_key=key
        )
    answer = client.get(PATH, params={"key": key}, headers=auth("viewer")).json()
    assert answer["report"] is None and "closest header names" in answer["error"]
    (group,) = answer["groups"]
    assert group["kind"] == "missing_column" and group["column"] == "Last Ticket At"
    assert group["values"] == ["last_ticket_at"]
    assert group["suggestion"]["changes"] == {"column": "last_ticket_at"}
    assert group["suggestion"]["yaml"].startswith("attributes:\n  - column: last_ticket_at\n")


def test_the_answer_is_declared_in_the_openapi_schema(airflow_app) -> None:
    schema = _served_app().openapi()
    route = schema["paths"]["/api/integrations/{name}/rejections"]["get"]
    answer = route["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    models = schema["components"]["schemas"]
    assert {"groups", "truncated", "counted", "report", "error"} <= set(models[answer]["properties"])
    assert {"RejectionGroup", "Suggestion"} <= set(models)
