"""`wait_for_file`: a sensor/trigger pair shaped like the Amazon provider's S3KeySensor/S3KeyTrigger.

Waiting only looks. A look lists the source, and (when another integration reads the same
bucket) reads the import log to leave out shared files this integration already did its
part of and to spot shared files that are due to move; it writes nothing to S3 or the
store. Moving a due shared file is the finalize task's job.

The sensor looks once on the worker and then defers (`deferrable`, default Airflow's
`[operators] default_deferrable`): the triggerer polls until there is work or the
deadline passes, holding no worker slot. Without a triggerer, `deferrable=False` falls back
to reschedule mode. A manual run never waits: with the `key` param it takes that file, and
without it it looks once ("import what is waiting now") and is skipped when nothing is.

In event mode (`source.events`) a run started by S3 events takes exactly the files they
name, and a scheduled run (the sweep, for what an event missed) looks once and ends: it
never waits across the interval, so it never holds a run slot an event's run needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.configuration import conf
from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from inbound.airflow import alerts
from inbound.airflow.connections import s3_client, store
from inbound.airflow.files_trigger import NewFilesTrigger, Source
from inbound.airflow.look import look
from inbound.airflow.metrics import emit_swept
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.errors import SchemaMismatch, SourceUnavailable, UnknownKey
from inbound.events.notifications import named
from inbound.results import ERROR_XCOM
from inbound.run import Run


def _run_type(context: Any) -> str:
    """`manual`, `scheduled`, `asset_triggered`, ...: the enum's value, not its `str()`.

    The Task SDK's `DagRunType` is a `(str, Enum)` whose `str()` is `DagRunType.MANUAL`:
    comparing that with "manual" made every manual run wait like a scheduled one.
    """
    run_type = getattr(context.get("dag_run"), "run_type", "")
    return str(getattr(run_type, "value", run_type))


def _manual(context: Any) -> bool:
    return _run_type(context) == "manual"


def _payloads(context: Any) -> list[Any]:
    """The payloads of the S3 events that started this run (one per trigger event folded into it)."""
    events = context.get("triggering_asset_events") or {}
    return [(event.extra or {}).get("payload") for asset_events in events.values() for event in asset_events]


class NewFilesSensor(BaseSensorOperator):
    """Wait until the integration's source has work, and hand it on.

    Returns (as XCom) `{"snapshot": ..., "files": [...], "due": [...]}`: the files to import,
    oldest first, and the shared files due to be moved. When nothing arrives within
    `timeout`, the task and the run's other tasks end as skipped, not failed (`soft_fail`).

    :param snapshot: the integration's config snapshot (`Integration.snapshot()`); it is
        pushed with the files, so the whole run uses this one version of the config.
    :param deferrable: wait in the triggerer instead of rescheduling pokes on a worker
        (default: Airflow's `[operators] default_deferrable`).
    """

    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        snapshot: dict[str, Any],
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("soft_fail", True)
        super().__init__(**kwargs)
        self.snapshot = snapshot
        # Read when the DAG is built (not when this module is imported), so a changed setting
        # takes effect at the next parse.
        self.deferrable = (
            conf.getboolean("operators", "default_deferrable", fallback=False) if deferrable is None else deferrable
        )

    @property
    def integration(self) -> Integration:
        return Integration.from_snapshot(self.snapshot)

    def poke(self, context: Any) -> PokeReturnValue:
        found = look(self.snapshot)
        done = bool(found["files"] or found["due"])
        self.log.info(
            "%d new file(s), %d shared file(s) due at %s",
            len(found["files"]),
            len(found["due"]),
            self.integration.source.uri,
        )
        return PokeReturnValue(is_done=done, xcom_value=self._found(found) if done else None)

    def execute(self, context: Any) -> Any:
        with _schema_said(context):
            return self._execute(context)

    def _execute(self, context: Any) -> Any:
        key = (context.get("params") or {}).get("key")
        if key:  # a re-import of one named file: no waiting
            return self._named(str(key), context)
        if _manual(context):  # "import what is waiting now": one look, never a wait
            found = self.poke(context)
            if not found.is_done:
                raise AirflowSkipException("no new file waiting (a manual run looks once)")
            return found.xcom_value
        if _run_type(context) == "asset_triggered":
            return self._announced(_payloads(context))
        if self.integration.source.events is not None:  # the sweep of event mode: one look
            found = self.poke(context)
            if not found.is_done:
                self._check_stale(context)
                raise AirflowSkipException("no file the events missed (in event mode the sweep looks once)")
            self._swept(found.xcom_value)
            return found.xcom_value
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSkipException:
                self._check_stale(context)
                raise
        looked = look(self.snapshot)
        if looked["files"] or looked["due"]:
            return self._found(looked)
        self._wait(datetime.now(UTC) + timedelta(seconds=self.timeout), seen=looked["listing"])

    def _wait(self, deadline: datetime, seen: str) -> None:
        """Defer to the triggerer until the source's listing is no longer `seen` (or the deadline)."""
        source = self.integration.source
        self.defer(
            trigger=NewFilesTrigger(
                integration=self.integration.name,
                version=self.integration.version,
                source=asdict(Source(source.bucket, source.key, source.aws_conn_id, source.marker)),
                poke_interval=float(self.poke_interval),
                deadline=deadline.isoformat(),
                seen=seen,
            ),
            method_name="execute_complete",
            # Airflow's own limit, a safety net behind the trigger's deadline.
            timeout=deadline - datetime.now(UTC) + timedelta(seconds=600),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        with _schema_said(context):
            return self._complete(context, event)

    def _complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        if event["status"] == "listed":
            return self._listed(context, event)
        if event["status"] == "found":  # from a trigger an earlier inbound deferred to
            self.log.info("the triggerer found %d new file(s), %d due", len(event["files"]), len(event["due"]))
            return self._found(event)
        if event["status"] == "timeout":
            self._check_stale(context)
            raise AirflowSkipException(f"no new file within {self.timeout:.0f} s")
        raise SourceUnavailable(event.get("message", "unknown error"))

    def _listed(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """The trigger listed files: look properly here, and wait again when none is to do."""
        name = self.integration.name
        if event.get("integration") != name:
            raise AirflowFailException(
                f"the trigger's event is for integration {event.get('integration')!r}, not {name!r}: nothing was read"
            )
        if event.get("version") != self.integration.version:
            self.log.info(
                "the config changed while waiting (version %s, now %s)", event.get("version"), self.integration.version
            )
        found = look(self.snapshot)
        self.log.info(
            "the triggerer listed %s file(s): %d new, %d shared file(s) due",
            event.get("files"),
            len(found["files"]),
            len(found["due"]),
        )
        if found["files"] or found["due"]:
            return self._found(found)
        deadline = datetime.fromisoformat(str(event["deadline"]))
        if deadline <= datetime.now(UTC):
            self._check_stale(context)
            raise AirflowSkipException(f"no new file within {self.timeout:.0f} s")
        self.log.info("every listed file is done for this integration (shared, other readers pending): waiting again")
        self._wait(deadline, seen=found["listing"])
        raise AssertionError("defer() returns only by raising")  # pragma: no cover

    def _swept(self, found: Any) -> None:
        """The sweep found files no event brought: say so, and count them (`files_swept`)."""
        files = found["files"]
        if not files:
            return
        self.log.warning(
            "the sweep found %d file(s) no S3 event brought (lost, or still on its way): %s",
            len(files),
            ", ".join(f["key"] for f in files[:10]),
        )
        try:
            emit_swept(self.integration.name, len(files))
        except Exception:  # a metrics backend that fails must not fail the import
            self.log.warning("metric files_swept not sent", exc_info=True)

    def _check_stale(self, context: Any) -> None:
        """The wait gave up: alert when the source has been quiet for longer than `stale_after`."""
        integration = self.integration
        if integration.alerts is None or integration.alerts.stale_after is None:
            return
        with store(migrate=False) as attribute_store:
            latest = attribute_store.imports(integration.name, limit=1) if attribute_store.schema_version() else []
        last = datetime.fromisoformat(latest[0].finished_at.replace("Z", "+00:00")) if latest else None
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        alerts.send(integration, alerts.stale_alert(integration, last, datetime.now(UTC)), context)

    def _announced(self, payloads: list[Any]) -> dict[str, Any]:
        """A run started by S3 events: the files they name that are still there to import."""
        keys = [key for _, key in named(payloads)]
        found = look(self.snapshot, announced=payloads)
        shown = ", ".join(keys[:10]) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")
        self.log.info("%d event(s) named %s; %d to import", len(payloads), shown or "nothing", len(found["files"]))
        if not (found["files"] or found["due"]):
            raise AirflowSkipException("the files the events named are imported already (or not this source's)")
        return self._found(found)

    def _named(self, key: str, context: Any) -> dict[str, Any]:
        """The one file the `key` param names, or a failed task (and run) saying why not and,
        for a file imported and moved since, where it is now."""
        integration = self.integration
        try:
            with store(migrate=False) as attribute_store:
                run = Run(
                    integration,
                    s3_client(integration.source.aws_conn_id),
                    attribute_store,
                    run_id=str(context.get("run_id") or ""),
                    triggered_by="",
                    catalog=Catalog(),
                )
                file = run.named(key)
        except UnknownKey as exc:
            if context.get("ti") is not None:  # for finalize, which ends the run with it
                context["ti"].xcom_push(key=ERROR_XCOM, value=str(exc))
            raise AirflowFailException(str(exc)) from None
        self.log.info("importing the named file %s", file.uri)
        return self._found({"files": [file.to_dict()], "due": []})

    def _found(self, found: dict[str, Any]) -> dict[str, Any]:
        return {"snapshot": self.snapshot, "files": found["files"], "due": found.get("due", [])}


@contextmanager
def _schema_said(context: Any) -> Iterator[None]:
    """A store whose schema is not this inbound's (the import log a look reads, `SchemaMismatch`: run
    `inbound migrate`, or upgrade this worker) fails the wait without retries, and says why to finalize.

    After a deferral Airflow's `soft_fail` makes that failure a skip; finalize, opening the store
    itself, then ends the run failed with the same message.
    """
    try:
        yield
    except SchemaMismatch as exc:
        if context.get("ti") is not None:
            context["ti"].xcom_push(key=ERROR_XCOM, value=str(exc))
        raise AirflowFailException(str(exc)) from None
