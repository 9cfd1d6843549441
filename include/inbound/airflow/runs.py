"""What Airflow knows about the integrations: pause state, next run, the latest runs of each DAG, one run's outcome.

Run history lives in Airflow (the management table is a view on it); this module reads
Airflow's metadata database the way Airflow's own CLI does (also the outcome a run's
`finalize` task pushes, which the UI's re-import shows). It writes nothing there: the
on/off toggle is Airflow's own `PATCH /api/v2/dags/{dag_id}`, called by the UI with the
caller's token. Without a migrated metadata database (a fresh checkout) `dag_states`
answers "unknown" rather than failing.

The reads are bounded by the table, not by history: the latest `RECENT_RUNS` runs of each
DAG and the `wait_for_file` task instance of each of those runs (`_read` says which index
each statement uses), on PostgreSQL; `tests/test_bounded_reads.py` measures them on a year of
runs. SQLite, Airflow's development database, ranks each DAG's runs instead (no LATERAL).

Airflow's models are imported when a function runs, not with the module: the management
table (`inbound.airflow.management`) and its tests use `DagState` without loading Airflow.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from inbound.results import OUTCOME_XCOM

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

RECENT_RUNS = 14  # the runs of a DAG the table reads (its recent-runs strip)
WAIT_TASK = "wait_for_file"  # skipped: the run found no new file


@dataclass(frozen=True)
class RunSeen:
    """One run of a DAG as the table shows it."""

    run_id: str
    state: str  # Airflow's DagRun state: success | failed | running | queued
    skipped: bool  # its wait found no new file
    at: str | None  # ISO-8601: when it ended, else when it was due
    started_at: str | None = None  # ISO-8601, once it started
    message: str | None = None  # the sentence its finalize left (`inbound_outcome`); read for the last run only

    @property
    def duration_s(self) -> float | None:
        if self.state not in ("success", "failed") or not self.started_at or not self.at:
            return None
        return (datetime.fromisoformat(self.at) - datetime.fromisoformat(self.started_at)).total_seconds()


@dataclass(frozen=True)
class DagState:
    dag_id: str
    is_paused: bool | None  # None: the DAG processor has not seen the DAG yet
    recent: tuple[RunSeen, ...] = ()  # the latest runs that imported (or tried to), oldest first
    next_run_at: str | None = None  # ISO-8601: when Airflow will create the next run (`next_dagrun_create_after`)

    @property
    def last(self) -> RunSeen | None:
        return self.recent[-1] if self.recent else None

    @property
    def last_run_at(self) -> str | None:
        return self.last.at if self.last else None

    @property
    def last_run_state(self) -> str | None:
        return self.last.state if self.last else None

    @property
    def last_run_skipped(self) -> bool:
        return self.last is not None and self.last.skipped

    @property
    def last_run_id(self) -> str | None:
        return self.last.run_id if self.last else None

    @property
    def last_run_message(self) -> str | None:
        return self.last.message if self.last else None


@dataclass
class _Facts:
    """What the metadata database says about a set of DAGs."""

    paused: dict[str, bool] = field(default_factory=dict)
    next_run: dict[str, str] = field(default_factory=dict)
    recent: dict[str, list[RunSeen]] = field(default_factory=dict)  # oldest first

    def state(self, dag_id: str) -> DagState:
        return DagState(
            dag_id=dag_id,
            is_paused=self.paused.get(dag_id),
            recent=tuple(self.recent.get(dag_id, ())),
            next_run_at=self.next_run.get(dag_id),
        )


MAX_RUN_ID = 250  # the length of dag_run.run_id in Airflow's metadata database
CHUNK = 500  # DAG ids per statement


def dag_states(dag_ids: list[str]) -> dict[str, DagState]:
    """Pause state, next run and the latest runs per DAG id, from Airflow's metadata database."""
    try:
        from airflow.utils.session import create_session

        with create_session() as session:
            facts = _read(session, dag_ids)
    except Exception as exc:  # no metadata database yet: the table still shows the configs
        log.debug("Airflow metadata database not readable: %s", exc)
        return {}
    return {dag_id: facts.state(dag_id) for dag_id in dag_ids}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _read(session: Session, dag_ids: list[str]) -> _Facts:
    """Three statements per 500 DAGs, each bounded by the table rather than by history.

    - `dag`: pause state and next run, by its primary key;
    - the latest runs with their wait's state (`_recent_postgres`, `_recent_runs` on SQLite);
    - the outcome sentence of each DAG's last run: `xcom`'s primary key (dag_run_id, task_id,
      map_index, key).
    """
    # The tables' Core columns, not the ORM attributes: an ORM select configures every mapper
    # of Airflow's models first (about 0.75 s of `inbound status`), and nothing here needs them.
    from airflow.models import DagModel
    from sqlalchemy import select

    dag = DagModel.__table__.c
    postgres = session.get_bind().dialect.name == "postgresql"
    iso = _iso_utc if postgres else _iso
    facts = _Facts()
    last_ids: dict[int, str] = {}
    for start in range(0, len(dag_ids), CHUNK):
        chunk = dag_ids[start : start + CHUNK]
        for row in session.execute(
            select(dag.dag_id, dag.is_paused, dag.next_dagrun_create_after).where(dag.dag_id.in_(chunk))
        ):
            facts.paused[row.dag_id] = row.is_paused
            if row.next_dagrun_create_after is not None:
                facts.next_run[row.dag_id] = row.next_dagrun_create_after.isoformat()
        found: dict[str, list[Any]] = {}
        statement, params = _recent_runs_postgres(chunk) if postgres else (_recent_runs(chunk), {})
        for row in session.execute(statement, params):
            found.setdefault(row.dag_id, []).append(row)
        for dag_id, latest in found.items():
            latest.sort(key=lambda r: r.id)  # oldest first (the statement answers the latest RECENT_RUNS)
            last_ids[latest[-1].id] = dag_id
            facts.recent[dag_id] = [
                RunSeen(
                    run_id=r.run_id,
                    state=str(r.state),
                    skipped=r.wait_state == "skipped",
                    at=iso(r.at),
                    started_at=iso(r.start_date),
                )
                for r in latest
            ]
    for run_id, message in _messages(session, list(last_ids)).items():
        runs = facts.recent[last_ids[run_id]]
        runs[-1] = replace(runs[-1], message=message)
    return facts


