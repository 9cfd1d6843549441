"""The trigger half of `wait_for_file`: polls one integration's source from the triggerer.

This module is what the triggerer imports (by the trigger's class path) inside its event
loop, so it imports nothing heavy at the top: the look itself (boto3, the store, the
configs) is imported and run in a pool thread, never on the loop, which one triggerer
shares among thousands of waiting tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async


def _look(snapshot: dict[str, Any]) -> dict[str, Any]:
    # Imported here, in the pool thread: importing the core (polars, pydantic models, boto3)
    # on the event loop blocked it for 0.2-0.3 s at a trigger's first run.
    from inbound.look import look

    return look(snapshot)


def _source_uri(snapshot: dict[str, Any]) -> str:
    source = snapshot["config"]["source"]
    return f"s3://{source['bucket']}/{source['key']}"


class NewFilesTrigger(BaseTrigger):
    """Poll one integration's source until it has work: a new file, or a shared file due to move.

    The deadline is the trigger's own (not only Airflow's deferral timeout), so that it also
    ends when `airflow dags test` runs the trigger in-process.

    :param snapshot: the integration's config snapshot (`Integration.snapshot()`).
    :param poke_interval: seconds between two looks.
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
            {"snapshot": self.snapshot, "poke_interval": self.poke_interval, "deadline": self.deadline},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = datetime.fromisoformat(self.deadline)
        uri = _source_uri(self.snapshot)
        try:
            while True:
                # Not the one shared sync thread: a thousand waiting triggers look side by side.
                found = await sync_to_async(_look, thread_sensitive=False)(self.snapshot)
                if found["files"] or found["due"]:
                    yield TriggerEvent({"status": "found", **found})
                    return
                remaining = (deadline - datetime.now(UTC)).total_seconds()
                if remaining <= 0:
                    yield TriggerEvent({"status": "timeout"})
                    return
                self.log.info("no new file matches %s; next look in %.0f s", uri, self.poke_interval)
                await asyncio.sleep(min(self.poke_interval, remaining))
        except Exception as error:  # reported to the task, which fails and retries
            yield TriggerEvent({"status": "error", "message": f"listing {uri} failed: {error}"})
