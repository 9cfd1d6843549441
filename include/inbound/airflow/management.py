"""The management table: one row per integration config, from three sources of truth.

- the configs (name, source, schedule, mapping; broken ones with their error),
- Airflow (on/off = the DAG's pause state, next run, the latest runs and their results),
- the import log (the last successful import: when, attributes; the last import's rows; users).

A row is a monitor's line: whether the last run worked and why not, whether the data is fresh
(`stale`: no successful import for longer than `alerts.stale_after`, else twice the schedule's
interval), what the last import read and rejected, the recent runs, the next run.

`inbound status` prints it, the plugin serves it (`inbound.web.integrations`).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cron_descriptor import get_description
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.airflow.connections import store
from inbound.airflow.runs import DagState, RunSeen, dag_states
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.config.schedules import SCHEDULE_PRESETS, schedule_interval
from inbound.mapping.drift import Shape, config_lines, outstanding, summary
from inbound.outcome import Outcome
from inbound.store import ImportRecord

PRESET_WORDS = {
    "@hourly": "every hour",
    "@daily": "every day at midnight UTC",
    "@midnight": "every day at midnight UTC",
    "@weekly": "every week (Sunday midnight UTC)",
    "@monthly": "every month (the 1st, midnight UTC)",
    "@quarterly": "every quarter",
    "@yearly": "every year",
    "@annually": "every year",
}


@functools.lru_cache(maxsize=4096)
def schedule_in_words(schedule: str) -> str:
    """A schedule as people say it (cached: describing a cron costs a millisecond, a table has hundreds)."""
    schedule = schedule.strip()
    if schedule in SCHEDULE_PRESETS:
        return PRESET_WORDS[schedule]
    if schedule.upper().startswith("P"):
        return f"every {_duration(schedule_interval(schedule))}"
    return f"{get_description(schedule)} (UTC)"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


@functools.lru_cache(maxsize=4096)
def _interval(schedule: str) -> timedelta:
    return schedule_interval(schedule)


def is_enabled(integration: Integration, state: DagState | None) -> bool:
    """On or off: the DAG's pause state once Airflow knows the DAG, the config's `enabled` until then.

    The config only sets the state a new DAG starts in; after that the toggle (here or in
    Airflow's UI) decides.
    """
    if state is None or state.is_paused is None:
        return integration.enabled
    return not state.is_paused


class SourceParts(TypedDict):
    """Where the files come from, part by part: a part set by `!env NAME` is that name, its value not shown."""

    bucket: str | None  # None when it comes from `!env` (bucket_env)
    bucket_env: str | None
    key: str | None  # None when it comes from `!env` (key_env)
    key_env: str | None


class LastImport(TypedDict):
    """The latest import-log entry's counts (a failed import's too)."""

    rows_read: int
    rows_written: int
    rows_rejected: int
    rejected_share: float | None  # rows_rejected / rows_read; None when no row was read
    deleted: int  # users the import deleted (`delete_when`)


class NewColumn(TypedDict):
    column: str
    since: str  # YYYY-MM-DD: the day an import first saw it


class SchemaDrift(TypedDict):
    """How the export's header changed, as of the last successful import (`mapping.drift`)."""

    summary: str  # "2 new columns since 2026-12-01, 1 column gone"
    new: list[NewColumn]  # unread by the current config, not ignored
    gone: list[str]  # unread columns the import before had
    reordered: bool
    compared_with: str | None  # the day of the import it was compared with
    config_lines: str | None  # the lines that would map the new columns


class RecentRun(TypedDict):
    run_id: str
    state: str  # Airflow's DagRun state
    at: str | None  # ISO-8601: when it ended, else when it was due
    outcome: str  # success | failed | running | no new file (the wait found nothing)


