"""Config -> Airflow DAG: wires the steps into tasks (the sensor lives in `inbound.sensor`).

    wait_for_file >> validate_and_map >> upsert_attributes >> finalize

The tasks are thin: each calls one step of `inbound.pipeline` for the run's files; a
failed run and a high rejected share alert through `inbound.alerts`.
The config a run uses is the one `wait_for_file` saw; it travels through XCom as a
snapshot, so a config change takes effect at the next run, never halfway through one.
Nothing here touches the network or a database at parse time.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetAlias, Param, get_current_context, get_parsing_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from inbound import alerts, pipeline
from inbound.config import Catalog, Integration, load_folder
from inbound.connections import s3_client, store
from inbound.sensor import NewFilesSensor
from inbound.source import S3File

log = logging.getLogger(__name__)
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
TAG = "inbound"
RETRY_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}


class ConfigErrors(Exception):
    """Raised by the error-reporting DAG file so that Airflow shows it as an import error."""


def attributes_asset(integration: Integration) -> Asset:
    """The Airflow Asset of an integration's attributes: downstream DAGs schedule on it."""
    return Asset(name=f"inbound_{integration.name}", uri=f"inbound://attributes/{integration.name}")


def _writes_alias(integration: Integration) -> AssetAlias:
    """Through an alias, an event is emitted only when a run actually changed attributes."""
    return AssetAlias(f"inbound_{integration.name}_writes")


def _schedule(integration: Integration) -> Any:
    schedule = integration.schedule.strip()
    return integration.interval if schedule.upper().startswith("P") else schedule


def deferrable() -> bool:
    """`wait_for_file` waits in the triggerer unless INBOUND_DEFERRABLE=false (no triggerer)."""
    return os.environ.get("INBOUND_DEFERRABLE", "true").strip().lower() not in {"0", "false", "no", "off"}


def _poke_interval(interval: timedelta) -> float:
    """Poll often enough to pick a file up within a thirtieth of the interval, 30 s to 5 min."""
    return min(max(interval.total_seconds() / 30, 30.0), 300.0)


def doc_md(integration: Integration) -> str:
    rows = "\n".join(f"| `{a.column}` | `{a.attribute}` | {a.type} |" for a in integration.attributes)
    description = f"{integration.description}\n\n" if integration.description else ""
    return (
        f"### Inbound integration `{integration.name}`\n\n{description}"
        f"- **Source:** `{integration.source.uri}` (connection `{integration.source.aws_conn_id}`)\n"
        f"- **Schedule:** `{integration.schedule}`\n"
        f"- **User ID column:** `{integration.user_id.column}`\n"
        f"- **Config:** `{integration.file}` (version `{integration.version}`)\n\n"
        f"| column | attribute | type |\n|---|---|---|\n{rows}\n\n"
        "Trigger manually to import files that are waiting now; with the `key` param, to re-import one "
        "file (also from `failed/` after a fix)."
    )


def _triggered_by() -> tuple[str, str]:
    context = get_current_context()
    run_id = context["run_id"]
    return f"airflow:{context['dag'].dag_id}/{run_id}", run_id


def build_dag(integration: Integration) -> DAG:
    """One integration's DAG."""
    interval = integration.interval
    with DAG(
        dag_id=integration.dag_id,
        description=integration.description or f"Inbound S3 -> attributes from {integration.source.uri}",
        schedule=_schedule(integration),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=not integration.enabled,
        doc_md=doc_md(integration),
        tags=[TAG],
        default_args=RETRY_DEFAULTS,
        params={
            "key": Param(
                None,
                type=["null", "string"],
                title="Object key (re-import)",
                description="Import this one file now instead of waiting for new ones: a key of this "
                "integration's source, also one in its failed/ or success/ folder (e.g. "
                "crm/failed/20261128T060000Z_users.csv after fixing the config or the file). A file that "
                "imports well moves to the source folder's success/.",
            ),
            "dry_run": Param(
                False,
                type="boolean",
                description="Only show what the waiting files would do (counts and a sample of changes in the "
                "task log and XCom); nothing is written and the files stay where they are.",
            ),
            "force": Param(
                False,
                type="boolean",
                description="Write even when a mirror file would remove more users than mirror_max_removed, "
                "and re-import a file identical to an earlier import.",
            ),
        },
    ) as dag:
        on_failure = _failure_callback(integration)
        wait = NewFilesSensor(
            task_id="wait_for_file",
            on_failure_callback=on_failure,
            snapshot=integration.snapshot(),
            deferrable=deferrable(),
            mode="reschedule",  # only used when not deferrable
            poke_interval=_poke_interval(interval),
            timeout=interval.total_seconds(),
            soft_fail=True,
            retries=RETRY_DEFAULTS["retries"],
        )

        @task(task_id="validate_and_map")
        def validate_and_map(found: dict[str, Any]) -> dict[str, Any]:
            integration = Integration.from_snapshot(found["snapshot"])
            _, run_id = _triggered_by()
            params = get_current_context()["params"]
            client = s3_client(integration.source.aws_conn_id)
            staging = pipeline.run_staging(integration, run_id)
            attribute_store = store()
            shortcut = None if (params.get("force") or params.get("dry_run")) else attribute_store
            try:
                results = [
                    pipeline.validate_and_map(client, integration, S3File.from_dict(f), staging, shortcut).to_dict()
                    for f in found["files"]
                ]
            finally:
                attribute_store.close()
            return {"snapshot": found["snapshot"], "results": results}

        @task(task_id="upsert_attributes", outlets=[_writes_alias(integration)])
        def upsert_attributes(mapped: dict[str, Any]) -> dict[str, Any]:
            integration = Integration.from_snapshot(mapped["snapshot"])
            triggered_by, _ = _triggered_by()
            params = get_current_context()["params"]
            attribute_store = store()
            try:
                results = [
                    pipeline.upsert_attributes(
                        attribute_store,
                        integration,
                        pipeline.FileResult.from_dict(r),
                        triggered_by,
                        force=bool(params.get("force")),
                        dry_run=bool(params.get("dry_run")),
                    ).to_dict()
                    for r in mapped["results"]
                ]
            finally:
                attribute_store.close()
            _emit_asset_event(integration, results)
            return {"snapshot": mapped["snapshot"], "results": results}

        @task(task_id="finalize", trigger_rule="all_done", on_failure_callback=on_failure)
        def finalize() -> dict[str, Any]:
            return _finalize()

        written = upsert_attributes(validate_and_map(wait.output))
        written >> finalize()
    return dag


