"""The authorization matrix: every route of the plugin x every kind of caller x two integrations.

Two permission models, each with Airflow's real auth manager inside Airflow's real API app:

- role-based (the simple auth manager): a role reads or edits every DAG;
- per-DAG (the FAB auth manager the compose uses): `DAG:inbound_crm` rights only.

A is crm, B is hr; both have values in the store, a DAG row and a report in S3. The
expected answer of each cell follows from the caller's rights alone (`expected`), so a
route added later joins by one line in `ROUTES` (`test_every_route_is_in_the_matrix`
fails until it does).

The wizard has a matrix of its own (`test_wizard_scope`): discovery and the config check x
an editor of A, a viewer of A, admin x A's folder, B's folder, B's done folder, another
bucket and the staging location (`PLACES`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from conftest import BUCKET, integration_dict
from test_api import (
    SIMPLE_AUTH_MANAGER,
    _call,
    _clear_plugin_caches,
    _dag_ids_known,
    _dag_rows,
    _delete_dag_rows,
    _delete_runs,
    _is_paused,
    _run_row,
    _store_values,
    api_app_with,
)

A, B = "crm", "hr"
NEW_CONFIG = yaml.safe_dump(integration_dict("{name}_new", attributes=[{"column": "Tier", "name": "{name}_tier"}]))
FAILED = "{name}/failed/20260102T000000Z_users_2.csv"
RUN = "manual__matrix"  # a run of each integration's DAG, with its outcome
OTHER_BUCKET = "other-exports"  # a bucket no integration reads (the connection can read it)
STAGING = "_staging"  # INBOUND_STAGING_URL is s3://BUCKET/_staging: in the integrations' bucket


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # `{name}`: the integration of the cell
    kind: str  # how the answer depends on the caller's rights (see `expected`)
    body: Any = None


ROUTES = [
    Route("GET", "/inbound/api/integrations", "list"),
    Route("GET", "/inbound/api/attributes", "list"),
    Route("GET", "/inbound/api/users/ada@x", "list"),
    Route(
        "POST", "/inbound/api/segments/evaluate", "segment", {"attribute": "{name}_plan", "op": "eq", "value": "pro"}
    ),
    Route("GET", "/inbound/api/integrations/{name}", "read"),
    Route("GET", "/inbound/api/integrations/{name}/reports?key=" + FAILED + ".error.txt", "read"),
    Route("GET", "/inbound/api/integrations/{name}/rejections?key=" + FAILED, "read"),
    Route("GET", "/inbound/api/integrations/{name}/files", "read"),
    Route("GET", "/inbound/api/integrations/{name}/runs/" + RUN, "read"),
    Route("GET", "/inbound/api/discover/connections", "editor"),
    Route(
        "POST",
        "/inbound/api/discover",
        "discover",
        {"uri": "s3://" + BUCKET + "/{name}/new.csv", "aws_conn_id": "aws_default"},
    ),
    Route("POST", "/inbound/api/configs/check", "editor", {"config": NEW_CONFIG}),
]


@dataclass(frozen=True)
class Rights:
    reads: frozenset[str]
    edits: frozenset[str]


NOTHING = Rights(frozenset(), frozenset())
ALL = frozenset({A, B})
# model -> caller -> rights (None: anonymous). The same callers in both models: per DAG, the
# viewer and the editor have rights on A only; the role-based model cannot say "A only", so
# there they are the viewer role and the user role (which edits DAGs), with rights on both.
CALLERS: dict[str, dict[str, Rights | None]] = {
    "role-based": {
        "anonymous": None,
        "no role": NOTHING,
        "viewer": Rights(ALL, frozenset()),
        "editor": Rights(ALL, ALL),
        "admin": Rights(ALL, ALL),
    },
    "per-DAG": {
        "anonymous": None,
        "no role": NOTHING,
        "viewer": Rights(frozenset({A}), frozenset()),
        "editor": Rights(frozenset({A}), frozenset({A})),
        "admin": Rights(ALL, ALL),
    },
}


def expected(route: Route, rights: Rights | None, name: str) -> tuple[int, bool | None]:
    """The status of a cell and, for the routes that list, whether `name` shows in the answer."""
    if rights is None:
        return 401, None
    if not rights.reads:
        return 403, None  # the gate: no integration's DAG to read
    readable = name in rights.reads
    if route.kind == "list":
        return 200, readable
    if route.kind == "segment":
        return (200 if readable else 400), None  # B's attribute is unknown to a reader of A only
    if route.kind == "editor":  # the wizard: the right to edit some integration's DAG
        return (200 if rights.edits else 403), None
    if route.kind == "discover":  # ... and only in the folder of an integration the caller may edit
        return (200 if name in rights.edits else 403), None
    if not readable:
        return 404, None  # alike for missing and unreadable
    return 200, None  # (on/off is Airflow's own PATCH /api/v2/dags/{dag_id}: no route of the plugin edits)


def shows(route: Route, name: str, response: Any) -> bool:
    """Whether a listing answer tells anything of integration `name`."""
    if route.path == "/inbound/api/integrations":
        return name in {row["name"] for row in response.json()}
    if route.path.startswith("/inbound/api/users/"):
        return f"{name}_plan" in response.json()["attributes"]
    if route.path == "/inbound/api/attributes":
        return name in {a["integration"] for a in response.json()}
    raise AssertionError(f"no listing check for {route.path}")


# -- the two apps --------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Configs for A and B (and a broken one), their values in a SQLite store, reports in moto's S3."""
    import boto3
    from moto import mock_aws

    from inbound.store import open_store

    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("authorization")
    folder = root / "integrations"
    folder.mkdir()
    for name in (A, B):
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(integration_dict(name)))
    (folder / "zz_broken.yaml").write_text(yaml.safe_dump({**integration_dict("zz_broken"), "shedule": "@daily"}))
    mp.setenv("INBOUND_CONFIG_DIR", str(folder))
    mp.setenv("AIRFLOW_CONN_INBOUND_STORE", json.dumps({"conn_type": "sqlite", "host": str(root / "store.db")}))
    mp.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "login": "testing", "password": "testing"}))
    mp.setenv("INBOUND_STAGING_URL", f"s3://{BUCKET}/{STAGING}")
    mp.delenv("INBOUND_DISCOVERY_PREFIXES", raising=False)
    for name in (A, B):
        _store_values(root / "store.db", rows=[("ada@x", "pro", 1)], integration=name)
    with open_store(f"sqlite:///{root / 'store.db'}") as store:
        for name in (A, B):
            store.set_final_key(store.imports(name, limit=1)[0].id, FAILED.format(name=name))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for name in (A, B):
            s3.put_object(Bucket=BUCKET, Key=FAILED.format(name=name) + ".error.txt", Body=f"{name}'s error".encode())
            s3.put_object(Bucket=BUCKET, Key=FAILED.format(name=name), Body=b"Email,Plan\n")
            s3.put_object(Bucket=BUCKET, Key=f"{name}/new.csv", Body=b"Email,Tier\nada@x,gold\ngrace@x,silver\n")
        # what discovery must never read for a caller: another bucket, a staged set (CSV-like on purpose)
        s3.create_bucket(Bucket=OTHER_BUCKET)
        s3.put_object(Bucket=OTHER_BUCKET, Key="vendor/new.csv", Body=b"Email,Salary\nada@x,100\n")
        s3.put_object(Bucket=BUCKET, Key=f"{STAGING}/inbound_{B}/{RUN}/set.csv", Body=b"Email,Salary\nada@x,100\n")
        yield
    mp.undo()


