"""The plugin's web app: the management table and the targeting API inside the Airflow UI.

Thin on purpose: authentication and authorization come from Airflow's auth manager
(`airflow.api_fastapi.core_api.security`: a Bearer token or the `_token` cookie the UI
sets), the data from `inbound.config`, `inbound.management`, `inbound.runs` and the
attribute store. Airflow mounts plugin apps without its auth, so every route here
declares its own check:

- every route needs an authenticated user allowed to read DAGs;
- the table, a user lookup and a segment only use integrations whose DAG the caller
  may read;
- the on/off toggle needs the right to edit that integration's DAG.

Responses carry config data and attribute values, never connection secrets.
"""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, StrictBool

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from inbound.config import Catalog, Integration, load_folder
from inbound.management import IntegrationRow

PREFIX = "/inbound"  # where the plugin mounts the app (plugins/inbound_plugin.py)

# Every route: an authenticated user who may read DAGs (401/403 otherwise).
READ = [Depends(requires_access_dag("GET"))]

app = FastAPI(
    title="inbound",
    description="Inbound S3 CSV integrations: management table, user lookup, segments.",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


class EnabledBody(BaseModel):
    enabled: StrictBool


# -- helpers: who may see what ------------------------------------------------------
def _readable(user: BaseUser, catalog: Catalog) -> dict[str, Integration]:
    """The loaded integrations whose DAG the user may read."""
    dag_ids = {i.dag_id for i in catalog.integrations.values()}
    allowed = get_auth_manager().filter_authorized_dag_ids(dag_ids=dag_ids, user=user, method="GET") if dag_ids else set()
    return {name: i for name, i in catalog.integrations.items() if i.dag_id in allowed}


def _declared(integrations: dict[str, Integration]) -> dict[str, str]:
    return {a.attribute: a.type for i in integrations.values() for a in i.attributes}


def _table(user: BaseUser) -> list[IntegrationRow]:
    """The management table, as `inbound status` builds it, for the DAGs the user may read."""
    from inbound.connections import store
    from inbound.management import rows
    from inbound.runs import dag_states

    catalog = load_folder()
    visible = Catalog(integrations=_readable(user, catalog), errors=catalog.errors)
    attribute_store = store()
    try:
        last_success = attribute_store.last_success()
        held = attribute_store.integrations()
    finally:
        attribute_store.close()
    users = {name: held.get(name, 0) for name in visible.integrations}
    states = dag_states([i.dag_id for i in visible.integrations.values()])
    return rows(visible, states, last_success, users)


# -- JSON API -----------------------------------------------------------------------
@app.get("/api/integrations", dependencies=READ)
def list_integrations(user: GetUserDep) -> list[dict[str, Any]]:
    """The management table: one row per config (broken ones with their error)."""
    return [row.to_dict() for row in _table(user)]


@app.get("/api/users/{user_id}", dependencies=READ)
def user_attributes(user_id: str, user: GetUserDep) -> dict[str, Any]:
    """One user's attributes, only from integrations whose DAG the caller may read."""
    from inbound.connections import store

    readable = _readable(user, load_folder())
    attribute_store = store()
    try:
        found = attribute_store.user_attributes(user_id, _declared(readable))
    finally:
        attribute_store.close()
    keep = [name for name, source in found["sources"].items() if source["integration"] in readable]
    return {
        "user_id": found["user_id"],
        "attributes": {name: found["attributes"][name] for name in keep},
        "sources": {name: found["sources"][name] for name in keep},
    }


@app.post("/api/segments/evaluate", dependencies=READ)
def evaluate_segment(
    user: GetUserDep,
    rule: Any = Body(..., description='a segment rule, e.g. {"attribute": "plan", "op": "eq", "value": "premium"}'),
    sample: int = Query(20, ge=0, le=1000),
) -> dict[str, Any]:
    """How many users match the rule, and a sample of them (400 with the reason for a bad rule)."""
    from inbound.connections import store
    from inbound.rules import RuleError

    declared = _declared(_readable(user, load_folder()))
    attribute_store = store()
    try:
        return attribute_store.segment(rule, declared, sample=sample)
    except RuleError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    finally:
        attribute_store.close()


@app.post("/api/integrations/{name}/enabled", dependencies=READ)
def set_enabled(name: str, body: EnabledBody, request: Request, user: GetUserDep) -> dict[str, Any]:
    """Switch an integration on or off: the same state as its DAG's pause toggle."""
    from airflow.models import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    integration = load_folder().integrations.get(name)
    if integration is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no integration named {name!r}")
    # Edit right on this DAG, as Airflow's own PATCH /api/v2/dags/{dag_id} requires.
    requires_access_dag("PUT", param_dag_id=integration.dag_id)(request, user)
    with create_session() as session:
        updated = session.execute(
            update(DagModel)
            .where(DagModel.dag_id == integration.dag_id)
            .values(is_paused=not body.enabled)
            .execution_options(synchronize_session=False)
        ).rowcount
    if not updated:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"the DAG {integration.dag_id} is not known to Airflow yet (the DAG processor has not parsed it)",
        )
    return {"name": name, "dag_id": integration.dag_id, "enabled": body.enabled}


