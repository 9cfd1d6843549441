"""The plugin's JSON API: the management table, integrations, reports and targeting, behind Airflow's auth.

Thin on purpose: authentication and authorization come from Airflow's auth manager
(`airflow.api_fastapi.core_api.security`: a Bearer token or the `_token` cookie the UI
sets), the data from `inbound.config.catalog`, `inbound.airflow.management`, `inbound.airflow.runs` and the
attribute store. Airflow mounts plugin apps without its auth, so every route here
declares its own check:

- every route needs an authenticated user (401) who may read at least one integration's
  DAG (403): `reader`, on the router. The gate is the set of inbound DAGs the caller may
  read, asked of the auth manager by their IDs, never a DAG ID the request names (with
  the FAB auth manager's per-DAG permissions, `DAG:inbound_crm` alone is enough; a
  right on some other DAG is not). With no integration at all, the right to list DAGs;
- the table, an integration, its reports, a user lookup and a segment only use
  integrations whose DAG the caller may read; one the caller may not read answers
  exactly like one that does not exist (404), so its existence is not told. A broken
  config shows to the callers who may read the DAG it would define (`inbound_<file stem>`);
- a report is served only when the file it lies beside is one of that integration's
  files (its key pattern, not only its folder), and for a shared file only that
  integration's own report or the readers' outcomes;
- the on/off toggle needs the right to edit that integration's DAG;
- the re-import's routes (an integration's files in S3, one run's outcome) live in
  `inbound.web.files`, on a router behind the same gate.
- the new-integration wizard's routes (discovery, a config check) live in
  `inbound.web.wizard`, behind the same gate and the right to edit an integration's DAG.

Responses carry config data and attribute values, never connection secrets. The pages are
the React app in `ui/` (its built bundle is served from `static/`); they call these routes
and, for a re-import, Airflow's own REST API with the caller's session.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, JsonValue, StrictBool
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.airflow.connections import s3_client, store
from inbound.airflow.management import IntegrationRow, current_table, is_enabled, schedule_in_words
from inbound.airflow.runs import dag_states, set_paused
from inbound.config.catalog import Catalog, current_catalog
from inbound.config.model import Integration
from inbound.config.names import NAME_PATTERN
from inbound.errors import RuleError, SourceUnavailable
from inbound.outcome import Outcome
from inbound.rules import evaluate
from inbound.s3.layout import (
    ERROR_SUFFIX,
    READERS_SUFFIX,
    REJECTED_SUFFIX,
    REPORT_SUFFIXES,
    belongs_to,
    error_code,
    error_report_key,
    is_done,
    is_not_found,
    is_transient,
    original_key,
    rejected_report_key,
)
from inbound.store import ImportRecord, UserAttributes
from inbound.store.base import MAX_INT64, not_text
from inbound.web.guard import install

PREFIX = "/inbound"  # where the plugin mounts the app (plugins/inbound_plugin.py)


# The reports the pipeline writes beside a moved file (`inbound.s3.layout`): suffix -> (what it is, media type).
REPORTS = {
    REJECTED_SUFFIX: ("rejected rows", "text/csv"),
    ERROR_SUFFIX: ("error report", "text/plain"),
    READERS_SUFFIX: ("readers' outcomes", "text/plain"),  # a shared file's
}
# `<moved file>.<reader>` of a shared file's per-reader report (an integration name, `inbound.config.model`).
_READER = re.compile(r"\.(" + NAME_PATTERN.strip("^$") + r")\Z")
RUNS_SHOWN = 20


def create_app() -> FastAPI:
    """The app the plugin mounts under `PREFIX`: this JSON API and the React app's bundle."""
    app = FastAPI(
        title="inbound",
        description="Inbound S3 CSV integrations: management table, user lookup, segments.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    from inbound.web.files import router as files  # its routes use this module's gate (`reader`)
    from inbound.web.wizard import router as wizard  # the new-integration wizard, the same gate

    app.include_router(router)
    app.include_router(files)
    app.include_router(wizard)
    app.include_router(assets)
    install(app)  # bodies over INBOUND_MAX_REQUEST_BYTES: 413 unread; errors as ASCII JSON
    return app


# The built React app (ui/, `npm run build`): code, not data, so like Airflow's own assets it is
# served without a login; everything it shows comes from the guarded routes below.
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
    start: str  # events | polling
    start_words: str
    mode: str
    blank: str
    max_rejected_ratio: float
    mirror_max_removed: float | None
    enabled: bool
    users: int
    user_id_column: str
    mapping: list[MappingView]
    runs: list[dict[str, Any]]  # import-log entries, newest first (no ETag), each with its `reports`
    runs_total: int  # entries in the whole import log of the integration (for paging)
    can_edit: bool  # the caller may edit the DAG (the on/off toggle)
    can_trigger: bool  # the caller may trigger the DAG (a re-import)


# -- who may see what ---------------------------------------------------------------
@dataclass(frozen=True)
class Reader:
    """The caller and what they may read: the integrations and broken configs of DAGs they may read."""

    user: BaseUser
    catalog: Catalog  # the readable part of the current catalog (its `errors`: the readable broken configs)
    others: frozenset[str]  # every other loaded integration's name (reports of shared files)

    def integration(self, name: str) -> Integration:
        """The integration `name` if its config loads and the caller may read its DAG.

        404 otherwise, with the same answer for both: whether an integration the caller
        may not read exists is not told.
        """
        integration = self.catalog.integrations.get(name)
        if integration is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no integration named {name!r} that you may read")
        return integration


def broken_dag_id(file: str) -> str:
    """The DAG a broken config would define: its name is its file's stem (`inbound.config.model`)."""
    return f"inbound_{Path(file).stem}"


def reader(user: GetUserDep) -> Reader:
    """The gate of every route: what this caller may read, from the auth manager (403 for nothing).

    The auth manager is asked about the inbound DAGs by their IDs (`filter_authorized_dag_ids`),
    so a per-DAG right (`DAG:inbound_crm` with the FAB auth manager) is enough and nothing
    the request names (a `dag_id` query parameter) changes the answer.
    """
    catalog = current_catalog()
    every = {i.dag_id for i in catalog.integrations.values()} | {broken_dag_id(e.file) for e in catalog.errors}
    manager = get_auth_manager()
    allowed = manager.filter_authorized_dag_ids(dag_ids=every, user=user, method="GET") if every else set()
    if not allowed and (every or not manager.is_authorized_dag(method="GET", user=user)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you may read no integration's DAG (inbound_<name>)")
    readable = Catalog(
        integrations={n: i for n, i in catalog.integrations.items() if i.dag_id in allowed},
        errors=[e for e in catalog.errors if broken_dag_id(e.file) in allowed],
    )
    return Reader(user=user, catalog=readable, others=frozenset(catalog.integrations))


ReaderDep = Annotated[Reader, Depends(reader)]
READ = [Depends(reader)]  # on every router of the app (FastAPI computes it once per request)
router = APIRouter(dependencies=READ)


def visible_table(caller: Reader) -> list[IntegrationRow]:
    """The management table, as `inbound status` builds it, for the DAGs the caller may read."""
    return current_table(caller.catalog).rows


# -- the table, the toggle, targeting -------------------------------------------------
@router.get("/api/integrations", response_model=None)
def list_integrations(caller: ReaderDep) -> JSONResponse:
    """The management table: one row per config (broken ones with their error).

    Plain JSON of the rows' dicts: validating 500 rows through a response model cost more
    than building them.
    """
    return JSONResponse([row.to_dict() for row in visible_table(caller)])


# response_model=None: FastAPI would build a pydantic model of the store's `UserAttributes`, a
# typing.TypedDict that pydantic reads only from Python 3.12 on; the answer is plain JSON already.
# `:path`: a user ID may contain '/' (`a/b@x`, or `a%2Fb@x` as a browser encodes it).
@router.get("/api/users/{user_id:path}", response_model=None)
def user_attributes(user_id: str, caller: ReaderDep) -> UserAttributes:
    """One user's attributes, only from integrations whose DAG the caller may read.

    400 for an ID no store holds (`/api/users/a%00b`: PostgreSQL refuses a NUL character).
    """
    problem = not_text(user_id)
    if problem is not None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"user ID {problem}; no user ID holds one")
    readable = caller.catalog
    with store() as s:
        found = s.user_attributes(user_id, readable.declared_types, readable.owners)
    keep = [name for name, source in found["sources"].items() if source["integration"] in readable.integrations]
    return UserAttributes(
        user_id=found["user_id"],
        attributes={name: found["attributes"][name] for name in keep},
        sources={name: found["sources"][name] for name in keep},
    )


class AttributeView(TypedDict):
    attribute: str
    type: str
    integration: str


@router.get("/api/attributes")
def attributes(caller: ReaderDep) -> list[AttributeView]:
    """The attributes a rule may use: those of the integrations the caller may read, with their types."""
    return [
        AttributeView(attribute=a.attribute, type=a.type, integration=integration.name)
        for integration in sorted(caller.catalog.integrations.values(), key=lambda i: i.name)
        for a in integration.attributes
    ]


@router.post("/api/segments/evaluate")
def evaluate_segment(
    caller: ReaderDep,
    rule: Annotated[
        JsonValue, Body(description='a segment rule, e.g. {"attribute": "plan", "op": "eq", "value": "premium"}')
    ],
    sample: Annotated[int, Query(ge=0, le=1000)] = 20,
) -> dict[str, int | list[str]]:
    """How many users match the rule, and a sample of them (400 with the reason for a bad rule)."""
    readable = caller.catalog
    try:
        with store() as s:
            return evaluate(s, rule, readable.declared_types, sample=sample, owners=readable.owners).to_dict()
    except RuleError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


@router.post("/api/integrations/{name}/enabled")
def set_enabled(name: str, body: EnabledBody, request: Request, caller: ReaderDep) -> dict[str, str | bool]:
    """Switch an integration on or off: the same state as its DAG's pause toggle."""
    integration = caller.integration(name)  # 404 alike for unknown and unreadable
    # Edit right on this DAG (its ID from the config, not the request), as Airflow's own
    # PATCH /api/v2/dags/{dag_id} requires.
    requires_access_dag("PUT", param_dag_id=integration.dag_id)(request, caller.user)
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


def _moved_file_of(integration: Integration, key: str) -> bool:
    """Whether `key` is one of this integration's files after a run moved it into success/ or failed/."""
    return is_done(key) and not is_done(original_key(key)) and belongs_to(integration.source.key, key)


def report_key_allowed(integration: Integration, key: str, others: Collection[str] = ()) -> bool:
    """Only the reports beside this integration's own moved files: nothing else of the bucket.

    The file a report belongs to is the key without the report's suffix (and, for a
    shared file's per-reader report `<file>.<reader>.rejected.csv`, without `.<reader>`);
    before it moved, it matched this integration's key pattern. Of a shared file, only
    this integration's own report and the readers' outcomes (`.readers.txt`) are served.
    `others`: the names of the other integrations, whose per-reader reports are never
    taken for a file of this one (`<file>.hr.error.txt` when the pattern also matches
    `<file>.hr`).
    """
    if ".." in key.split("/") or "\\" in key or any(ord(c) < 32 or c == "\x7f" for c in key):
        return False
    if key.endswith(READERS_SUFFIX):
        return _moved_file_of(integration, key.removesuffix(READERS_SUFFIX))
    suffix = next((s for s in REPORT_SUFFIXES if key.endswith(s)), None)
    if suffix is None:
        return False
    file = key.removesuffix(suffix)
    reader = _READER.search(file)
    if reader is not None and reader[1] in others:  # another reader's report (even where the pattern matched)
        return False
    if reader is not None and reader[1] == integration.name and _moved_file_of(integration, file[: reader.start()]):
        return True  # this integration's report of a shared file it reads
    return _moved_file_of(integration, file)


def describe(
    integration: Integration, offset: int = 0, limit: int = RUNS_SHOWN, rights: tuple[bool, bool] = (False, False)
) -> Detail:
    """What the integration page shows: config (no secrets), state, a page of imports with reports.

    `rights`: whether the caller may edit the DAG (the toggle) and trigger it (a re-import).
    """
    with store() as s:
        records = s.imports(integration.name, limit=limit, offset=offset)
        total = s.import_count(integration.name)
        users = s.user_count(integration.name)
    source = integration.public_config()["source"]  # a value from `!env` shows as its variable's name
    return {
        "name": integration.name,
        "dag_id": integration.dag_id,
        "description": integration.shown_description,
        "file": integration.file,
        "source": SourceView(
            uri=integration.shown_source,
            bucket=str(source["bucket"]),
            key=str(source["key"]),
            aws_conn_id=str(source["aws_conn_id"]),
        ),
        "schedule": integration.schedule,
        "schedule_words": schedule_in_words(integration.schedule),
        "start": integration.start,
        "start_words": integration.start_words,
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
        "runs_total": total,
        "can_edit": rights[0],
        "can_trigger": rights[1],
    }


@router.get("/api/integrations/{name}")
def integration_detail(
    name: str,
    caller: ReaderDep,
    runs_offset: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,  # past int64: 422, not the database's error
    runs_limit: Annotated[int, Query(ge=1, le=200)] = RUNS_SHOWN,
) -> Detail:
    """One integration: mapping, source, schedule, mode, a page of its imports (newest first), the caller's rights."""
    integration = caller.integration(name)
    return describe(integration, runs_offset, runs_limit, _rights(caller.user, integration.dag_id))


def _rights(user: BaseUser, dag_id: str) -> tuple[bool, bool]:
    """May the caller edit the DAG (pause it) and trigger a run of it? Asked of the auth manager."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    manager, details = get_auth_manager(), DagDetails(id=dag_id)
    edit = manager.is_authorized_dag(method="PUT", details=details, user=user)
    trigger = manager.is_authorized_dag(method="POST", access_entity=DagAccessEntity.RUN, details=details, user=user)
    return bool(edit), bool(trigger)


@router.get("/api/integrations/{name}/reports", response_model=None)
def integration_report(
    name: str,
    caller: ReaderDep,
    key: Annotated[str, Query(description="the S3 key of a .rejected.csv or .error.txt report")],
    check: Annotated[bool, Query(description="only whether it is there: JSON, no download")] = False,
) -> StreamingResponse | JSONResponse:
    """A rejection or error report of this integration, streamed from S3 with its AWS connection.

    With `check`, only whether it is there: `{"key", "exists", "size", "reason"}` (200 either
    way; `reason` is what a download would answer with 404). The UI asks first, so a report that
    is gone is said so on the page, not as a JSON 404.
    """
    integration = caller.integration(name)
    if not report_key_allowed(integration, key, caller.others - {name}):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"not a report of {name}: the key must be a report (.rejected.csv, .error.txt, .readers.txt) beside "
            f"one of its files in a success/ or failed/ folder, a file that matched its key {integration.source.key!r}",
        )
    bucket = integration.source.bucket
    try:
        client = s3_client(integration.source.aws_conn_id)
        if check:
            head = client.head_object(Bucket=bucket, Key=key)
            return JSONResponse({"key": key, "exists": True, "size": int(head["ContentLength"]), "reason": None})
        obj = client.get_object(Bucket=bucket, Key=key)
        body = obj["Body"]
        stream = body.iter_chunks(64 * 1024)
        first = next(stream, b"")  # an S3 that drops the connection answers 503 here, not halfway through
    except (ClientError, BotoCoreError, SourceUnavailable) as exc:
        if isinstance(exc, ClientError) and is_not_found(exc):
            gone = f"s3://{bucket}/{key} does not exist{_moved_on(integration, key)}"
            if check:
                return JSONResponse({"key": key, "exists": False, "size": None, "reason": gone})
            raise HTTPException(status.HTTP_404_NOT_FOUND, gone) from None
        raise s3_failure(exc, integration, "the report") from None
    media = next(m for s, (_, m) in REPORTS.items() if key.endswith(s))

    def chunks() -> Iterator[bytes]:
        try:
            yield first
            yield from stream
        finally:
            body.close()

    return StreamingResponse(
        chunks(),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": attachment(key.rsplit("/", 1)[-1]), "X-Content-Type-Options": "nosniff"},
    )


def s3_failure(exc: Exception, integration: Integration, what: str) -> HTTPException:
    """What the API answers when S3 failed it: 503 (unreachable, throttling: try later), 502 (S3 refused)."""
    bucket = integration.source.bucket
    if isinstance(exc, ClientError):
        if is_transient(exc):
            return HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"S3 is unavailable ({error_code(exc) or 'error'}); try again later",
            )
        return HTTPException(status.HTTP_502_BAD_GATEWAY, f"S3 refused {what}: {error_code(exc) or 'error'}")
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"S3 is unreachable for s3://{bucket} ({type(exc).__name__}); try again later, "
        f"or check the AWS connection {integration.source.aws_conn_id!r}",
    )


def _moved_on(integration: Integration, report: str) -> str:
    """Where the file a missing report was beside went since, from the import log ('' if not known)."""
    file = next((report.removesuffix(s) for s in (*REPORT_SUFFIXES, READERS_SUFFIX) if report.endswith(s)), report)
    uri = f"s3://{integration.source.bucket}/{file}"
    try:
        with store() as s:
            later = next((r for r in s.imports(integration.name, limit=1000) if r.source_file == uri), None)
    except Exception:  # the hint is a courtesy: a store that does not answer leaves the plain 404
        return ""
    if later is None or not later.final_key or later.final_key == file:
        return ""
    return (
        f": its file was imported again since ({later.outcome}) and is now at {later.final_key}, with its own reports"
    )


def attachment(filename: str) -> str:
    """`Content-Disposition` for a download: an ASCII fallback name and the exact one (RFC 6266, RFC 5987)."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
