"""The plugin's web app: the management table and the targeting API inside the Airflow UI.

Thin on purpose: authentication and authorization come from Airflow's auth manager
(`airflow.api_fastapi.core_api.security`: a Bearer token or the `_token` cookie the UI
sets), the data from `inbound.config`, `inbound.management`, `inbound.runs` and the
attribute store. Airflow mounts plugin apps without its auth, so every route here
declares its own check:

- every route needs an authenticated user allowed to read DAGs;
- the table, an integration's page, its reports, a user lookup and a segment only use
  integrations whose DAG the caller may read;
- the on/off toggle needs the right to edit that integration's DAG.

Responses carry config data and attribute values, never connection secrets.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, StrictBool

from inbound.config import Catalog, Integration, load_folder
from inbound.management import IntegrationRow
from inbound.source import glob_regex

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


# -- the configs, parsed once per change ----------------------------------------------
_catalog_cache: tuple[tuple[Any, ...], Catalog] | None = None
_catalog_lock = threading.Lock()


def _fingerprint() -> tuple[Any, ...]:
    """What `load_folder()` depends on: the folder, the cap, every config's bytes, the environment.

    Reading and hashing a few hundred small files costs milliseconds; parsing them (pure-Python
    YAML with line numbers, schedule checks) costs seconds for 500 configs. The environment is
    part of it because a config may read variables with `!env`.
    """
    from inbound.config import config_dir, config_files, max_attributes

    directory = config_dir()
    digest = hashlib.sha256()
    digest.update(repr(sorted(os.environ.items())).encode())
    if directory.is_dir():
        for path in config_files(directory):
            try:
                content = path.read_bytes()
            except OSError:
                content = b"\0unreadable"
            digest.update(path.name.encode() + b"\0" + hashlib.sha256(content).digest())
    return (str(directory.resolve()), directory.is_dir(), max_attributes(), digest.hexdigest())


def _catalog() -> Catalog:
    """`load_folder()`, reused while no config file (nor the environment) changed."""
    global _catalog_cache
    key = _fingerprint()
    cached = _catalog_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    with _catalog_lock:
        cached = _catalog_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        catalog = load_folder()
        _catalog_cache = (key, catalog)
        return catalog


# -- helpers: who may see what ------------------------------------------------------
def _readable(user: BaseUser, catalog: Catalog) -> dict[str, Integration]:
    """The loaded integrations whose DAG the user may read."""
    dag_ids = {i.dag_id for i in catalog.integrations.values()}
    allowed = (
        get_auth_manager().filter_authorized_dag_ids(dag_ids=dag_ids, user=user, method="GET") if dag_ids else set()
    )
    return {name: i for name, i in catalog.integrations.items() if i.dag_id in allowed}


def _declared(integrations: dict[str, Integration]) -> dict[str, str]:
    return {a.attribute: a.type for i in integrations.values() for a in i.attributes}


def _table(user: BaseUser) -> list[IntegrationRow]:
    """The management table, as `inbound status` builds it, for the DAGs the user may read."""
    from inbound.connections import store
    from inbound.management import rows
    from inbound.runs import dag_states

    catalog = _catalog()
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

    readable = _readable(user, _catalog())
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

    declared = _declared(_readable(user, _catalog()))
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

    integration = _catalog().integrations.get(name)
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


# -- one integration: mapping, import log, reports -----------------------------------
REPORT_SUFFIXES = {".rejected.csv": ("rejected rows", "text/csv"), ".error.txt": ("error report", "text/plain")}
RUNS_SHOWN = 20


def _readable_one(name: str, user: BaseUser) -> Integration:
    """The integration `name` if its config loads (404) and the caller may read its DAG (403)."""
    integration = _catalog().integrations.get(name)
    if integration is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no integration named {name!r}")
    if not _readable(user, Catalog(integrations={name: integration})):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no read access to the DAG {integration.dag_id}")
    return integration


def _reports(integration: Integration, record: Any) -> list[dict[str, str]]:
    """The reports the pipeline put beside a moved file (rejected rows; the error of a failed file)."""
    if not record.final_key:
        return []
    found = []
    if record.rows_rejected:
        found.append(".rejected.csv")
    if record.outcome == "failed":
        found.append(".error.txt")
    bucket = integration.source.bucket
    return [
        {
            "kind": REPORT_SUFFIXES[suffix][0],
            "key": record.final_key + suffix,
            "uri": f"s3://{bucket}/{record.final_key}{suffix}",
        }
        for suffix in found
    ]


def _folder_pattern(integration: Integration) -> re.Pattern[str]:
    """Report keys of this integration: `<its folder>success|failed/<file>.rejected.csv|.error.txt`.

    The folder is the directory part of the source key (a glob: `*` and `?` stay inside
    one path segment, as the matcher of `inbound.source` reads them).
    """
    key = integration.source.key
    folder = glob_regex(key[: key.rfind("/") + 1])
    suffixes = "|".join(re.escape(s) for s in REPORT_SUFFIXES)
    return re.compile(f"{folder}(?:success|failed)/[^/]+(?:{suffixes})")


def report_key_allowed(integration: Integration, key: str) -> bool:
    """Only the reports beside this integration's moved files: nothing else of the bucket."""
    if ".." in key.split("/") or "\\" in key or any(ord(c) < 32 for c in key):
        return False
    return _folder_pattern(integration).fullmatch(key) is not None