def _simple_tokens() -> dict[str, str | None]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = get_auth_manager()
    roles = {"no role": None, "viewer": "viewer", "editor": "user", "admin": "admin"}
    tokens: dict[str, str | None] = {"anonymous": None}
    for caller, role in roles.items():
        tokens[caller] = manager.generate_jwt(SimpleAuthManagerUser(username=caller, role=role))
    return tokens


def _fab_tokens() -> dict[str, str | None]:
    """FAB users with per-DAG roles (`DAG:<dag_id>` resources), as an admin would set them up."""
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()
    security = manager.security_manager
    grants = {
        "no role": [],
        "reads another DAG only": [("can_read", "DAG:some_other_dag")],
        "viewer": [("can_read", f"DAG:inbound_{A}")],
        "editor": [("can_read", f"DAG:inbound_{A}"), ("can_edit", f"DAG:inbound_{A}")],
    }
    tokens: dict[str, str | None] = {"anonymous": None}
    with manager.flask_app.app_context():
        for i, (caller, permissions) in enumerate(grants.items()):
            role = security.add_role(f"matrix_{i}")
            for action, resource in permissions:
                security.add_permission_to_role(role, security.create_permission(action, resource))
            user = security.find_user(username=f"matrix_{i}") or security.add_user(
                f"matrix_{i}", "M", str(i), f"m{i}@x", [role] if permissions else [], password="pw-" + "x" * 12
            )
            tokens[caller] = manager.generate_jwt(user)
        admin = security.find_user(username="matrix_admin") or security.add_user(
            "matrix_admin", "M", "admin", "admin@x", [security.find_role("Admin")], password="pw-" + "x" * 12
        )
        tokens["admin"] = manager.generate_jwt(admin)
    return tokens