def _failure_callback(integration: Integration) -> list[Any]:
    """A failed run alerts once: `finalize` fails whenever a file failed or was left behind,
    and `wait_for_file` when S3 could not be listed (then `finalize` is skipped)."""
    if integration.alerts is None or not integration.alerts.on_failure:
        return []

    def alert(context: Any) -> None:
        reason = str(context.get("exception") or "see the task log")
        alerts.send(integration, alerts.failure_alert(integration, context["run_id"], reason.split("; ")), context)

    return [alert]


def _emit_asset_event(integration: Integration, results: list[dict[str, Any]]) -> None:
    """One asset event per run that changed attributes, with the run's counts as its extra."""
    writes = [
        r["write"]
        for r in results
        if r.get("write") and not r["write"].get("dry_run") and not r["write"].get("skipped")
    ]
    counts = {
        key: sum(w.get(key, 0) for w in writes)
        for key in (
            "rows_read",
            "rows_rejected",
            "rows_written",
            "inserted",
            "updated",
            "unchanged",
            "cleared",
            "removed",
        )
    }
    if counts["rows_written"]:
        counts["files"] = len(writes)
        get_current_context()["outlet_events"][_writes_alias(integration)].add(
            attributes_asset(integration), extra=counts
        )


def _finalize() -> dict[str, Any]:
    """Move every file the run saw; fail the run if any file failed or was left behind."""

    context = get_current_context()
    ti = context["ti"]
    found = ti.xcom_pull(task_ids="wait_for_file")
    if not found:
        raise AirflowSkipException("no new file")
    latest = ti.xcom_pull(task_ids="upsert_attributes") or ti.xcom_pull(task_ids="validate_and_map")
    if latest:
        results = [pipeline.FileResult.from_dict(r) for r in latest["results"]]
    else:
        results = [pipeline.FileResult(file=f) for f in found["files"]]
    integration = Integration.from_snapshot(found["snapshot"])
    triggered_by, run_id = _triggered_by()
    client = s3_client(integration.source.aws_conn_id)
    attribute_store = store()
    try:
        catalog = load_folder()  # the current configs: who else reads a shared file
        done = [pipeline.finalize(client, attribute_store, integration, r, triggered_by, catalog) for r in results]
    finally:
        attribute_store.close()
    pipeline.clean_staging(pipeline.run_staging(integration, run_id))
    summary = pipeline.RunSummary(integration.name, done)
    for line in summary.lines():
        log.info("%s", line)
    alerts.send(
        integration, alerts.rejected_alert(integration, run_id, summary.rows_read, summary.rows_rejected), context
    )
    if summary.failed:
        raise AirflowFailException(
            "; ".join(
                f"{f.s3_file.uri}: {f.error or 'not processed (an earlier task failed; the file stays for the next run)'}"
                for f in summary.failed
            )
        )
    return summary.to_dict()


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
        raise ConfigErrors(
            f"{len(catalog.errors)} integration config problem(s); the integrations concerned are not "
            f"scheduled (the others run as usual). Check locally with `inbound validate`.\n\n{details}"
        )


__all__ = ["AirflowFailException", "NewFilesSensor", "build_dag", "build_dags", "raise_config_errors"]
