"""The factory's DAGs, loaded the way Airflow loads them (DagBag over the dags folder)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.models.taskinstance import TaskInstance
from airflow.serialization.serialized_objects import DagSerialization
from airflow.task.priority_strategy import validate_and_load_priority_weight_strategy as load_strategy

from conftest import EXAMPLES, ROOT, integration_dict

DAGS = ROOT / "dags"


@pytest.fixture
def dagbag_for(monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    def load(config_dir: Path) -> DagBag:
        monkeypatch.setenv("INBOUND_CONFIG_DIR", str(config_dir))
        folder = tmp_path / "dags"
        folder.mkdir(exist_ok=True)
        for name in ("inbound_integrations.py", "inbound_config_errors.py"):
            shutil.copy(DAGS / name, folder / name)
        return DagBag(dag_folder=str(folder), safe_mode=True)

    return load


def test_examples_load_without_import_errors(dagbag_for) -> None:
    bag = dagbag_for(EXAMPLES)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"inbound_crm_users", "inbound_support_tickets"}


def test_dag_shape(dagbag_for, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
    dag = dagbag_for(EXAMPLES).dags["inbound_crm_users"]
    assert [t.task_id for t in dag.topological_sort()] == [
        "wait_for_file",
        "validate_and_map",
        "upsert_attributes",
        "finalize",
    ]
    for upstream, downstream in [
        ("wait_for_file", "validate_and_map"),
        ("validate_and_map", "upsert_attributes"),
        ("upsert_attributes", "finalize"),
    ]:
        assert dag.get_task(upstream).downstream_task_ids == {downstream}
    assert dag.catchup is False
    assert dag.max_active_runs > 1  # a manual run never queues behind a scheduled run that waits
    assert {"dry_run", "force"} <= set(dag.params.keys())
    assert "inbound" in dag.tags
    assert (
        "`Plan`" in dag.doc_md
        and "`plan`" in dag.doc_md
        # `!env [INBOUND_CONFIG_BUCKET, acme-exports]`, the variable not set: the default, the author's literal
        and "s3://acme-exports/crm/users_*.csv" in dag.doc_md
    )
    wait = dag.get_task("wait_for_file")
    assert wait.deferrable is True and wait.soft_fail is True
    # a scheduled run waits for its interval less one look, so it ends before the next one starts
    assert wait.timeout == timedelta(hours=1).total_seconds() - wait.poke_interval
    assert dag.get_task("finalize").trigger_rule == "all_done"
    # the further a task carries its run, the sooner it runs: under a backlog, runs under way end first
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    tasks = ("wait_for_file", "validate_and_map", "upsert_attributes", "finalize")
    weights = [  # as the scheduler computes them for a new run's task instances
        load_strategy(serialized.get_task(t).weight_rule).get_weight(
            TaskInstance(task=serialized.get_task(t), run_id="r", dag_version_id=None)
        )
        for t in tasks
    ]
    assert weights == [1, 2, 3, 4]
    assert dag.get_task("upsert_attributes").retries == 3
    assert dag.get_task("upsert_attributes").retry_exponential_backoff


def test_schedule_and_pause_state(dagbag_for, write_config) -> None:
    write_config("a.yaml", integration_dict("crm", schedule="*/15 * * * *"))
    write_config("b.yaml", integration_dict("hr", schedule="PT30M", enabled=False))
    bag = dagbag_for(write_config.folder)
    crm, hr = bag.dags["inbound_crm"], bag.dags["inbound_hr"]
    assert crm.timetable.expression == "*/15 * * * *"
    assert hr.timetable.delta == timedelta(minutes=30)
    assert crm.is_paused_upon_creation is False and hr.is_paused_upon_creation is True


def test_broken_config_is_an_import_error_and_the_others_keep_running(dagbag_for, write_config) -> None:
    write_config("a_good.yaml", integration_dict("crm"))
    broken = write_config("b_broken.yaml", {**integration_dict("hr"), "shedule": "@daily"})
    bag = dagbag_for(write_config.folder)
    assert bag.dag_ids == ["inbound_crm"]
    ((path, message),) = bag.import_errors.items()
    assert path.endswith("inbound_config_errors.py")
    assert str(broken) in message and "unknown key 'shedule'; did you mean 'schedule'?" in message
    assert "inbound validate" in message


def test_worker_builds_only_the_dag_it_needs(monkeypatch) -> None:
    from airflow.sdk.definitions.context import _AIRFLOW_PARSING_CONTEXT_DAG_ID

    from inbound.airflow.dag import build_dags
    from inbound.config.catalog import load_folder

    monkeypatch.setenv(_AIRFLOW_PARSING_CONTEXT_DAG_ID, "inbound_support_tickets")
    assert list(build_dags(load_folder(EXAMPLES))) == ["inbound_support_tickets"]


def test_sensor_returns_new_files_oldest_first_with_the_config(s3) -> None:
    from conftest import BUCKET, migrated
    from inbound.airflow.sensor import NewFilesSensor
    from inbound.config.model import Integration
    from inbound.store import default_sqlite_path

    migrated(f"sqlite:///{default_sqlite_path()}")  # the worker's look reads the (embedded) store's import log
    integration = Integration.model_validate(integration_dict("crm"))
    sensor = NewFilesSensor(task_id="wait_for_file", snapshot=integration.snapshot())
    assert sensor.poke({}).is_done is False
    s3.put_object(Bucket=BUCKET, Key="crm/success/20260101T000000Z_users_0.csv", Body=b"x")
    assert sensor.poke({}).is_done is False  # never a file that was already moved
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email\n")
    found = sensor.poke({})
    assert found.is_done is True
    assert [f["key"] for f in found.xcom_value["files"]] == ["crm/users_1.csv"]
    assert Integration.from_snapshot(found.xcom_value["snapshot"]) == integration


def test_sensor_falls_back_to_reschedule_mode_without_a_triggerer(dagbag_for, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "false")
    wait = dagbag_for(EXAMPLES).dags["inbound_crm_users"].get_task("wait_for_file")
    assert wait.deferrable is False and wait.mode == "reschedule"


def test_upsert_emits_the_integrations_asset_through_an_alias(dagbag_for) -> None:
    dag = dagbag_for(EXAMPLES).dags["inbound_crm_users"]
    (alias,) = dag.get_task("upsert_attributes").outlets
    assert alias.name == "inbound_crm_users_writes"


def test_only_upsert_reports_lineage_and_nothing_loads_for_it_without_openlineage(tmp_path) -> None:
    """Parsing the DAGs (as a scheduler or a worker does) imports no lineage code: without the
    OpenLineage provider configured, nothing changes and nothing slows."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from inbound.config.catalog import load_folder\n"
        "from inbound.airflow.dag import build_dags\n"
        f"dags = build_dags(load_folder({str(EXAMPLES)!r}))\n"
        "dag = dags['inbound_crm_users']\n"
        "reporting = sorted(t.task_id for t in dag.tasks if hasattr(t, 'get_openlineage_facets_on_complete'))\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('openlineage') or m == 'inbound.pipeline.lineage')\n"
        "print(reporting, loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "['upsert_attributes'] []"


