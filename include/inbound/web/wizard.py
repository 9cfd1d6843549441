"""The new-integration wizard's routes: discovery of an export, and a new config checked against the others.

On a router `inbound.web.app.create_app` includes, behind the app's gate (`reader`: the caller
may read at least one integration's DAG). Both routes also need the right to edit some
integration's DAG (403 otherwise): they are the tools of someone who writes configs, and
both look beyond what the caller may read (other people's exports; every loaded config).

- `GET /api/discover/connections`: the AWS connections the caller's editable integrations use;
- `POST /api/discover`: what `inbound discover` finds in an export, with one of those
  connections, only where the caller's editable integrations land files
  (`inbound.discovery.scope.Scope`: their buckets, or a landing folder opened by
  `INBOUND_DISCOVERY_PREFIXES`; never another integration's folder or files, a done folder
  or the staging location: 403). A pattern samples, and a missing key's answer suggests,
  only keys from there;
- `POST /api/configs/check`: a new config's problems against every loaded config; an
  integration the caller may not read is never named (`inbound.config.catalog.check_new`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel

from inbound.airflow.connections import s3_client
from inbound.config.catalog import current_catalog
from inbound.web.access import READ, Reader, ReaderDep

if TYPE_CHECKING:
    from inbound.discovery.scope import Scope

MAX_SAMPLE_BYTES = 16 * 1024 * 1024  # the most of an export one discovery reads

router = APIRouter(dependencies=READ)


@dataclass(frozen=True)
class Editor:
    """A caller who may edit at least one integration's DAG, and which integrations those are."""

    reader: Reader
    editable: frozenset[str]  # the names of the (readable) integrations whose DAG the caller may edit


def editor(caller: ReaderDep) -> Editor:
    """The wizard reads other people's exports and checks against every config: only for config writers.

    The auth manager is asked about the readable integrations' DAGs by their IDs (as the gate
    is), so a per-DAG edit right is enough and nothing the request names counts.
    """
    by_dag = {i.dag_id: i.name for i in caller.catalog.integrations.values()}
    allowed = (
        get_auth_manager().filter_authorized_dag_ids(dag_ids=set(by_dag), user=caller.user, method="PUT")
        if by_dag
        else set()
    )
    if not allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the new-integration wizard needs the right to edit an integration's DAG (inbound_<name>); "
            "ask an admin for it",
        )
    return Editor(caller, frozenset(by_dag[dag_id] for dag_id in allowed))


EditorDep = Annotated[Editor, Depends(editor)]


def _connections(caller: Editor) -> list[str]:
    """The AWS connections discovery may use: those of the integrations whose DAG the caller may edit."""
    integrations = caller.reader.catalog.integrations
    return sorted({integrations[name].source.aws_conn_id for name in caller.editable})


def _scope(caller: Editor) -> Scope:
    """Where this caller's discovery may read, judged against every loaded integration (also unreadable ones)."""
    from inbound.discovery.scope import Scope
    from inbound.settings import discovery_prefixes, staging_url

    try:
        prefixes = discovery_prefixes()
    except ValueError as exc:  # the deployment's setting, not the request: say which and how
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from None
    return Scope.of(current_catalog().integrations.values(), caller.editable, prefixes, staging_url())


class DiscoverBody(BaseModel):
    uri: str
    aws_conn_id: str
    bytes: int = 1024 * 1024


@router.get("/api/discover/connections")
def discover_connections(caller: EditorDep) -> list[str]:
    """The connection ids the wizard offers: those integrations the caller may edit already use."""
    return _connections(caller)


@router.post("/api/discover")
def discover_export(body: DiscoverBody, caller: EditorDep) -> dict[str, Any]:
    """What `inbound discover` finds in an export: format, columns, types, samples, user-ID candidates, a config.

    Only where the caller's integrations land files (`_scope`); the answer holds sample
    values (personal data) for the caller's eyes, and nothing of it is logged.
    """
    from inbound.discovery.proposal import discover
    from inbound.discovery.scope import OutOfScope
    from inbound.errors import DiscoveryError

    allowed = _connections(caller)
    if body.aws_conn_id not in allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"connection {body.aws_conn_id[:200]!r} is not one of those your integrations use: {', '.join(allowed)}",
        )
    bucket, _, key = body.uri.removeprefix("s3://").partition("/")
    if not body.uri.startswith("s3://") or not bucket or not key:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{body.uri[:200]!r} is not s3://BUCKET/KEY")
    if not 1 <= body.bytes <= MAX_SAMPLE_BYTES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "bytes must be between 1 and 16 MiB")
    scope = _scope(caller)
    try:
        scope.check(bucket, key)
        report = discover(
            s3_client(body.aws_conn_id),
            bucket,
            key,
            max_bytes=body.bytes,
            aws_conn_id=body.aws_conn_id,
            readable=lambda listed: scope.allows(bucket, listed),
        )
    except OutOfScope as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except DiscoveryError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    return report.to_dict()


class CheckBody(BaseModel):
    config: str


@router.post("/api/configs/check")
def check_config(body: CheckBody, caller: EditorDep) -> dict[str, Any]:
    """A new config's problems, as `inbound validate` would report them with it added to the folder.

    Nothing is written. The rules across files hold against every loaded config; one the
    caller may not read is never named, nor its file or an attribute's spelling, and the
    attribute cap counts those as one "other integrations: N" (`check_new`'s `hidden`).
    """
    from inbound.config.catalog import check_new

    full = current_catalog()
    hidden = {name for name in full.integrations if name not in caller.reader.catalog.integrations}
    integration, problems = check_new(body.config, full, "new integration", hidden=hidden)
    return {
        "ok": integration is not None,
        "name": integration.name if integration else None,
        "problems": [{"line": p.line, "setting": p.path, "message": p.message, "context": p.context} for p in problems],
    }
