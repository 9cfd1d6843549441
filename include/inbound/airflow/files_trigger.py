"""The trigger half of `wait_for_file`: lists one integration's source from the triggerer.

A trigger is small and only lists. It carries the integration's name, its config version
and where its files are (`Source`), never the config, and it lists S3 asynchronously on
the triggerer's event loop (`inbound.airflow.s3_async`), which one triggerer shares among
thousands of waiting tasks: no thread, no process pool, no YAML, no store. When the
listing shows files and differs from the one the worker last found nothing to do in
(`seen`), it fires; the worker then looks properly (the import log, shared files) and
either takes the files or defers again with the new listing as `seen`.

This module is what the triggerer imports (by the trigger's class path) inside its event
loop, so it imports nothing heavy at the top.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

LOG_EVERY = 20  # looks between two "still waiting" lines in the task's log


@dataclass(frozen=True)
class Source:
    """Where an integration's files are: what a trigger needs to list them, and no more."""

    bucket: str
    key: str
    aws_conn_id: str = "aws_default"
    marker: str | None = None

    @classmethod
    def of(cls, config_source: dict[str, Any]) -> Source:
        """From a config snapshot's `source` section."""
        return cls(
            bucket=str(config_source["bucket"]),
            key=str(config_source["key"]),
            aws_conn_id=str(config_source.get("aws_conn_id") or "aws_default"),
            marker=config_source.get("marker") or None,
        )

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class NewFilesTrigger(BaseTrigger):
    """List one integration's source until it shows files the worker has not judged yet.

    Events: `{"status": "listed", "integration", "version", "listing", "files", "deadline"}`
    (the listing's digest and how many files it holds: the worker re-reads the rest),
    `{"status": "timeout"}` at `deadline` (the trigger's own, so that it also ends when
    `airflow dags test` runs it in-process), or `{"status": "error", "message"}` when
    listing fails past the client's retries.

    :param integration: the integration's name (for the log and the worker's check).
    :param version: the config version the waiting task was built from.
    :param source: where the files are (`Source` as a dict).
    :param poke_interval: seconds between two listings.
    :param deadline: ISO-8601 UTC time after which the trigger reports `timeout`.
    :param seen: the digest of the listing the worker last found nothing to do in.
    :param snapshot: the whole config, as triggers stored before this one was made thin
        carried it; read only for its name, version and source.
    """

    def __init__(
        self,
        *,
        poke_interval: float,
        deadline: str,
        integration: str = "",
        version: str = "",
        source: dict[str, Any] | None = None,
        seen: str | None = None,
        snapshot: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if snapshot is not None:  # a trigger row written by an earlier inbound (once, after an upgrade)
            from inbound.config.model import Integration

            resolved = Integration.from_snapshot(snapshot)  # its `!env` values, as the task resolved them
            integration, version = resolved.name, resolved.version
            source = asdict(Source.of(resolved.source.model_dump()))
        if source is None:
            raise ValueError("NewFilesTrigger needs the integration's source")
        self.integration, self.version, self.source = integration, version, Source(**source)
        self.poke_interval, self.deadline, self.seen = poke_interval, deadline, seen

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "integration": self.integration,
                "version": self.version,
                "source": asdict(self.source),
                "poke_interval": self.poke_interval,
                "deadline": self.deadline,
                "seen": self.seen,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # Imported at the first run, not with this module: the triggerer imports trigger
        # classes on its event loop.
        from inbound.airflow.s3_async import list_new_files, s3_client

        deadline = datetime.fromisoformat(self.deadline)
        source, looks = self.source, 0
        try:
            async with s3_client(source.aws_conn_id) as client:
                while True:
                    files = await list_new_files(client, source.bucket, source.key, source.marker)
                    if files and (digest := _digest(files)) != self.seen:
                        yield self._listed(digest, len(files))
                        return
                    remaining = (deadline - datetime.now(UTC)).total_seconds()
                    if remaining <= 0:
                        yield TriggerEvent({"status": "timeout"})
                        return
                    if not looks % LOG_EVERY:  # the first look and then now and again: the log is per task
                        self.log.info(
                            "%s: %s at %s after %d look(s); next look in %.0f s",
                            self.integration,
                            "nothing new" if files else "no file",
                            source.uri,
                            looks + 1,
                            min(self.poke_interval, remaining),
                        )
                    looks += 1
                    await asyncio.sleep(min(self.poke_interval, remaining))
        except Exception as error:  # reported to the task, which fails and retries
            yield TriggerEvent({"status": "error", "message": f"listing {source.uri} failed: {error}"})

    def _listed(self, digest: str, files: int) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": "listed",
                "integration": self.integration,
                "version": self.version,
                "listing": digest,
                "files": files,
                "deadline": self.deadline,
            }
        )


def _digest(files: list[Any]) -> str:
    from inbound.s3.source import listing_digest

    return listing_digest(files)
