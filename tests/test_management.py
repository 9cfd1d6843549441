from __future__ import annotations

import pytest

from conftest import integration_dict
from inbound.airflow.management import is_enabled, render, rows, schedule_in_words
from inbound.airflow.runs import DagState
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.config.problems import ConfigProblem
from inbound.outcome import Outcome
from inbound.store import ImportRecord


def state(**kw) -> DagState:
    base = dict(
        dag_id="inbound_crm",
        is_paused=False,
        last_run_at="2026-11-28T05:00:00+00:00",
        last_run_state="success",
        last_run_skipped=False,
        last_run_id="r1",
        successful_runs=1,
    )
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
    assert crm.enabled is False and crm.attributes_imported == 2 and crm.users == 10 and crm.ready_for_targeting
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
