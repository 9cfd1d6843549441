from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conftest import integration_dict
from inbound.airflow.management import is_enabled, render, rows, schedule_in_words
from inbound.airflow.runs import DagState, RunSeen
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.config.problems import ConfigProblem
from inbound.outcome import Outcome
from inbound.store import ImportRecord


def seen(run_id: str = "r1", state: str = "success", skipped: bool = False, **kw) -> RunSeen:
    base = dict(at="2026-11-28T05:00:00+00:00", started_at="2026-11-28T04:59:30+00:00", message=None)
    return RunSeen(run_id=run_id, state=state, skipped=skipped, **{**base, **kw})


def state(
    last_run_state: str = "success",
    last_run_skipped: bool = False,
    last_run_message: str | None = None,
    **kw,
) -> DagState:
    last = seen("r1", last_run_state, last_run_skipped, message=last_run_message)
    base = dict(dag_id="inbound_crm", is_paused=False, recent=(last,))
    return DagState(**{**base, **kw})


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ("@hourly", "every hour"),
        ("PT30M", "every 30 minutes"),
        ("0 6 * * 1-5", "At 06:00 AM, Monday through Friday (UTC)"),
    ],
)
def test_schedule_in_words(schedule: str, words: str) -> None:
    assert schedule_in_words(schedule) == words


@pytest.mark.parametrize(
    ("dag_state", "result"),
    [
        (None, "never run"),
        (state(), "success"),
        (state(last_run_state="failed"), "failed"),
        (state(last_run_skipped=True), "no new file"),
        (state(last_run_state="running"), "running"),
    ],
)
def test_last_run_result(dag_state, result: str) -> None:
    catalog = Catalog(integrations={"crm": Integration.model_validate(integration_dict("crm"))})
    (row,) = rows(catalog, {"inbound_crm": dag_state} if dag_state else {}, {})
    assert row.last_run_result == result and isinstance(row.last_run_result, Outcome)


@pytest.mark.parametrize(
    ("enabled", "dag_state", "expected"),
    [
        (True, None, True),  # no DAG yet: the config decides
        (False, None, False),
        (False, state(is_paused=None), False),  # a run seen, the DAG row not yet
        (True, state(is_paused=True), False),  # then the pause toggle decides
        (False, state(is_paused=False), True),
    ],
)
def test_enabled_is_the_config_until_airflow_knows_the_dag(enabled: bool, dag_state, expected: bool) -> None:
    integration = Integration.model_validate(integration_dict("crm", enabled=enabled))
    assert is_enabled(integration, dag_state) is expected
    catalog = Catalog(integrations={"crm": integration})
    (row,) = rows(catalog, {"inbound_crm": dag_state} if dag_state else {}, {})
    assert row.enabled is expected


def test_toggle_state_comes_from_airflow_and_counts_from_the_import_log() -> None:
    integration = Integration.model_validate(integration_dict("crm", enabled=True))
    catalog = Catalog(integrations={"crm": integration}, errors=[ConfigProblem("hr.yaml", "bad", 3, "schedule")])
    record = ImportRecord(
        7, "crm", "s3://b/k", "e", "v", Outcome.SUCCESS, 10, 10, 0, 2, None, "test", "2026-11-28T05:00:00+00:00", None
    )
    crm, hr = rows(catalog, {"inbound_crm": state(is_paused=True)}, {"crm": record}, {"crm": 10})
    assert crm.enabled is False and crm.attributes_imported == 2 and crm.users == 10
    assert hr.last_run_result == "config error" and hr.error == "hr.yaml:3: schedule: bad"
    text = render([crm, hr])
    assert "✔ success" in text and "off" in text and "config error: hr.yaml:3" in text


def test_the_table_says_how_runs_start() -> None:
    config = integration_dict("crm")
    evented = Integration.model_validate({**config, "source": {**config["source"], "events": {"queue": "inbound-crm"}}})
    catalog = Catalog(integrations={"crm": evented, "hr": Integration.model_validate(integration_dict("hr"))})
    crm, hr = rows(catalog, {}, {})
    assert (crm.start, hr.start) == ("events", "polling")
    assert crm.start_words and "S3 notifications on inbound-crm" in crm.start_words
    text = render([crm, hr])
    assert text.splitlines()[0].split()[5] == "start" and " events " in text.splitlines()[1]


