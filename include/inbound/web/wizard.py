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

"Valid" means what a run would do: the config loads, fits the other configs, and the sampled
export maps with it (`inbound.discovery.trial`: the real reader and mapping) with its rejected
share within the config's `max_rejected_ratio`. Discovery tries the config it proposes on the
bytes it sampled; the check re-reads the sample the body names, within the caller's discovery
scope, as discovery would. Every problem is listed with its setting, a message for people and
the line of the YAML the answer returns (`yaml`, the very text checked). The request and
response models below are the OpenAPI schema the UI's types are generated from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from airflow.api_fastapi.app import get_auth_manager
from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from inbound.airflow.connections import s3_client
from inbound.config.catalog import current_catalog
from inbound.web.access import READ, Reader, ReaderDep

if TYPE_CHECKING:
    from inbound.config.model import Integration
    from inbound.config.problems import ConfigProblem
    from inbound.discovery.report import Report
    from inbound.discovery.scope import Scope
    from inbound.discovery.trial import Trial

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


# -- the request and response models (the OpenAPI schema) ---------------------------------
class DiscoverBody(BaseModel):
    """Where the export lies and the connection to read it with; how much of its head to sample."""

    uri: str = Field(description="s3://BUCKET/KEY, or a key pattern (its newest file is sampled)")
    aws_conn_id: str = Field(description="one of GET /api/discover/connections")
    bytes: int = Field(1024 * 1024, description="how much of the file's head to sample (1 B to 16 MiB)")


class Problem(BaseModel):
    """One problem of a config: the setting, what is wrong, and the line of the answer's `yaml`."""

    level: Literal["error", "warning"] = Field(
        description="error: the config is not valid; warning: rejected rows within max_rejected_ratio"
    )
    setting: str = Field(description='the setting\'s path, e.g. "attributes[0].type"; "" for the file')
    message: str
    line: int | None = Field(description="1-based line of `yaml` in the same answer, when one applies")
    context: str = Field(description="the lines around `line`, numbered, the line itself marked with '>'")


class RejectedColumn(BaseModel):
    """The sampled rows one column rejects for one kind of reason."""

    column: str | None = Field(description="the CSV column; null for the row as a whole (a ragged row)")
    attribute: str | None = Field(description="the attribute read from the column; null for the user ID")
    kind: str = Field(description="empty_user_id, duplicate_user_id, wrong_field_count, value_too_long, invalid_value")
    reason: str = Field(description="the first row's reason, as the .rejected.csv report words it")
    rows: int
    lines: list[int] = Field(description="the first line numbers (the header is line 1)")
    values: list[str] = Field(description="the first distinct values (the caller's own sample)")


class SampleCheck(BaseModel):
    """The sample mapped with the config, as a run would map it."""

    uri: str = Field(description="the file sampled")
    rows: int = Field(description="data rows in the sample")
    rejected: int = Field(description="rows a run would reject")
    rejected_ratio: float
    max_rejected_ratio: float = Field(description="the config's: above it a run imports nothing of the file")
    error: str | None = Field(description="why a run would fail the whole file (a missing column, ...)")
    columns: list[RejectedColumn]


class ConfigCheck(BaseModel):
    """A config checked: alone, against the other configs, and on its sample."""

    valid: bool = Field(
        description="the config loads, fits the other configs and its sample maps within max_rejected_ratio"
    )
    ok: bool = Field(description="the config loads and fits the other configs (the sample aside)")
    name: str | None = Field(description="the integration's name, when the config loads")
    yaml: str = Field(description="the config checked: every problem's line is a line of this text")
    problems: list[Problem] = Field(description="every problem found, errors and warnings")
    sample: SampleCheck | None = Field(description="the sample mapped; null when no sample was given")


class Column(BaseModel):
    """One column of the sample, typed as the import would cast it."""

    name: str
    type: str = Field(description="boolean, integer, number, date, timestamp or string")
    format: str | None = Field(description="the date/timestamp layout proposed, when not ISO-8601")
    formats: list[str] = Field(description="every layout that fits every sampled value, the proposed one first")
    samples: list[str]
    empty: float
    distinct: float
    attribute: str = Field(description="the attribute name proposed")


class Discovery(BaseModel):
    """What `inbound discover` finds in an export, and its proposed config tried on the sample."""

    uri: str
    bucket: str
    key: str
    pattern: str | None
    aws_conn_id: str
    size: int
    read_bytes: int
    complete: bool
    compressed: bool
    encoding: str
    bom: bool
    encoding_hint: str | None
    delimiter: str
    decimal: str = Field(description='"," when the sampled numbers use a decimal comma (38,5 / 1.234,50)')
    rows: int
    columns: list[Column]
    user_id_candidates: list[str]
    notes: list[str]
    config: str = Field(description="the proposed config's YAML")
    check: ConfigCheck = Field(description="the proposed config checked, its sample mapped with it")


class SampleRef(BaseModel):
    """The export a config is tried on: re-read as discovery reads it, within the caller's scope."""

    uri: str
    aws_conn_id: str
    bytes: int = 1024 * 1024


