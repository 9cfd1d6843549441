"""Config -> Airflow DAG: wires one `inbound.run.Run` into tasks; the factory the DAG files call.

    wait_for_file >> validate_and_map >> upsert_attributes >> finalize

`wait_for_file` is the sensor (`inbound.airflow.sensor`); `upsert_attributes` is an operator
of its own (`inbound.airflow.upsert`): it is the task that reports lineage to OpenLineage when
the provider is configured; what each task does with the run is in `inbound.airflow.tasks`,
the integration's assets in `inbound.airflow.assets`.

Each task rebuilds the run from the config snapshot `wait_for_file` pushed, so the whole
run uses one config version (a change takes effect at the next run), and calls one method
of it; results travel between tasks as JSON. A failed run and a high rejected share alert
through `inbound.airflow.alerts`. Nothing here touches the network or a database at parse time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import (
    DAG,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    DeltaTriggerTimetable,
    Param,
    get_parsing_context,
    task,
)

from inbound.airflow.assets import events_asset, writes_alias
from inbound.airflow.sensor import NewFilesSensor
from inbound.airflow.tasks import (
    failure_callback,
    finalize_run,
    found_files,
    found_snapshot,
    opened_run,
    reported,
    task_payload,
)
from inbound.airflow.upsert import UpsertAttributesOperator, without_hook_lineage
from inbound.config.catalog import Catalog, load_folder
from inbound.config.model import Integration
from inbound.errors import ConfigInvalid

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
TAG = "inbound"
RETRY_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}
# Airflow ranks queued tasks by priority weight, by default the number of tasks downstream: every
# new run's wait and mapping would go before the writes and moves of the runs already under way,
# and under a backlog no file would finish until no new run were left. Weighted upstream, a task
# that carries a run further goes first: runs end in the order they began.
TASK_DEFAULTS: dict[str, Any] = {**RETRY_DEFAULTS, "weight_rule": "upstream"}
PARAMS = {
    "key": Param(
        None,
        type=["null", "string"],
        title="Object key (re-import)",
        description="Import this one file now instead of the waiting ones: a key of this "
        "integration's source, also one in its failed/ or success/ folder (e.g. "
        "crm/failed/20261128T060000Z_users.csv after fixing the config or the file). A file that "
        "imports well moves to the source folder's success/. A key that does not exist (the run names "
        "where a moved file is now), a report or a folder fails the run.",
    ),
    "dry_run": Param(
        False,
        type="boolean",
        description="Only show what the files would do: finalize's XCom inbound_outcome says it (counts, "
        "rejected rows by kind, column and line; `inbound preview` shows a sample of changed users). Nothing "
        "is written, moved, reported or logged, whatever the outcome; a file that would fail fails the run.",
    ),
    "force": Param(
        False,
        type="boolean",
        description="Write past the guards (a mirror file removing more users than mirror_max_removed, a "
        "file deleting more than max_deleted, a suspicious drop in rows or an emptied column, new columns "
        "under on_new_columns: fail), and re-import a file identical to an earlier import.",
    ),
}


def _schedule(integration: Integration) -> Any:
    """The config's schedule; in event mode, the integration's events *or* that schedule (the sweep)."""
    schedule = integration.schedule.strip()
    plain: Any = integration.interval if schedule.upper().startswith("P") else schedule
    asset = events_asset(integration)
    if asset is None:
        return plain
    timetable = (
        DeltaTriggerTimetable(plain) if isinstance(plain, timedelta) else CronTriggerTimetable(plain, timezone="UTC")
    )
    return AssetOrTimeSchedule(timetable=timetable, assets=asset)


def _poke_interval(interval: timedelta) -> float:
    """Poll often enough to pick a file up within a thirtieth of the interval, 30 s to 5 min."""
    return min(max(interval.total_seconds() / 30, 30.0), 300.0)


def _wait_timeout(interval: timedelta) -> float:
    """A scheduled run waits for most of its interval, and gives up one look before the next run starts."""
    return max(interval.total_seconds() - _poke_interval(interval), 30.0)


def doc_md(integration: Integration) -> str:
    rows = "\n".join(f"| `{a.column}` | `{a.attribute}` | {a.type} |" for a in integration.attributes)
    shown = integration.shown_description
    description = f"{shown}\n\n" if shown else ""
    return (
        f"### Inbound integration `{integration.name}`\n\n{description}"
        f"- **Source:** `{integration.shown_source}` (connection `{integration.source.aws_conn_id}`)\n"
        f"- **Schedule:** `{integration.schedule}`\n"
        f"- **Start:** {integration.start_words}\n"
        f"- **User ID column:** `{integration.user_id.column}`\n"
        f"- **Config:** `{integration.file}` (version `{integration.version}`)\n\n"
        f"| column | attribute | type |\n|---|---|---|\n{rows}\n\n"
        "Trigger manually to import the files that are waiting now (a manual run never waits); with "
        "the `key` param, to re-import one file (also from `failed/` after a fix)."
    )


def build_dag(integration: Integration) -> DAG:
    """One integration's DAG. Runs may overlap (a manual run never queues behind a waiting one);
    writers of one integration are serialized by the store's per-integration lock."""
    interval = integration.interval
    with DAG(
        dag_id=integration.dag_id,
        description=integration.shown_description or f"Inbound S3 -> attributes from {integration.shown_source}",
        schedule=_schedule(integration),
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=not integration.enabled,
        doc_md=doc_md(integration),
        tags=[TAG],
        default_args=TASK_DEFAULTS,
        params=PARAMS,
    ) as dag:
        on_failure = failure_callback(integration)
        wait = NewFilesSensor(
            task_id="wait_for_file",
            on_failure_callback=on_failure,
            snapshot=integration.snapshot(),
            mode="reschedule",  # only used when not deferrable
            poke_interval=_poke_interval(interval),
            timeout=_wait_timeout(interval),
            soft_fail=True,
            retries=RETRY_DEFAULTS["retries"],
        )

        # A returned value is XCom; Airflow would also print it into the task log: the tasks log their own lines.
        @task(task_id="validate_and_map", show_return_value_in_logs=False)
        def validate_and_map(found: dict[str, Any]) -> dict[str, Any]:
            with reported(), opened_run(integration, found_snapshot(found)) as run:
                return task_payload(found_snapshot(found), run.map(found_files(found)))

        @task(
            task_id="finalize", trigger_rule="all_done", on_failure_callback=on_failure, show_return_value_in_logs=False
        )
        def finalize() -> dict[str, Any]:
            return finalize_run(integration)

        written = UpsertAttributesOperator(
            task_id="upsert_attributes",
            integration_snapshot=integration.snapshot(),
            mapped=validate_and_map(wait.output),  # type: ignore[arg-type]
            outlets=[writes_alias(integration)],
        )
        written >> finalize()
    without_hook_lineage(dag)
    return dag


def build_dags(catalog: Catalog | None = None) -> dict[str, DAG]:
    """Every valid integration's DAG, keyed by DAG id; only the needed one on a worker."""
    catalog = catalog if catalog is not None else load_folder()
    wanted = get_parsing_context().dag_id
    return {
        integration.dag_id: build_dag(integration)
        for integration in catalog.integrations.values()
        if wanted is None or wanted == integration.dag_id
    }


def raise_config_errors(catalog: Catalog | None = None) -> None:
    """Make broken configs an import error in the Airflow UI, without touching valid DAGs."""
    catalog = catalog if catalog is not None else load_folder()
    if catalog.errors:
        details = "\n\n".join(str(e) for e in catalog.errors)
        raise ConfigInvalid(
            f"{len(catalog.errors)} integration config problem(s); the integrations concerned are not "
            f"scheduled (the others run as usual). Check locally with `inbound validate`.\n\n{details}"
        )
