"""Integration routes: the management table, one integration's detail (`describe`).

The on/off toggle is Airflow's own `PATCH /api/v2/dags/{dag_id}` (`is_paused`), which the UI
calls with the caller's token, as it calls `POST /api/v2/dags/{dag_id}/dagRuns` for a re-import:
Airflow checks the edit right and writes its `dag` table itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.airflow.connections import store
from inbound.airflow.management import IntegrationRow, current_table, is_enabled, schedule_in_words
from inbound.airflow.runs import dag_states
from inbound.config.model import Integration
from inbound.store.base import MAX_INT64
from inbound.web.access import READ, Reader, ReaderDep, dag_rights
from inbound.web.reports import reports_of

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
    can_edit: bool  # the caller may edit the DAG (pause it through Airflow's API)
    can_trigger: bool  # the caller may trigger the DAG (a re-import)


def visible_table(caller: Reader) -> list[IntegrationRow]:
    """The management table, as `inbound status` builds it, for the DAGs the caller may read."""
    return current_table(caller.catalog).rows


# -- the table ------------------------------------------------------------------------
@router.get("/api/integrations", response_model=list[IntegrationRow])
def list_integrations(caller: ReaderDep) -> JSONResponse:
    """The management table: one row per config (broken ones with their error).

    The rows' type is declared (`response_model`, for the OpenAPI schema the UI's types are
    generated from), but the answer is plain JSON of the rows' dicts: FastAPI does not
    validate a returned response, and validating 500 rows cost more than building them.
    """
    return JSONResponse([row.to_dict() for row in visible_table(caller)])


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
            {**{k: v for k, v in record.to_dict().items() if k != "etag"}, "reports": reports_of(integration, record)}
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
    return describe(integration, runs_offset, runs_limit, dag_rights(caller.user, integration.dag_id))
