"""Config -> Airflow DAG: wires one `inbound.run.Run` into tasks (the sensor lives in `inbound.airflow.sensor`).

    wait_for_file >> validate_and_map >> upsert_attributes >> finalize

`upsert_attributes` is an operator of its own (`UpsertAttributesOperator`): it is the task
that reports lineage to OpenLineage when the provider is configured.

Each task rebuilds the run from the config snapshot `wait_for_file` pushed, so the whole
run uses one config version (a change takes effect at the next run), and calls one method
of it; results travel between tasks as JSON. A failed run and a high rejected share alert
through `inbound.airflow.alerts`. Nothing here touches the network or a database at parse time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import (
    DAG,
    Asset,
    AssetAlias,
    AssetOrTimeSchedule,
    AssetWatcher,
    BaseOperator,
    CronTriggerTimetable,
    DeltaTriggerTimetable,
    Param,
    get_current_context,
    get_parsing_context,
    task,
)
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from inbound.airflow import alerts, metrics
from inbound.airflow.connections import s3_client, staging_client, store
from inbound.airflow.queue_trigger import QueueEventsTrigger
from inbound.airflow.sensor import NewFilesSensor
from inbound.config.catalog import Catalog, load_folder
from inbound.config.model import Integration
from inbound.errors import ConfigInvalid, InboundError, ReceivedInvalid, StageGone, Unavailable
from inbound.outcome import Outcome
from inbound.results import COUNTS, ERROR_XCOM, OUTCOME_XCOM, FileResult, RunSummary
from inbound.run import Run, received
from inbound.s3.layout import S3File
from inbound.store import Location

log = logging.getLogger(__name__)
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
TAG = "inbound"
RETRY_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}
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
        description="Write even when a mirror file would remove more users than mirror_max_removed, "
        "and re-import a file identical to an earlier import.",
    ),
}


def attributes_asset(integration: Integration) -> Asset:
    """The Airflow Asset of an integration's attributes: downstream DAGs schedule on it."""
    return Asset(name=f"inbound_{integration.name}", uri=f"inbound://attributes/{integration.name}")


def _writes_alias(integration: Integration) -> AssetAlias:
    """Through an alias, an event is emitted only when a run actually changed attributes."""
    return AssetAlias(f"inbound_{integration.name}_writes")


def events_asset(integration: Integration) -> Asset | None:
    """In event mode, the asset the queue's S3 events update for this integration; None when polled.

    Its watcher runs `QueueEventsTrigger` in the triggerer; each event it fires (the source's
    new files) becomes an asset event that starts (or joins) a run of the integration's DAG.
    """
    source = integration.source
    if source.events is None:
        return None
    trigger = QueueEventsTrigger(
        queue=source.events.queue,
        aws_conn_id=source.events_conn_id,
        bucket=source.bucket,
        key=source.key,
        marker=source.marker,
    )
    return Asset(
        name=f"inbound_{integration.name}_files",
        uri=f"inbound://files/{integration.name}",
        watchers=[AssetWatcher(name=f"inbound_{integration.name}_queue", trigger=trigger)],
    )


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


@contextmanager
def _reported() -> Iterator[None]:
    """A task that fails for a reason of ours leaves the reason for `finalize` (and the UI) to tell.

    Retrying cannot help a staged set that is gone or a handed-over XCom that is not this
    run's: those fail the task at once. A service that is down raises as it is (retries).
    """
    try:
        yield
    except InboundError as exc:
        get_current_context()["ti"].xcom_push(key=ERROR_XCOM, value=str(exc))
        if isinstance(exc, StageGone | ReceivedInvalid) or not isinstance(exc, Unavailable):
            raise AirflowFailException(str(exc)) from None
        raise


@contextmanager
def _run(own: Integration, snapshot: Any) -> Iterator[Run]:
    """This task's view of the run: the snapshot's config (checked to be its DAG's), the run's
    params, an open store."""
    context = get_current_context()
    integration = received(own, snapshot)
    params = context["params"]
    with store() as attribute_store:
        yield Run(
            integration,
            s3_client(integration.source.aws_conn_id),
            attribute_store,
            run_id=context["run_id"],
            triggered_by=f"airflow:{context['dag'].dag_id}/{context['run_id']}",
            force=bool(params.get("force")),
            dry_run=bool(params.get("dry_run")),
            staging_client=staging_client(),
        )