def _detail(integration: Integration) -> dict[str, Any]:
    """What the integration page shows: config (no secrets), state, last imports with reports."""
    from inbound.connections import store
    from inbound.management import schedule_in_words
    from inbound.runs import dag_states

    attribute_store = store()
    try:
        records = attribute_store.imports(integration.name, limit=RUNS_SHOWN)
        users = attribute_store.user_count(integration.name)
    finally:
        attribute_store.close()
    state = dag_states([integration.dag_id]).get(integration.dag_id)
    enabled = integration.enabled if state is None or state.is_paused is None else not state.is_paused
    source = integration.source
    return {
        "name": integration.name,
        "dag_id": integration.dag_id,
        "description": integration.description,
        "file": integration.file,
        "source": {"uri": source.uri, "bucket": source.bucket, "key": source.key, "aws_conn_id": source.aws_conn_id},
        "schedule": integration.schedule,
        "schedule_words": schedule_in_words(integration.schedule),
        "mode": integration.mode,
        "blank": integration.blank,
        "max_rejected_ratio": integration.max_rejected_ratio,
        "mirror_max_removed": integration.mirror_max_removed if integration.mode == "mirror" else None,
        "enabled": enabled,
        "users": users,
        "user_id_column": integration.user_id.column,
        "mapping": [
            {"column": a.column, "attribute": a.attribute, "type": a.type, "format": a.format}
            for a in integration.attributes
        ],
        "runs": [
            {
                **{k: v for k, v in record.to_dict().items() if k not in ("etag",)},
                "reports": _reports(integration, record),
            }
            for record in records
        ],
    }


@app.get("/api/integrations/{name}", dependencies=READ)
def integration_detail(name: str, user: GetUserDep) -> dict[str, Any]:
    """One integration: its mapping, source, schedule, mode and its last imports (newest first)."""
    return _detail(_readable_one(name, user))


@app.get("/api/integrations/{name}/reports", dependencies=READ)
def integration_report(
    name: str, user: GetUserDep, key: str = Query(..., description="the S3 key of a .rejected.csv or .error.txt report")
) -> StreamingResponse:
    """A rejection or error report of this integration, streamed from S3 with its AWS connection."""
    from botocore.exceptions import ClientError

    from inbound.connections import s3_client

    integration = _readable_one(name, user)
    if not report_key_allowed(integration, key):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"not a report of {name}: the key must lie in a success/ or failed/ folder of its source folder "
            "and end with .rejected.csv or .error.txt",
        )
    try:
        obj = s3_client(integration.source.aws_conn_id).get_object(Bucket=integration.source.bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404", "NotFound"):
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"s3://{integration.source.bucket}/{key} does not exist"
            ) from None
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"S3 refused the report: {code or 'error'}") from None
    media = next(m for s, (_, m) in REPORT_SUFFIXES.items() if key.endswith(s))
    body = obj["Body"]

    def chunks() -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(64 * 1024)
        finally:
            body.close()

    filename = key.rsplit("/", 1)[-1].replace('"', "")
    return StreamingResponse(
        chunks(),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"', "X-Content-Type-Options": "nosniff"},
    )


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
.nav {{ margin-bottom: .5rem; font-size: .9rem; }} .dag {{ font-size: .75rem; margin-left: .4rem; }}
</style></head>
<body>
<nav class="nav"><b>Integrations</b> &middot; <a href="{api}/targeting">Targeting</a></nav>
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


