"""What Airflow knows about the integrations: pause state and the last run of each DAG.

Run history lives in Airflow (the management table is a view on it); this module reads
Airflow's metadata database the way Airflow's own CLI does. Without a migrated metadata
database (a fresh checkout) it answers "unknown" rather than failing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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


def dag_states(dag_ids: list[str]) -> dict[str, DagState]:
    """Pause state and last run per DAG id, from Airflow's metadata database."""
    try:
        from airflow.models import DagModel, DagRun, TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import func, select

        with create_session() as session:
            paused = dict(
                session.execute(select(DagModel.dag_id, DagModel.is_paused).where(DagModel.dag_id.in_(dag_ids))).all()
            )
            latest = (
                select(DagRun.dag_id, func.max(DagRun.id).label("id"))
                .where(DagRun.dag_id.in_(dag_ids))
                .group_by(DagRun.dag_id)
                .subquery()
            )
            runs = session.execute(
                select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.run_after, DagRun.end_date).join(
                    latest, DagRun.id == latest.c.id
                )
            ).all()
            successes = dict(
                session.execute(
                    select(DagRun.dag_id, func.count())
                    .where(DagRun.dag_id.in_(dag_ids), DagRun.state == "success")
                    .group_by(DagRun.dag_id)
                ).all()
            )
            skipped = {
                (dag_id, run_id)
                for dag_id, run_id in session.execute(
                    select(TaskInstance.dag_id, TaskInstance.run_id).where(
                        TaskInstance.dag_id.in_(dag_ids),
                        TaskInstance.task_id == "wait_for_file",
                        TaskInstance.state == "skipped",
                    )
                ).all()
            }
    except Exception as exc:  # no metadata database yet: the table still shows the configs
        log.debug("Airflow metadata database not readable: %s", exc)
        return {}
    states = {}
    for dag_id in dag_ids:
        run = next((r for r in runs if r.dag_id == dag_id), None)
        when = (run.end_date or run.run_after) if run else None
        states[dag_id] = DagState(
            dag_id=dag_id,
            is_paused=paused.get(dag_id),
            last_run_at=when.isoformat() if when else None,
            last_run_state=str(run.state) if run else None,
            last_run_skipped=bool(run) and (dag_id, run.run_id) in skipped,
            last_run_id=run.run_id if run else None,
            successful_runs=int(successes.get(dag_id, 0)),
        )
    return states
