"""The plugin's app inside the real Airflow API app (in-process), behind Airflow's auth manager.

Airflow's own `create_app` builds the API server with the simple auth manager and the
plugins folder of this repo, on a SQLite metadata database in the tests' AIRFLOW_HOME;
requests go through fastapi's TestClient, tokens come from the auth manager.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import polars as pl
import pytest
import yaml

from conftest import ROOT, integration_dict

SECRET = "inbound-tests-jwt-secret-" + "x" * 64  # long enough for HS512
PLUGINS = ROOT / "plugins"
RULE = {"attribute": "crm_plan", "op": "eq", "value": "premium"}
RUN_ID = "manual__2026-01-02T00:00:00+00:00"  # a run of inbound_crm in the metadata DB (`_run_row`)
# Every route of the plugin app, with a request that would succeed for an admin.
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/inbound/api/integrations", None),
    ("GET", "/inbound/api/attributes", None),
    ("GET", "/inbound/api/users/ada@x", None),
    ("POST", "/inbound/api/segments/evaluate", RULE),
    ("GET", "/inbound/api/integrations/crm", None),
    ("GET", "/inbound/api/integrations/crm/reports?key=crm/failed/20260101T000000Z_users_2.csv.error.txt", None),
    ("GET", "/inbound/api/integrations/crm/rejections?key=crm/failed/20260102T000000Z_users_2.csv", None),
    ("GET", "/inbound/api/integrations/crm/files", None),
    ("GET", f"/inbound/api/integrations/crm/runs/{RUN_ID}", None),
    ("GET", "/inbound/api/discover/connections", None),
    ("POST", "/inbound/api/discover", {"uri": "s3://acme-exports/crm/users_1.csv", "aws_conn_id": "aws_default"}),
    ("POST", "/inbound/api/configs/check", {"config": "name: x"}),
]
PUBLIC = {("GET", "/inbound/static/inbound-ui.js")}  # the React app's code: no data, served like Airflow's own
FAILED_KEY = "crm/failed/20260102T000000Z_users_2.csv"
SUCCESS_KEY = "crm/success/20260101T000000Z_users_1.csv"


@pytest.fixture(scope="module")
def airflow_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Airflow's API app with the simple auth manager and this repo's plugins folder."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("airflow-api")
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,viewer:viewer,nobody:")
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(home / "passwords.json"))
    yield api_app_with(mp, SIMPLE_AUTH_MANAGER)
    from airflow import plugins_manager
    from airflow.api_fastapi import app as api_app

    api_app.purge_cached_app()
    _clear_plugin_caches(plugins_manager)
    mp.undo()


SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def api_app_with(mp: pytest.MonkeyPatch, auth_manager: str) -> Any:
    """Airflow's own API app with `auth_manager`, this repo's plugins and a migrated metadata DB."""
    from airflow import plugins_manager, settings
    from airflow.api_fastapi import app as api_app
    from airflow.utils import db

    mp.setenv("AIRFLOW__CORE__AUTH_MANAGER", auth_manager)
    mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", SECRET)
    mp.setenv("AIRFLOW__CORE__PLUGINS_FOLDER", str(PLUGINS))
    mp.setattr(settings, "PLUGINS_FOLDER", str(PLUGINS))
    _clear_plugin_caches(plugins_manager)
    db.initdb()
    api_app.purge_cached_app()
    return api_app.create_app()


def _clear_plugin_caches(module: Any) -> None:
    for value in vars(module).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


@pytest.fixture
def client(airflow_app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(airflow_app) as test_client:
        yield test_client


def token(role: str | None, username: str | None = None) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username or str(role), role=role))


def auth(role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role)}"}


@pytest.fixture
def env(monkeypatch, tmp_path, write_config, airflow_app):
    """Two configs (one broken), a SQLite store with crm's values, crm's DAG row in Airflow's DB."""
    monkeypatch.setenv("INBOUND_CONFIG_DIR", str(write_config.folder))
    monkeypatch.setenv(
        "AIRFLOW_CONN_INBOUND_STORE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "store.db")})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps({"conn_type": "aws", "login": "AKIDSECRETLOGIN", "password": "s3cr3t-password"}),
    )
    write_config("crm.yaml", integration_dict("crm"))
    write_config("hr.yaml", integration_dict("hr", schedule="PT30M"))
    write_config("zz_broken.yaml", {**integration_dict("broken"), "shedule": "@daily"})
    _store_values(tmp_path / "store.db")
    _dag_rows({"inbound_crm": False})
    return write_config


CRM_ROWS = [("ada@x", "premium", 3), ("bob@x", "free", 0), ("cy@x", "premium", 7)]


def _store_values(path: Path, rows: list[tuple] = CRM_ROWS, integration: str = "crm", file: int = 1) -> None:
    """One import of `integration` (attributes `<integration>_plan`, `<integration>_open_tickets`)."""
    from inbound.store import FileImport, open_store

    plan, tickets = f"{integration}_plan", f"{integration}_open_tickets"
    frame = pl.DataFrame(rows, schema={"user_id": pl.String, plan: pl.String, tickets: pl.Int64}, orient="row")
    uri = f"s3://acme-exports/{integration}/users_{file}.csv"
    with open_store(f"sqlite:///{path}", migrate=True) as store:  # a store as `inbound migrate` left it
        store.write_file(
            FileImport(integration, uri, f"e{file}", "v1", "test", rows_read=len(rows)),
            types={plan: "string", tickets: "integer"},
            frame=frame,
        )


def _dag_rows(paused: dict[str, bool]) -> None:
    """DAG rows as the DAG processor would leave them (only what the toggle needs)."""
    from airflow.models import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    with create_session() as session:
        if session.get(DagBundleModel, "dags-folder") is None:
            session.add(DagBundleModel(name="dags-folder"))
            session.flush()
        for dag_id, is_paused in paused.items():
            row = session.get(DagModel, dag_id)
            if row is None:
                row = DagModel(
                    dag_id=dag_id,
                    bundle_name="dags-folder",
                    max_active_tasks=16,
                    max_consecutive_failed_dag_runs=0,
                    has_task_concurrency_limits=False,
                )
                session.add(row)
            row.is_paused = is_paused
            row.is_stale = False


def _delete_dag_rows(dag_ids: list[str]) -> None:
    """Remove DAG rows `_dag_rows` made, so that a module leaves Airflow's metadata DB as it found it."""
    from airflow.models import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(DagModel.__table__).where(DagModel.__table__.c.dag_id.in_(dag_ids)))


def _dag_ids_known(dag_ids: list[str]) -> set[str]:
    from airflow.models import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return {d for d in dag_ids if session.get(DagModel, d) is not None}


def _run_row(
    dag_id: str,
    run_id: str,
    state: str = "running",
    outcome: Any = None,
    *,
    serialize: bool = False,
    conf: dict[str, Any] | None = None,
) -> None:
    """A run of `dag_id` with its `finalize` task, and the outcome XCom that task pushes (if given).

    `serialize=False` stores the value as the task SDK's push does (the execution API stores what
    the SDK serialized); True as `XComModel.set` serializes it itself.
    """
    from airflow.models import DagRun, TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.sdk.serde import serialize as sdk_serialize
    from airflow.utils.session import create_session
    from sqlalchemy import insert, select, update

    run = DagRun.__table__
    with create_session() as session:
        found = session.execute(select(run.c.id).where(run.c.dag_id == dag_id, run.c.run_id == run_id)).first()
        if found is None:
            session.execute(
                insert(run).values(
                    dag_id=dag_id, run_id=run_id, run_type="manual", state=state, run_after=datetime.now(UTC), conf=conf
                )
            )
            session.execute(
                insert(TaskInstance.__table__).values(
                    dag_id=dag_id, run_id=run_id, task_id="finalize", map_index=-1, pool="default_pool"
                )
            )
        else:
            session.execute(update(run).where(run.c.id == found.id).values(state=state))
        if outcome is not None:
            XComModel.set(
                "inbound_outcome",
                outcome if serialize else sdk_serialize(outcome),
                dag_id=dag_id,
                task_id="finalize",
                run_id=run_id,
                serialize=serialize,
                session=session,
            )


def _delete_runs(dag_id: str, run_ids: list[str]) -> None:
    """Remove runs `_run_row` made (the metadata DB is shared by every test module: `inbound status`
    tests expect DAGs that never ran)."""
    from airflow.models import DagRun, TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        for model in (XComModel, TaskInstance, DagRun):
            table = model.__table__
            session.execute(delete(table).where(table.c.dag_id == dag_id, table.c.run_id.in_(run_ids)))


@pytest.fixture
def dag_runs() -> Iterator[Any]:
    """`_run_row`, with every run it made removed after the test."""
    made: list[tuple[str, str]] = []

    def make(dag_id: str, run_id: str, *args: Any, **kw: Any) -> None:
        _run_row(dag_id, run_id, *args, **kw)
        made.append((dag_id, run_id))

    yield make
    for dag_id, run_id in made:
        _delete_runs(dag_id, [run_id])


