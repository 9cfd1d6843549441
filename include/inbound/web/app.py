"""The plugin's JSON API: the management table, integrations, reports and targeting, behind Airflow's auth.

Thin on purpose: authentication and authorization come from Airflow's auth manager
(`airflow.api_fastapi.core_api.security`: a Bearer token or the `_token` cookie the UI
sets), the data from `inbound.config.catalog`, `inbound.airflow.management`, `inbound.airflow.runs` and the
attribute store. Airflow mounts plugin apps without its auth, so every route here
declares its own check:

- every route needs an authenticated user (401) who may read at least one integration's
  DAG (403): `reader` (`inbound.web.access`), on every router. The gate is the set of
  inbound DAGs the caller may read, asked of the auth manager by their IDs, never a DAG
  ID the request names (with the FAB auth manager's per-DAG permissions,
  `DAG:inbound_crm` alone is enough; a right on some other DAG is not). With no
  integration at all, the right to list DAGs;
- the table, an integration, its reports, a user lookup and a segment only use
  integrations whose DAG the caller may read; one the caller may not read answers
  exactly like one that does not exist (404), so its existence is not told. A broken
  config shows to the callers who may read the DAG it would define (`inbound_<file stem>`);
- a report is served only when the file it lies beside is one of that integration's
  files (its key pattern, not only its folder), and for a shared file only that
  integration's own report or the readers' outcomes;
- the on/off toggle needs the right to edit that integration's DAG;
- the routes live by group: the table, an integration and its toggle in `inbound.web.integrations`,
  its reports in `inbound.web.reports`, users, attributes and segments in `inbound.web.targeting`;
- the re-import's routes (an integration's files in S3, one run's outcome) live in
  `inbound.web.files`, on a router behind the same gate.
- the new-integration wizard's routes (discovery, a config check) live in
  `inbound.web.wizard`, behind the same gate and the right to edit an integration's DAG.

Responses carry config data and attribute values, never connection secrets. The pages are
the React app in `ui/` (its built bundle is served from `static/`); they call these routes
and, for a re-import, Airflow's own REST API with the caller's session.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse

from inbound.web import failures, files, integrations, reports, targeting, wizard
from inbound.web.guard import install

PREFIX = "/inbound"  # where the plugin mounts the app (plugins/inbound_plugin.py)


def create_app() -> FastAPI:
    """The app the plugin mounts under `PREFIX`: this JSON API and the React app's bundle."""
    app = FastAPI(
        title="inbound",
        description="Inbound S3 CSV integrations: management table, user lookup, segments.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(integrations.router)
    app.include_router(targeting.router)
    app.include_router(reports.router)
    app.include_router(failures.router)
    app.include_router(files.router)
    app.include_router(wizard.router)
    app.include_router(assets)
    install(app)  # bodies over INBOUND_MAX_REQUEST_BYTES: 413 unread; errors as ASCII JSON
    return app


# The built React app (ui/, `npm run build`): code, not data, so like Airflow's own assets it is
# served without a login; everything it shows comes from the guarded routes.
STATIC = Path(__file__).resolve().parent / "static"
BUNDLE = "inbound-ui.js"
assets = APIRouter()


@assets.get(f"/static/{BUNDLE}", include_in_schema=False)
def bundle() -> FileResponse:
    """The plugin's React app (Airflow's UI imports it for the "Integrations" pages and the DAG tab)."""
    return FileResponse(
        STATIC / BUNDLE,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
