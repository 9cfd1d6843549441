"""Integration routes: the management table, one integration's detail (`describe`).

The table's rows carry the caller's edit right (`can_edit`, the detail's check, asked once for
every DAG); the detail shows every setting of the config, where the config lives (a link from
`INBOUND_CONFIG_URL_TEMPLATE`, else its path in the configs folder) and whether the DAG Airflow
runs is of an older config (`freshness`).

The on/off toggle is Airflow's own `PATCH /api/v2/dags/{dag_id}` (`is_paused`), which the UI
calls with the caller's token, as it calls `POST /api/v2/dags/{dag_id}/dagRuns` for a re-import:
Airflow checks the edit right and writes its `dag` table itself.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.airflow import management
from inbound.airflow.connections import store
from inbound.airflow.management import current_table, is_enabled, schedule_in_words
from inbound.airflow.runs import dag_states
from inbound.config.catalog import config_dir
from inbound.config.model import Integration
from inbound.mapping.drift import Shape
from inbound.mapping.drift import note as drift_note
from inbound.settings import config_url_template
from inbound.store.base import MAX_INT64
from inbound.web.access import READ, Reader, ReaderDep, dag_rights
from inbound.web.reports import past_retention, reports_of

log = logging.getLogger(__name__)

RUNS_SHOWN = 20

router = APIRouter(dependencies=READ)


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


class FormatView(TypedDict):
    delimiter: str | None  # None: detected from the header line
    encoding: str
    decimal: str


class EventsView(TypedDict):
    queue: str
    aws_conn_id: str | None


class AlertsView(TypedDict):
    email: list[str]
    smtp_conn_id: str
    webhook: str | None
    on_failure: bool
    rejected_ratio_over: float | None
    stale_after: str | None
    on_new_columns: bool


class DeleteWhenView(TypedDict):
    column: str
    values: list[str]


class ConfigLink(TypedDict):
    """Where the config lives: its path in the configs folder, and a link when the deployment sets a template."""

    path: str | None  # relative to the configs folder (INBOUND_CONFIG_DIR); never the server's absolute path
    url: str | None  # INBOUND_CONFIG_URL_TEMPLATE with {path}; None when unset


class Freshness(TypedDict):
    """Whether the DAG Airflow runs was built from the config on disk now.

    Compared by the config's version (the hash a run uses and records) in the DAG's doc, as
    Airflow last serialized it, against the file's now: no clock of two hosts is compared.
    """

    state: Literal["current", "newer", "unparsed", "unknown"]
    config_version: str  # the config on disk now
    dag_version: str | None  # the version in the DAG Airflow last parsed
    parsed_at: str | None  # when Airflow last stored a change of the DAG (ISO-8601)
    message: str


class Detail(TypedDict):
    """One integration as the API answers it and its page shows it (config without secrets, state, imports)."""

    name: str
    dag_id: str
    description: str | None
    file: str | None  # the config's path relative to the configs folder (as `config.path`)
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
    runs: list[dict[str, Any]]  # import-log entries, newest first (no ETag, no header), each with its `reports`
    # and `drift`: how its header changed from the import before, in a sentence (None: it did not), and
    # `past_retention`: its moved file and reports are past retention (removed daily): no links
    runs_total: int  # entries in the whole import log of the integration (for paging)
    can_edit: bool  # the caller may edit the DAG (pause it through Airflow's API)
    can_trigger: bool  # the caller may trigger the DAG (a re-import)
    format: FormatView
    marker: str | None  # the completion marker a file waits for
    events: EventsView | None  # event mode's queue; None: polled
    alerts: AlertsView | None
    timezone: str
    max_file_mb: int
    on_new_columns: str  # ignore | warn | fail
    ignore_columns: list[str]
    delete_when: DeleteWhenView | None  # deletions from the export; None: the file never deletes
    max_deleted: float
    max_row_drop: float | None  # the volume guard; None: off
    guard_empty_columns: bool
    retain_days: int | None  # days moved files and reports stay (reports.retain_days, else INBOUND_RETAIN_DAYS)
    schema_drift: management.SchemaDrift | None  # how the header changed at the last successful import
    config_version: str
    config: ConfigLink
    freshness: Freshness


@dataclass(frozen=True)
class IntegrationRow(management.IntegrationRow):
    """A row of the management table as the API answers it: with the caller's right to edit its DAG."""

    can_edit: bool | None = None  # pause it, run it now (None: a broken config, no DAG)


