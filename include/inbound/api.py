"""The plugin's JSON API: the management table, integrations, reports and targeting, behind Airflow's auth.

Thin on purpose: authentication and authorization come from Airflow's auth manager
(`airflow.api_fastapi.core_api.security`: a Bearer token or the `_token` cookie the UI
sets), the data from `inbound.catalog`, `inbound.management`, `inbound.runs` and the
attribute store. Airflow mounts plugin apps without its auth, so every route here
declares its own check:

- every route needs an authenticated user allowed to read DAGs (`READ`, on the router);
- the table, an integration, its reports, a user lookup and a segment only use
  integrations whose DAG the caller may read;
- the on/off toggle needs the right to edit that integration's DAG.

Responses carry config data and attribute values, never connection secrets. The HTML
pages live in `inbound.pages` and use the builders here; `create_app` puts both together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from botocore.exceptions import ClientError
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, JsonValue, StrictBool
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.catalog import Catalog, current_catalog
from inbound.config import Integration
from inbound.connections import s3_client, store
from inbound.errors import RuleError
from inbound.layout import (
    DONE_FOLDERS,
    ERROR_SUFFIX,
    REJECTED_SUFFIX,
    error_code,
    error_report_key,
    glob_regex,
    is_not_found,
    rejected_report_key,
)
from inbound.management import IntegrationRow, current_table, is_enabled, schedule_in_words
from inbound.outcome import Outcome
from inbound.rules import evaluate
from inbound.runs import dag_states, set_paused
from inbound.store import ImportRecord, UserAttributes

PREFIX = "/inbound"  # where the plugin mounts the app (plugins/inbound_plugin.py)

# Every route: an authenticated user who may read DAGs (401/403 otherwise).
READ = [Depends(requires_access_dag("GET"))]

router = APIRouter(dependencies=READ)

# The reports the pipeline writes beside a moved file (`inbound.layout`): suffix -> (what it is, media type).
REPORTS = {REJECTED_SUFFIX: ("rejected rows", "text/csv"), ERROR_SUFFIX: ("error report", "text/plain")}
RUNS_SHOWN = 20


def create_app(*routers: APIRouter) -> FastAPI:
    """The app the plugin mounts under `PREFIX`: this JSON API and the given routers (the pages)."""
    app = FastAPI(
        title="inbound",
        description="Inbound S3 CSV integrations: management table, user lookup, segments.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    for each in (router, *routers):
        app.include_router(each)
    return app


class EnabledBody(BaseModel):
    enabled: StrictBool


class Report(TypedDict):
    kind: str  # "rejected rows" or "error report"
    key: str
    uri: str


class SourceView(TypedDict):
    uri: str
    bucket: str
    key: str
    aws_conn_id: str


class MappingView(TypedDict):
    column: str
    attribute: str
    type: str
    format: str | None


class Detail(TypedDict):
    """One integration as the API answers it and its page shows it (config without secrets, state, imports)."""

    name: str
    dag_id: str
    description: str | None
    file: str | None
    source: SourceView
    schedule: str
    schedule_words: str
    mode: str
    blank: str
    max_rejected_ratio: float
    mirror_max_removed: float | None
    enabled: bool
    users: int
    user_id_column: str
    mapping: list[MappingView]
    runs: list[dict[str, Any]]  # import-log entries, newest first (no ETag), each with its `reports`


# -- who may see what ---------------------------------------------------------------
def _readable(user: BaseUser, catalog: Catalog) -> dict[str, Integration]:
    """The loaded integrations whose DAG the user may read."""
    dag_ids = {i.dag_id for i in catalog.integrations.values()}
    allowed = (
        get_auth_manager().filter_authorized_dag_ids(dag_ids=dag_ids, user=user, method="GET") if dag_ids else set()
    )
    return {name: i for name, i in catalog.integrations.items() if i.dag_id in allowed}


def readable_integration(name: str, user: BaseUser) -> Integration:
    """The integration `name` if its config loads (404) and the caller may read its DAG (403)."""
    integration = current_catalog().integrations.get(name)
    if integration is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no integration named {name!r}")
    if not _readable(user, Catalog(integrations={name: integration})):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no read access to the DAG {integration.dag_id}")
    return integration


def visible_table(user: BaseUser) -> list[IntegrationRow]:
    """The management table, as `inbound status` builds it, for the DAGs the user may read."""
    catalog = current_catalog()
    return current_table(Catalog(integrations=_readable(user, catalog), errors=catalog.errors)).rows


# -- the table, the toggle, targeting -------------------------------------------------
@router.get("/api/integrations")
def list_integrations(user: GetUserDep) -> list[IntegrationRow]:
    """The management table: one row per config (broken ones with their error)."""
    return visible_table(user)


# response_model=None: FastAPI would build a pydantic model of the store's `UserAttributes`, a
# typing.TypedDict that pydantic reads only from Python 3.12 on; the answer is plain JSON already.
@router.get("/api/users/{user_id}", response_model=None)
def user_attributes(user_id: str, user: GetUserDep) -> UserAttributes:
    """One user's attributes, only from integrations whose DAG the caller may read."""
    readable = Catalog(integrations=_readable(user, current_catalog()))
    with store() as s:
        found = s.user_attributes(user_id, readable.declared_types)
    keep = [name for name, source in found["sources"].items() if source["integration"] in readable.integrations]
    return UserAttributes(
        user_id=found["user_id"],
        attributes={name: found["attributes"][name] for name in keep},
        sources={name: found["sources"][name] for name in keep},
    )


