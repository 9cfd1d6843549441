"""What each task does with a `Run`: the run rebuilt from XCom, XCom payloads checked, finalize's end of the run, alerts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from inbound.airflow import alerts, metrics
from inbound.airflow.connections import s3_client, staging_client, store
from inbound.config.model import Integration
from inbound.errors import InboundError, ReceivedInvalid, SchemaMismatch, StageGone, Unavailable
from inbound.outcome import Outcome
from inbound.results import ERROR_XCOM, OUTCOME_XCOM, FileResult, RunSummary
from inbound.run import Run, received
from inbound.s3.layout import S3File

log = logging.getLogger(__name__)


@contextmanager
def reported() -> Iterator[None]:
    """A task that fails for a reason of ours leaves the reason for `finalize` (and the UI) to tell.

    Retrying cannot help a staged set that is gone, a handed-over XCom that is not this run's
    or a store whose schema is not this inbound's (`SchemaMismatch`: run `inbound migrate`, or
    upgrade this worker): those fail the task at once. A service that is down raises as it is (retries).
    """
    try:
        yield
    except InboundError as exc:
        get_current_context()["ti"].xcom_push(key=ERROR_XCOM, value=str(exc))
        if isinstance(exc, StageGone | ReceivedInvalid) or not isinstance(exc, Unavailable):
            raise AirflowFailException(str(exc)) from None
        raise


@contextmanager
def opened_run(own: Integration, snapshot: Any) -> Iterator[Run]:
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


def found_results(payload: Any) -> list[FileResult]:
    """The files an upstream task handed on (XCom, which users may edit): read, or refused clearly."""
    try:
        return [FileResult.from_json(r) for r in payload["results"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReceivedInvalid(f"the run's results in XCom cannot be read ({type(exc).__name__}: {exc})") from None


def found_snapshot(payload: Any) -> Any:
    """The config snapshot an upstream task handed on (checked by `inbound.run.received`)."""
    return payload.get("snapshot") if isinstance(payload, dict) else None


def found_files(found: Any) -> list[S3File]:
    """The files `wait_for_file` handed on (XCom): read, or refused clearly."""
    try:
        return [S3File.from_dict(f) for f in found["files"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReceivedInvalid(f"the run's files in XCom cannot be read ({type(exc).__name__}: {exc})") from None


def task_payload(snapshot: dict[str, Any], results: list[FileResult]) -> dict[str, Any]:
    """What a task hands on in XCom: never a value (a dry run's sample of changed users stays out)."""
    return {"snapshot": snapshot, "results": [r.to_json(values=False) for r in results]}


def failure_callback(integration: Integration) -> list[Any]:
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


def finalize_run(integration: Integration) -> dict[str, Any]:
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
            results = found_results(latest)
        else:  # an earlier task failed: the files stay for the next run
            results = [FileResult(s3_file=f) for f in found_files(found)]
        with opened_run(integration, found_snapshot(found)) as run:
            summary = run.finalize(results, retried=ti.try_number <= ti.max_tries)  # Airflow retries what is not ours
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
        imported = [f.shape for f in summary.files if f.shape is not None and f.outcome == Outcome.SUCCESS]
        alerts.send(integration, alerts.new_columns_alert(integration, context["run_id"], imported), context)
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
        with opened_run(integration, integration.snapshot()) as run:
            settled = [] if run.dry_run else run.settle_due()
    except Unavailable as exc:  # the wait failed on it already (and alerted); the next run settles
        log.warning("shared files not settled: %s", exc)
        settled = []
    except SchemaMismatch as exc:  # every run fails on it until the store or this worker is upgraded
        _conclude(Outcome.FAILED, "failed", str(exc), None, dry_run)
        raise AirflowFailException(str(exc)) from None
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
            found = attribute_store.last_success([integration.name]) if attribute_store.schema_version() else {}
            latest = found.get(integration.name)
        last = datetime.fromisoformat(latest.finished_at.replace("Z", "+00:00")) if latest else None
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        metrics.emit(metrics.of_run(summary, duration, last))
    except Exception:
        log.warning("metrics for %s not sent", integration.name, exc_info=True)