def _iso_utc(value: datetime | None) -> str | None:
    """A UTC time the database answered without its zone (`AT TIME ZONE 'UTC'`), as `_iso` writes a UTC one."""
    return value.isoformat() + "+00:00" if value else None


# The latest RECENT_RUNS runs of each DAG that imported (or tried to), with their wait's state, on
# PostgreSQL, each DAG's read bounded by RECENT_RUNS per branch whatever its history. Per DAG id (one
# array parameter, not a VALUES row per id: building and compiling those cost more than running the
# statement), a LATERAL subquery takes the latest by id of LIMITed branches on the unique index
# `dag_run_dag_id_run_id_key` (dag_id, run_id): Airflow names a run `<run type>__<time>`
# (`DagRun.generate_run_id`, the time ISO-8601, so a digit follows the `__`), and within one run
# type's range of run IDs, backwards is newest first. Runs without a logical date (asset-triggered
# runs of event mode, re-imports) have no other index that orders them: the range
# `logical_date IS NULL` of (dag_id, logical_date) holds all of a DAG's, its whole history. Run IDs
# outside those ranges (given by a caller of Airflow's API) are read whole, the one branch whose
# reads grow, with the runs named so. The range [`<type>__0`, `<type>__A`) holds every ID of the
# type in any collation (C, ICU, glibc: digits sort before letters); the ranges do not overlap, and
# their gaps are the last branch's ranges. Only the runs chosen look up their `wait_for_file` task
# instance, one lookup each on the unique index `task_instance_composite_key` (dag_id, task_id,
# run_id, map_index): a correlated scalar subquery, not a join, which lets the planner hash the whole
# table. The times come as UTC without a zone (`_iso_utc`): no time zone object per value.
_RECENT_POSTGRES = """
SELECT recent.id, recent.dag_id, recent.run_id, recent.state,
       recent.at AT TIME ZONE 'UTC' AS at, recent.start_date AT TIME ZONE 'UTC' AS start_date,
       (SELECT ti.state FROM task_instance AS ti
        WHERE ti.dag_id = recent.dag_id AND ti.task_id = :wait_task AND ti.run_id = recent.run_id
          AND ti.map_index = -1) AS wait_state
FROM unnest(CAST(:dag_ids AS VARCHAR[])) AS wanted(dag_id)
CROSS JOIN LATERAL (
    SELECT candidate.* FROM (
{branches}
    ) AS candidate
    ORDER BY candidate.id DESC LIMIT :recent
) AS recent
"""
_RUN = "SELECT id, dag_id, run_id, state, coalesce(end_date, run_after) AS at, start_date FROM dag_run"
# a dry run changes nothing, so it is no run of the integration here, whatever it would have done
_IMPORTS = "(conf IS NULL OR NOT coalesce(CAST(conf ->> 'dry_run' AS BOOLEAN), false))"