def visible_table(caller: Reader) -> list[management.IntegrationRow]:
    """The management table, as `inbound status` builds it, for the DAGs the caller may read."""
    return current_table(caller.catalog).rows


def editable_dags(user: BaseUser, dag_ids: set[str]) -> set[str]:
    """The DAGs of `dag_ids` the caller may edit: the detail's check (`dag_rights`: PUT on the DAG),
    asked of the auth manager once for all of them."""
    from airflow.api_fastapi.app import get_auth_manager

    return (
        set(get_auth_manager().filter_authorized_dag_ids(dag_ids=dag_ids, user=user, method="PUT"))
        if dag_ids
        else set()
    )


# -- the table ------------------------------------------------------------------------
@router.get("/api/integrations", response_model=list[IntegrationRow])
def list_integrations(caller: ReaderDep) -> Response:
    """The management table: one row per config (broken ones with their error), each with `can_edit`.

    The rows' type is declared (`response_model`, for the OpenAPI schema the UI's types are
    generated from), but the answer is plain JSON of the rows' dicts: FastAPI does not
    validate a returned response, and validating 500 rows cost more than building them.
    """
    table = visible_table(caller)
    editable = editable_dags(caller.user, {row.dag_id for row in table if row.dag_id})
    return Response(encode(table_answer(table, editable)), media_type="application/json")


def table_answer(table: list[management.IntegrationRow], editable: set[str]) -> list[dict[str, Any]]:
    """The rows as the API answers them: each row's fields (`asdict`'s keys and values) and the caller's `can_edit`.

    The row's own attributes, not `asdict`: that copies every nested dict and list deeply
    (500 rows with 14 recent runs each: a tenth of a second), and the answer is only encoded.
    """
    return [{**vars(row), "can_edit": row.dag_id in editable if row.dag_id else None} for row in table]


def encode(answer: list[dict[str, Any]]) -> bytes:
    """JSON as FastAPI's `JSONResponse` renders it (`starlette.responses.JSONResponse.render`)."""
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


# -- where the config lives, and whether Airflow runs it ------------------------------
_VERSION_IN_DOC = re.compile(r"\(version `([0-9a-f]{6,64})`\)")


def config_link(integration: Integration) -> ConfigLink:
    """The config's path relative to the configs folder (only its name when it lies elsewhere), and its link."""
    if integration.file is None:
        return ConfigLink(path=None, url=None)
    file, folder = Path(integration.file).resolve(), config_dir().resolve()
    path = file.relative_to(folder).as_posix() if file.is_relative_to(folder) else file.name
    try:
        template = config_url_template()
    except ValueError as exc:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from None
    return ConfigLink(path=path, url=template.replace("{path}", quote(path)) if template else None)


def parsed_dag(dag_id: str) -> tuple[str | None, str | None] | None:
    """The config version in the DAG Airflow last serialized (from its doc) and when; None: no such DAG yet."""
    from airflow.models.serialized_dag import SerializedDagModel

    found = SerializedDagModel.get(dag_id)
    if found is None:
        return None
    doc = ((found.data or {}).get("dag") or {}).get("doc_md") or ""
    match = _VERSION_IN_DOC.search(doc)
    return (match.group(1) if match else None), (found.last_updated.isoformat() if found.last_updated else None)


