"""Bad input to the plugin's API is a 4xx with a clear message, never a 500, on both stores.

Issue 24, finding 7: a page of the import log past int64, a user ID or rule value that no
store holds (a NUL character, a lone surrogate), and a request body far beyond any rule's
limits, which was parsed whole before the rule's own bounds answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_api
from conftest import _postgres_url
from test_api import CRM_ROWS, RULE, auth

# test_api's fixtures: its Airflow app (one per module), a client of it, its configs and store
airflow_app, client, env = test_api.airflow_app, test_api.client, test_api.env

EVALUATE = "/inbound/api/segments/evaluate"
MIB = 1024 * 1024


def _fill(url: str) -> None:
    """crm's values (as `test_api._store_values` writes them) into the store at `url`."""
    from inbound.store import FileImport, open_store

    frame = pl.DataFrame(
        CRM_ROWS, schema={"user_id": pl.String, "crm_plan": pl.String, "crm_open_tickets": pl.Int64}, orient="row"
    )
    with open_store(url, migrate=True) as store:  # a store as `inbound migrate` left it
        store.write_file(
            FileImport("crm", "s3://acme-exports/crm/users_1.csv", "e1", "v1", "test", rows_read=len(CRM_ROWS)),
            types={"crm_plan": "string", "crm_open_tickets": "integer"},
            frame=frame,
        )


@pytest.fixture(params=["sqlite", "postgres"])
def either(request: pytest.FixtureRequest, env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`env` with its values in SQLite (as it comes) or in a PostgreSQL schema of its own (fails if unreachable)."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    for url in _postgres_url():
        monkeypatch.setenv("AIRFLOW_CONN_INBOUND_STORE", url)
        _fill(url)
        yield "postgres"


def _rule(op: str, value: Any) -> bytes:
    """A rule on `crm_plan` as the bytes a client sends (ASCII JSON: a lone surrogate as `\\ud800`)."""
    return json.dumps({"attribute": "crm_plan", "op": op, "value": value}).encode()


def _post(to: Any, body: bytes | Iterator[bytes]) -> Any:
    headers = {**auth("viewer"), "Content-Type": "application/json"}
    return to.post(EVALUATE, content=body, headers=headers)


# -- pages past int64 ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("runs_offset=9223372036854775808", "runs_offset"),
        ("runs_offset=-1", "runs_offset"),
        ("runs_limit=9223372036854775808", "runs_limit"),
        ("runs_limit=0", "runs_limit"),
    ],
)
def test_a_page_of_the_history_past_the_bounds_is_a_422_naming_the_parameter(client, either, query, name) -> None:
    """runs_offset=9223372036854775808 was a 500: "datatype mismatch" (SQLite), "bigint out of range" (PostgreSQL)."""
    response = client.get(f"/inbound/api/integrations/crm?{query}", headers=auth("viewer"))
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", name] and ("less than or equal" in error["msg"] or "greater" in error["msg"])


def test_the_last_page_int64_allows_is_an_empty_one(client, either) -> None:
    response = client.get("/inbound/api/integrations/crm?runs_offset=9223372036854775807", headers=auth("viewer"))
    assert response.status_code == 200, response.text
    assert response.json()["runs"] == [] and response.json()["runs_total"] == 1


# -- text no store holds ----------------------------------------------------------------
@pytest.mark.parametrize("user", ["a%00b", "%00", "a%00"])
def test_a_user_id_with_a_nul_is_a_400_on_both_stores(client, either, user) -> None:
    """`/api/users/a%00b` was a 500 on PostgreSQL (DataError) and a 200 for nobody on SQLite."""
    response = client.get(f"/inbound/api/users/{user}", headers=auth("viewer"))
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("user ID contains a NUL character")


@pytest.mark.parametrize(("value", "problem"), [("a\x00b", "a NUL character"), ("\ud800", "a lone surrogate")])
@pytest.mark.parametrize("op", ["eq", "ne", "in", "contains"])
def test_a_rule_value_no_store_holds_is_a_400_on_both_stores(client, either, op, value, problem) -> None:
    """A rule value "\\ud800" was a 500 on both stores (UnicodeEncodeError), one with a NUL on PostgreSQL."""
    response = _post(client, _rule(op, [value] if op == "in" else value))
    assert response.status_code == 400, response.text
    assert f"a value contains {problem}" in response.json()["detail"]


