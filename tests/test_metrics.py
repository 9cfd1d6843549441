"""Per-integration metrics through Airflow's real StatsD logger, read back from a UDP socket on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from inbound.airflow import metrics
from inbound.results import FileResult, RunSummary
from inbound.s3.layout import S3File


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


def test_files_the_sweep_found_are_counted_per_integration(statsd) -> None:
    metrics.emit_swept("crm_users", 3)
    assert statsd.recv(512).decode() == "airflow.inbound.crm_users.files_swept:3|c"


def test_with_tags_the_integration_is_a_tag_not_part_of_the_name() -> None:
    assert metrics.name("rows_written", "crm", True) == ("inbound.rows_written", {"integration": "crm"})
    assert metrics.name("rows_written", "crm", False) == ("inbound.crm.rows_written", None)


def _exporter_name(stat: str, rules: list[dict]) -> tuple[str, dict[str, str], str | None] | None:
    """What statsd_exporter makes of a StatsD name under glob mapping rules (first match wins;
    `*` is one dot-separated part; `$n` / `${n}` the n-th capture)."""
    import re

    for rule in rules:
        pattern = "^" + re.escape(rule["match"]).replace(r"\*", "([^.]+)") + "$"
        found = re.match(pattern, stat)
        if found:

            def expand(text: str, found: re.Match[str] = found) -> str:
                return re.sub(r"\$\{?(\d+)\}?", lambda m: found.group(int(m.group(1))), text)

            labels = {k: expand(v) for k, v in rule.get("labels", {}).items()}
            return expand(rule["name"]), labels, rule.get("observer_type")
    return None


def test_the_grafana_dashboard_queries_what_the_statsd_mapping_makes_of_every_metric() -> None:
    """docs/grafana: each metric inbound sends maps to a Prometheus name with its integration as a
    label, and every metric the ready dashboard queries is one of those."""
    import json
    import re
    from pathlib import Path

    import yaml

    docs = Path(__file__).resolve().parents[1] / "docs" / "grafana"
    rules = yaml.safe_load((docs / "statsd_mapping.yml").read_text())["mappings"]
    made: set[str] = set()
    for metric in (*metrics.COUNTERS, metrics.SWEPT, metrics.TIMER, metrics.GAUGE):
        stat, _ = metrics.name(metric, "crm_users", with_tags=False)
        mapped = _exporter_name(f"airflow.{stat}", rules)  # Airflow's StatsD prefix
        assert mapped is not None, metric
        name, labels, observer = mapped
        assert labels == {"integration": "crm_users"} and re.fullmatch(r"[a-z_]+", name), (metric, name)
        made |= {name, f"{name}_bucket", f"{name}_sum", f"{name}_count"} if observer == "histogram" else {name}
    assert {n for n in made if n.endswith("_total")} == {
        f"inbound_{c}_total" for c in (*metrics.COUNTERS, metrics.SWEPT)
    }
    dashboard = json.loads((docs / "inbound-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\binbound_[a-z_]+", target["expr"])
    }
    queried |= set(re.findall(r"\binbound_[a-z_]+", json.dumps(dashboard["templating"])))
    assert queried and queried <= made, queried - made
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_queue_counters_map_to_prometheus_names_with_the_queue_as_a_label() -> None:
    from pathlib import Path

    import yaml

    rules = yaml.safe_load((Path(__file__).resolve().parents[1] / "docs/grafana/statsd_mapping.yml").read_text())
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/inbound-crm.fifo"
    for metric in metrics.QUEUE_COUNTERS:
        stat, tags = metrics.queue_name(url, metric, with_tags=False)
        assert tags is None and stat == f"inbound.queue.inbound-crm_fifo.{metric}"
        assert _exporter_name(f"airflow.{stat}", rules["mappings"]) == (
            f"inbound_queue_{metric}_total",
            {"queue": "inbound-crm_fifo"},
            None,
        )
        assert metrics.queue_name(url, metric, with_tags=True) == (
            f"inbound.queue.{metric}",
            {"queue": "inbound-crm_fifo"},
        )