def test_a_failed_runs_reason_is_what_the_run_said_not_an_older_imports_error() -> None:
    """A refused key leaves no import-log entry: the reason is the run's own answer, never the
    error of an earlier failed import (which would be stale)."""
    integration = Integration.model_validate(integration_dict("crm"))
    catalog = Catalog(integrations={"crm": integration})
    older = ImportRecord(
        7, "crm", "s3://b/k", "e", "v", Outcome.FAILED, 1, 0, 1, 2, "an old reason", "t", "2026-11-27T05:00:00", "k"
    )
    said = "s3://b/crm/users_9.csv does not exist"
    (row,) = rows(
        catalog, {"inbound_crm": state(last_run_state="failed", last_run_message=said)}, {}, last={"crm": older}
    )
    assert (row.last_run_result, row.last_run_reason) == ("failed", said)
    (row,) = rows(catalog, {"inbound_crm": state(last_run_state="failed")}, {}, last={"crm": older})
    assert row.last_run_reason == "an old reason"  # a run from before runs said why


# -- the table as a monitor ------------------------------------------------------------
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def record(outcome: Outcome = Outcome.SUCCESS, finished_at: str = "2026-11-28T05:00:00+00:00", **kw) -> ImportRecord:
    base = dict(rows_read=40, rows_written=30, rows_rejected=10, attributes=2, error=None)
    values = {**base, **kw}
    return ImportRecord(
        7, "crm", "s3://b/k", "e", "v", outcome, values["rows_read"], values["rows_written"],
        values["rows_rejected"], values["attributes"], values["error"], "test", finished_at, None,
    )  # fmt: skip


def monitor_row(integration: Integration, dag_state: DagState | None, success=None, last=None):
    catalog = Catalog(integrations={integration.name: integration})
    (row,) = rows(
        catalog,
        {integration.dag_id: dag_state} if dag_state else {},
        {integration.name: success} if success else {},
        last={integration.name: last} if last else {},
        now=NOW,
    )
    return row


def test_a_row_carries_next_run_last_success_last_import_duration_and_the_recent_runs() -> None:
    integration = Integration.model_validate(integration_dict("crm"))  # @hourly
    earlier = [seen(f"r{i}", "success", skipped=i % 2 == 0, at=f"2026-11-28T0{i}:00:00+00:00") for i in range(1, 5)]
    failed = seen("r5", "failed", at="2026-11-28T05:00:42+00:00", started_at="2026-11-28T05:00:00+00:00", message="bad")
    recent = (*earlier, failed)
    dag_state = state(recent=recent, next_run_at="2026-11-28T13:00:00+00:00")
    row = monitor_row(integration, dag_state, success=record(), last=record(Outcome.FAILED, rows_written=0))
    assert row.next_run_at == "2026-11-28T13:00:00+00:00"
    assert row.last_success_at == "2026-11-28T05:00:00+00:00"
    assert row.stale is True  # 7 hours without an import, twice the hourly interval is 2 hours
    assert row.last_import == {
        "rows_read": 40,
        "rows_written": 0,
        "rows_rejected": 10,
        "rejected_share": 0.25,
        "deleted": 0,
    }
    assert row.last_run_duration_s == 42.0
    assert [(r["run_id"], r["outcome"]) for r in row.recent_runs] == [
        ("r1", "success"),
        ("r2", "no new file"),
        ("r3", "success"),
        ("r4", "no new file"),
        ("r5", "failed"),
    ]  # oldest first
    assert row.recent_runs[-1] == {
        "run_id": "r5",
        "state": "failed",
        "at": "2026-11-28T05:00:42+00:00",
        "outcome": "failed",
    }
    assert row.reason == row.last_run_reason == "bad"
    assert "ready_for_targeting" not in row.to_dict()


@pytest.mark.parametrize(
    ("alerts", "finished_at", "stale"),
    [
        (None, "2026-11-28T10:30:00+00:00", False),  # 1.5 hours: within twice the hourly interval
        (None, "2026-11-28T09:59:00+00:00", True),  # just past two hours
        ({"email": ["ops@example.com"], "stale_after": "P1D"}, "2026-11-28T01:00:00+00:00", False),
        ({"email": ["ops@example.com"], "stale_after": "PT1H"}, "2026-11-28T10:30:00+00:00", True),
    ],
)
def test_stale_is_past_stale_after_else_twice_the_interval(alerts, finished_at: str, stale: bool) -> None:
    config = integration_dict("crm") | ({"alerts": alerts} if alerts else {})
    row = monitor_row(Integration.model_validate(config), state(), success=record(finished_at=finished_at))
    assert row.stale is stale and row.last_success_at == finished_at


