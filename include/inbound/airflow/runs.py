"""What Airflow knows about the integrations: pause state, the last run of each DAG, one run's outcome.

Run history lives in Airflow (the management table is a view on it); this module reads
Airflow's metadata database the way Airflow's own CLI does (also the outcome a run's
`finalize` task pushes, which the UI's re-import shows), and writes the one thing the
plugin changes there: a DAG's pause state (the on/off toggle). Without a migrated metadata
database (a fresh checkout) `dag_states` answers "unknown" rather than failing.

Airflow's models are imported when a function runs, not with the module: the management
table (`inbound.airflow.management`) and its tests use `DagState` without loading Airflow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from inbound.results import OUTCOME_XCOM

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DagState:
    dag_id: str
    is_paused: bool | None  # None: the DAG processor has not seen the DAG yet
    last_run_at: str | None
    last_run_state: str | None  # success | failed | running | queued | None
    last_run_skipped: bool  # the run found no new file
    last_run_id: str | None
    successful_runs: int
    last_run_message: str | None = None  # the sentence the last run's finalize left (`inbound_outcome`)


@dataclass(frozen=True)
class _LastRun:
    run_id: str
    state: str
    at: datetime | None  # when it ended, else when it was due
    message: str | None = None  # its outcome's sentence, once finalize pushed it


@dataclass
class _Facts:
    """What the metadata database says about a set of DAGs, read in four statements."""

    paused: dict[str, bool] = field(default_factory=dict)
    last: dict[str, _LastRun] = field(default_factory=dict)
    successes: dict[str, int] = field(default_factory=dict)
    skipped: set[tuple[str, str]] = field(default_factory=set)  # (dag_id, run_id) whose wait found no file

    def state(self, dag_id: str) -> DagState:
        run = self.last.get(dag_id)
        return DagState(
            dag_id=dag_id,
            is_paused=self.paused.get(dag_id),
            last_run_at=run.at.isoformat() if run and run.at else None,
            last_run_state=run.state if run else None,
            last_run_skipped=run is not None and (dag_id, run.run_id) in self.skipped,
            last_run_id=run.run_id if run else None,
            successful_runs=self.successes.get(dag_id, 0),
            last_run_message=run.message if run else None,
        )


MAX_RUN_ID = 250  # the length of dag_run.run_id in Airflow's metadata database


def dag_states(dag_ids: list[str]) -> dict[str, DagState]:
    """Pause state and last run per DAG id, from Airflow's metadata database."""
    try:
        from airflow.utils.session import create_session

        with create_session() as session:
            facts = _read(session, dag_ids)
    except Exception as exc:  # no metadata database yet: the table still shows the configs
        log.debug("Airflow metadata database not readable: %s", exc)
        return {}
    return {dag_id: facts.state(dag_id) for dag_id in dag_ids}


def _read(session: Session, dag_ids: list[str]) -> _Facts:
    # The tables' Core columns, not the ORM attributes: an ORM select configures every mapper
    # of Airflow's models first (about 0.75 s of `inbound status`), and nothing here needs them.
    from airflow.models import DagModel, DagRun, TaskInstance
    from sqlalchemy import false, func, or_, select

    dag, run, ti = DagModel.__table__.c, DagRun.__table__.c, TaskInstance.__table__.c
    facts = _Facts()
    for dag_id, is_paused in session.execute(select(dag.dag_id, dag.is_paused).where(dag.dag_id.in_(dag_ids))):
        facts.paused[dag_id] = is_paused
    # The last run that imported (or tried to): a dry run changes nothing, so it is not the
    # integration's last run here, whatever it would have done.
    imports = or_(run.conf.is_(None), func.coalesce(run.conf["dry_run"].as_boolean(), false()) == false())
    latest = (
        select(run.dag_id, func.max(run.id).label("id"))
        .where(run.dag_id.in_(dag_ids), imports)
        .group_by(run.dag_id)
        .subquery()
    )
    found = session.execute(
        select(run.id, run.dag_id, run.run_id, run.state, run.run_after, run.end_date).join(
            latest, run.id == latest.c.id
        )
    ).all()
    messages = _messages(session, [row.id for row in found])
    for row in found:
        facts.last[row.dag_id] = _LastRun(
            run_id=row.run_id, state=str(row.state), at=row.end_date or row.run_after, message=messages.get(row.id)
        )
    for dag_id, count in session.execute(
        select(run.dag_id, func.count()).where(run.dag_id.in_(dag_ids), run.state == "success").group_by(run.dag_id)
    ):
        facts.successes[dag_id] = int(count)
    for dag_id, run_id in session.execute(
        select(ti.dag_id, ti.run_id).where(ti.dag_id.in_(dag_ids), ti.task_id == "wait_for_file", ti.state == "skipped")
    ):
        facts.skipped.add((dag_id, run_id))
    return facts


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


def set_paused(dag_id: str, paused: bool) -> bool:
    """Pause or unpause a DAG, as its toggle in Airflow's UI does; False if Airflow does not know it yet."""
    from airflow.models import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        dag = session.get(DagModel, dag_id)
        if dag is None:
            return False
        dag.is_paused = paused
    return True


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