class CheckBody(BaseModel):
    config: str = Field(description="the config's YAML")
    sample: SampleRef | None = Field(None, description="the export to map with it: without one, never valid")


# -- the routes -----------------------------------------------------------------------
@router.get("/api/discover/connections")
def discover_connections(caller: EditorDep) -> list[str]:
    """The connection ids the wizard offers: those integrations the caller may edit already use."""
    return _connections(caller)


def _sample(body: DiscoverBody | SampleRef, caller: Editor) -> Report:
    """`inbound discover` on the export the body names, only where the caller may sample (403 elsewhere)."""
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
        return discover(
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


@router.post("/api/discover")
def discover_export(body: DiscoverBody, caller: EditorDep) -> Discovery:
    """What `inbound discover` finds in an export: format, columns, types, samples, user-ID candidates, a config.

    The proposed config is checked as `POST /api/configs/check` checks one, on the very bytes
    sampled (`check`). Only where the caller's integrations land files (`_scope`); the answer
    holds sample values (personal data) for the caller's eyes, and nothing of it is logged.
    """
    report = _sample(body, caller)
    data = report.to_dict()
    return Discovery(**data, check=_check(data["config"], caller, report))


@router.post("/api/configs/check")
def check_config(body: CheckBody, caller: EditorDep) -> ConfigCheck:
    """A new config's problems, as `inbound validate` would report them with it added to the folder,
    and, given `sample`, that export mapped with it as a run would map it.

    Nothing is written. The rules across files hold against every loaded config; one the
    caller may not read is never named, nor its file or an attribute's spelling, and the
    attribute cap counts those as one "other integrations: N" (`check_new`'s `hidden`).
    """
    report = _sample(body.sample, caller) if body.sample is not None else None
    return _check(body.config, caller, report)


# -- a config checked -------------------------------------------------------------------
def _check(text: str, caller: Editor, report: Report | None) -> ConfigCheck:
    """`text` against the other configs and, with a sampled `report`, on its sample."""
    from inbound.config.catalog import check_new

    full = current_catalog()
    hidden = {name for name in full.integrations if name not in caller.reader.catalog.integrations}
    integration, problems = check_new(text, full, "new integration", hidden=hidden)
    listed = [_problem(p) for p in problems]
    sample = None
    if integration is not None and report is not None:
        from inbound.discovery.trial import try_config

        trial = try_config(report.sample, integration)
        sample = _sample_check(report.uri, trial)
        listed += _trial_problems(text, integration, trial)
    return ConfigCheck(
        valid=integration is not None and sample is not None and not any(p.level == "error" for p in listed),
        ok=integration is not None,
        name=integration.name if integration else None,
        yaml=text,
        problems=listed,
        sample=sample,
    )


def _problem(problem: ConfigProblem, level: Literal["error", "warning"] = "error") -> Problem:
    return Problem(
        level=level, setting=problem.path, message=problem.message, line=problem.line, context=problem.context
    )


def _sample_check(uri: str, trial: Trial) -> SampleCheck:
    return SampleCheck(
        uri=uri,
        rows=trial.rows,
        rejected=trial.rejected,
        rejected_ratio=trial.ratio,
        max_rejected_ratio=trial.max_rejected_ratio,
        error=trial.error,
        columns=[RejectedColumn(**vars(group)) for group in trial.groups],
    )


def _trial_problems(text: str, integration: Integration, trial: Trial) -> list[Problem]:
    """The sample's failure or rejected rows as problems at the setting that decides them.

    Errors when a run would import nothing of the file; warnings for rejected rows within
    `max_rejected_ratio` (a run imports the rest). A rejected value is never in a message.
    """
    from inbound.config.names import setting_path
    from inbound.config.problems import ConfigProblem, line_at, line_context

    lines = text.splitlines()
    if trial.error is not None:
        message = f"the sample would fail as a whole: {trial.error}"
        return [_problem(ConfigProblem("new integration", message))]
    level: Literal["error", "warning"] = "warning" if trial.imports else "error"
    share = (
        f"{trial.rejected} of {trial.rows} sampled rows rejected ({trial.ratio:.1%}), "
        f"max_rejected_ratio is {trial.max_rejected_ratio:.1%}"
    )
    index = {a.column: i for i, a in enumerate(integration.attributes)}
    found = []
    for group in trial.groups:
        if group.column in index:
            i = index[group.column]
            key = "format" if integration.attributes[i].format and group.kind == "invalid_value" else "type"
            loc: tuple[int | str, ...] = ("attributes", i, key) if group.kind == "invalid_value" else ("attributes", i)
        elif group.column == integration.user_id.column:
            loc = ("user_id", "column")
        else:
            loc = ()
        where = f"{group.column}: " if group.column else ""
        shown = ", ".join(map(str, group.lines)) + (", ..." if group.rows > len(group.lines) else "")
        message = f"{where}{group.rows} of {trial.rows} sampled rows: {group.reason} (lines {shown}); {share}"
        line = line_at(text, loc) if loc else None
        problem = ConfigProblem("new integration", message, line, setting_path(loc), line_context(lines, line))
        found.append(_problem(problem, level))
    return found