@dataclass(frozen=True)
class IntegrationRow:
    name: str
    dag_id: str | None
    source: str | None  # s3://bucket/key as shown (a part from `!env` as `!env NAME`); source_parts for a UI
    attributes_imported: int | None
    users: int | None
    schedule: str | None
    schedule_words: str | None
    last_run_at: str | None
    last_run_result: Outcome  # success | failed | running | no new file | never run | config error
    enabled: bool | None
    error: str | None = None
    file: str | None = None
    start: str | None = None  # events | polling (how runs start; None: config error)
    start_words: str | None = None
    last_run_reason: str | None = None  # why the last run failed: its own answer, else its last import's error
    reason: str | None = None  # the same, one line
    next_run_at: str | None = None  # Airflow's next_dagrun_create_after; None while off
    last_success_at: str | None = None  # when the last successful import finished (import log)
    stale: bool | None = None  # no successful import for longer than stale_after (else 2x the interval); None: none yet
    last_import: LastImport | None = None
    last_run_duration_s: float | None = None  # the last run's, once it ended
    recent_runs: list[RecentRun] = field(default_factory=list)  # the latest runs, oldest first (at most 14)
    source_parts: SourceParts | None = None
    schema_drift: SchemaDrift | None = None  # how the header changed at the last successful import

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Table:
    rows: list[IntegrationRow]
    orphans: dict[str, int]  # integrations without a loaded config that still hold values: name -> users


def current_table(catalog: Catalog) -> Table:
    """The management table of `catalog` now: the import log from the store, the runs from Airflow."""
    names = list(catalog.integrations)  # the latest entry and success of each, not the log ("Bounded reads")
    with store() as s:
        last_success = s.last_success(names)
        last = s.last_imports(names)
        held = s.integrations()
    users = {name: held.get(name, 0) for name in catalog.integrations}
    orphans = {name: n for name, n in held.items() if name not in catalog.integrations}
    states = dag_states([i.dag_id for i in catalog.integrations.values()])
    return Table(rows(catalog, states, last_success, users, last), orphans)


def _result(state: DagState | None) -> Outcome:
    if state is None or state.last is None:
        return Outcome.NEVER_RUN
    return _run_outcome(state.last)


def _run_outcome(run: RunSeen) -> Outcome:
    if run.state == "success" and run.skipped:
        return Outcome.NO_NEW_FILE
    if run.state in ("queued", "running"):
        return Outcome.RUNNING
    return Outcome(run.state) if run.state in ("success", "failed") else Outcome.RUNNING


