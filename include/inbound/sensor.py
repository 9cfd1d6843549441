"""`wait_for_file`: a sensor/trigger pair that waits for an integration's new files.

Like the Amazon provider's `S3KeySensor` + `S3KeyTrigger`, but it hands the matching
keys (with their ETags, oldest first) to the next task, and its pattern never matches files
already moved to `success/` or `failed/`.

Deferrable by default: after one look at S3 the task gives its worker slot back and the
triggerer (one asyncio loop for thousands of waits) polls until a file arrives or the
deadline passes. A thousand integrations waiting for tomorrow's export hold no worker slot.
Without a triggerer, `deferrable=False` falls back to reschedule mode (no slot between pokes
either, but one short task per poke on a worker).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from inbound import alerts
from inbound.config import Integration, current_catalog
from inbound.connections import s3_client, store
from inbound.shared import pending_files, shares_bucket
from inbound.source import UnknownKey, list_new_files, named_file


class SourceListingError(RuntimeError):
    """S3 could not be listed from the triggerer; the task fails (and retries), never skips."""


def look(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The files the integration has still to read (see `shared.pending_files`), as dicts.

    The store is opened only when another integration reads the same bucket: only then can
    a file be one this integration already did its part of while it waits for the others.
    """
    integration = Integration.from_snapshot(snapshot)
    source = integration.source
    client = s3_client(source.aws_conn_id)
    files = list_new_files(client, source.bucket, source.key, source.marker)
    if not files:  # the common case while waiting: no catalog, no store
        return []
    catalog = current_catalog()
    attribute_store = store() if shares_bucket(catalog, integration) else None
    try:
        return [f.to_dict() for f in pending_files(client, attribute_store, catalog, integration, files)]
    finally:
        if attribute_store is not None:
            attribute_store.close()


class NewFilesTrigger(BaseTrigger):
    """Poll one integration's source from the triggerer until a new file exists.

    The deadline is the trigger's own (not only Airflow's deferral timeout), so that it also
    ends when `airflow dags test` runs the trigger in-process.

    :param snapshot: the integration's config snapshot (source, name, schedule).
    :param poke_interval: seconds between two listings.
    :param deadline: ISO-8601 UTC time after which the trigger reports `timeout`.
    """

    def __init__(self, *, snapshot: dict[str, Any], poke_interval: float, deadline: str) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.poke_interval = poke_interval
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "snapshot": self.snapshot,
                "poke_interval": self.poke_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = datetime.fromisoformat(self.deadline)
        source = Integration.from_snapshot(self.snapshot).source
        try:
            while True:
                # boto3 and the store are synchronous: they run in a pool thread (not the one
                # shared thread), so a thousand waiting triggers look at S3 side by side.
                files = await sync_to_async(look, thread_sensitive=False)(self.snapshot)
                if files:
                    yield TriggerEvent({"status": "found", "files": files})
                    return
                remaining = (deadline - datetime.now(UTC)).total_seconds()
                if remaining <= 0:
                    yield TriggerEvent({"status": "timeout"})
                    return
                self.log.info("no new file matches %s; next look in %.0f s", source.uri, self.poke_interval)
                await asyncio.sleep(min(self.poke_interval, remaining))
        except Exception as error:  # reported to the task, which fails and retries
            yield TriggerEvent({"status": "error", "message": f"listing {source.uri} failed: {error}"})


class NewFilesSensor(BaseSensorOperator):
    """Wait until files matching the integration's source exist, and hand them on.

    Returns (as XCom) `{"snapshot": ..., "files": [...]}`. When no file arrives within
    `timeout`, the task and the run's other tasks end as skipped, not failed (`soft_fail`).

    :param snapshot: the integration's config snapshot (`Integration.snapshot()`); it is
        pushed with the files, so the whole run uses this one version of the config.
    :param deferrable: wait in the triggerer (default) instead of rescheduling pokes on a worker.
    """

    ui_color = "#e8f4fd"

    def __init__(self, *, snapshot: dict[str, Any], deferrable: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("soft_fail", True)
        super().__init__(**kwargs)
        self.snapshot = snapshot
        self.deferrable = deferrable

    def poke(self, context: Any) -> PokeReturnValue:
        files = look(self.snapshot)
        self.log.info("%d new file(s) match %s", len(files), Integration.from_snapshot(self.snapshot).source.uri)
        return PokeReturnValue(is_done=bool(files), xcom_value=self._found(files) if files else None)

    def execute(self, context: Any) -> Any:
        key = (context.get("params") or {}).get("key")
        if key:  # a re-import of one named file: no waiting
            return self._named(key)
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSkipException:
                self._check_stale(context)
                raise
        found = self.poke(context)
        if found.is_done:
            return found.xcom_value
        deadline = datetime.now(UTC) + timedelta(seconds=self.timeout)
        self.defer(
            trigger=NewFilesTrigger(
                snapshot=self.snapshot,
                poke_interval=float(self.poke_interval),
                deadline=deadline.isoformat(),
            ),
            method_name="execute_complete",
            # Airflow's own limit, a safety net behind the trigger's deadline.
            timeout=timedelta(seconds=self.timeout + 600),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        if event["status"] == "found":
            self.log.info("%d new file(s) found by the triggerer", len(event["files"]))
            return self._found(event["files"])
        if event["status"] == "timeout":
            self._check_stale(context)
            raise AirflowSkipException(f"no new file within {self.timeout:.0f} s")
        raise SourceListingError(event.get("message", "unknown error"))

    def _check_stale(self, context: Any) -> None:
        """The wait gave up: alert when the source has been quiet for longer than `stale_after`."""
        integration = Integration.from_snapshot(self.snapshot)
        if integration.alerts is None or integration.alerts.stale_after is None:
            return
        attribute_store = store()
        try:
            latest = attribute_store.imports(integration.name, limit=1)
        finally:
            attribute_store.close()
        last = datetime.fromisoformat(latest[0].finished_at.replace("Z", "+00:00")) if latest else None
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        alerts.send(integration, alerts.stale_alert(integration, last, datetime.now(UTC)), context)

    def _named(self, key: str) -> dict[str, Any]:
        source = Integration.from_snapshot(self.snapshot).source
        try:
            file = named_file(s3_client(source.aws_conn_id), source.bucket, source.key, key)
        except UnknownKey as exc:
            raise AirflowFailException(str(exc)) from None
        self.log.info("importing the named file %s", file.uri)
        return self._found([file.to_dict()])

    def _found(self, files: list[dict[str, Any]]) -> dict[str, Any]:
        return {"snapshot": self.snapshot, "files": files}