def freshness(integration: Integration) -> Freshness:
    """Whether the DAG Airflow runs is of the config on disk now (by config version, not by file times)."""
    version = integration.version
    try:
        parsed = parsed_dag(integration.dag_id)
    except Exception as exc:  # no metadata database: say so rather than fail the page
        log.debug("the serialized DAG of %s is not readable: %s", integration.dag_id, exc)
        return Freshness(
            state="unknown",
            config_version=version,
            dag_version=None,
            parsed_at=None,
            message="Airflow's parsed DAG could not be read",
        )
    if parsed is None:
        return Freshness(
            state="unparsed",
            config_version=version,
            dag_version=None,
            parsed_at=None,
            message=f"Airflow has not parsed {integration.dag_id} yet: it runs once the DAG processor has read this config",
        )
    dag_version, parsed_at = parsed
    if dag_version == version:
        return Freshness(
            state="current",
            config_version=version,
            dag_version=dag_version,
            parsed_at=parsed_at,
            message=f"Airflow runs this config (version {version})",
        )
    return Freshness(
        state="newer",
        config_version=version,
        dag_version=dag_version,
        parsed_at=parsed_at,
        message=(
            f"The config on disk (version {version}) is newer than the DAG Airflow runs "
            f"(version {dag_version or 'unknown'}): a run or re-import now uses the old config until "
            "the DAG processor parses the DAG again"
        ),
    )


# -- one integration: mapping, import log, reports -----------------------------------
def describe(
    integration: Integration, offset: int = 0, limit: int = RUNS_SHOWN, rights: tuple[bool, bool] = (False, False)
) -> Detail:
    """What the integration page shows: config (no secrets), state, a page of imports with reports.

    `rights`: whether the caller may edit the DAG (pause it) and trigger it (a re-import).
    """
    with store() as s:
        records = s.imports(integration.name, limit=limit, offset=offset)
        total = s.import_count(integration.name)
        users = s.user_count(integration.name)
        success = s.last_success([integration.name]).get(integration.name)
    shown = integration.public_config()  # a value from `!env` shows as its variable's name
    source, shown_format = shown["source"], shown["format"]
    events, alerts = source.get("events"), shown.get("alerts")
    link = config_link(integration)
    return {
        "name": integration.name,
        "dag_id": integration.dag_id,
        "description": integration.shown_description,
        "file": link["path"],  # relative to the configs folder, never the server's absolute path
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
            {
                **{k: v for k, v in record.to_dict().items() if k not in ("etag", "shape")},
                "reports": reports_of(integration, record),
                "past_retention": past_retention(integration, record),
                "drift": drift_note(shape) if (shape := Shape.loads(record.shape)) else None,
            }
            for record in records
        ],
        "runs_total": total,
        "can_edit": rights[0],
        "can_trigger": rights[1],
        "format": FormatView(
            delimiter=None if shown_format.get("delimiter") is None else str(shown_format["delimiter"]),
            encoding=str(shown_format["encoding"]),
            decimal=str(shown_format["decimal"]),
        ),
        "marker": None if source.get("marker") is None else str(source["marker"]),
        "events": EventsView(
            queue=str(events["queue"]),
            aws_conn_id=None if events["aws_conn_id"] is None else str(events["aws_conn_id"]),
        )
        if events
        else None,
        "alerts": AlertsView(
            email=[str(e) for e in alerts["email"]],
            smtp_conn_id=str(alerts["smtp_conn_id"]),
            webhook=None if alerts["webhook"] is None else str(alerts["webhook"]),
            on_failure=integration.alerts.on_failure if integration.alerts else True,
            rejected_ratio_over=integration.alerts.rejected_ratio_over if integration.alerts else None,
            stale_after=None if alerts["stale_after"] is None else str(alerts["stale_after"]),
            on_new_columns=integration.alerts.on_new_columns if integration.alerts else True,
        )
        if alerts
        else None,
        "timezone": integration.timezone,
        "max_file_mb": integration.max_file_mb,
        "on_new_columns": integration.on_new_columns,
        "ignore_columns": list(integration.ignore_columns),
        "delete_when": DeleteWhenView(column=rule.column, values=list(rule.values))
        if (rule := integration.delete_when)
        else None,
        "max_deleted": integration.max_deleted,
        "max_row_drop": integration.max_row_drop,
        "guard_empty_columns": integration.guard_empty_columns,
        "retain_days": integration.retain_days,
        "schema_drift": management.schema_drift(integration, success),
        "config_version": integration.version,
        "config": link,
        "freshness": freshness(integration),
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
    return describe(integration, runs_offset, runs_limit, dag_rights(caller.user, integration.dag_id))