def _utc(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_stale(integration: Integration, last_success_at: str | None, now: datetime) -> bool | None:
    """No successful import for longer than `alerts.stale_after`, else twice the schedule's interval; None: none yet."""
    if last_success_at is None:
        return None
    limit = integration.alerts.stale_interval if integration.alerts else None
    return now - _utc(last_success_at) > (limit or 2 * _interval(integration.schedule))


def source_parts(integration: Integration) -> SourceParts:
    env = integration.env_settings
    bucket_env, key_env = env.get("source.bucket"), env.get("source.key")
    return SourceParts(
        bucket=None if bucket_env else integration.source.bucket,
        bucket_env=bucket_env,
        key=None if key_env else integration.source.key,
        key_env=key_env,
    )


def _last_import(record: ImportRecord | None) -> LastImport | None:
    if record is None:
        return None
    return LastImport(
        rows_read=record.rows_read,
        rows_written=record.rows_written,
        rows_rejected=record.rows_rejected,
        rejected_share=record.rows_rejected / record.rows_read if record.rows_read else None,
        deleted=record.deleted,
    )


def schema_drift(integration: Integration, success: ImportRecord | None) -> SchemaDrift | None:
    """The last successful import's drift as the current config sees it (None: none, or no header recorded)."""
    recorded = Shape.loads(success.shape) if success else None
    shape = None if recorded is None else outstanding(recorded, integration)
    said = None if shape is None else summary(shape)
    if shape is None or said is None:
        return None
    new = [c for c, _ in shape.new]
    return SchemaDrift(
        summary=said,
        new=[NewColumn(column=c, since=d) for c, d in shape.new],
        gone=list(shape.gone),
        reordered=shape.reordered,
        compared_with=shape.compared_with,
        config_lines=config_lines(integration, new) if new else None,
    )


def rows(
    catalog: Catalog,
    states: dict[str, DagState],
    last_success: dict[str, ImportRecord],
    users: dict[str, int] | None = None,
    last: dict[str, ImportRecord] | None = None,
    now: datetime | None = None,
) -> list[IntegrationRow]:
    now = now or datetime.now(UTC)
    found = [
        _row(integration, states.get(integration.dag_id), last_success.get(integration.name), users, last, now)
        for integration in sorted(catalog.integrations.values(), key=lambda i: i.name)
    ]
    for error in catalog.errors:
        found.append(
            IntegrationRow(
                name=Path(error.file).stem,
                dag_id=None,
                source=None,
                attributes_imported=None,
                users=None,
                schedule=None,
                schedule_words=None,
                last_run_at=None,
                last_run_result=Outcome.CONFIG_ERROR,
                enabled=None,
                error=error.one_line(),
                file=error.file,
                reason=error.one_line(),
            )
        )
    return found


def _row(
    integration: Integration,
    state: DagState | None,
    success: ImportRecord | None,
    users: dict[str, int] | None,
    last: dict[str, ImportRecord] | None = None,
    now: datetime | None = None,
) -> IntegrationRow:
    result = _result(state)
    latest = (last or {}).get(integration.name)
    failed_import = latest is not None and latest.outcome == Outcome.FAILED
    if result == Outcome.FAILED:
        said = state.last_run_message if state else None  # what the run itself said (`inbound_outcome`)
        reason = said or (
            latest.error if failed_import and latest else "the run failed before a file was imported: see its task log"
        )
    else:
        reason = None
    enabled = is_enabled(integration, state)
    last_success_at = success.finished_at if success else None
    recent = state.recent if state else ()
    return IntegrationRow(
        name=integration.name,
        dag_id=integration.dag_id,
        source=integration.shown_source,
        attributes_imported=success.attributes if success else 0,
        users=(users or {}).get(integration.name),
        schedule=integration.schedule,
        schedule_words=schedule_in_words(integration.schedule),
        last_run_at=state.last_run_at if state else None,
        last_run_result=result,
        enabled=enabled,
        file=integration.file,
        start=integration.start,
        start_words=integration.start_words,
        last_run_reason=reason,
        reason=reason and " ".join(reason.split()),
        next_run_at=state.next_run_at if state and enabled else None,
        last_success_at=last_success_at,
        stale=is_stale(integration, last_success_at, now or datetime.now(UTC)),
        last_import=_last_import(latest),
        last_run_duration_s=recent[-1].duration_s if recent else None,
        recent_runs=[RecentRun(run_id=r.run_id, state=r.state, at=r.at, outcome=_run_outcome(r).value) for r in recent],
        source_parts=source_parts(integration),
        schema_drift=schema_drift(integration, success),
    )


SYMBOLS = {
    Outcome.SUCCESS: "✔",
    Outcome.FAILED: "✖",
    Outcome.RUNNING: "…",
    Outcome.NO_NEW_FILE: "–",
    Outcome.NEVER_RUN: "·",
    Outcome.CONFIG_ERROR: "✖",
}


def render(table: list[IntegrationRow]) -> str:
    """The table as aligned text for a terminal."""
    headers = ["name", "source", "attributes", "users", "schedule", "start", "last run", "result", "enabled"]
    lines = [
        [
            row.name,
            row.source or "-",
            "-" if row.attributes_imported is None else str(row.attributes_imported),
            "-" if row.users is None else str(row.users),
            row.schedule_words or "-",
            row.start or "-",
            (row.last_run_at or "-")[:19].replace("T", " "),
            f"{SYMBOLS.get(row.last_run_result, '?')} {row.last_run_result}{', stale' if row.stale else ''}",
            "-" if row.enabled is None else ("on" if row.enabled else "off"),
        ]
        for row in table
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    out += [f"  config error: {row.error}" for row in table if row.error]
    out += [f"  {row.name}: header changed: {row.schema_drift['summary']}" for row in table if row.schema_drift]
    return "\n".join(out)