def test_a_rule_with_a_lone_surrogate_for_a_key_is_a_400(client, either) -> None:
    """The message echoed the key raw: the JSON answer could not encode it (a 500)."""
    response = _post(client, b'{"all": [{"attribute": "crm_plan", "op": "exists"}], "\\ud800": 1}')
    assert response.status_code == 400, response.text
    assert "exactly one key" in response.json()["detail"]


def test_a_body_that_echoes_a_lone_surrogate_into_a_422_is_still_a_422(client, env) -> None:
    """A validation error repeats the input it refused: one with a lone surrogate must still encode."""
    headers = {**auth("admin"), "Content-Type": "application/json"}
    response = client.post("/inbound/api/configs/check", content=b'{"config": ["\\ud800"]}', headers=headers)
    assert response.status_code == 422, response.text


# any text: the printable, the control characters, lone surrogates
texts = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(["\x00", "\ud800", "a\udfffb"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=texts)
def test_any_text_as_a_user_id_is_an_answer_never_a_500(client, either, user) -> None:
    path = "/inbound/api/users/" + quote(user, safe="", errors="surrogatepass")
    response = client.get(path, headers=auth("viewer"))
    assert response.status_code < 500, response.text
    if response.status_code == 400:
        assert response.json()["detail"].startswith("user ID contains")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=texts, op=st.sampled_from(["eq", "ne", "lt", "in", "not_in", "contains"]))
def test_any_text_as_a_rule_value_is_an_answer_never_a_500(client, either, value, op) -> None:
    response = _post(client, _rule(op, [value] if op.endswith("in") else value))
    assert response.status_code in (200, 400), response.text


# -- the body's size, before it is parsed ------------------------------------------------------
@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each request body FastAPI parses as JSON (its size): a body refused unread never shows up here."""
    from starlette.requests import Request

    seen: list[int] = []
    original = Request.json

    async def spy(self: Request) -> Any:
        seen.append(len(await self.body()))
        return await original(self)

    monkeypatch.setattr(Request, "json", spy)
    return seen


def test_a_100_mb_rule_is_a_413_before_it_is_parsed(client, env, parsed) -> None:
    """It was parsed whole (100 MB into Python objects) before the rule's own bounds answered 400."""
    body = _rule("eq", "").replace(b'""', b'"' + b"x" * (100 * MIB) + b'"')
    response = _post(client, body)
    assert response.status_code == 413, response.text[:300]
    assert "INBOUND_MAX_REQUEST_BYTES" in response.json()["detail"] and parsed == []


def test_a_streamed_body_without_a_length_is_cut_at_the_limit_too(client, env, parsed) -> None:
    """Chunked, no Content-Length: 2 MiB of conditions (the 200-condition limit answered only after parsing)."""
    condition = b'{"attribute": "crm_plan", "op": "eq", "value": "premium"},'

    def chunks() -> Iterator[bytes]:
        yield b'{"any": ['
        for _ in range(2 * MIB // (len(condition) * 1000) + 1):
            yield condition * 1000
        yield condition[:-1] + b"]}"

    response = _post(client, chunks())
    assert response.status_code == 413, response.text[:300]
    assert parsed == []


def test_the_limit_is_a_setting_and_a_body_within_it_is_answered(client, env, parsed, monkeypatch) -> None:
    body = json.dumps(RULE).encode()
    assert _post(client, body).status_code == 200 and parsed == [len(body)]
    monkeypatch.setenv("INBOUND_MAX_REQUEST_BYTES", str(len(body) - 1))
    response = _post(client, body)
    assert response.status_code == 413 and parsed == [len(body)]
    assert response.json()["detail"] == (
        f"the request body is larger than {len(body) - 1} bytes (INBOUND_MAX_REQUEST_BYTES): refused unread"
    )
    monkeypatch.setenv("INBOUND_MAX_REQUEST_BYTES", str(len(body)))
    assert _post(client, body).status_code == 200


@pytest.mark.parametrize("run_id", ["manual__a%00b", "m" * 251], ids=["nul", "long"])
def test_a_run_id_no_airflow_database_holds_is_a_404_without_asking_it(client, env, run_id, monkeypatch) -> None:
    """Airflow's own PostgreSQL metadata database would raise on a NUL (a 500): it is never asked."""
    from inbound.airflow import runs

    def asked(*args: object) -> None:
        raise AssertionError("the metadata database was asked")

    monkeypatch.setattr(runs, "_run_outcome", asked)
    response = client.get(f"/inbound/api/integrations/crm/runs/{run_id}", headers=auth("viewer"))
    assert response.status_code == 404, response.text
    assert "the run does not exist" in response.json()["detail"]