@functools.cache
def _recent_postgres() -> str:
    """`_RECENT_POSTGRES` with a branch per run type of this Airflow (`DagRunType`) and one for other run IDs."""
    from airflow.utils.types import DagRunType

    ranges = sorted((f"{kind.value}__0", f"{kind.value}__A") for kind in DagRunType)
    typed = [
        f"        ({_RUN} WHERE dag_id = wanted.dag_id AND run_id >= '{low}' AND run_id < '{high}' AND {_IMPORTS}\n"
        "         ORDER BY run_id DESC LIMIT :recent)"
        for low, high in ranges
    ]
    gaps = [f"run_id < '{ranges[0][0]}'", f"run_id >= '{ranges[-1][1]}'"]
    gaps[1:1] = [f"(run_id >= '{high}' AND run_id < '{low}')" for (_, high), (low, _) in itertools.pairwise(ranges)]
    other = (
        f"        ({_RUN} WHERE dag_id = wanted.dag_id AND ({' OR '.join(gaps)}) AND {_IMPORTS}\n"
        "         ORDER BY id DESC LIMIT :recent)"
    )
    return _RECENT_POSTGRES.format(branches="\n        UNION ALL\n".join([*typed, other]))


def _recent_runs_postgres(dag_ids: list[str]) -> tuple[Any, dict[str, Any]]:
    from sqlalchemy import text

    return text(_recent_postgres()), {"dag_ids": dag_ids, "wait_task": WAIT_TASK, "recent": RECENT_RUNS}


def _recent_runs(dag_ids: list[str]) -> Select[Any]:
    """The latest `RECENT_RUNS` runs that imported (or tried to) of each DAG, each with its wait's state (SQLite).

    A dry run changes nothing, so it is no run of the integration here, whatever it would have done.

    SQLite (Airflow's development database): `row_number() over (partition by dag_id order by id
    desc) <= RECENT_RUNS` over the DAGs' runs (`idx_dag_run_dag_id`); SQLite has no LATERAL
    (PostgreSQL: `_RECENT_POSTGRES`). Each run's `wait_for_file` task instance: the unique index
    `task_instance_composite_key` (dag_id, task_id, run_id, map_index), one lookup per run.
    """
    from airflow.models import DagRun, TaskInstance
    from sqlalchemy import false, func, or_, select

    run, ti = DagRun.__table__.c, TaskInstance.__table__
    imports = or_(run.conf.is_(None), func.coalesce(run.conf["dry_run"].as_boolean(), false()) == false())
    columns = (
        run.id,
        run.dag_id,
        run.run_id,
        run.state,
        func.coalesce(run.end_date, run.run_after).label("at"),
        run.start_date,
    )
    rank = func.row_number().over(partition_by=run.dag_id, order_by=run.id.desc()).label("rank")
    ranked = select(*columns, rank).where(run.dag_id.in_(dag_ids), imports).subquery("ranked")
    recent = select(*(ranked.c[c.name] for c in columns)).where(ranked.c.rank <= RECENT_RUNS).subquery("recent")
    # A correlated scalar subquery, not a join: a join lets the planner hash the whole table.
    wait = (
        select(ti.c.state)
        .where(
            ti.c.dag_id == recent.c.dag_id,
            ti.c.task_id == WAIT_TASK,
            ti.c.run_id == recent.c.run_id,
            ti.c.map_index == -1,
        )
        .scalar_subquery()
    )
    return select(*recent.c, wait.label("wait_state"))