def _results(payload: Any) -> list[FileResult]:
    """The files an upstream task handed on (XCom, which users may edit): read, or refused clearly."""
    try:
        return [FileResult.from_json(r) for r in payload["results"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReceivedInvalid(f"the run's results in XCom cannot be read ({type(exc).__name__}: {exc})") from None


def _snapshot(payload: Any) -> Any:
    """The config snapshot an upstream task handed on (checked by `inbound.run.received`)."""
    return payload.get("snapshot") if isinstance(payload, dict) else None


def _files(found: Any) -> list[S3File]:
    """The files `wait_for_file` handed on (XCom): read, or refused clearly."""
    try:
        return [S3File.from_dict(f) for f in found["files"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReceivedInvalid(f"the run's files in XCom cannot be read ({type(exc).__name__}: {exc})") from None


def _payload(snapshot: dict[str, Any], results: list[FileResult]) -> dict[str, Any]:
    """What a task hands on in XCom: never a value (a dry run's sample of changed users stays out)."""
    return {"snapshot": snapshot, "results": [r.to_json(values=False) for r in results]}


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
        default_args=RETRY_DEFAULTS,
        params=PARAMS,
    ) as dag:
        on_failure = _failure_callback(integration)
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
            with _reported(), _run(integration, _snapshot(found)) as run:
                return _payload(_snapshot(found), run.map(_files(found)))

        @task(
            task_id="finalize", trigger_rule="all_done", on_failure_callback=on_failure, show_return_value_in_logs=False
        )
        def finalize() -> dict[str, Any]:
            return _finalize(integration)

        written = UpsertAttributesOperator(
            task_id="upsert_attributes",
            integration_snapshot=integration.snapshot(),
            mapped=validate_and_map(wait.output),  # type: ignore[arg-type]
            outlets=[_writes_alias(integration)],
        )
        written >> finalize()
    _without_hook_lineage(dag)
    return dag


def _without_hook_lineage(dag: DAG) -> None:
    """One clean edge per import: no task reports what Airflow's hooks collected on the way
    (a staged part, a copy to `success/`), only what `upsert_attributes` says it read and wrote.

    Only when the OpenLineage provider is installed and on: otherwise nothing is imported or set.
    """
    extend = _lineage_policy()
    for task_ in dag.tasks if extend else ():
        extend(task_, hook_lineage=False)


@functools.cache
def _lineage_policy() -> Any:
    """The provider's `extend_global_openlineage_emission_policy` when lineage is on, else None;
    decided once per process (a DAG processor builds hundreds of DAGs)."""
    try:
        from airflow.providers.openlineage import conf
    except ImportError:
        return None
    if conf.is_disabled():
        return None
    from airflow.providers.openlineage.api.emission_policy import extend_global_openlineage_emission_policy

    return extend_global_openlineage_emission_policy


class UpsertAttributesOperator(BaseOperator):
    """`upsert_attributes`: the run's mapped files into the store, each file in one transaction.

    The one task that writes, so the one that reports lineage: with the OpenLineage provider
    configured, its START, COMPLETE and FAIL events carry each imported S3 object in and the
    integration's table and the read-contract view out (`inbound.pipeline.lineage`). Without it these
    methods are never called and nothing is imported for them.

    :param mapped: `validate_and_map`'s result (an XComArg): the run's config snapshot and its
        files, mapped and staged.
    """

    template_fields = ("mapped",)

    def __init__(self, *, mapped: Any, integration_snapshot: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mapped = mapped
        self.integration_snapshot = integration_snapshot  # the DAG's own config, what `mapped` must be of
        self._written: list[FileResult] | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        own = Integration.from_snapshot(self.integration_snapshot)
        with _reported(), _run(own, _snapshot(self.mapped)) as run:
            results = run.write(_results(self.mapped))
        self._written = results
        _emit_asset_event(run.integration, results)
        return _payload(_snapshot(self.mapped), results)

    def _integration(self) -> Integration:
        return Integration.from_snapshot(self.mapped["snapshot"])

    def get_openlineage_facets_on_start(self) -> Any:
        from inbound.pipeline import lineage

        return _operator_lineage(lineage.of_start(self._integration(), _results(self.mapped)))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from inbound.pipeline import lineage

        integration = self._integration()  # COMPLETE follows `execute`, which set `_written`
        return _operator_lineage(lineage.of_write(integration, self._written or [], _store_location(integration)))

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        from inbound.pipeline import lineage

        return _operator_lineage(lineage.of_failure(self._integration(), _results(self.mapped)))


def _store_location(integration: Integration) -> Location | None:
    """Where the integration's values are, for its lineage; None (and a warning) if the store cannot say."""
    try:
        with store(migrate=False) as attribute_store:
            return attribute_store.location(integration.name)
    except Exception:
        log.warning(
            "lineage for %s: the store's location is unknown; no outputs reported", integration.name, exc_info=True
        )
        return None


def _operator_lineage(found: Any) -> Any:
    """`inbound.pipeline.lineage.Lineage` as the provider's `OperatorLineage` (imported only when lineage is on)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=found.inputs, outputs=found.outputs, run_facets=found.run_facets)


def _failure_callback(integration: Integration) -> list[Any]:
    """A failed run alerts once: `finalize` fails whenever a file failed or was left behind,
    and `wait_for_file` when S3 could not be listed (then `finalize` is skipped)."""
    if integration.alerts is None or not integration.alerts.on_failure:
        return []

    def alert(context: Any) -> None:
        if (context.get("params") or {}).get("dry_run"):
            return  # a dry run that would fail changed nothing: its answer is for the person who asked
        reason = str(context.get("exception") or "see the task log")
        alerts.send(integration, alerts.failure_alert(integration, context["run_id"], reason.split("; ")), context)

    return [alert]


def _emit_asset_event(integration: Integration, results: list[FileResult]) -> None:
    """One asset event per run that changed attributes, with the run's counts as its extra."""
    writes = RunSummary(integration.name, tuple(r for r in results if r.write and not r.previewed and not r.skipped))
    if not writes.rows_written:
        return
    counts: dict[str, Any] = {
        "rows_read": writes.rows_read,
        "rows_rejected": writes.rows_rejected,
        "rows_written": writes.rows_written,
        **{count: writes.total(count) for count in COUNTS},
        "files": len(writes.files),
    }
    get_current_context()["outlet_events"][_writes_alias(integration)].add(attributes_asset(integration), extra=counts)


def _finalize(integration: Integration) -> dict[str, Any]:
    """Move every file the run saw and settle the due shared files; end the run as it went.

    The one task that says how the run ended: its `inbound_outcome` XCom (pushed also when
    it fails or skips) holds the outcome, a sentence and the summary. A run fails when a file
    failed (a dry run: would fail), when a file was left unprocessed, and when the named key
    was refused; it is skipped when nothing was waiting.
    """
    context = get_current_context()
    ti = context["ti"]
    dry_run = bool(context["params"].get("dry_run"))
    found = ti.xcom_pull(task_ids="wait_for_file")
    if not found:  # no new file, or the wait failed (a refused key, S3 down)
        refused = _wait_failed(context)
        if refused is not None:
            _conclude(Outcome.FAILED, "failed", refused, None, dry_run)
            raise AirflowFailException(refused)
        return _settle_only(integration, dry_run)
    latest = ti.xcom_pull(task_ids="upsert_attributes") or ti.xcom_pull(task_ids="validate_and_map")
    try:
        if latest:
            results = _results(latest)
        else:  # an earlier task failed: the files stay for the next run
            results = [FileResult(s3_file=f) for f in _files(found)]
        with _run(integration, _snapshot(found)) as run:
            summary = run.finalize(results)
    except InboundError as exc:
        _conclude(Outcome.FAILED, "failed", str(exc), None, dry_run)
        raise AirflowFailException(str(exc)) from None
    for line in summary.lines(values=False):
        log.info("%s", line)
    _emit_metrics(integration, summary, context)
    if not dry_run:
        alerts.send(
            integration,
            alerts.rejected_alert(integration, context["run_id"], summary.rows_read, summary.rows_rejected),
            context,
        )
    if summary.failed:
        why = _upstream_errors(context)
        message = summary.message() + (f" ({why})" if why else "")
        _conclude(summary.outcome, "failed", message, summary, dry_run)
        raise AirflowFailException(message)
    _conclude(summary.outcome, "success", summary.message(), summary, dry_run)
    return summary.to_json(values=False)


def _conclude(outcome: Outcome, state: str, message: str, summary: RunSummary | None, dry_run: bool) -> None:
    """finalize's `inbound_outcome` XCom: what the run did, whatever its end (the UI's answer)."""
    value = {
        "outcome": str(outcome),
        "state": state,
        "dry_run": dry_run,
        "message": message,
        "lines": [] if summary is None else summary.lines(values=False),  # what `inbound run` prints, no values
        "summary": None if summary is None else summary.to_json(values=False),
    }
    get_current_context()["ti"].xcom_push(key=OUTCOME_XCOM, value=value)


def _wait_failed(context: Any) -> str | None:
    """Why `wait_for_file` failed (a refused key, S3 unreachable), or None if it did not fail."""
    ti, dag_run = context["ti"], context["dag_run"]
    states = ti.get_task_states(dag_id=dag_run.dag_id, task_ids=["wait_for_file"], run_ids=[dag_run.run_id])
    state = str(states.get(dag_run.run_id, {}).get("wait_for_file") or "")
    if state not in ("failed", "upstream_failed"):
        return None
    said = ti.xcom_pull(task_ids="wait_for_file", key=ERROR_XCOM)
    return str(said) if said else "wait_for_file failed (S3 could not be listed, or it broke): see its task log"


def _upstream_errors(context: Any) -> str:
    """The reasons the mapping or the write task left (a staged set gone, the store down, ...)."""
    ti = context["ti"]
    said = [ti.xcom_pull(task_ids=task_id, key=ERROR_XCOM) for task_id in ("validate_and_map", "upsert_attributes")]
    return "; ".join(str(s) for s in said if s)


def _settle_only(integration: Integration, dry_run: bool) -> dict[str, Any]:
    """A run that found no new file still moves the shared files that became due."""
    try:
        with _run(integration, integration.snapshot()) as run:
            settled = [] if run.dry_run else run.settle_due()
    except Unavailable as exc:  # the wait failed on it already (and alerted); the next run settles
        log.warning("shared files not settled: %s", exc)
        settled = []
    summary = RunSummary(integration.name, (), tuple(settled))
    _emit_metrics(integration, summary, get_current_context())
    if not settled:
        _conclude(
            Outcome.NO_NEW_FILE, "skipped", "no new file: nothing was waiting; nothing was imported", None, dry_run
        )
        raise AirflowSkipException("no new file")
    for line in summary.lines(values=False):
        log.info("%s", line)
    _conclude(Outcome.NO_NEW_FILE, "success", summary.message(), summary, dry_run)
    return summary.to_json(values=False)


def _emit_metrics(integration: Integration, summary: RunSummary, context: Any) -> None:
    """The run's metrics (`inbound.airflow.metrics`), on every run; a metrics problem never fails the run."""
    try:
        started = getattr(context.get("dag_run"), "start_date", None)
        duration = datetime.now(UTC) - started if started else None
        with store(migrate=False) as attribute_store:
            latest = attribute_store.last_success().get(integration.name) if attribute_store.schema_version() else None
        last = datetime.fromisoformat(latest.finished_at.replace("Z", "+00:00")) if latest else None
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        metrics.emit(metrics.of_run(summary, duration, last))
    except Exception:
        log.warning("metrics for %s not sent", integration.name, exc_info=True)


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