MANAGERS: dict[str, tuple[str, Callable[[], dict[str, str | None]]]] = {
    "role-based": (SIMPLE_AUTH_MANAGER, _simple_tokens),
    "per-DAG": ("airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager", _fab_tokens),
}


@pytest.fixture(scope="module", params=list(MANAGERS))
def model(request: pytest.FixtureRequest, world: None) -> Iterator[tuple[str, Any, dict[str, str | None]]]:
    """(permission model, a client of Airflow's API app with that auth manager, a token per caller)."""
    from airflow import plugins_manager
    from airflow.api_fastapi import app as api_app
    from fastapi.testclient import TestClient

    mp = pytest.MonkeyPatch()
    auth_manager, tokens = MANAGERS[request.param]
    app = api_app_with(mp, auth_manager)
    dag_ids = [f"inbound_{A}", f"inbound_{B}"]
    made = [d for d in dag_ids if d not in _dag_ids_known(dag_ids)]
    _dag_rows(dict.fromkeys(dag_ids, False))
    for name in (A, B):
        _run_row(f"inbound_{name}", RUN, "success", {"outcome": "success", "message": f"{name}'s run"})
    with TestClient(app) as client:
        yield request.param, client, tokens()
    for name in (A, B):
        _delete_runs(f"inbound_{name}", [RUN])
    _delete_dag_rows(made)  # leave Airflow's metadata DB as found, whichever module runs first
    api_app.purge_cached_app()
    _clear_plugin_caches(plugins_manager)
    mp.undo()


def _request(route: Route, name: str) -> tuple[str, Any]:
    body = json.loads(json.dumps(route.body).replace("{name}", name)) if route.body is not None else None
    return route.path.replace("{name}", name), body


# -- the matrix ----------------------------------------------------------------------
@pytest.mark.parametrize("name", [A, B])
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path.split('?')[0]}")
@pytest.mark.parametrize("caller", list(CALLERS["per-DAG"]))
def test_matrix(model, caller: str, route: Route, name: str) -> None:
    kind, client, tokens = model
    rights = CALLERS[kind][caller]
    status, visible = expected(route, rights, name)
    path, body = _request(route, name)
    headers = {"Authorization": f"Bearer {tokens[caller]}"} if tokens[caller] else {}
    client.cookies.clear()
    response = _call(client, route.method, path, body, headers=headers)
    assert response.status_code == status, response.text[:300]
    if visible is not None:
        assert shows(route, name, response) is visible
    if status == 200 and route.kind == "read" and "reports" in route.path:
        assert response.text == f"{name}'s error"
    if status == 200 and "/runs/" in route.path:
        assert response.json()["result"]["message"] == f"{name}'s run"
    if status == 200 and route.path.endswith("/files"):
        assert {f["key"] for f in response.json()["files"]} == {FAILED.format(name=name)}
    assert not _is_paused(f"inbound_{name}")