def _html_row(row: IntegrationRow, airflow_base: str, own: str = "") -> str:
    e = html.escape
    sign, css = RESULT_SIGNS.get(row.last_run_result, ("?", "neutral"))
    tip = row.error if row.error else row.last_run_result
    result = f'<span class="sign {css}" title="{e(tip, quote=True)}" data-result="{e(row.last_run_result)}">{sign}</span> {e(row.last_run_result)}'
    if row.dag_id is None:  # a broken config: its name, file and error
        return (
            f'<tr class="broken" data-name="{e(row.name)}"><td>{e(row.name)}</td>'
            f'<td colspan="6" class="error">{e(row.error or "")}</td><td>{result}</td><td>&ndash;</td></tr>'
        )
    link = (
        f'<a href="{e(own)}/integrations/{e(row.name)}" class="name">{e(row.name)}</a>'
        f'<a href="{e(airflow_base)}/dags/{e(row.dag_id)}" target="_top" class="dag" title="the DAG in Airflow">DAG</a>'
    )
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
    body = (
        "\n".join(_html_row(row, airflow_base, own) for row in table)
        or '<tr><td colspan="9">no integration configs</td></tr>'
    )
    return HTMLResponse(PAGE.format(rows=body, api=json.dumps(own)[1:-1]))