# -- the page -----------------------------------------------------------------------
RESULT_SIGNS = {
    "success": ("&#10004;", "ok"),  # green check
    "failed": ("&#9888;", "bad"),  # red danger sign
    "config error": ("&#9888;", "bad"),
    "running": ("&#8230;", "neutral"),
    "no new file": ("&#8211;", "neutral"),
    "never run": ("&#183;", "neutral"),
}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Integrations</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a202c; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .45rem .7rem; border-bottom: 1px solid #e2e8f0; vertical-align: top; }}
th {{ font-size: .8rem; text-transform: uppercase; color: #4a5568; }}
.ok {{ color: #2f855a; }} .bad {{ color: #c53030; }} .neutral {{ color: #718096; }}
.sign {{ font-size: 1.15rem; cursor: default; }}
tr.broken td {{ background: #fff5f5; }}
.error {{ color: #c53030; font-family: monospace; font-size: .85rem; white-space: pre-wrap; }}
code {{ font-size: .85rem; }}
</style></head>
<body>
<h1>Integrations</h1>
<table id="integrations">
<thead><tr><th>name</th><th>source</th><th>attributes imported</th><th>users</th><th>schedule</th>
<th>last run</th><th>result</th><th>ready for targeting</th><th>on/off</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<script>
async function toggle(box) {{
  const name = box.dataset.name;
  box.disabled = true;
  try {{
    const response = await fetch("{api}/api/integrations/" + encodeURIComponent(name) + "/enabled", {{
      method: "POST", credentials: "same-origin",
      headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{enabled: box.checked}}),
    }});
    if (!response.ok) {{
      const detail = (await response.json().catch(() => ({{}}))).detail || response.statusText;
      box.checked = !box.checked;
      alert("could not switch " + name + ": " + detail);
    }}
  }} finally {{ box.disabled = false; }}
}}
</script>
</body></html>
"""


def _cell(value: Any) -> str:
    return "&ndash;" if value is None else html.escape(str(value))


def _html_row(row: IntegrationRow, airflow_base: str) -> str:
    e = html.escape
    sign, css = RESULT_SIGNS.get(row.last_run_result, ("?", "neutral"))
    tip = row.error if row.error else row.last_run_result
    result = f'<span class="sign {css}" title="{e(tip, quote=True)}" data-result="{e(row.last_run_result)}">{sign}</span> {e(row.last_run_result)}'
    if row.dag_id is None:  # a broken config: its name, file and error
        return (
            f'<tr class="broken" data-name="{e(row.name)}"><td>{e(row.name)}</td>'
            f'<td colspan="6" class="error">{e(row.error or "")}</td><td>{result}</td><td>&ndash;</td></tr>'
        )
    link = f'<a href="{e(airflow_base)}/dags/{e(row.dag_id)}" target="_top">{e(row.name)}</a>'
    checked = " checked" if row.enabled else ""
    toggle = (
        f'<label><input type="checkbox" class="toggle" data-name="{e(row.name)}"{checked} '
        f'onchange="toggle(this)"> <span>{"on" if row.enabled else "off"}</span></label>'
    )
    last = (row.last_run_at or "")[:19].replace("T", " ") or None
    ready = '<span class="ok">yes</span>' if row.ready_for_targeting else '<span class="neutral">no</span>'
    return (
        f'<tr data-name="{e(row.name)}"><td>{link}</td><td><code>{_cell(row.source)}</code></td>'
        f"<td>{_cell(row.attributes_imported)}</td><td>{_cell(row.users)}</td>"
        f'<td title="{_cell(row.schedule)}">{_cell(row.schedule_words)}</td><td>{_cell(last)}</td>'
        f"<td>{result}</td><td>{ready}</td><td>{toggle}</td></tr>"
    )


@app.get("/", response_class=HTMLResponse, dependencies=READ)
def page(request: Request, user: GetUserDep) -> HTMLResponse:
    """The management table as a page (shown inside the Airflow UI by the plugin's nav entry)."""
    own = request.scope.get("root_path", "").rstrip("/")  # Airflow's base path + PREFIX
    airflow_base = own.removesuffix(PREFIX)
    table = _table(user)
    body = "\n".join(_html_row(row, airflow_base) for row in table) or '<tr><td colspan="9">no integration configs</td></tr>'
    return HTMLResponse(PAGE.format(rows=body, api=json.dumps(own)[1:-1]))