@pytest.mark.parametrize("dag_id", ["inbound_crm", "some_other_dag", "~"])
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_a_dag_id_in_the_request_never_opens_the_gate(model, route: Route, dag_id: str) -> None:
    """The gate is the set of inbound DAGs the caller may read, never a `dag_id` the caller names."""
    kind, client, tokens = model
    caller = "reads another DAG only" if kind == "per-DAG" else "no role"
    path, body = _request(route, A)
    path += ("&" if "?" in path else "?") + f"dag_id={dag_id}"
    response = _call(client, route.method, path, body, headers={"Authorization": f"Bearer {tokens[caller]}"})
    assert response.status_code == 403, response.text[:300]


def test_a_broken_config_shows_only_to_readers_of_its_dag(model) -> None:
    """A config that does not load shows (with its error) to those who may read the DAG it would define."""
    kind, client, tokens = model
    for caller, rights in CALLERS[kind].items():
        if rights is None or not rights.reads:
            continue
        names = {
            row["name"]
            for row in client.get(
                "/inbound/api/integrations", headers={"Authorization": f"Bearer {tokens[caller]}"}
            ).json()
        }
        assert ("zz_broken" in names) is (rights.reads == ALL), caller


def test_every_route_is_in_the_matrix(model) -> None:
    from airflow import plugins_manager

    plugins = {p.name: p for p in plugins_manager._get_plugins()[0]}
    (mounted,) = plugins["inbound"].fastapi_apps
    declared = {
        (method, "/inbound" + route.path)
        for route in mounted["app"].load().routes
        for method in getattr(route, "methods", ())
        if method != "HEAD"
    }
    in_matrix = {(r.method, r.path.split("?")[0]) for r in ROUTES}
    public = {("GET", "/inbound/static/inbound-ui.js")}  # the React app's code, no data (test_api checks it)
    shown = {(m, re.sub(r"\{user_id:path\}", "ada@x", p).replace("{run_id}", RUN)) for m, p in declared}
    assert shown == in_matrix | public


# -- the wizard's scope: where discovery may read, what the config check tells ------------
@dataclass(frozen=True)
class Place:
    uri: str  # what discovery is asked to sample
    source: dict[str, str]  # a new config's `source:` there
    readable: Callable[[Rights], bool]  # whether an editor with these rights may sample it


PLACES = {
    "A's folder": Place(
        f"s3://{BUCKET}/{A}/new.csv", {"bucket": BUCKET, "key": f"{A}/new_*.csv"}, lambda r: A in r.edits
    ),
    "B's folder": Place(
        f"s3://{BUCKET}/{B}/new.csv", {"bucket": BUCKET, "key": f"{B}/new_*.csv"}, lambda r: B in r.edits
    ),
    "B's done folder": Place(  # moved files and their reports (rejected rows: values): nobody's landing place
        f"s3://{BUCKET}/{FAILED.format(name=B)}", {"bucket": BUCKET, "key": f"{B}/failed/new_*.csv"}, lambda r: False
    ),
    "another bucket": Place(
        f"s3://{OTHER_BUCKET}/vendor/new.csv", {"bucket": OTHER_BUCKET, "key": "vendor/new_*.csv"}, lambda r: False
    ),
    "the staging location": Place(
        f"s3://{BUCKET}/{STAGING}/inbound_{B}/{RUN}/set.csv",
        {"bucket": BUCKET, "key": f"{STAGING}/new_*.csv"},
        lambda r: False,
    ),
}
CONFIG_OK = {"B's done folder": False, "the staging location": False}  # refused as configs too (no leak)


