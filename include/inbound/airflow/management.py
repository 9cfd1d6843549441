"""The management table: one row per integration config, from three sources of truth.

- the configs (name, source, schedule, mapping; broken ones with their error),
- Airflow (on/off = the DAG's pause state, the last run and its result),
- the import log (attributes imported by the last successful file, users).

`inbound status` prints it, the plugin serves it (`inbound.web.integrations`).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cron_descriptor import get_description

from inbound.airflow.connections import store
from inbound.airflow.runs import DagState, dag_states
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.config.schedules import SCHEDULE_PRESETS, schedule_interval
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


def is_enabled(integration: Integration, state: DagState | None) -> bool:
    """On or off: the DAG's pause state once Airflow knows the DAG, the config's `enabled` until then.

    The config only sets the state a new DAG starts in; after that the toggle (here or in
    Airflow's UI) decides.
    """
    if state is None or state.is_paused is None:
        return integration.enabled
    return not state.is_paused


@dataclass(frozen=True)
class IntegrationRow:
    name: str
    dag_id: str | None
    source: str | None
    attributes_imported: int | None
    users: int | None
    schedule: str | None
    schedule_words: str | None
    last_run_at: str | None
    last_run_result: Outcome  # success | failed | running | no new file | never run | config error
    ready_for_targeting: bool
    enabled: bool | None
    error: str | None = None
    file: str | None = None
    start: str | None = None  # events | polling (how runs start; None: config error)
    start_words: str | None = None
    last_run_reason: str | None = None  # why the last run failed: its own answer, else its last import's error

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Table:
    rows: list[IntegrationRow]
    orphans: dict[str, int]  # integrations without a loaded config that still hold values: name -> users


def current_table(catalog: Catalog) -> Table:
    """The management table of `catalog` now: the import log from the store, the runs from Airflow."""
    with store() as s:
        last_success = s.last_success()
        last = s.last_imports()
        held = s.integrations()
    users = {name: held.get(name, 0) for name in catalog.integrations}
    orphans = {name: n for name, n in held.items() if name not in catalog.integrations}
    states = dag_states([i.dag_id for i in catalog.integrations.values()])
    return Table(rows(catalog, states, last_success, users, last), orphans)


def _result(state: DagState | None) -> Outcome:
    if state is None or state.last_run_state is None:
        return Outcome.NEVER_RUN
    if state.last_run_state == "success" and state.last_run_skipped:
        return Outcome.NO_NEW_FILE
    if state.last_run_state in ("queued", "running"):
        return Outcome.RUNNING
    return Outcome(state.last_run_state)  # Airflow's other run states: success, failed


def rows(
    catalog: Catalog,
    states: dict[str, DagState],
    last_success: dict[str, ImportRecord],
    users: dict[str, int] | None = None,
    last: dict[str, ImportRecord] | None = None,
) -> list[IntegrationRow]:
    found = [
        _row(integration, states.get(integration.dag_id), last_success.get(integration.name), users, last)
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
                ready_for_targeting=False,
                enabled=None,
                error=error.one_line(),
                file=error.file,
            )
        )
    return found


def _row(
    integration: Integration,
    state: DagState | None,
    success: ImportRecord | None,
    users: dict[str, int] | None,
    last: dict[str, ImportRecord] | None = None,
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
        ready_for_targeting=success is not None,
        enabled=is_enabled(integration, state),
        file=integration.file,
        start=integration.start,
        start_words=integration.start_words,
        last_run_reason=reason,
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
            f"{SYMBOLS.get(row.last_run_result, '?')} {row.last_run_result}",
            "-" if row.enabled is None else ("on" if row.enabled else "off"),
        ]
        for row in table
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    out += [f"  config error: {row.error}" for row in table if row.error]
    return "\n".join(out)
