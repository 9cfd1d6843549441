"""Per-integration metrics through Airflow's own metrics (StatsD or OpenTelemetry).

Emitted by a run's `finalize` task, also when the run found no new file, so a dashboard
can chart rows imported and alert on a source that went quiet:

- `rows_read`, `rows_written`, `rows_rejected`: counters, added up per run;
- `files_imported`, `files_failed`: counters;
- `import_duration`: a timer, the run from its start to `finalize` (only when it imported);
- `last_import_timestamp`: a gauge, the Unix time of the integration's last successful
  import, on every run (freshness: now minus it).

The SQS poll of event mode counts its messages per queue (`emit_queue`): `received`,
`ignored` (announced no object: not an S3 notification, or S3's test event), `redelivered` (received before: a triggerer died, a delete
failed or came late), `deleted` and `undeleted` (a delete that failed for good: the message
comes back), `duplicate` (a second delivery of one S3 event, dropped) and `released` (no
trigger of this triggerer took it: back to the queue at once for another triggerer).
`files_swept` (per integration, sent by the sensor) counts the files the sweep of an
event-mode integration found because no event brought them: against `files_imported`, the
loss rate of the event path.

Plain StatsD has no tags, so there the integration is part of the name
(`inbound.<name>.rows_written`); with OpenTelemetry (or DogStatsD, which has tags) the name
is `inbound.rows_written` with the tag `integration=<name>`. Without metrics configured in
Airflow (`[metrics] statsd_on` / `otel_on`), Airflow's backend drops them and nothing slows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from inbound.outcome import Outcome
from inbound.results import RunSummary

PREFIX = "inbound"
COUNTERS = ("rows_read", "rows_written", "rows_rejected", "files_imported", "files_failed")
TIMER = "import_duration"
GAUGE = "last_import_timestamp"
SWEPT = "files_swept"


@dataclass(frozen=True)
class RunMetrics:
    """What one run reports: its counts (zero for a run without files) and the freshness gauge."""

    integration: str
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    files_imported: int = 0
    files_failed: int = 0
    duration: timedelta | None = None
    last_import: datetime | None = None


def of_run(summary: RunSummary, duration: timedelta | None, last_import: datetime | None) -> RunMetrics:
    """A run's metrics from its summary; a dry run imported nothing and counts nothing."""
    if summary.files and all(f.previewed for f in summary.files):
        return RunMetrics(summary.integration, last_import=last_import)
    return RunMetrics(
        summary.integration,
        rows_read=summary.rows_read,
        rows_written=summary.rows_written,
        rows_rejected=summary.rows_rejected,
        files_imported=sum(1 for f in summary.files if f.outcome == Outcome.SUCCESS),
        files_failed=len(summary.failed),
        duration=duration,
        last_import=last_import,
    )


def emit_swept(integration: str, files: int, backend: Any = None, with_tags: bool | None = None) -> None:
    """Count the files the sweep of an event-mode integration found (`files_swept`): no event
    brought them (lost, dropped, or still on its way), so the sweep had to."""
    if backend is None:
        from airflow.sdk.observability import stats as backend
    stat, tags = name(SWEPT, integration, tagged() if with_tags is None else with_tags)
    backend.incr(stat, files, tags=tags)


def tagged() -> bool:
    """Whether Airflow's metrics backend carries tags (OpenTelemetry, DogStatsD) or not (StatsD)."""
    from airflow.configuration import conf

    return conf.getboolean("metrics", "otel_on", fallback=False) or conf.getboolean(
        "metrics", "statsd_datadog_enabled", fallback=False
    )


def name(metric: str, integration: str, with_tags: bool) -> tuple[str, dict[str, str] | None]:
    """The metric's name and tags for a backend with or without tags."""
    if with_tags:
        return f"{PREFIX}.{metric}", {"integration": integration}
    return f"{PREFIX}.{integration}.{metric}", None


def emit(run: RunMetrics, backend: Any = None, with_tags: bool | None = None) -> None:
    """Send one run's metrics through Airflow's stats module (`backend`: that module, for tests)."""
    if backend is None:
        from airflow.sdk.observability import stats as backend
    with_tags = tagged() if with_tags is None else with_tags

    def send(kind: Callable[..., None], metric: str, value: Any) -> None:
        stat, tags = name(metric, run.integration, with_tags)
        kind(stat, value, tags=tags)

    for metric in COUNTERS:
        send(backend.incr, metric, getattr(run, metric))
    if run.duration is not None and run.files_imported + run.files_failed:
        send(backend.timing, TIMER, run.duration)
    if run.last_import is not None:
        send(backend.gauge, GAUGE, run.last_import.timestamp())


QUEUE_COUNTERS = ("received", "ignored", "redelivered", "duplicate", "deleted", "undeleted", "released")


def queue_name(queue: str, metric: str, with_tags: bool) -> tuple[str, dict[str, str] | None]:
    """A queue counter's name and tags: the queue is its URL's last part (StatsD names hold no `/`)."""
    short = re.sub(r"[^A-Za-z0-9_-]", "_", queue.rstrip("/").rsplit("/", 1)[-1])[:80] or "queue"
    if with_tags:
        return f"{PREFIX}.queue.{metric}", {"queue": short}
    return f"{PREFIX}.queue.{short}.{metric}", None


def emit_queue(queue: str, counts: dict[str, int], backend: Any = None, with_tags: bool | None = None) -> None:
    """Add one round's message counts of an SQS poll (those above zero) to Airflow's metrics."""
    if backend is None:
        from airflow.sdk.observability import stats as backend
    with_tags = tagged() if with_tags is None else with_tags
    for metric, count in counts.items():
        if count > 0:
            stat, tags = queue_name(queue, metric, with_tags)
            backend.incr(stat, count, tags=tags)