def test_stale_is_unknown_without_a_successful_import_and_a_row_without_runs_is_empty() -> None:
    integration = Integration.model_validate(integration_dict("crm"))
    row = monitor_row(integration, None)
    assert (row.stale, row.last_success_at, row.last_import, row.next_run_at) == (None, None, None, None)
    assert (row.recent_runs, row.last_run_duration_s, row.reason) == ([], None, None)
    failed = monitor_row(integration, state(last_run_state="failed"), last=record(Outcome.FAILED, rows_read=0))
    assert failed.stale is None and failed.last_import and failed.last_import["rejected_share"] is None


def test_a_paused_dag_has_no_next_run_and_a_running_run_no_duration() -> None:
    integration = Integration.model_validate(integration_dict("crm"))
    row = monitor_row(integration, state(is_paused=True, next_run_at="2026-11-28T13:00:00+00:00"))
    assert row.next_run_at is None and row.enabled is False
    running = state(recent=(seen("r9", "running", at="2026-11-28T11:59:00+00:00", started_at=None),))
    row = monitor_row(integration, running)
    assert row.last_run_duration_s is None and row.recent_runs[0]["outcome"] == "running"


def test_source_parts_name_the_variable_a_bucket_comes_from(monkeypatch, write_config) -> None:
    from inbound.config.catalog import load_folder

    monkeypatch.setenv("INBOUND_CONFIG_EXPORTS_BUCKET", "very-private-bucket")
    path = write_config("crm.yaml", integration_dict("crm"))
    path.write_text(path.read_text().replace("bucket: acme-exports", "bucket: !env INBOUND_CONFIG_EXPORTS_BUCKET"))
    write_config("hr.yaml", integration_dict("hr"))
    crm, hr = rows(load_folder(write_config.folder), {}, {})
    assert crm.source_parts == {
        "bucket": None,
        "bucket_env": "INBOUND_CONFIG_EXPORTS_BUCKET",
        "key": "crm/users_*.csv",
        "key_env": None,
    }
    assert hr.source_parts == {"bucket": "acme-exports", "bucket_env": None, "key": "hr/users_*.csv", "key_env": None}
    assert "very-private-bucket" not in str(crm.to_dict())


def test_the_terminal_table_says_when_an_integration_is_stale() -> None:
    integration = Integration.model_validate(integration_dict("crm"))
    row = monitor_row(integration, state(), success=record(finished_at="2026-11-27T05:00:00+00:00"))
    assert row.stale is True and "✔ success, stale" in render([row])


def test_the_row_shows_the_header_drift_of_the_last_import_as_the_current_config_sees_it(s3, store) -> None:
    from test_drift import NEW, OLD, _crm, _run
    from test_pipeline import put

    crm = _crm()
    put(s3, "crm/users_1.csv", OLD)
    _run(s3, store, crm, "run_1")
    (row,) = rows(Catalog(integrations={"crm": crm}), {}, store.last_success(["crm"]))
    assert row.schema_drift is None  # the first import: nothing to compare with
    put(s3, "crm/users_2.csv", NEW.replace("Notes", "Remarks"))
    _run(s3, store, crm, "run_2")
    (row,) = rows(Catalog(integrations={"crm": crm}), {}, store.last_success(["crm"]))
    drift = row.schema_drift
    assert drift is not None and drift["summary"].startswith("2 new columns since 20")
    assert drift["summary"].endswith(", 1 column gone")
    assert [c["column"] for c in drift["new"]] == ["Region", "Remarks"] and drift["gone"] == ["Notes"]
    assert drift["config_lines"] and "  - column: Remarks\n" in drift["config_lines"]
    assert "crm: header changed: 2 new columns since" in render([row])
    # The config now reads one and ignores the other: nothing is new any more, without another import.
    mapped = _crm(
        attributes=[{"column": "Plan", "name": "plan"}, {"column": "Region", "name": "region"}],
        ignore_columns=["Remarks", "Open Tickets"],
    )
    (row,) = rows(Catalog(integrations={"crm": mapped}), {}, store.last_success(["crm"]))
    assert row.schema_drift is not None and row.schema_drift["new"] == [] and row.schema_drift["gone"] == ["Notes"]
