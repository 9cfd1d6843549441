"""The trigger half of `wait_for_file`: polls one integration's source from the triggerer.

This module is what the triggerer imports (by the trigger's class path) inside its event
loop, so it imports nothing heavy at the top, and the look itself (boto3, the store, the
configs) never runs on the loop, which one triggerer shares among thousands of waiting
tasks. In `airflow triggerer` the looks run in a small pool of worker processes
(`INBOUND_LOOK_PROCESSES`, default 2 there): a thread would share the loop's GIL, and
building a boto3 client parses the S3 service model in C while holding it (0.2 s, more on a
loaded host), which the triggerer reports as "async thread was blocked". Elsewhere
(`airflow dags test`, tests) a look runs on a pool thread.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from inbound.settings import number_setting  # light: os and the standard library only

_pool: Executor | None = None
_pool_lock = threading.Lock()


def look_processes() -> int:
    """`INBOUND_LOOK_PROCESSES`: worker processes for looks; default 2 in `airflow triggerer`, else 0 (threads)."""
    default = 2 if sys.argv[1:2] == ["triggerer"] else 0
    return int(number_setting("INBOUND_LOOK_PROCESSES", default, minimum=0))


def _processes() -> Executor | None:
    """The process pool looks run in, started at the first look (spawned: no fork of a running loop)."""
    global _pool  # noqa: PLW0603 - one pool per triggerer process, started lazily
    count = look_processes()
    if not count:
        return None
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def _look(snapshot: dict[str, Any]) -> dict[str, Any]:
    # Imported here, in the pool thread: importing the core (polars, pydantic models, boto3)
    # on the event loop blocked it for 0.2-0.3 s at a trigger's first run.
    from inbound.airflow.look import look

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
                found = await self._look()
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

    async def _look(self) -> dict[str, Any]:
        pool = _processes()
        if pool is not None:
            return await asyncio.get_running_loop().run_in_executor(pool, _look, self.snapshot)
        # Not the one shared sync thread: a thousand waiting triggers look side by side.
        return await sync_to_async(_look, thread_sensitive=False)(self.snapshot)
