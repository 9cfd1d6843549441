"""Per-integration metrics through Airflow's real StatsD logger, read back from a UDP socket on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from inbound import metrics
from inbound.layout import S3File
from inbound.results import FileResult, RunSummary


@pytest.fixture
def statsd(monkeypatch) -> Iterator[socket.socket]:
    """A UDP sink on loopback, and Airflow's StatsD logger pointed at it."""
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics.stats_utils import get_stats_factory
    from airflow.sdk.observability.metrics.statsd_logger import get_statsd_logger

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(5)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(sink.getsockname()[1]))
    stats.initialize(factory=get_statsd_logger, export_legacy_names=False)
    yield sink
    stats.initialize(factory=get_stats_factory(), export_legacy_names=False)  # back to what the settings say
    sink.close()


def _packets(sink: socket.socket, count: int) -> dict[str, str]:
    got: dict[str, str] = {}
    while len(got) < count:
        for line in sink.recv(65535).decode().splitlines():
            stat, _, value = line.partition(":")
            got[stat] = value
    return got


def test_a_run_sends_its_counts_duration_and_freshness_named_by_integration(statsd) -> None:
    last = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    metrics.emit(
        metrics.RunMetrics("crm", 40, 37, 3, 1, 1, duration=timedelta(seconds=12), last_import=last), with_tags=False
    )
    got = _packets(statsd, 7)
    assert got["airflow.inbound.crm.rows_read"] == "40|c"
    assert got["airflow.inbound.crm.rows_written"] == "37|c"
    assert got["airflow.inbound.crm.rows_rejected"] == "3|c"
    assert got["airflow.inbound.crm.files_imported"] == "1|c" and got["airflow.inbound.crm.files_failed"] == "1|c"
    assert got["airflow.inbound.crm.import_duration"].endswith("|ms")
    assert float(got["airflow.inbound.crm.import_duration"].split("|")[0]) == 12000
    assert float(got["airflow.inbound.crm.last_import_timestamp"].split("|")[0]) == last.timestamp()


def test_a_run_without_files_still_reports_freshness_and_a_dry_run_counts_nothing(statsd) -> None:
    last = datetime(2026, 12, 1, tzinfo=UTC)
    metrics.emit(metrics.of_run(RunSummary("hr"), timedelta(seconds=3), last), with_tags=False)
    got = _packets(statsd, 6)
    assert got["airflow.inbound.hr.rows_read"] == "0|c" and "airflow.inbound.hr.import_duration" not in got
    assert float(got["airflow.inbound.hr.last_import_timestamp"].split("|")[0]) == last.timestamp()
    file = S3File("acme", "hr/x.csv", "e", 1, "2026-12-01T00:00:00+00:00")
    dry = metrics.of_run(RunSummary("hr", (FileResult(file, rows_read=5, previewed=True),)), None, None)
    assert (dry.rows_read, dry.files_imported) == (0, 0)


def test_with_tags_the_integration_is_a_tag_not_part_of_the_name() -> None:
    assert metrics.name("rows_written", "crm", True) == ("inbound.rows_written", {"integration": "crm"})
    assert metrics.name("rows_written", "crm", False) == ("inbound.crm.rows_written", None)
