"""The plugin's HTML pages: the management table, one integration, targeting.

Server-rendered HTML with inline CSS, a little JS (the toggle, the targeting forms call
the JSON API of `inbound.api`) and an inline SVG chart. A later issue rebuilds these
pages as a React plugin; until then they are kept as they are, apart from the API.
Every route has the API's check (`READ`: `inbound.api.reader`, on the router) and shows only what the JSON API
would show the same user: the data comes from the API's builders.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from inbound.api import PREFIX, READ, Detail, ReaderDep, describe, visible_table
from inbound.management import IntegrationRow
from inbound.outcome import Outcome

router = APIRouter(dependencies=READ, default_response_class=HTMLResponse)


# -- the page -----------------------------------------------------------------------
RESULT_SIGNS = {
    Outcome.SUCCESS: ("&#10004;", "ok"),  # green check
    Outcome.FAILED: ("&#9888;", "bad"),  # red danger sign
    Outcome.CONFIG_ERROR: ("&#9888;", "bad"),
    Outcome.RUNNING: ("&#8230;", "neutral"),
    Outcome.NO_NEW_FILE: ("&#8211;", "neutral"),
    Outcome.NEVER_RUN: ("&#183;", "neutral"),
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
<th>runs start</th><th>last run</th><th>result</th><th>ready for targeting</th><th>on/off</th></tr></thead>
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


def _cell(value: object) -> str:
    return "&ndash;" if value is None else html.escape(str(value))


def _html_row(row: IntegrationRow, airflow_base: str, own: str = "") -> str:
    e = html.escape
    sign, css = RESULT_SIGNS.get(row.last_run_result, ("?", "neutral"))
    tip = row.error if row.error else row.last_run_result
    result = f'<span class="sign {css}" title="{e(tip, quote=True)}" data-result="{e(row.last_run_result)}">{sign}</span> {e(row.last_run_result)}'
    if row.dag_id is None:  # a broken config: its name, file and error
        return (
            f'<tr class="broken" data-name="{e(row.name)}"><td>{e(row.name)}</td>'
            f'<td colspan="7" class="error">{e(row.error or "")}</td><td>{result}</td><td>&ndash;</td></tr>'
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
        f'<td title="{_cell(row.schedule)}">{_cell(row.schedule_words)}</td>'
        f'<td title="{_cell(row.start_words)}">{_cell(row.start)}</td><td>{_cell(last)}</td>'
        f"<td>{result}</td><td>{ready}</td><td>{toggle}</td></tr>"
    )


@router.get("/")
def page(request: Request, caller: ReaderDep) -> HTMLResponse:
    """The management table as a page (shown inside the Airflow UI by the plugin's nav entry)."""
    own, airflow_base = _own(request)
    body = (
        "\n".join(_html_row(row, airflow_base, own) for row in visible_table(caller))
        or '<tr><td colspan="10">no integration configs</td></tr>'
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
            f'<svg class="chart" id="rows-chart" width="{width}" height="40" role="img">'
            '<text x="0" y="24" fill="#718096">no runs yet</text></svg>'
        )
    left, bottom, top = 48, 22, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max(1, *(r["rows_written"] + r["rows_rejected"] for r in runs))
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


def _run_row(run: dict[str, Any], name: str, bucket: str, own: str) -> str:
    """One import of the "Last runs" table, with its moved file and links to its reports."""
    e = html.escape
    css = "ok" if run["outcome"] == Outcome.SUCCESS else "bad"
    reports = "".join(
        f'<div><a href="{e(own)}/api/integrations/{e(name)}/reports?key={e(quote(r["key"], safe="/"))}" target="_blank">{e(r["kind"])}</a> '
        f"<code>{e(r['uri'])}</code></div>"
        for r in run["reports"]
    )
    moved = (
        f'<div class="neutral"><code>s3://{e(bucket)}/{e(run["final_key"])}</code></div>' if run["final_key"] else ""
    )
    error = f'<div class="error">{e(run["error"])}</div>' if run["error"] else ""
    counts = " ".join(f"{k} {run[k]:,}" for k in ("inserted", "updated", "unchanged", "cleared", "removed") if run[k])
    return (
        f'<tr class="run" data-id="{run["id"]}" data-outcome="{e(run["outcome"])}">'
        f"<td>{e((run['finished_at'] or '')[:19].replace('T', ' '))}</td>"
        f"<td><code>{e(run['source_file'])}</code>{moved}</td>"
        f'<td class="{css}">{e(run["outcome"])}</td>'
        f'<td class="n">{run["rows_read"]:,}</td><td class="n">{run["rows_written"]:,}</td>'
        f'<td class="n">{run["rows_rejected"]:,}</td><td>{e(counts) or "&ndash;"}</td>'
        f"<td>{e(run['triggered_by'])}</td><td>{reports}{error}</td></tr>"
    )


def _facts(detail: Detail) -> list[tuple[str, str]]:
    """The integration's settings as (label, HTML) pairs."""
    e = html.escape
    source = detail["source"]
    mirror = detail["mode"] == "mirror"
    return [
        ("source", f"<code>{e(source['uri'])}</code> (connection <code>{e(source['aws_conn_id'])}</code>)"),
        ("schedule", f"{e(detail['schedule_words'])} <code>{e(detail['schedule'])}</code>"),
        ("runs start", e(detail["start_words"])),
        (
            "mode",
            e(detail["mode"])
            + (f" (at most {detail['mirror_max_removed']:.0%} of users removed per file)" if mirror else ""),
        ),
        ("empty cells", e(detail["blank"])),
        ("rejected rows allowed", f"{detail['max_rejected_ratio']:.0%}"),
        ("user ID column", f"<code>{e(detail['user_id_column'])}</code>"),
        ("users", f"{detail['users']:,}"),
        ("on/off", "on" if detail["enabled"] else "off"),
        ("config file", f"<code>{_cell(detail['file'])}</code>"),
    ]


def _integration_html(detail: Detail, own: str, airflow_base: str) -> str:
    e = html.escape
    name = detail["name"]
    mapping = "".join(
        f'<tr class="mapping"><td><code>{e(m["column"])}</code></td><td><code>{e(m["attribute"])}</code></td>'
        f"<td>{e(m['type'])}</td><td>{_cell(m['format'])}</td></tr>"
        for m in detail["mapping"]
    )
    bucket = detail["source"]["bucket"]
    runs_html = "".join(_run_row(run, name, bucket, own) for run in detail["runs"]) or (
        '<tr><td colspan="9" class="neutral">no imports yet</td></tr>'
    )
    facts = _facts(detail)
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


def _own(request: Request) -> tuple[str, str]:
    """This app's own base path (Airflow's base path + PREFIX) and Airflow's base path."""
    own = str(request.scope.get("root_path", "")).rstrip("/")
    return own, own.removesuffix(PREFIX)


@router.get("/integrations/{name}")
def integration_page(name: str, request: Request, caller: ReaderDep) -> HTMLResponse:
    """One integration as a page: mapping, facts, a chart of rows per run, the last runs with reports."""
    own, airflow_base = _own(request)
    return HTMLResponse(_integration_html(describe(caller.integration(name)), own, airflow_base))


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


@router.get("/targeting")
def targeting_page(request: Request, caller: ReaderDep) -> HTMLResponse:
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