# -- the integration page -----------------------------------------------------------
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a202c; }
table { border-collapse: collapse; margin-bottom: 1.2rem; }
th, td { text-align: left; padding: .4rem .7rem; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; color: #4a5568; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #2f855a; } .bad { color: #c53030; } .neutral { color: #718096; }
.error { color: #c53030; font-family: monospace; font-size: .85rem; white-space: pre-wrap; }
code { font-size: .85rem; } .nav { margin-bottom: .5rem; font-size: .9rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .3rem 1rem; }
dt { color: #4a5568; } dd { margin: 0; }
textarea { width: 100%; max-width: 42rem; font-family: monospace; }
input[type=text] { width: 22rem; }
form { margin-bottom: 1rem; }
"""


def _svg_chart(runs: list[dict[str, Any]], width: int = 640, height: int = 170) -> str:
    """Rows imported (written) per run over time, rejected rows stacked in red; inline SVG, no JS."""
    e = html.escape
    runs = list(reversed(runs))  # oldest first
    if not runs:
        return (
            '<svg class="chart" id="rows-chart" width="%d" height="40" role="img"><text x="0" y="24" fill="#718096">no runs yet</text></svg>'
            % width
        )
    left, bottom, top = 48, 22, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max(max(r["rows_written"] + r["rows_rejected"] for r in runs), 1)
    slot = plot_w / len(runs)
    bar = max(min(slot * 0.7, 40), 1)
    parts = [
        f'<svg class="chart" id="rows-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="rows imported per run">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" stroke="#a0aec0"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11" fill="#4a5568">{peak:,}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11" fill="#4a5568">0</text>',
    ]
    for i, run in enumerate(runs):
        x = left + i * slot + (slot - bar) / 2
        written_h = plot_h * run["rows_written"] / peak
        rejected_h = plot_h * run["rows_rejected"] / peak
        at = (run["finished_at"] or "")[:16].replace("T", " ")
        tip = e(
            f"{at} {run['outcome']}: {run['rows_written']:,} rows written, {run['rows_rejected']:,} rejected "
            f"({run['source_file']})"
        )
        fill = "#48bb78" if run["outcome"] == "success" else "#ed8936"
        parts.append(
            f'<g class="run"><title>{tip}</title>'
            f'<rect class="written" x="{x:.1f}" y="{top + plot_h - written_h:.1f}" width="{bar:.1f}" height="{written_h:.1f}" fill="{fill}"/>'
            f'<rect class="rejected" x="{x:.1f}" y="{top + plot_h - written_h - rejected_h:.1f}" width="{bar:.1f}" '
            f'height="{rejected_h:.1f}" fill="#e53e3e"/></g>'
        )
    first, last = (runs[0]["finished_at"] or "")[:10], (runs[-1]["finished_at"] or "")[:10]
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="11" fill="#4a5568">{e(first)}</text>')
    parts.append(
        f'<text x="{width - 8}" y="{height - 6}" text-anchor="end" font-size="11" fill="#4a5568">{e(last)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _integration_html(detail: dict[str, Any], own: str, airflow_base: str) -> str:
    e = html.escape
    name = detail["name"]
    mapping = "".join(
        f'<tr class="mapping"><td><code>{e(m["column"])}</code></td><td><code>{e(m["attribute"])}</code></td>'
        f"<td>{e(m['type'])}</td><td>{_cell(m['format'])}</td></tr>"
        for m in detail["mapping"]
    )
    runs = []
    for run in detail["runs"]:
        css = "ok" if run["outcome"] == "success" else "bad"
        reports = "".join(
            f'<div><a href="{e(own)}/api/integrations/{e(name)}/reports?key={e(_quote(r["key"]))}" target="_blank">{e(r["kind"])}</a> '
            f"<code>{e(r['uri'])}</code></div>"
            for r in run["reports"]
        )
        moved = (
            f'<div class="neutral"><code>s3://{e(detail["source"]["bucket"])}/{e(run["final_key"])}</code></div>'
            if run["final_key"]
            else ""
        )
        error = f'<div class="error">{e(run["error"])}</div>' if run["error"] else ""
        counts = " ".join(
            f"{k} {run[k]:,}" for k in ("inserted", "updated", "unchanged", "cleared", "removed") if run[k]
        )
        runs.append(
            f'<tr class="run" data-id="{run["id"]}" data-outcome="{e(run["outcome"])}">'
            f"<td>{e((run['finished_at'] or '')[:19].replace('T', ' '))}</td>"
            f"<td><code>{e(run['source_file'])}</code>{moved}</td>"
            f'<td class="{css}">{e(run["outcome"])}</td>'
            f'<td class="n">{run["rows_read"]:,}</td><td class="n">{run["rows_written"]:,}</td>'
            f'<td class="n">{run["rows_rejected"]:,}</td><td>{e(counts) or "&ndash;"}</td>'
            f"<td>{e(run['triggered_by'])}</td><td>{reports}{error}</td></tr>"
        )
    runs_html = "".join(runs) or '<tr><td colspan="9" class="neutral">no imports yet</td></tr>'
    source = detail["source"]
    facts = [
        ("source", f"<code>{e(source['uri'])}</code> (connection <code>{e(source['aws_conn_id'])}</code>)"),
        ("schedule", f"{e(detail['schedule_words'])} <code>{e(detail['schedule'])}</code>"),
        (
            "mode",
            e(detail["mode"])
            + (
                f" (at most {detail['mirror_max_removed']:.0%} of users removed per file)"
                if detail["mode"] == "mirror"
                else ""
            ),
        ),
        ("empty cells", e(detail["blank"])),
        ("rejected rows allowed", f"{detail['max_rejected_ratio']:.0%}"),
        ("user ID column", f"<code>{e(detail['user_id_column'])}</code>"),
        ("users", f"{detail['users']:,}"),
        ("on/off", "on" if detail["enabled"] else "off"),
        ("config file", f"<code>{_cell(detail['file'])}</code>"),
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(name)} &middot; Integrations</title><style>{STYLE}</style></head>
<body>
<nav class="nav"><a href="{e(own)}/">Integrations</a> &middot; <a href="{e(own)}/targeting">Targeting</a>
 &middot; <a href="{e(airflow_base)}/dags/{e(detail["dag_id"])}" target="_top">DAG {e(detail["dag_id"])}</a></nav>
<h1>{e(name)}</h1>
{f"<p>{e(detail['description'])}</p>" if detail["description"] else ""}
<dl id="facts">{"".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)}</dl>
<h2>Mapping</h2>
<table id="mapping"><thead><tr><th>column</th><th>attribute</th><th>type</th><th>format</th></tr></thead>
<tbody>{mapping}</tbody></table>
<h2>Rows imported per run</h2>
{_svg_chart(detail["runs"])}
<p class="neutral" style="font-size:.8rem">green: rows written by a successful import, orange: a failed file, red: rejected rows.</p>
<h2>Last runs</h2>
<table id="runs"><thead><tr><th>finished</th><th>file</th><th>outcome</th><th>read</th><th>written</th><th>rejected</th>
<th>users</th><th>triggered by</th><th>reports</th></tr></thead>
<tbody>{runs_html}</tbody></table>
</body></html>
"""


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")


def _own(request: Request) -> tuple[str, str]:
    own = request.scope.get("root_path", "").rstrip("/")
    return own, own.removesuffix(PREFIX)


@app.get("/integrations/{name}", response_class=HTMLResponse, dependencies=READ)
def integration_page(name: str, request: Request, user: GetUserDep) -> HTMLResponse:
    """One integration as a page: mapping, facts, a chart of rows per run, the last runs with reports."""
    own, airflow_base = _own(request)
    return HTMLResponse(_integration_html(_detail(_readable_one(name, user)), own, airflow_base))


# -- the targeting page -------------------------------------------------------------
EXAMPLE_RULE = {"attribute": "plan", "op": "eq", "value": "premium"}

TARGETING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Targeting &middot; Integrations</title><style>{style}</style></head>
<body>
<nav class="nav"><a href="{own_html}/">Integrations</a> &middot; <b>Targeting</b></nav>
<h1>Targeting</h1>
<h2>One user's attributes</h2>
<form id="user-form" onsubmit="lookup(event)">
<input type="text" id="user-id" name="user_id" placeholder="user ID, e.g. ada@example.com" required>
<button type="submit">Look up</button></form>
<div id="user-result"></div>
<h2>Segment</h2>
<p class="neutral" style="font-size:.85rem">A rule: <code>{{"attribute", "op", "value"}}</code> with ops eq ne in not_in gt gte lt
lte contains exists not_exists, grouped with <code>{{"all": [...]}}</code> / <code>{{"any": [...]}}</code>.</p>
<form id="segment-form" onsubmit="evaluate(event)">
<textarea id="rule" name="rule" rows="6">{rule}</textarea><br>
<button type="submit">Count users</button></form>
<div id="segment-result"></div>
<script>
const API = "{own_js}/api";
function esc(s) {{ const d = document.createElement("div"); d.textContent = String(s); return d.innerHTML; }}
async function call(url, options) {{
  const response = await fetch(url, Object.assign({{credentials: "same-origin"}}, options || {{}}));
  const body = await response.json().catch(() => ({{}}));
  if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : (JSON.stringify(body.detail) || response.statusText));
  return body;
}}
async function lookup(event) {{
  event.preventDefault();
  const out = document.getElementById("user-result");
  const id = document.getElementById("user-id").value.trim();
  out.textContent = "...";
  try {{
    const found = await call(API + "/users/" + encodeURIComponent(id));
    const names = Object.keys(found.attributes);
    if (!names.length) {{ out.innerHTML = '<p class="neutral">no attributes for ' + esc(id) + '</p>'; return; }}
    let rows = "";
    for (const name of names) {{
      const s = found.sources[name] || {{}};
      rows += "<tr><td><code>" + esc(name) + "</code></td><td>" + esc(JSON.stringify(found.attributes[name])) + "</td><td>"
        + esc(s.integration || "") + "</td><td><code>" + esc(s.file || "") + "</code></td><td>" + esc((s.updated_at || "").slice(0, 19).replace("T", " ")) + "</td></tr>";
    }}
    out.innerHTML = '<table id="user-attributes"><thead><tr><th>attribute</th><th>value</th><th>integration</th><th>file</th><th>time</th></tr></thead><tbody>' + rows + "</tbody></table>";
  }} catch (error) {{ out.innerHTML = '<p class="error">' + esc(error.message) + "</p>"; }}
}}
async function evaluate(event) {{
  event.preventDefault();
  const out = document.getElementById("segment-result");
  let rule;
  try {{ rule = JSON.parse(document.getElementById("rule").value); }}
  catch (error) {{ out.innerHTML = '<p class="error">not JSON: ' + esc(error.message) + "</p>"; return; }}
  out.textContent = "...";
  try {{
    const found = await call(API + "/segments/evaluate?sample=20", {{
      method: "POST", headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(rule)}});
    out.innerHTML = '<p><b id="segment-count">' + found.count.toLocaleString() + "</b> users match</p>"
      + (found.sample.length ? "<p>sample: " + found.sample.map((u) => "<code>" + esc(u) + "</code>").join(", ") + "</p>" : "");
  }} catch (error) {{ out.innerHTML = '<p class="error" id="segment-error">' + esc(error.message) + "</p>"; }}
}}
</script>
</body></html>
"""


@app.get("/targeting", response_class=HTMLResponse, dependencies=READ)
def targeting_page(request: Request, user: GetUserDep) -> HTMLResponse:
    """Look up one user's attributes; count a segment from a rule (both call the JSON API)."""
    own, _ = _own(request)
    return HTMLResponse(
        TARGETING.format(
            style=STYLE,
            own_html=html.escape(own),
            own_js=json.dumps(own)[1:-1],
            rule=html.escape(json.dumps(EXAMPLE_RULE)),
        )
    )