def _messages(session: Session, run_ids: list[int]) -> dict[int, str]:
    """The outcome sentences of these runs (by the run's row id), where finalize pushed one."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    xcom = XComModel.__table__.c
    found: dict[int, str] = {}
    for start in range(0, len(run_ids), 500):
        rows = session.execute(
            select(xcom.dag_run_id, xcom.value).where(
                xcom.dag_run_id.in_(run_ids[start : start + 500]),
                xcom.task_id == OUTCOME_TASK,
                xcom.key == OUTCOME_XCOM,
                xcom.map_index == -1,
            )
        )
        for row in rows:
            outcome = outcome_value(row)
            if outcome and isinstance(outcome.get("message"), str):
                found[int(row.dag_run_id)] = outcome["message"]
    return found


# The task whose XCom `OUTCOME_XCOM` holds the run's outcome (pushed also when the run failed or
# found nothing): `{"outcome", "state", "dry_run", "message", "summary"}` (inbound.airflow.tasks).
OUTCOME_TASK = "finalize"


@dataclass(frozen=True)
class RunOutcome:
    """One DAG run as the UI's re-import follows it: Airflow's state and, once `finalize` pushed it, the outcome."""

    run_id: str
    state: str  # Airflow's DagRun state: queued | running | success | failed
    result: dict[str, Any] | None  # the `inbound_outcome` XCom of `finalize`; None until it is there

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "state": self.state, "result": self.result}


def run_outcome(dag_id: str, run_id: str) -> RunOutcome | None:
    """A run of `dag_id` with its outcome, from Airflow's metadata database; None if the DAG has no such run.

    A run ID no metadata database holds (past Airflow's 250 characters, a NUL, a lone
    surrogate) is no run, and the database is not asked: PostgreSQL raises on a NUL.
    """
    from airflow.utils.session import create_session

    if not _holdable(run_id):
        return None

    with create_session() as session:
        return _run_outcome(session, dag_id, run_id)


def _holdable(run_id: str) -> bool:
    if len(run_id) > MAX_RUN_ID or "\x00" in run_id:
        return False
    try:
        run_id.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _run_outcome(session: Session, dag_id: str, run_id: str) -> RunOutcome | None:
    from airflow.models import DagRun
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    run = DagRun.__table__.c
    found = session.execute(select(run.id, run.state).where(run.dag_id == dag_id, run.run_id == run_id)).one_or_none()
    if found is None:
        return None
    xcom = XComModel.__table__.c
    row = session.execute(
        select(xcom.value).where(
            xcom.dag_run_id == found.id,
            xcom.task_id == OUTCOME_TASK,
            xcom.key == OUTCOME_XCOM,
            xcom.map_index == -1,
        )
    ).one_or_none()
    return RunOutcome(run_id=run_id, state=str(found.state), result=outcome_value(row))


def outcome_value(row: Any) -> dict[str, Any] | None:
    """The outcome an XCom row holds, decoded as Airflow decodes XCom values.

    The column holds what the task SDK sent (`airflow.sdk.serde.serialize`: plain JSON, with
    `__classname__` wrappers for tuples and the like), or JSON text of it when it was set
    through `XComModel.serialize_value`; both decode here (`XComModel.deserialize_value`, then
    serde). A JSON string inside (a task that pushed `json.dumps(...)`) is decoded once more.
    Anything but an object is no outcome: None.
    """
    if row is None:
        return None
    from airflow.models.xcom import XComModel
    from airflow.sdk.serde import deserialize

    value = XComModel.deserialize_value(row)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    try:
        value = deserialize(value)
    except Exception:  # a class serde may not load here: the plain JSON is still the outcome
        log.debug("the outcome XCom holds a value serde cannot load; shown as stored")
    return _plain(value) if isinstance(value, dict) else None


def _plain(value: Any) -> Any:
    """JSON types only (a tuple serde restored becomes a list again)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