@router.post("/api/segments/evaluate")
def evaluate_segment(
    user: GetUserDep,
    rule: Annotated[
        JsonValue, Body(description='a segment rule, e.g. {"attribute": "plan", "op": "eq", "value": "premium"}')
    ],
    sample: Annotated[int, Query(ge=0, le=1000)] = 20,
) -> dict[str, int | list[str]]:
    """How many users match the rule, and a sample of them (400 with the reason for a bad rule)."""
    declared = Catalog(integrations=_readable(user, current_catalog())).declared_types
    try:
        with store() as s:
            return evaluate(s, rule, declared, sample=sample).to_dict()
    except RuleError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


@router.post("/api/integrations/{name}/enabled")
def set_enabled(name: str, body: EnabledBody, request: Request, user: GetUserDep) -> dict[str, str | bool]:
    """Switch an integration on or off: the same state as its DAG's pause toggle."""
    integration = current_catalog().integrations.get(name)
    if integration is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no integration named {name!r}")
    # Edit right on this DAG, as Airflow's own PATCH /api/v2/dags/{dag_id} requires.
    requires_access_dag("PUT", param_dag_id=integration.dag_id)(request, user)
    if not set_paused(integration.dag_id, not body.enabled):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"the DAG {integration.dag_id} is not known to Airflow yet (the DAG processor has not parsed it)",
        )
    return {"name": name, "dag_id": integration.dag_id, "enabled": body.enabled}


# -- one integration: mapping, import log, reports -----------------------------------
def _reports(integration: Integration, record: ImportRecord) -> list[Report]:
    """The reports the pipeline put beside a moved file (rejected rows; the error of a failed file)."""
    if not record.final_key:
        return []
    found = []
    if record.rows_rejected:
        found.append((REPORTS[REJECTED_SUFFIX][0], rejected_report_key(record.final_key)))
    if record.outcome == Outcome.FAILED:
        found.append((REPORTS[ERROR_SUFFIX][0], error_report_key(record.final_key)))
    bucket = integration.source.bucket
    return [Report(kind=kind, key=key, uri=f"s3://{bucket}/{key}") for kind, key in found]


def _folder_pattern(integration: Integration) -> re.Pattern[str]:
    """Report keys of this integration: `<its folder>success|failed/<file>.rejected.csv|.error.txt`.

    The folder is the directory part of the source key (a glob: `*` and `?` stay inside
    one path segment, as the matcher of `inbound.source` reads them).
    """
    key = integration.source.key
    folder = glob_regex(key[: key.rfind("/") + 1])
    done = "|".join(re.escape(f) for f in DONE_FOLDERS)
    suffixes = "|".join(re.escape(s) for s in REPORTS)
    return re.compile(f"{folder}(?:{done})/[^/]+(?:{suffixes})")


def report_key_allowed(integration: Integration, key: str) -> bool:
    """Only the reports beside this integration's moved files: nothing else of the bucket."""
    if ".." in key.split("/") or "\\" in key or any(ord(c) < 32 for c in key):
        return False
    return _folder_pattern(integration).fullmatch(key) is not None


def describe(integration: Integration) -> Detail:
    """What the integration page shows: config (no secrets), state, last imports with reports."""
    with store() as s:
        records = s.imports(integration.name, limit=RUNS_SHOWN)
        users = s.user_count(integration.name)
    source = integration.source
    return {
        "name": integration.name,
        "dag_id": integration.dag_id,
        "description": integration.description,
        "file": integration.file,
        "source": SourceView(uri=source.uri, bucket=source.bucket, key=source.key, aws_conn_id=source.aws_conn_id),
        "schedule": integration.schedule,
        "schedule_words": schedule_in_words(integration.schedule),
        "mode": integration.mode,
        "blank": integration.blank,
        "max_rejected_ratio": integration.max_rejected_ratio,
        "mirror_max_removed": integration.mirror_max_removed if integration.mode == "mirror" else None,
        "enabled": is_enabled(integration, dag_states([integration.dag_id]).get(integration.dag_id)),
        "users": users,
        "user_id_column": integration.user_id.column,
        "mapping": [
            MappingView(column=a.column, attribute=a.attribute, type=a.type, format=a.format)
            for a in integration.attributes
        ],
        "runs": [
            {**{k: v for k, v in record.to_dict().items() if k != "etag"}, "reports": _reports(integration, record)}
            for record in records
        ],
    }


@router.get("/api/integrations/{name}")
def integration_detail(name: str, user: GetUserDep) -> Detail:
    """One integration: its mapping, source, schedule, mode and its last imports (newest first)."""
    return describe(readable_integration(name, user))


@router.get("/api/integrations/{name}/reports")
def integration_report(
    name: str,
    user: GetUserDep,
    key: Annotated[str, Query(description="the S3 key of a .rejected.csv or .error.txt report")],
) -> StreamingResponse:
    """A rejection or error report of this integration, streamed from S3 with its AWS connection."""
    integration = readable_integration(name, user)
    if not report_key_allowed(integration, key):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"not a report of {name}: the key must lie in a success/ or failed/ folder of its source folder "
            "and end with .rejected.csv or .error.txt",
        )
    try:
        obj = s3_client(integration.source.aws_conn_id).get_object(Bucket=integration.source.bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"s3://{integration.source.bucket}/{key} does not exist"
            ) from None
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"S3 refused the report: {error_code(exc) or 'error'}"
        ) from None
    media = next(m for s, (_, m) in REPORTS.items() if key.endswith(s))
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