def _is_paused(dag_id: str) -> bool:
    from airflow.models import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.get(DagModel, dag_id).is_paused


def _call(client: Any, method: str, path: str, body: Any, **kw: Any) -> Any:
    return client.request(method, path, json=body, **kw) if body is not None else client.request(method, path, **kw)


# -- mounting -----------------------------------------------------------------------
def test_plugin_is_loaded_with_its_nav_entry_and_dag_tab(airflow_app) -> None:
    from airflow import plugins_manager

    plugins = {p.name: p for p in plugins_manager._get_plugins()[0]}
    plugin = plugins["inbound"]
    assert plugin.external_views == []  # the old iframe page is gone
    nav, tab = plugin.react_apps
    assert (nav["name"], nav["destination"], nav["url_route"], nav["nav_top_level"]) == (
        "Integrations",
        "nav",
        "integrations",
        True,
    )
    assert (tab["name"], tab["destination"]) == ("Integration", "dag")
    assert nav["bundle_url"] == tab["bundle_url"] == "inbound/static/inbound-ui.js"  # relative: a base path works
    mounts = {getattr(route, "path", None) for route in airflow_app.routes}
    assert "/inbound" in mounts


def test_the_plugin_imports_the_app_only_when_served() -> None:
    """Task processes load plugins too; they must not pay for FastAPI and inbound.web.app."""
    import subprocess
    import sys

    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import inbound_plugin; "
        "from inbound.web.app import PREFIX; assert inbound_plugin.PREFIX == PREFIX"
    )
    lazy = (
        "import sys; sys.path.insert(0, sys.argv[1]); import inbound_plugin; "
        "print('inbound.web.app' in sys.modules, 'fastapi' in sys.modules)"
    )
    assert (
        subprocess.run(
            [sys.executable, "-c", lazy, str(ROOT / "plugins")], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False False"
    )
    subprocess.run([sys.executable, "-c", probe, str(ROOT / "plugins")], check=True)


def _served_app() -> Any:
    """The app the plugin mounts: the JSON API and the React app's bundle."""
    from airflow import plugins_manager

    plugins = {p.name: p for p in plugins_manager._get_plugins()[0]}
    (mounted,) = plugins["inbound"].fastapi_apps
    return mounted["app"].load()


def test_every_route_of_the_plugin_is_in_the_auth_tests(airflow_app) -> None:
    app = _served_app()
    declared = {
        (method, "/inbound" + route.path)
        for route in app.routes
        for method in getattr(route, "methods", ())
        if method != "HEAD"
    }
    tested = {
        (
            method,
            re.sub(
                r"/crm(?=/|$)",
                "/{name}",
                path.split("?")[0].replace("ada@x", "{user_id:path}").replace(RUN_ID, "{run_id}"),
            ),
        )
        for method, path, _ in ROUTES
    }
    assert declared == tested | PUBLIC


# -- auth -----------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_anonymous_is_refused(client, env, method, path, body) -> None:
    response = _call(client, method, path, body)
    assert response.status_code in (401, 403), response.text
    assert _is_paused("inbound_crm") is False


def _forged() -> list[tuple[str, str]]:
    return [
        ("garbage", "not-a-jwt"),
        ("other secret", "other"),
        ("no signature", "none"),
    ]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize(("kind", "how"), _forged())
def test_forged_token_is_refused(client, env, method, path, body, kind, how) -> None:
    good = token("admin")
    claims = jwt.decode(good, options={"verify_signature": False})
    alg = jwt.get_unverified_header(good)["alg"]
    if how == "other":
        forged = jwt.encode(claims, "another-secret-of-sufficient-length-for-hmac-512-keys-xxxxxxxxxx", algorithm=alg)
    elif how == "none":
        forged = jwt.encode(claims, None, algorithm="none")
    else:
        forged = how
    for headers, cookies in (({"Authorization": f"Bearer {forged}"}, None), ({}, {"_token": forged})):
        client.cookies.clear()
        response = _call(client, method, path, body, headers=headers, cookies=cookies)
        assert response.status_code in (401, 403), (kind, response.text)
    client.cookies.clear()
    assert _is_paused("inbound_crm") is False


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_user_without_role_is_refused(client, env, method, path, body) -> None:
    response = _call(client, method, path, body, headers=auth(None))
    assert response.status_code == 403, response.text


def test_token_from_the_auth_endpoint_works(client, env, airflow_app) -> None:
    """A token from POST /auth/token with the simple auth manager's generated password."""
    from airflow.configuration import conf

    passwords = json.loads(Path(conf.get("core", "simple_auth_manager_passwords_file")).read_text())
    response = client.post("/auth/token", json={"username": "admin", "password": passwords["admin"]})
    assert response.status_code in (200, 201), response.text
    access = response.json()["access_token"]
    response = client.get("/inbound/api/integrations", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 200, response.text
    bad = client.post("/auth/token", json={"username": "admin", "password": "wrong"})
    assert bad.status_code == 401


# -- the table ------------------------------------------------------------------------
def test_table_json(client, env) -> None:
    response = client.get("/inbound/api/integrations", headers=auth("viewer"))
    assert response.status_code == 200, response.text
    table = {row["name"]: row for row in response.json()}
    assert set(table) == {"crm", "hr", "zz_broken"}
    crm, hr, broken = table["crm"], table["hr"], table["zz_broken"]
    assert crm["dag_id"] == "inbound_crm" and crm["source"] == "s3://acme-exports/crm/users_*.csv"
    assert crm["attributes_imported"] == 2 and crm["users"] == 3 and crm["last_success_at"]
    assert crm["schedule_words"] == "every hour" and crm["enabled"] is True
    assert crm["last_run_result"] == "never run" and crm["recent_runs"] == [] and crm["last_run_duration_s"] is None
    assert crm["last_import"] == {
        "rows_read": 3,
        "rows_written": 3,
        "rows_rejected": 0,
        "rejected_share": 0.0,
        "deleted": 0,
    }
    assert crm["stale"] is False and crm["next_run_at"] is None  # imported just now; the DAG processor set no next run
    assert crm["source_parts"] == {
        "bucket": "acme-exports",
        "bucket_env": None,
        "key": "crm/users_*.csv",
        "key_env": None,
    }
    assert hr["schedule_words"] == "every 30 minutes" and hr["last_success_at"] is None and hr["users"] == 0
    assert hr["stale"] is None and hr["last_import"] is None
    assert "ready_for_targeting" not in crm
    assert broken["last_run_result"] == "config error" and "did you mean 'schedule'?" in broken["error"]
    text = response.text
    assert "AKIDSECRETLOGIN" not in text and "s3cr3t-password" not in text


def test_the_api_takes_the_ui_cookie(client, env) -> None:
    """The React app calls the API with the session Airflow's UI keeps in the `_token` cookie."""
    client.cookies.set("_token", token("viewer"))
    try:
        response = client.get("/inbound/api/integrations")
    finally:
        client.cookies.clear()
    assert response.status_code == 200, response.text
    rows = {row["name"]: row for row in response.json()}
    assert rows["crm"]["start"] == "polling" and "waits for a file" in rows["crm"]["start_words"]
    assert rows["crm"]["last_run_reason"] is None
    assert "s3cr3t-password" not in response.text


def test_the_react_bundle_is_served_without_login(client) -> None:
    response = client.get("/inbound/static/inbound-ui.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "Integrations" in response.text and "/inbound/api/integrations" in response.text


# -- the toggle: Airflow's own API ----------------------------------------------------------
def test_the_plugin_has_no_toggle_route(client, env) -> None:
    """On/off is Airflow's `PATCH /api/v2/dags/{dag_id}`; the plugin writes nothing in Airflow's `dag` table."""
    response = client.post("/inbound/api/integrations/crm/enabled", json={"enabled": False}, headers=auth("admin"))
    assert response.status_code in (404, 405), response.text
    assert _is_paused("inbound_crm") is False


def test_a_viewer_cannot_pause_through_airflows_api_an_editor_can(client, env) -> None:
    """What the UI's toggle calls, with the caller's token: Airflow checks the edit right itself."""
    from airflow.models import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:  # what Airflow's answer needs of the DAG row, as the DAG processor sets it
        table = DagModel.__table__
        session.execute(
            update(table).where(table.c.dag_id == "inbound_crm").values(fileloc="/dags/inbound_integrations.py")
        )
    path = "/api/v2/dags/inbound_crm"
    refused = client.patch(path, json={"is_paused": True}, headers=auth("viewer"))
    assert refused.status_code == 403, refused.text
    assert _is_paused("inbound_crm") is False
    try:
        response = client.patch(path, json={"is_paused": True}, headers=auth("user"))  # the USER role edits DAGs
        assert response.status_code == 200, response.text
        assert response.json()["is_paused"] is True and _is_paused("inbound_crm") is True
        table = {row["name"]: row for row in client.get("/inbound/api/integrations", headers=auth("viewer")).json()}
        assert table["crm"]["enabled"] is False and table["crm"]["next_run_at"] is None
        assert client.patch(path, json={"is_paused": False}, headers=auth("admin")).status_code == 200
        table = {row["name"]: row for row in client.get("/inbound/api/integrations", headers=auth("viewer")).json()}
        assert table["crm"]["enabled"] is True
    finally:
        _dag_rows({"inbound_crm": False})


def test_user_lookup(client, env) -> None:
    response = client.get("/inbound/api/users/ada@x", headers=auth("viewer"))
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["attributes"] == {"crm_plan": "premium", "crm_open_tickets": 3}
    assert found["sources"]["crm_plan"]["integration"] == "crm"
    assert found["sources"]["crm_plan"]["file"] == "s3://acme-exports/crm/users_1.csv"
    nobody = client.get("/inbound/api/users/nobody@x", headers=auth("viewer")).json()
    assert nobody["attributes"] == {}


def test_user_lookup_only_shows_readable_integrations(client, env, monkeypatch) -> None:
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()
    original = manager.filter_authorized_dag_ids

    def without_crm(*, dag_ids, user, method="GET", **kw):
        return original(dag_ids=dag_ids, user=user, method=method, **kw) - {"inbound_crm"}

    monkeypatch.setattr(manager, "filter_authorized_dag_ids", without_crm)
    found = client.get("/inbound/api/users/ada@x", headers=auth("viewer")).json()
    assert found["attributes"] == {} and found["sources"] == {}
    names = {row["name"] for row in client.get("/inbound/api/integrations", headers=auth("viewer")).json()}
    assert "crm" not in names and "hr" in names
    response = client.post("/inbound/api/segments/evaluate", json=RULE, headers=auth("viewer"))
    assert response.status_code == 400


def test_segment(client, env) -> None:
    response = client.post("/inbound/api/segments/evaluate", json=RULE, headers=auth("viewer"))
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 2, "sample": ["ada@x", "cy@x"]}
    rule = {"all": [RULE, {"attribute": "crm_open_tickets", "op": "gt", "value": 2}]}
    assert client.post("/inbound/api/segments/evaluate?sample=1", json=rule, headers=auth("viewer")).json() == {
        "count": 2,
        "sample": ["ada@x"],
    }


def test_segment_bad_rule(client, env) -> None:
    response = client.post(
        "/inbound/api/segments/evaluate",
        json={"attribute": "crm_pln", "op": "eq", "value": "x"},
        headers=auth("viewer"),
    )
    assert response.status_code == 400
    assert "crm_pln" in response.json()["detail"] and "did you mean 'crm_plan'?" in response.json()["detail"]


# -- the integration page ---------------------------------------------------------------
@pytest.fixture
def runs(env, tmp_path):
    """crm's import log: the success of `env` (moved to success/, 1 row rejected) and a failed file."""
    from inbound.store import FileImport, open_store

    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        first = store.imports("crm", limit=1)[0]
        store.set_final_key(first.id, SUCCESS_KEY)
        store.log_failure(
            FileImport("crm", "s3://acme-exports/crm/users_2.csv", "e2", "v1", "scheduled", 40, 12),
            "12 of 40 rows rejected (30%), more than max_rejected_ratio 5%",
            final_key=FAILED_KEY,
        )
    return env


def test_integration_json(client, runs) -> None:
    response = client.get("/inbound/api/integrations/crm", headers=auth("viewer"))
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["name"] == "crm" and detail["dag_id"] == "inbound_crm" and detail["mode"] == "upsert"
    assert detail["source"]["uri"] == "s3://acme-exports/crm/users_*.csv" and detail["schedule"] == "@hourly"
    assert detail["schedule_words"] == "every hour" and detail["users"] == 3 and detail["enabled"] is True
    assert detail["mapping"] == [
        {"column": "Plan", "attribute": "crm_plan", "type": "string", "format": None},
        {"column": "Open Tickets", "attribute": "crm_open_tickets", "type": "integer", "format": None},
    ]
    failed, success = detail["runs"]  # newest first
    assert failed["outcome"] == "failed" and failed["rows_read"] == 40 and failed["rows_rejected"] == 12
    assert failed["final_key"] == FAILED_KEY and "max_rejected_ratio" in failed["error"]
    assert {r["uri"] for r in failed["reports"]} == {
        f"s3://acme-exports/{FAILED_KEY}.rejected.csv",
        f"s3://acme-exports/{FAILED_KEY}.error.txt",
    }
    assert success["outcome"] == "success" and success["rows_read"] == 3 and success["rows_written"] == 3
    assert success["inserted"] == 3 and success["updated"] == 0 and success["triggered_by"] == "test"
    assert success["reports"] == []  # nothing rejected, nothing failed
    assert "AKIDSECRETLOGIN" not in response.text and "s3cr3t-password" not in response.text


def test_an_integrations_history_comes_in_pages_with_the_callers_rights(client, runs) -> None:
    viewer = client.get("/inbound/api/integrations/crm?runs_limit=1", headers=auth("viewer")).json()
    assert viewer["runs_total"] == 2 and len(viewer["runs"]) == 1
    older = client.get("/inbound/api/integrations/crm?runs_limit=1&runs_offset=1", headers=auth("viewer")).json()
    assert older["runs"][0]["id"] < viewer["runs"][0]["id"]  # newest first, page by page
    assert (viewer["can_edit"], viewer["can_trigger"]) == (False, False)  # a viewer's re-import is disabled
    admin = client.get("/inbound/api/integrations/crm", headers=auth("admin")).json()
    assert (admin["can_edit"], admin["can_trigger"]) == (True, True) and len(admin["runs"]) == 2
    assert client.get("/inbound/api/integrations/crm?runs_limit=0", headers=auth("admin")).status_code == 422


def test_attributes_for_the_rule_builder_are_those_the_caller_may_read(client, env) -> None:
    found = client.get("/inbound/api/attributes", headers=auth("viewer")).json()
    assert {"attribute": "crm_plan", "type": "string", "integration": "crm"} in found
    assert {a["integration"] for a in found} == {"crm", "hr"}


def test_integration_unknown_and_unreadable(client, env, monkeypatch) -> None:
    viewer = auth("viewer")
    for path in (
        "/inbound/api/integrations/nope",
        "/inbound/api/integrations/nope/reports?key=nope/failed/x.csv.error.txt",
        "/inbound/api/integrations/zz_broken",
    ):
        assert client.get(path, headers=viewer).status_code == 404, path
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()
    original = manager.filter_authorized_dag_ids

    def without_crm(*, dag_ids, user, method="GET", **kw):
        return original(dag_ids=dag_ids, user=user, method=method, **kw) - {"inbound_crm"}

    monkeypatch.setattr(manager, "filter_authorized_dag_ids", without_crm)
    for path in (
        "/inbound/api/integrations/crm",
        "/inbound/integrations/crm",
        f"/inbound/api/integrations/crm/reports?key={FAILED_KEY}.error.txt",
    ):
        assert client.get(path, headers=viewer).status_code == 404, path
    assert client.get("/inbound/api/integrations/hr", headers=viewer).status_code == 200


@pytest.mark.parametrize(
    "key",
    [
        "hr/failed/x_users_1.csv.error.txt",  # another integration's folder
        "crm/users_1.csv",  # the data itself
        "crm/failed/x_users_1.csv",  # a moved data file
        "crm/failed/x.csv.rejected.csv.txt",
        "crm/failed/../../hr/failed/x.csv.error.txt",
        "crm/other/x.csv.error.txt",  # not a success/ or failed/ folder
        "crm/failed/sub/x.csv.error.txt",
        "/crm/failed/x.csv.error.txt",
        "",
    ],
)
def test_report_refuses_keys_outside_the_integration(client, env, key) -> None:
    response = client.get("/inbound/api/integrations/crm/reports", params={"key": key}, headers=auth("viewer"))
    assert response.status_code in (400, 422), response.text


def test_report_key_rule_with_a_glob_folder() -> None:
    from inbound.config.model import Integration
    from inbound.web.reports import report_key_allowed

    integration = Integration.model_validate(
        integration_dict("crm", source={"bucket": "bkt", "key": "exports/*/crm_?.csv"})
    )
    assert report_key_allowed(integration, "exports/eu/success/20260101T000000Z_crm_1.csv.rejected.csv")
    assert report_key_allowed(integration, "exports/us/failed/20260101T000000Z_crm_1.csv.error.txt")
    assert not report_key_allowed(integration, "exports/eu/x/failed/a.csv.error.txt")
    assert not report_key_allowed(integration, "other/eu/failed/a.csv.error.txt")
    root = Integration.model_validate(integration_dict("crm", source={"bucket": "bkt", "key": "users.csv"}))
    assert report_key_allowed(root, "failed/20260101T000000Z_users.csv.error.txt")
    assert not report_key_allowed(root, "crm/failed/20260101T000000Z_users.csv.error.txt")


def test_report_is_streamed_from_s3(client, runs, s3) -> None:
    s3.put_object(
        Bucket="acme-exports", Key=f"{FAILED_KEY}.rejected.csv", Body=b"line,reason\n3,Open Tickets: not an integer\n"
    )
    s3.put_object(Bucket="acme-exports", Key="hr/failed/x_users_1.csv.error.txt", Body=b"hr's error")
    response = client.get(
        "/inbound/api/integrations/crm/reports", params={"key": f"{FAILED_KEY}.rejected.csv"}, headers=auth("viewer")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == "line,reason\n3,Open Tickets: not an integer\n"
    missing = client.get(
        "/inbound/api/integrations/crm/reports", params={"key": f"{FAILED_KEY}.error.txt"}, headers=auth("viewer")
    )
    assert missing.status_code == 404
    other = client.get(
        "/inbound/api/integrations/crm/reports",
        params={"key": "hr/failed/x_users_1.csv.error.txt"},
        headers=auth("viewer"),
    )
    assert other.status_code == 400 and "hr's error" not in other.text


def test_config_changes_are_seen_at_once(client, env) -> None:
    """The plugin reuses parsed configs only while no file changed (500 configs take seconds to parse)."""
    viewer = auth("viewer")
    assert client.get("/inbound/api/integrations/hr", headers=viewer).json()["schedule"] == "PT30M"
    env("hr.yaml", integration_dict("hr", schedule="PT45M"))  # same size, same second
    assert client.get("/inbound/api/integrations/hr", headers=viewer).json()["schedule"] == "PT45M"
    env("new.yaml", integration_dict("new"))
    assert client.get("/inbound/api/integrations/new", headers=viewer).status_code == 200
    (env.folder / "new.yaml").unlink()
    assert client.get("/inbound/api/integrations/new", headers=viewer).status_code == 404


# -- hostile input (issue 12) ------------------------------------------------------------
def _without(monkeypatch: pytest.MonkeyPatch, *dag_ids: str) -> None:
    """The caller may not read these DAGs (as with per-DAG permissions)."""
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()
    original = manager.filter_authorized_dag_ids

    def filtered(*, dag_ids, user, method="GET", **kw):
        return original(dag_ids=dag_ids, user=user, method=method, **kw) - set(dag_ids_hidden)

    dag_ids_hidden = dag_ids
    monkeypatch.setattr(manager, "filter_authorized_dag_ids", filtered)


def _integration(name: str, key: str, bucket: str = "acme-exports") -> Any:
    from inbound.config.model import Integration

    return Integration.model_validate(integration_dict(name, source={"bucket": bucket, "key": key}))


STAMP = "20260101T000000Z"


@pytest.mark.parametrize(
    ("crm_key", "key", "allowed"),
    [
        # the probe: crm reads exports/users_*.csv, hr reads exports/staff_*.csv (one folder)
        ("exports/users_*.csv", f"exports/failed/{STAMP}_staff_1.csv.rejected.csv", False),
        ("exports/users_*.csv", f"exports/success/{STAMP}_staff_1.csv.rejected.csv", False),
        ("exports/users_*.csv", f"exports/failed/{STAMP}_staff_1.csv.error.txt", False),
        ("exports/users_*.csv", f"exports/failed/{STAMP}_users_1.csv.rejected.csv", True),
        ("exports/users_*.csv", f"exports/failed/{STAMP}_users_1.csv.error.txt", True),
        # a glob folder: the folder matches, the file name does not
        ("*/users_*.csv", f"hr/failed/{STAMP}_staff_1.csv.rejected.csv", False),
        ("*/users_*.csv", f"hr/failed/{STAMP}_users_1.csv.rejected.csv", True),
        # a done folder inside a done folder is never a source file's home
        ("exports/*/crm_?.csv", f"exports/success/failed/{STAMP}_crm_1.csv.error.txt", False),
        ("exports/*/crm_?.csv", f"exports/eu/failed/{STAMP}_crm_1.csv.error.txt", True),
        # a shared file: only this reader's report, and the readers' outcomes
        ("exports/*.csv", f"exports/success/{STAMP}_a.csv.crm.rejected.csv", True),
        ("exports/*.csv", f"exports/failed/{STAMP}_a.csv.crm.error.txt", True),
        ("exports/*.csv", f"exports/success/{STAMP}_a.csv.hr.rejected.csv", False),
        ("exports/*.csv", f"exports/failed/{STAMP}_a.csv.hr.error.txt", False),
        ("exports/*.csv", f"exports/success/{STAMP}_a.csv.readers.txt", True),
        ("exports/users_*.csv", f"exports/success/{STAMP}_staff_1.csv.readers.txt", False),
        ("exports/users_*.csv", f"exports/success/{STAMP}_staff_1.csv.crm.rejected.csv", False),
        # a pattern that also matches the reader part: still hr's report, not a crm file's
        ("exports/users_*", f"exports/success/{STAMP}_users_1.csv.hr.rejected.csv", False),
        ("exports/users_*", f"exports/success/{STAMP}_users_1.csv.rejected.csv", True),
        ("exports/*.hr", f"exports/success/{STAMP}_a.csv.hr.rejected.csv", False),
        ("exports/*.crm", f"exports/success/{STAMP}_a.csv.crm.rejected.csv", True),
        ("exports/*.csv", f"exports/success/{STAMP}_a.csv.nobody.rejected.csv", False),
        # not a report at all, or not beside a moved file
        ("exports/users_*.csv", "exports/users_1.csv.rejected.csv", False),
        ("exports/users_*.csv", f"exports/failed/{STAMP}_users_1.csv", False),
        ("exports/users_*.csv", f"exports/failed/{STAMP}_users_1.csv.readers.txt.rejected.csv", False),
    ],
)
def test_report_is_served_only_for_this_integrations_files(crm_key: str, key: str, allowed: bool) -> None:
    from inbound.web.reports import report_key_allowed

    crm = _integration("crm", crm_key)
    assert report_key_allowed(crm, key, others={"hr"}) is allowed


@pytest.fixture
def one_folder(env, monkeypatch, s3):
    """The probe's layout: crm and hr export into one folder; the caller may read crm only."""
    env("crm.yaml", integration_dict("crm", source={"bucket": "acme-exports", "key": "exports/users_*.csv"}))
    env("hr.yaml", integration_dict("hr", source={"bucket": "acme-exports", "key": "exports/staff_*.csv"}))
    _without(monkeypatch, "inbound_hr")
    s3.put_object(Bucket="acme-exports", Key=f"exports/failed/{STAMP}_staff_1.csv.rejected.csv", Body=b"hr secret row")
    s3.put_object(Bucket="acme-exports", Key=f"exports/failed/{STAMP}_users_1.csv.rejected.csv", Body=b"crm row")
    return s3


def test_report_of_another_integration_in_the_same_folder_is_refused(client, one_folder) -> None:
    path = "/inbound/api/integrations/crm/reports"
    other = client.get(path, params={"key": f"exports/failed/{STAMP}_staff_1.csv.rejected.csv"}, headers=auth("viewer"))
    assert other.status_code == 400, other.text
    assert "hr secret row" not in other.text and "not a report of crm" in other.json()["detail"]
    own = client.get(path, params={"key": f"exports/failed/{STAMP}_users_1.csv.rejected.csv"}, headers=auth("viewer"))
    assert own.status_code == 200 and own.text == "crm row"


def test_report_download_name_is_rfc_5987(client, runs, s3) -> None:
    key = f'crm/failed/{STAMP}_users_Zürich "q".csv.rejected.csv'
    s3.put_object(Bucket="acme-exports", Key=key, Body=b"line,reason\n")
    response = client.get("/inbound/api/integrations/crm/reports", params={"key": key}, headers=auth("viewer"))
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    assert f"filename*=UTF-8''{STAMP}_users_Z%C3%BCrich%20%22q%22.csv.rejected.csv" in disposition
    assert f'filename="{STAMP}_users_Z_rich _q_.csv.rejected.csv"' in disposition
    assert disposition.isascii()


def _unreachable(exc: Exception, at: str = "get") -> Any:
    class Body:
        def iter_chunks(self, size: int) -> Iterator[bytes]:
            raise exc
            yield b""

        def close(self) -> None:
            pass

    class Client:
        def get_object(self, **kw: Any) -> dict[str, Any]:
            if at == "get":
                raise exc
            return {"Body": Body()}

    def client(aws_conn_id: str) -> Any:
        if at == "client":
            raise exc
        return Client()

    return client


@pytest.mark.parametrize("at", ["client", "get", "read"])
@pytest.mark.parametrize("kind", ["endpoint", "botocore", "source", "throttled"])
def test_report_when_s3_is_unreachable_is_a_503(client, runs, monkeypatch, kind, at) -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    from inbound.errors import SourceUnavailable
    from inbound.web import reports as api_reports

    exc = {
        "endpoint": EndpointConnectionError(endpoint_url="https://s3.example.invalid"),
        "botocore": NoCredentialsError(),
        "source": SourceUnavailable("s3://acme-exports: no connection"),
        "throttled": ClientError(
            {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject"
        ),
    }[kind]
    monkeypatch.setattr(api_reports, "s3_client", _unreachable(exc, at))
    response = client.get(
        "/inbound/api/integrations/crm/reports", params={"key": f"{FAILED_KEY}.error.txt"}, headers=auth("viewer")
    )
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert detail.startswith("S3 is unreachable" if kind != "throttled" else "S3 is unavailable (SlowDown)")
    assert "try again later" in detail


def test_user_id_with_a_slash(client, env, tmp_path) -> None:
    _store_values(tmp_path / "store.db", [("a/b@x", "gold", 1)], file=3)
    for path in ("/inbound/api/users/a/b@x", "/inbound/api/users/a%2Fb@x"):
        response = client.get(path, headers=auth("viewer"))
        assert response.status_code == 200, (path, response.text)
        assert response.json()["user_id"] == "a/b@x"
        assert response.json()["attributes"] == {"crm_plan": "gold", "crm_open_tickets": 1}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/inbound/api/integrations/{name}", None),
        ("GET", f"/inbound/api/integrations/{{name}}/reports?key={{name}}/failed/{STAMP}_users_1.csv.error.txt", None),
        ("GET", "/inbound/api/integrations/{name}/files", None),
        ("GET", "/inbound/api/integrations/{name}/runs/manual__hidden", None),
    ],
)
@pytest.mark.parametrize("role", ["viewer", "user", "admin"])
def test_an_unreadable_integration_answers_like_a_missing_one(client, env, monkeypatch, method, path, body, role):
    """Whether an integration exists is not told to a caller who may not read it."""
    _without(monkeypatch, "inbound_crm")
    hidden = _call(client, method, path.format(name="crm"), body, headers=auth(role))
    missing = _call(client, method, path.format(name="nope"), body, headers=auth(role))
    assert hidden.status_code == missing.status_code == 404, (hidden.text, missing.text)
    assert hidden.json()["detail"] == missing.json()["detail"].replace("nope", "crm")
    assert hidden.json()["detail"] == "no integration named 'crm' that you may read"
    assert _is_paused("inbound_crm") is False


def test_not_exists_counts_only_users_of_readable_integrations(client, env, monkeypatch, tmp_path) -> None:
    """A user only hr holds does not show up in a crm rule for a caller who may not read hr."""
    _store_values(tmp_path / "store.db", [("hidden@x", "secret", 1)], integration="hr")
    rule = {"attribute": "crm_plan", "op": "not_exists"}
    everyone = client.post("/inbound/api/segments/evaluate", json=rule, headers=auth("viewer")).json()
    assert everyone == {"count": 1, "sample": ["hidden@x"]}  # may read hr: hr's user has no crm_plan
    _without(monkeypatch, "inbound_hr")
    response = client.post("/inbound/api/segments/evaluate", json=rule, headers=auth("viewer"))
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 0, "sample": []}
    either = {"any": [rule, {"attribute": "crm_open_tickets", "op": "gt", "value": 5}]}
    assert client.post("/inbound/api/segments/evaluate", json=either, headers=auth("viewer")).json() == {
        "count": 1,
        "sample": ["cy@x"],
    }


# -- the new-integration wizard ----------------------------------------------------------
def test_discovery_samples_an_export_for_an_editor_with_a_connection_in_use(client, env, s3) -> None:
    s3.put_object(
        Bucket="acme-exports", Key="billing/accounts.csv", Body=b"Email,Tier,Seats\nada@x,gold,3\ngrace@x,silver,5\n"
    )
    editor = auth("user")
    assert client.get("/inbound/api/discover/connections", headers=editor).json() == ["aws_default"]
    body = {"uri": "s3://acme-exports/billing/accounts.csv", "aws_conn_id": "aws_default"}
    found = client.post("/inbound/api/discover", json=body, headers=editor)
    assert found.status_code == 200, found.text
    report = found.json()
    assert [c["name"] for c in report["columns"]] == ["Email", "Tier", "Seats"]
    assert report["user_id_candidates"][0] == "Email" and "\nname: " in report["config"]
    assert {c["name"]: c["type"] for c in report["columns"]}["Seats"] == "integer"
    # a viewer may not read other people's exports; a connection no integration uses is refused
    assert client.post("/inbound/api/discover", json=body, headers=auth("viewer")).status_code == 403
    other = client.post("/inbound/api/discover", json={**body, "aws_conn_id": "aws_prod"}, headers=editor)
    assert other.status_code == 403 and "not one of those your integrations use: aws_default" in other.text
    bad = client.post("/inbound/api/discover", json={**body, "uri": "acme-exports/x.csv"}, headers=editor)
    assert bad.status_code == 400 and "is not s3://BUCKET/KEY" in bad.text
    missing = client.post("/inbound/api/discover", json={**body, "uri": "s3://acme-exports/nope.csv"}, headers=editor)
    assert missing.status_code == 400


def test_a_new_config_is_checked_against_the_current_ones_and_writes_nothing(client, env, write_config) -> None:
    good = yaml.safe_dump(integration_dict("billing", attributes=[{"column": "Tier", "name": "tier"}]))
    answer = client.post("/inbound/api/configs/check", json={"config": good}, headers=auth("user")).json()
    assert (answer["ok"], answer["name"], answer["problems"]) == (True, "billing", [])
    assert not (write_config.folder / "billing.yaml").exists()
    clash = yaml.safe_dump(integration_dict("billing", attributes=[{"column": "Plan", "name": "crm_plan"}]))
    answer = client.post("/inbound/api/configs/check", json={"config": clash}, headers=auth("user")).json()
    assert answer["ok"] is False and "already used by integration 'crm'" in answer["problems"][0]["message"]
    broken = client.post("/inbound/api/configs/check", json={"config": "name: [x"}, headers=auth("user")).json()
    assert broken["ok"] is False and isinstance(broken["problems"][0]["line"], int)
    # checking against every config is the wizard's, as discovery is: a viewer may not probe the names in use
    refused = client.post("/inbound/api/configs/check", json={"config": good}, headers=auth("viewer"))
    assert refused.status_code == 403 and "edit" in refused.json()["detail"]


def test_discovery_of_a_file_with_an_unnamed_column_proposes_the_named_ones(client, env, s3) -> None:
    """A pandas export's unnamed index column is left out (with a note), never `column: ""` nor a 500."""
    s3.put_object(Bucket="acme-exports", Key="shop/orders.csv", Body=b",Email,Plan\n0,ada@x,pro\n1,grace@x,free\n")
    s3.put_object(Bucket="acme-exports", Key="shop/blank.csv", Body=b",\n1,2\n")
    body = {"uri": "s3://acme-exports/shop/orders.csv", "aws_conn_id": "aws_default"}
    found = client.post("/inbound/api/discover", json=body, headers=auth("user"))
    assert found.status_code == 200, found.text
    report = found.json()
    assert [c["name"] for c in report["columns"]] == ["Email", "Plan"] and 'column: ""' not in report["config"]
    assert any(n.startswith("column 1 has no name") for n in report["notes"])
    blank = client.post(
        "/inbound/api/discover", json={**body, "uri": "s3://acme-exports/shop/blank.csv"}, headers=auth("user")
    )
    assert blank.status_code == 400 and "no column has a name" in blank.json()["detail"]


def test_discovery_reads_the_landing_prefixes_the_deployment_allows(client, env, s3, monkeypatch) -> None:
    """INBOUND_DISCOVERY_PREFIXES opens a landing place outside the integrations' buckets, and nothing beside it."""
    s3.create_bucket(Bucket="landing-zone")
    for key in ("incoming/new.csv", "private/salaries.csv", "incoming/../private/salaries.csv"):
        s3.put_object(Bucket="landing-zone", Key=key, Body=b"Email,Tier\nada@x,gold\n")
    editor = auth("user")

    def discover(uri: str) -> Any:
        return client.post("/inbound/api/discover", json={"uri": uri, "aws_conn_id": "aws_default"}, headers=editor)

    refused = discover("s3://landing-zone/incoming/new.csv")
    assert refused.status_code == 403 and "INBOUND_DISCOVERY_PREFIXES" in refused.json()["detail"]
    monkeypatch.setenv("INBOUND_DISCOVERY_PREFIXES", "s3://landing-zone/incoming/")
    assert discover("s3://landing-zone/incoming/new.csv").status_code == 200
    assert discover("s3://landing-zone/incoming/new_*.csv").status_code == 400  # a pattern: nothing matches
    assert discover("s3://landing-zone/private/salaries.csv").status_code == 403
    climbing = discover("s3://landing-zone/incoming/../private/salaries.csv")
    assert climbing.status_code == 400 and "'..'" in climbing.json()["detail"]
    monkeypatch.setenv("INBOUND_DISCOVERY_PREFIXES", "landing-zone/incoming")
    broken = discover("s3://landing-zone/incoming/new.csv")
    assert broken.status_code == 500 and "INBOUND_DISCOVERY_PREFIXES" in broken.json()["detail"]


# -- re-import: the files to pick from, a run's outcome (issue 23) -----------------------
def _put(s3: Any, *keys: str) -> None:
    for key in keys:
        s3.put_object(Bucket="acme-exports", Key=key, Body=b"Email,Plan,Open Tickets\nada@x,premium,3\n")


def test_files_are_the_integrations_exports_with_their_last_outcome(client, runs, s3) -> None:
    theirs = [SUCCESS_KEY, FAILED_KEY, "crm/users_3.csv"]
    _put(
        s3,
        *theirs,
        # reports beside moved files (a shared file's too): never offered
        f"{SUCCESS_KEY}.rejected.csv",
        f"{SUCCESS_KEY}.readers.txt",
        f"{SUCCESS_KEY}.crm.rejected.csv",
        f"{FAILED_KEY}.error.txt",
        f"{FAILED_KEY}.rejected.csv",
        # not crm's: another name, a subfolder, a done folder in a done folder, another folder, a folder marker
        "crm/notes.csv",
        f"crm/success/{STAMP}_staff.csv",
        "crm/archive/users_4.csv",
        f"crm/success/failed/{STAMP}_users_9.csv",
        "hr/users_1.csv",
        "crm/failed/",
    )
    response = client.get("/inbound/api/integrations/crm/files", headers=auth("viewer"))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["truncated"] is False and answer["max_files"] == 200
    files = {f["key"]: f for f in answer["files"]}
    assert set(files) == set(theirs)
    assert {k: f["folder"] for k, f in files.items()} == {
        SUCCESS_KEY: "success",
        FAILED_KEY: "failed",
        "crm/users_3.csv": "waiting",
    }
    failed, success, waiting = files[FAILED_KEY], files[SUCCESS_KEY], files["crm/users_3.csv"]
    assert failed["last_outcome"] == "failed" and "max_rejected_ratio" in failed["reason"]
    assert success["last_outcome"] == "success" and success["reason"] is None and success["last_import_at"]
    assert waiting["last_outcome"] is None and waiting["reason"] is None and waiting["size"] > 0
    order = [(f["last_modified"], f["key"]) for f in answer["files"]]
    assert order == sorted(order, reverse=True)  # newest first
    assert "AKIDSECRETLOGIN" not in response.text


def test_a_waiting_file_shows_the_outcome_of_its_very_content(client, runs, s3, tmp_path) -> None:
    """A file read before (same URI and ETag) and still waiting shows that entry; new content shows none."""
    from inbound.store import FileImport, open_store

    _put(s3, "crm/users_2.csv")
    etag = s3.head_object(Bucket="acme-exports", Key="crm/users_2.csv")["ETag"].strip('"')
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.log_failure(FileImport("crm", "s3://acme-exports/crm/users_2.csv", etag, "v1", "t", 1, 1), "bad row")
    (waiting,) = client.get("/inbound/api/integrations/crm/files", headers=auth("viewer")).json()["files"]
    assert (waiting["key"], waiting["last_outcome"], waiting["reason"]) == ("crm/users_2.csv", "failed", "bad row")
    s3.put_object(Bucket="acme-exports", Key="crm/users_2.csv", Body=b"Email,Plan\nbob@x,free\n")
    (waiting,) = client.get("/inbound/api/integrations/crm/files", headers=auth("viewer")).json()["files"]
    assert waiting["last_outcome"] is None


def test_files_of_a_pattern_with_a_wildcard_folder_and_a_marker(client, env, s3) -> None:
    env(
        "crm.yaml",
        integration_dict("crm", source={"bucket": "acme-exports", "key": "eu/*/users_*.csv", "marker": "_SUCCESS"}),
    )
    _put(
        s3,
        "eu/de/users_1.csv",
        f"eu/fr/failed/{STAMP}_users_2.csv",
        f"eu/fr/failed/{STAMP}_users_2.csv.error.txt",
        f"eu/fr/success/{STAMP}_users_3.csv",
        "eu/de/_SUCCESS",
        "eu/users_0.csv",  # not in a country folder
        "eu/de/x/users_5.csv",
    )
    files = client.get("/inbound/api/integrations/crm/files", headers=auth("viewer")).json()["files"]
    assert {f["key"]: f["folder"] for f in files} == {
        "eu/de/users_1.csv": "waiting",
        f"eu/fr/failed/{STAMP}_users_2.csv": "failed",
        f"eu/fr/success/{STAMP}_users_3.csv": "success",
    }


class FakeS3:
    """`list_objects_v2` over a dict of keys (Prefix, Delimiter, StartAfter, MaxKeys, ContinuationToken),
    counting the keys it hands out."""

    def __init__(self, objects: dict[str, Any]) -> None:
        self.objects = objects
        self.listed = 0

    def list_objects_v2(self, **kw: Any) -> dict[str, Any]:
        prefix, after = kw.get("Prefix", ""), kw.get("ContinuationToken") or kw.get("StartAfter") or ""
        keys = sorted(k for k in self.objects if k.startswith(prefix) and k > after)
        if kw.get("Delimiter"):
            keys = [k for k in keys if "/" not in k[len(prefix) :]]
        page = keys[: kw["MaxKeys"]]
        self.listed += len(page)
        contents = [{"Key": k, "LastModified": self.objects[k], "Size": 1, "ETag": '"e"'} for k in page]
        truncated = len(keys) > len(page)
        return {
            "Contents": contents,
            "KeyCount": len(page),
            "IsTruncated": truncated,
            **({"NextContinuationToken": page[-1]} if truncated else {}),
        }


def _stamped(folder: str, start: Any, count: int, step: Any) -> dict[str, Any]:
    """`count` moved files with their reports in `folder`, one per `step` from `start` on."""
    found = {}
    for i in range(count):
        when = start + i * step
        key = f"crm/{folder}/{when:%Y%m%dT%H%M%SZ}_users_{i}.csv"
        found[key] = when
        found[f"{key}.rejected.csv"] = when
    return found


def test_a_big_done_folder_is_read_from_its_newest_stamps_and_says_it_is_truncated(monkeypatch) -> None:
    from datetime import UTC, datetime, timedelta

    from inbound.web import files as api_files

    now = datetime(2026, 6, 1, tzinfo=UTC)
    # 3 years of hourly imports (52,000 keys with their reports), 2 failed files this week, one waiting
    objects = {
        **_stamped("success", now - timedelta(days=3 * 365), 3 * 365 * 24, timedelta(hours=1)),
        **_stamped("failed", now - timedelta(days=2), 2, timedelta(hours=1)),
        "crm/users_9.csv": now,
    }
    client = FakeS3(objects)
    listing = api_files.list_files(client, _integration("crm", "crm/users_*.csv"), now=now)  # type: ignore[arg-type]
    assert listing.complete is False  # older files exist
    assert len(listing.files) == api_files.MAX_FILES
    assert listing.files[0].key == "crm/users_9.csv"
    newest_success = max(k for k in objects if k.startswith("crm/success/") and not k.endswith(".rejected.csv"))
    assert listing.files[1].key == newest_success  # the newest of the big folder, not its oldest
    assert {f.folder for f in listing.files} == {"waiting", "failed", "success"}
    assert client.listed <= 1000 + 3 * api_files.MAX_KEYS_PER_LISTING + 10  # bounded, not 52,000

    # a small folder: one page, complete
    small = FakeS3({**_stamped("success", now - timedelta(days=9), 5, timedelta(days=1)), "crm/users_9.csv": now})
    listing = api_files.list_files(small, _integration("crm", "crm/users_*.csv"), now=now)  # type: ignore[arg-type]
    assert listing.complete is True and len(listing.files) == 6
    monkeypatch.setattr(api_files, "MAX_FILES", 4)
    listing = api_files.list_files(small, _integration("crm", "crm/users_*.csv"), now=now)  # type: ignore[arg-type]
    assert listing.complete is False and len(listing.files) == 4


def test_a_listing_reads_a_bounded_number_of_keys(monkeypatch) -> None:
    from datetime import UTC, datetime

    from inbound.web import files as api_files

    now = datetime(2026, 6, 1, tzinfo=UTC)
    monkeypatch.setattr(api_files, "MAX_KEYS_PER_LISTING", 50)
    monkeypatch.setattr(api_files, "PAGE", 20)
    waiting = FakeS3({f"crm/users_{i:04}.csv": now for i in range(500)})
    listing = api_files.list_files(waiting, _integration("crm", "crm/users_*.csv"), now=now)  # type: ignore[arg-type]
    assert listing.complete is False and len(listing.files) == 50 and waiting.listed <= 50 + 20 * 2
    wildcard = FakeS3({f"eu/c{i:03}/users_1.csv": now for i in range(500)})
    listing = api_files.list_files(wildcard, _integration("crm", "eu/*/users_*.csv"), now=now)  # type: ignore[arg-type]
    assert listing.complete is False and wildcard.listed <= 3 * 50


@pytest.mark.parametrize(
    ("kind", "status", "start"),
    [
        ("endpoint", 503, "S3 is unreachable for s3://acme-exports (EndpointConnectionError); try again later"),
        ("throttled", 503, "S3 is unavailable (SlowDown); try again later"),
        ("source", 503, "S3 is unreachable"),
        ("denied", 502, "S3 refused the listing: AccessDenied"),
    ],
)
def test_files_when_s3_fails(client, env, monkeypatch, kind, status, start) -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from inbound.errors import SourceUnavailable
    from inbound.web import files as api_files

    exc = {
        "endpoint": EndpointConnectionError(endpoint_url="https://s3.example.invalid"),
        "throttled": ClientError(
            {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "ListObjectsV2"
        ),
        "source": SourceUnavailable("s3://acme-exports: no connection"),
        "denied": ClientError(
            {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "ListObjectsV2"
        ),
    }[kind]

    class Failing:
        def list_objects_v2(self, **kw: Any) -> Any:
            raise exc

    monkeypatch.setattr(api_files, "s3_client", lambda conn_id: Failing())
    response = client.get("/inbound/api/integrations/crm/files", headers=auth("viewer"))
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(start)


OUTCOME = {
    "outcome": "failed",
    "state": "failed",
    "dry_run": True,
    "message": "dry run: would fail: s3://acme-exports/crm/users_3.csv: 2 of 3 rows rejected. Nothing was written or moved",
    "summary": {
        "integration": "crm",
        "outcome": "failed",
        "results": [
            {
                "file": {"key": "crm/users_3.csv"},
                "outcome": "failed",
                "rows_read": 3,
                "rows_rejected": 2,
                "rejected_lines": [{"kind": "not an integer", "column": "Open Tickets", "rows": 2, "lines": [2, 4]}],
            }
        ],
    },
}


@pytest.mark.parametrize("serialize", [False, True], ids=["as the task SDK pushes it", "XComModel.set serialized"])
def test_a_run_answers_its_state_and_then_its_outcome(client, env, dag_runs, serialize) -> None:
    run_id = f"manual__outcome_{serialize}"
    dag_runs("inbound_crm", run_id, "running")
    path = f"/inbound/api/integrations/crm/runs/{run_id}"
    response = client.get(path, headers=auth("viewer"))
    assert response.status_code == 200, response.text
    assert response.json() == {"run_id": run_id, "state": "running", "result": None}  # finalize has not pushed yet
    dag_runs("inbound_crm", run_id, "failed", OUTCOME, serialize=serialize)
    assert client.get(path, headers=auth("viewer")).json() == {"run_id": run_id, "state": "failed", "result": OUTCOME}


def test_a_run_outcome_with_tuples_decodes_to_plain_json(client, env, dag_runs) -> None:
    """serde wraps a tuple (`__classname__`); the answer is the plain JSON of the outcome."""
    lines = {**OUTCOME["summary"]["results"][0]["rejected_lines"][0], "lines": (2, 4)}  # type: ignore[index]
    outcome = {**OUTCOME, "summary": {"results": [{"rejected_lines": [lines]}]}}
    dag_runs("inbound_crm", "manual__tuple", "failed", outcome)
    result = client.get("/inbound/api/integrations/crm/runs/manual__tuple", headers=auth("viewer")).json()["result"]
    assert result["summary"]["results"][0]["rejected_lines"][0]["lines"] == [2, 4]


def test_a_run_of_another_dag_or_none_is_a_404(client, env, dag_runs) -> None:
    dag_runs("inbound_hr", "manual__hr_only", "success", {**OUTCOME, "message": "hr's"})
    for run_id in ("manual__hr_only", "manual__nope"):
        response = client.get(f"/inbound/api/integrations/crm/runs/{run_id}", headers=auth("viewer"))
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == (
            f"no run {run_id!r} of inbound_crm: the run does not exist (or is another DAG's)"
        )
        assert "hr's" not in response.text
    assert client.get("/inbound/api/integrations/hr/runs/manual__hr_only", headers=auth("viewer")).status_code == 200


def test_outcome_values_that_are_no_outcome() -> None:
    from types import SimpleNamespace

    from inbound.airflow.runs import outcome_value

    assert outcome_value(None) is None
    assert outcome_value(SimpleNamespace(value=json.dumps({"outcome": "success"}))) == {"outcome": "success"}
    assert outcome_value(SimpleNamespace(value={"outcome": "success"})) == {"outcome": "success"}
    assert outcome_value(SimpleNamespace(value=json.dumps(json.dumps({"outcome": "x"})))) == {"outcome": "x"}
    assert outcome_value(SimpleNamespace(value="not json")) is None
    assert outcome_value(SimpleNamespace(value=[1, 2])) is None


def test_a_report_can_be_checked_and_a_gone_one_says_where_its_file_went(client, runs, s3, tmp_path) -> None:
    from inbound.store import FileImport, open_store

    path = "/inbound/api/integrations/crm/reports"
    s3.put_object(Bucket="acme-exports", Key=f"{FAILED_KEY}.error.txt", Body=b"why")
    there = client.get(path, params={"key": f"{FAILED_KEY}.error.txt", "check": "true"}, headers=auth("viewer"))
    assert there.status_code == 200
    assert there.json() == {"key": f"{FAILED_KEY}.error.txt", "exists": True, "size": 3, "reason": None}
    # the file was re-imported and failed again: it moved to a new stamp in failed/, its old reports were removed
    s3.delete_object(Bucket="acme-exports", Key=f"{FAILED_KEY}.error.txt")
    moved = "crm/failed/20260301T000000Z_users_2.csv"
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        entry = store.log_failure(FileImport("crm", f"s3://acme-exports/{FAILED_KEY}", "e2", "v1", "t", 1, 0), "x")
        store.set_final_key(entry, moved)
    gone = client.get(path, params={"key": f"{FAILED_KEY}.error.txt"}, headers=auth("viewer"))
    why = (
        f"s3://acme-exports/{FAILED_KEY}.error.txt does not exist: its file was imported again since (failed) "
        f"and is now at {moved}, with its own reports"
    )
    assert gone.status_code == 404 and gone.json()["detail"] == why
    checked = client.get(path, params={"key": f"{FAILED_KEY}.error.txt", "check": "true"}, headers=auth("viewer"))
    assert checked.status_code == 200  # a question answered, not a failed request (no console error in the UI)
    assert checked.json() == {"key": f"{FAILED_KEY}.error.txt", "exists": False, "size": None, "reason": why}
    other = client.get(path, params={"key": f"{SUCCESS_KEY}.rejected.csv", "check": "true"}, headers=auth("viewer"))
    assert other.json()["reason"] == f"s3://acme-exports/{SUCCESS_KEY}.rejected.csv does not exist"
    refused = client.get(path, params={"key": "crm/users_1.csv", "check": "true"}, headers=auth("viewer"))
    assert refused.status_code == 400  # a check never opens what a download may not


def test_the_tables_last_run_is_the_last_import_with_what_it_said_never_a_dry_run(airflow_app, dag_runs) -> None:
    """A failed run's reason is its own answer (a refused key has no import-log entry); a dry run
    that would fail changes nothing, so it does not turn the integration red."""
    from inbound.airflow.runs import dag_states

    refused = "s3://b/crm/users_9.csv does not exist"
    dag_runs("inbound_crm", "manual__t1", "success", {"outcome": "success", "message": "imported 2 rows"})
    dag_runs("inbound_crm", "manual__t2", "failed", {"outcome": "failed", "message": refused})
    dag_runs(
        "inbound_crm",
        "manual__t3",
        "failed",
        {"outcome": "failed", "message": "dry run: would fail"},
        conf={"dry_run": True},
    )
    state = dag_states(["inbound_crm"])["inbound_crm"]
    assert (state.last_run_id, state.last_run_state, state.last_run_message) == ("manual__t2", "failed", refused)
    dag_runs("inbound_crm", "manual__t4", "success", None, conf={"key": "crm/users_1.csv", "dry_run": False})
    state = dag_states(["inbound_crm"])["inbound_crm"]
    assert (state.last_run_id, state.last_run_state, state.last_run_message) == ("manual__t4", "success", None)


def _wait_row(dag_id: str, run_id: str, state: str) -> None:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import insert

    with create_session() as session:
        session.execute(
            insert(TaskInstance.__table__).values(
                dag_id=dag_id, run_id=run_id, task_id="wait_for_file", map_index=-1, pool="default_pool", state=state
            )
        )


def test_the_table_reads_the_latest_14_runs_with_their_waits_and_the_next_run(airflow_app, dag_runs) -> None:
    """The recent-runs strip: the 14 latest runs that imported (no dry run), oldest first; a skipped wait is
    "no new file"; the next run is Airflow's own `next_dagrun_create_after`."""
    from airflow.models import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    from inbound.airflow.runs import RECENT_RUNS, dag_states

    made = [d for d in ["inbound_crm"] if d not in _dag_ids_known(["inbound_crm"])]
    _dag_rows({"inbound_crm": False})
    due = datetime(2031, 1, 1, 13, tzinfo=UTC)
    with create_session() as session:
        table = DagModel.__table__
        session.execute(update(table).where(table.c.dag_id == "inbound_crm").values(next_dagrun_create_after=due))
    try:
        for i in range(18):
            run_id = f"manual__h{i:02d}"
            dry = {"dry_run": True} if i == 16 else None  # the dry run after the 16th: no run of the integration
            dag_runs("inbound_crm", run_id, "success", {"outcome": "success", "message": f"run {i}"}, conf=dry)
            _wait_row("inbound_crm", run_id, "skipped" if i % 2 else "success")
        state = dag_states(["inbound_crm"])["inbound_crm"]
        expected = [f"manual__h{i:02d}" for i in range(18) if i != 16][-RECENT_RUNS:]
        assert [r.run_id for r in state.recent] == expected  # oldest first
        assert [r.skipped for r in state.recent] == [int(r[-2:]) % 2 == 1 for r in expected]
        assert state.last_run_message == "run 17" and state.recent[0].message is None  # the last run's sentence only
        assert state.next_run_at == due.isoformat()
    finally:
        _delete_dag_rows(made)


def test_the_tables_row_type_is_in_the_openapi_schema(airflow_app) -> None:
    """The UI generates its TypeScript types from the plugin's OpenAPI schema."""
    schema = _served_app().openapi()
    answer = schema["paths"]["/api/integrations"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["items"]["$ref"].endswith("/IntegrationRow")
    row = schema["components"]["schemas"]["IntegrationRow"]["properties"]
    for name in ("next_run_at", "last_success_at", "stale", "last_import", "last_run_duration_s", "recent_runs"):
        assert name in row, name
    assert {"reason", "source_parts", "last_run_reason", "enabled"} <= set(row)
    assert set(schema["components"]["schemas"]["RecentRun"]["properties"]) == {"run_id", "state", "at", "outcome"}


# -- issue 27 item 5: the table's edit right, every setting, the config's link, the DAG's config version
def test_the_tables_rows_carry_the_callers_edit_right(client, env) -> None:
    """`can_edit` per row is the detail's check (PUT on the DAG); a broken config has no DAG: null."""
    for role, expected in (("admin", True), ("viewer", False)):
        found = {r["name"]: r for r in client.get("/inbound/api/integrations", headers=auth(role)).json()}
        assert found["crm"]["can_edit"] is expected and found["hr"]["can_edit"] is expected, role
        assert found["zz_broken"]["can_edit"] is None
        detail = client.get("/inbound/api/integrations/crm", headers=auth(role)).json()
        assert detail["can_edit"] is found["crm"]["can_edit"]
    schema = _served_app().openapi()["components"]["schemas"]["IntegrationRow"]["properties"]
    assert "can_edit" in schema


def test_the_page_shows_every_setting_and_the_configs_path_never_the_servers(client, env, write_config) -> None:
    alerts = {"email": ["ops@example.com"], "rejected_ratio_over": 0.01, "stale_after": "P2D"}
    config = integration_dict(
        "crm",
        format={"delimiter": ";", "encoding": "cp1252", "decimal": ","},
        timezone="Europe/Berlin",
        max_file_mb=50,
        blank="clear",
        alerts=alerts,
    )
    config["source"] = {**config["source"], "marker": "_SUCCESS", "events": {"queue": "inbound-crm"}}
    write_config("crm.yaml", config)
    detail = client.get("/inbound/api/integrations/crm", headers=auth("viewer")).json()
    assert detail["format"] == {"delimiter": ";", "encoding": "cp1252", "decimal": ","}
    assert detail["marker"] == "_SUCCESS" and detail["events"] == {"queue": "inbound-crm", "aws_conn_id": None}
    assert detail["alerts"]["email"] == ["ops@example.com"] and detail["alerts"]["stale_after"] == "P2D"
    assert detail["alerts"]["rejected_ratio_over"] == 0.01 and detail["alerts"]["on_failure"] is True
    assert (detail["timezone"], detail["max_file_mb"], detail["blank"]) == ("Europe/Berlin", 50, "clear")
    assert detail["config"] == {"path": "crm.yaml", "url": None} and detail["file"] == "crm.yaml"
    assert str(write_config.folder) not in json.dumps(detail)  # no server path anywhere
    hr = client.get("/inbound/api/integrations/hr", headers=auth("viewer")).json()
    assert hr["format"] == {"delimiter": None, "encoding": "utf-8", "decimal": "."}
    assert hr["marker"] is None and hr["events"] is None and hr["alerts"] is None


def test_the_configs_link_from_the_url_template(client, env, write_config, monkeypatch) -> None:
    monkeypatch.setenv("INBOUND_CONFIG_URL_TEMPLATE", "https://github.com/acme/configs/blob/main/{path}")
    detail = client.get("/inbound/api/integrations/hr", headers=auth("viewer")).json()
    assert detail["config"] == {"path": "hr.yaml", "url": "https://github.com/acme/configs/blob/main/hr.yaml"}
    monkeypatch.setenv("INBOUND_CONFIG_URL_TEMPLATE", "javascript:alert(1)//{path}")
    answer = client.get("/inbound/api/integrations/hr", headers=auth("viewer"))
    assert answer.status_code == 500 and "INBOUND_CONFIG_URL_TEMPLATE" in answer.json()["detail"]


def test_the_config_link_quotes_the_path() -> None:
    from inbound.config.model import Integration
    from inbound.web.integrations import config_link

    integration = Integration.from_file_data(integration_dict("crm"), "/srv/configs/team a/crm.yaml")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("INBOUND_CONFIG_DIR", "/srv/configs")
        mp.setenv("INBOUND_CONFIG_URL_TEMPLATE", "https://git.example.com/c/-/blob/main/{path}?plain=1")
        assert config_link(integration) == {
            "path": "team a/crm.yaml",
            "url": "https://git.example.com/c/-/blob/main/team%20a/crm.yaml?plain=1",
        }
        mp.setenv("INBOUND_CONFIG_DIR", "/elsewhere")  # a file outside the folder: its name only
        assert config_link(integration)["path"] == "crm.yaml"
    finally:
        mp.undo()


def test_the_page_says_when_the_config_is_newer_than_the_dag_airflow_runs(client, env, monkeypatch) -> None:
    from inbound.web import integrations

    page = lambda: client.get("/inbound/api/integrations/crm", headers=auth("viewer")).json()  # noqa: E731
    unparsed = page()["freshness"]  # the test's metadata DB holds no serialized DAG of crm
    assert unparsed["state"] == "unparsed" and unparsed["dag_version"] is None
    version = page()["config_version"]
    monkeypatch.setattr(integrations, "parsed_dag", lambda dag_id: (version, "2026-01-02T00:00:00+00:00"))
    current = page()["freshness"]
    assert current["state"] == "current" and current["dag_version"] == version == current["config_version"]
    monkeypatch.setattr(integrations, "parsed_dag", lambda dag_id: ("0123456789ab", "2026-01-02T00:00:00+00:00"))
    newer = page()["freshness"]
    assert newer["state"] == "newer" and newer["dag_version"] == "0123456789ab"
    assert "newer than the DAG Airflow runs" in newer["message"] and version in newer["message"]

    def broken(dag_id: str) -> None:
        raise RuntimeError("no metadata database")

    monkeypatch.setattr(integrations, "parsed_dag", broken)
    assert page()["freshness"]["state"] == "unknown"


def test_the_dags_config_version_is_read_from_its_doc() -> None:
    """The version `parsed_dag` reads is the one the DAG factory writes into the DAG's doc."""
    from inbound.airflow.dag import doc_md
    from inbound.config.model import Integration
    from inbound.web.integrations import _VERSION_IN_DOC

    integration = Integration.model_validate(integration_dict("crm"))
    found = _VERSION_IN_DOC.search(doc_md(integration))
    assert found and found.group(1) == integration.version
