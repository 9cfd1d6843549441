"""Airflow's state is Airflow's: the plugin, the management table and the CLI only read its metadata database.

Issue 29, item 5. The on/off toggle and a re-import are Airflow's own REST API, which the UI calls
with the caller's token (`PATCH /api/v2/dags/{dag_id}`, `POST /api/v2/dags/{dag_id}/dagRuns`:
`ui/src/common/api.ts`); a task talks to Airflow through the Task SDK. Here every route of the
plugin (`test_api.ROUTES`, which `test_every_route_of_the_plugin_is_in_the_auth_tests` keeps equal
to the routes the app declares, and the variants the UI asks for), the management table, the runs
and `inbound status` run with a SQLAlchemy listener on Airflow's engine: not one statement they send
inserts, updates or deletes a row, or changes a table. `COMMIT` at the end of a session is not a
statement the listener sees (SQLAlchemy calls the driver's `commit()`), and nothing is excluded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from test_api import (  # the plugin in Airflow's own API app, on its SQLite metadata database
    FAILED_KEY,
    ROUTES,
    RUN_ID,
    SUCCESS_KEY,
    airflow_app,
    auth,
    client,
    dag_runs,
    env,
    runs,
)

__all__ = ["airflow_app", "client", "dag_runs", "env", "runs"]  # fixtures, used by name

CHANGES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|UPSERT|REPLACE|CREATE|ALTER|DROP|TRUNCATE)\b", re.IGNORECASE)
# What the UI asks beyond `ROUTES` (one request each): its own variants of the same routes.
UI_REQUESTS: list[tuple[str, str, Any]] = [
    ("GET", "/inbound/api/attributes?imports=true", None),
    ("GET", "/inbound/api/integrations/crm?runs_offset=0&runs_limit=20", None),
    ("GET", f"/inbound/api/integrations/crm/reports?key={FAILED_KEY}.error.txt&check=true", None),
    ("GET", f"/inbound/api/integrations/crm/reports?key={FAILED_KEY}.rejected.csv", None),
    (
        "POST",
        "/inbound/api/segments/evaluate?sample=20&total=true",
        {"attribute": "crm_plan", "op": "eq", "value": "free"},
    ),
]


@pytest.fixture
def statements(airflow_app: Any) -> Iterator[list[tuple[str, Any]]]:
    """Every statement sent on Airflow's engine while the test runs (SQL and its parameters)."""
    from airflow import settings
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, parameters))

    event.listen(settings.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(settings.engine, "before_cursor_execute", record)


def changes(seen: list[tuple[str, Any]]) -> list[str]:
    return [sql for sql, _ in seen if CHANGES.match(sql)]


def test_no_route_of_the_plugin_writes_to_airflows_tables(client, runs, s3, dag_runs, statements) -> None:
    """Every route the UI calls, each answered, with only reads of Airflow's metadata database."""
    dag_runs("inbound_crm", RUN_ID, "success", {"outcome": "success", "message": "imported 3 rows"})
    route_report = next(path for _, path, _ in ROUTES if "/reports?key=" in path).split("key=")[1]
    for key in ("crm/users_1.csv", SUCCESS_KEY, FAILED_KEY, f"{FAILED_KEY}.error.txt", route_report):
        s3.put_object(Bucket="acme-exports", Key=key, Body=b"Email,Plan,Open Tickets\nada@x,gold,1\n")
    report = b"line,user_id,column,value,reason\n2,ada@x,Open Tickets,many,not an integer\n"
    s3.put_object(Bucket="acme-exports", Key=f"{FAILED_KEY}.rejected.csv", Body=report)
    statements.clear()  # (what the fixtures wrote is theirs)
    answered = {}
    for method, path, body in [*ROUTES, *UI_REQUESTS]:
        kw = {"json": body} if body is not None else {}
        answered[(method, path)] = client.request(method, path, headers=auth("admin"), **kw).status_code
    assert all(status < 400 for status in answered.values()), answered
    assert any("FROM dag_run" in sql for sql, _ in statements)  # the listener saw the runs being read
    assert not changes(statements), changes(statements)


def test_the_management_table_the_runs_and_the_cli_only_read_airflow(env, dag_runs, statements, capsys) -> None:
    from inbound.airflow.management import current_table
    from inbound.airflow.runs import dag_states, run_outcome
    from inbound.cli import main
    from inbound.config.catalog import current_catalog

    dag_runs("inbound_crm", RUN_ID, "failed", {"outcome": "failed", "message": "no column Email"})
    statements.clear()
    table = current_table(current_catalog())
    assert {row.name: row.last_run_reason for row in table.rows}["crm"] == "no column Email"
    assert dag_states(["inbound_crm", "inbound_hr"])["inbound_crm"].last_run_state == "failed"
    found = run_outcome("inbound_crm", RUN_ID)
    assert found is not None and found.state == "failed"
    assert main(["status", "--json"]) == 0
    capsys.readouterr()
    assert statements and not changes(statements), changes(statements)