def test_with_openlineage_on_no_task_reports_what_hooks_collected(tmp_path) -> None:
    """One clean edge per import: hook lineage (staged parts, the move to success/) is off for
    every task of an integration, as the provider resolves the task's emission policy."""
    import os
    import subprocess
    import sys

    script = (
        "from airflow.providers.openlineage.utils.emission_policy import resolve_task_emission_policy\n"
        "from inbound.config.catalog import load_folder\n"
        "from inbound.airflow.dag import build_dags\n"
        f"dag = build_dags(load_folder({str(EXAMPLES)!r}))['inbound_crm_users']\n"
        "print(sorted((t.task_id, resolve_task_emission_policy(t, dag.dag_id, t.task_id).hook_lineage) "
        "for t in dag.tasks))\n"
    )
    transport = '{"type": "file", "log_file_path": "' + str(tmp_path / "events") + '"}'
    env = {**os.environ, "AIRFLOW__OPENLINEAGE__TRANSPORT": transport}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    tasks = ("finalize", "upsert_attributes", "validate_and_map", "wait_for_file")
    assert out.stdout.strip().splitlines()[-1] == str([(t, False) for t in tasks])


def test_a_value_from_env_shows_as_its_variable_not_its_value(monkeypatch, write_config) -> None:
    """The DAG's docs and the management table show `!env NAME`; the run itself uses the value."""
    from inbound.airflow.dag import build_dag, doc_md
    from inbound.airflow.management import rows
    from inbound.config.catalog import load_folder

    monkeypatch.setenv("INBOUND_CONFIG_SECRET_BUCKET", "very-private-bucket")
    path = write_config("crm.yaml", integration_dict("crm"))
    path.write_text(path.read_text().replace("bucket: acme-exports", "bucket: !env INBOUND_CONFIG_SECRET_BUCKET"))
    (integration,) = load_folder(write_config.folder).integrations.values()
    assert integration.source.bucket == "very-private-bucket"
    assert "very-private-bucket" not in doc_md(integration) and "INBOUND_CONFIG_SECRET_BUCKET" in doc_md(integration)
    assert "very-private-bucket" not in (build_dag(integration).description or "")
    (row,) = rows(load_folder(write_config.folder), {}, {})
    assert "very-private-bucket" not in str(row.to_dict())
    # the serialized DAG (the UI's task details show the sensor's snapshot) and the XCom it pushes

    dag = build_dag(integration)
    assert "very-private-bucket" not in json.dumps(DagSerialization.to_dict(dag), default=str)
    assert "very-private-bucket" not in json.dumps(dag.get_task("wait_for_file").snapshot)