def _wizard_call(client: Any, token: str | None, route: str, place: Place) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if route == "discover":
        body = {"uri": place.uri, "aws_conn_id": "aws_default"}
        return client.post("/inbound/api/discover", json=body, headers=headers)
    config = integration_dict("wizard_new", source=place.source, attributes=[{"column": "Tier", "name": "new_tier"}])
    return client.post("/inbound/api/configs/check", json={"config": yaml.safe_dump(config)}, headers=headers)


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("route", ["discover", "configs/check"])
@pytest.mark.parametrize("caller", ["editor", "viewer", "admin"])
def test_wizard_scope(model, caller: str, route: str, place: str) -> None:
    """Discovery reads only where the caller's editable integrations land files; both routes need the edit right.

    Never B's folder for an editor of A only, never a done folder (moved files, reports with
    values), another bucket or the staging location (staged sets: personal data) for anyone;
    a refusal never names B.
    """
    kind, client, tokens = model
    rights = CALLERS[kind][caller]
    assert rights is not None
    response = _wizard_call(client, tokens[caller], route, PLACES[place])
    if not rights.edits:
        status = 403
    elif route == "discover":
        status = 200 if PLACES[place].readable(rights) else 403
    else:
        status = 200
    assert response.status_code == status, response.text[:300]
    if status == 200 and route == "discover":
        assert [c["name"] for c in response.json()["columns"]] == ["Email", "Tier"]
    if status == 200 and route == "configs/check":
        assert response.json()["ok"] is CONFIG_OK.get(place, True), response.text[:300]
    if B not in rights.reads:
        assert f"'{B}'" not in response.text and f"{B}.yaml" not in response.text and f"{B}_plan" not in response.text


def test_discovery_suggests_no_key_outside_its_scope(model) -> None:
    """A missing key's answer lists nearby keys only where the caller may discover: not B's, no report, no staged set."""
    kind, client, tokens = model
    for caller in ("editor", "admin"):
        rights = CALLERS[kind][caller]
        assert rights is not None
        headers = {"Authorization": f"Bearer {tokens[caller]}"}
        body = {"uri": f"s3://{BUCKET}/new.csv", "aws_conn_id": "aws_default"}  # the bucket's root: nobody's folder
        response = client.post("/inbound/api/discover", json=body, headers=headers)
        assert response.status_code == 400, response.text[:300]
        assert "NoSuchKey" in response.text
        assert STAGING not in response.text and "failed/" not in response.text
        assert (f"{B}/new.csv" in response.text) is (B in rights.edits)


def test_config_check_tells_an_editor_nothing_of_integrations_they_may_not_read(model) -> None:
    """The cap's count, an attribute or a name already taken: an integration the caller may not read stays unnamed."""
    kind, client, tokens = model
    mp = pytest.MonkeyPatch()
    mp.setenv("INBOUND_MAX_ATTRIBUTES", "5")  # A's 2 + B's 2 + the new config's 2 > 5
    try:
        for caller in ("editor", "admin"):
            rights = CALLERS[kind][caller]
            assert rights is not None
            headers = {"Authorization": f"Bearer {tokens[caller]}"}

            def check(config: dict[str, Any], headers: dict[str, str] = headers) -> str:
                response = client.post(
                    "/inbound/api/configs/check", json={"config": yaml.safe_dump(config)}, headers=headers
                )
                assert response.status_code == 200, response.text[:300]
                answer = response.json()
                assert answer["ok"] is False, answer
                return str(answer["problems"][0]["message"])

            over = check(integration_dict("wizard_new"))
            clash = check(integration_dict("wizard_new", attributes=[{"column": "Plan", "name": "HR_Plan"}]))
            taken = check(integration_dict(B))
            assert "at most 5 attributes" in over and "would make 6" in over
            assert "HR_Plan" in clash and "names are one namespace" in clash and "unique" in taken
            if B in rights.reads:
                assert f"{B}.yaml: 2" in over and f"'{B}_plan'" in clash
            else:
                assert "other integrations: 2" in over and "crm.yaml: 2" in over
                for message in (over, clash, taken):
                    assert (
                        f"{B}.yaml" not in message
                        and f"{B}_plan" not in message
                        and f"'{B}'" not in message.replace(f"name '{B}'", "")
                    )
    finally:
        mp.undo()