def test_an_events_block_schedules_the_dag_on_its_events_asset_or_the_sweep(dagbag_for, write_config) -> None:
    from airflow.sdk import AssetOrTimeSchedule

    from inbound.airflow.queue_trigger import QueueEventsTrigger

    events = {"queue": "inbound-crm", "aws_conn_id": "aws_events"}
    config = integration_dict("crm", schedule="PT15M")
    write_config("a.yaml", {**config, "source": {**config["source"], "marker": "_SUCCESS", "events": events}})
    write_config("b.yaml", integration_dict("hr", schedule="*/5 * * * *"))
    bag = dagbag_for(write_config.folder)
    assert bag.import_errors == {}
    crm, hr = bag.dags["inbound_crm"], bag.dags["inbound_hr"]
    assert isinstance(crm.timetable, AssetOrTimeSchedule)
    assert crm.timetable.timetable.delta == timedelta(minutes=15)  # the sweep
    asset = crm.timetable.asset_condition
    assert asset.name == "inbound_crm_files"
    (watcher,) = asset.watchers
    trigger = watcher.trigger
    assert isinstance(trigger, QueueEventsTrigger)
    assert (trigger.queue, trigger.aws_conn_id, trigger.key, trigger.marker) == (
        "inbound-crm",
        "aws_events",
        config["source"]["key"],
        "_SUCCESS",
    )
    assert "**Start:** events: S3 notifications on inbound-crm" in crm.doc_md
    # without the block nothing changes: the plain schedule, polling
    assert hr.timetable.expression == "*/5 * * * *" and "**Start:** polling" in hr.doc_md


@pytest.mark.parametrize("payload", [None, 3, "x", {}, {"files": 3}, {"files": [{"key": "k"}]}, {"results": [{}]}])
def test_what_xcom_hands_a_task_is_read_or_refused_clearly_never_a_crash(payload) -> None:
    """XCom can be edited: a payload that is no run's files or results is `ReceivedInvalid`, with why."""
    from inbound.airflow.tasks import found_files, found_results, found_snapshot
    from inbound.errors import ReceivedInvalid

    with pytest.raises(ReceivedInvalid, match="cannot be read"):
        found_files(payload) if not (isinstance(payload, dict) and "results" in payload) else found_results(payload)
    with pytest.raises(ReceivedInvalid, match="cannot be read"):
        found_results(payload)
    assert found_snapshot(payload) is None
