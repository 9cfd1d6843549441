"""The wait_for_file sensor/trigger pair against moto's in-process S3."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import BUCKET, integration_dict, migrated
from inbound.airflow.files_trigger import NewFilesTrigger
from inbound.airflow.sensor import NewFilesSensor
from inbound.config.model import Integration
from inbound.s3.source import listing_digest


@pytest.fixture(autouse=True)
def configs(write_config, monkeypatch, tmp_path):
    """The crm config in INBOUND_CONFIG_DIR (the sensor reads the catalog for shared files)."""
    write_config("crm.yaml", integration_dict("crm"))
    monkeypatch.setenv("INBOUND_CONFIG_DIR", str(write_config.folder))
    monkeypatch.setenv(
        "AIRFLOW_CONN_INBOUND_STORE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "store.db")})
    )
    migrated(f"sqlite:///{tmp_path / 'store.db'}")
    return write_config


@pytest.fixture
def sensor() -> NewFilesSensor:
    integration = Integration.model_validate(integration_dict("crm"))
    return NewFilesSensor(
        task_id="wait_for_file", snapshot=integration.snapshot(), timeout=60, poke_interval=30, deferrable=True
    )


def test_sensor_finds_waiting_files_without_deferring(s3, sensor) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email\n")
    found = sensor.execute({})
    assert [f["key"] for f in found["files"]] == ["crm/users_1.csv"]
    assert found["snapshot"] == sensor.snapshot


def test_sensor_defers_to_a_thin_trigger_when_nothing_waits(s3, sensor) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, NewFilesTrigger) and deferred.value.method_name == "execute_complete"
    _, kwargs = trigger.serialize()
    # The trigger row holds where to list and what the worker judged, never the config.
    assert kwargs["integration"] == "crm" and kwargs["version"] == sensor.integration.version
    assert kwargs["source"] == {
        "bucket": BUCKET,
        "key": "crm/users_*.csv",
        "aws_conn_id": "aws_default",
        "marker": None,
    }
    assert kwargs["seen"] == listing_digest([]) and "snapshot" not in kwargs
    assert len(json.dumps(kwargs)) < 400
    left = datetime.fromisoformat(trigger.deadline) - datetime.now(UTC)
    assert timedelta(seconds=55) < left <= timedelta(seconds=60)


def _listed(sensor: NewFilesSensor, seconds: float = 30, **event: Any) -> dict[str, Any]:
    deadline = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    return {
        "status": "listed",
        "integration": "crm",
        "version": sensor.integration.version,
        "listing": "x",
        "files": 1,
        "deadline": deadline,
        **event,
    }


def test_a_listing_event_makes_the_worker_look_and_take_the_new_files(s3, sensor) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email\n")
    found = sensor.execute_complete({}, _listed(sensor))
    assert [f["key"] for f in found["files"]] == ["crm/users_1.csv"] and found["snapshot"] == sensor.snapshot


def test_a_listing_of_files_done_for_this_integration_defers_again_with_that_listing_seen(
    s3, sensor, monkeypatch
) -> None:
    """A shared file this integration did its part of (the others still read it): no work, wait again."""
    from airflow.sdk.exceptions import TaskDeferred

    from inbound.airflow import sensor as module

    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email\n")
    listed = module.look(sensor.snapshot)
    monkeypatch.setattr(module, "look", lambda snapshot: {"files": [], "due": [], "listing": listed["listing"]})
    event = _listed(sensor)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute_complete({}, event)
    again = deferred.value.trigger
    assert again.seen == listed["listing"] != listing_digest([])
    assert again.deadline == event["deadline"]  # the same wait, not a new one


def test_a_listing_event_after_the_deadline_with_nothing_to_do_skips(s3, sensor, monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from inbound.airflow import sensor as module

    monkeypatch.setattr(module, "look", lambda snapshot: {"files": [], "due": [], "listing": "y"})
    with pytest.raises(AirflowSkipException, match="no new file within 60 s"):
        sensor.execute_complete({}, _listed(sensor, seconds=-1))


def test_an_event_for_another_integration_fails_without_reading(sensor) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="for integration 'hr', not 'crm'"):
        sensor.execute_complete({}, _listed(sensor, integration="hr"))


def test_key_param_imports_one_named_file_at_once_even_from_failed(s3, sensor) -> None:
    failed = "crm/failed/20260101T000000Z_users_1.csv"
    s3.put_object(Bucket=BUCKET, Key=failed, Body=b"Email\n")
    s3.put_object(Bucket=BUCKET, Key="crm/users_2.csv", Body=b"Email\n")  # waiting, but not asked for
    found = sensor.execute({"params": {"key": failed}})
    assert [f["key"] for f in found["files"]] == [failed]


class _Pushed:
    """What a task instance was asked to push (the sensor leaves finalize its reason)."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("hr/users_1.csv", r"does not match source.key 'crm/users_\*.csv'"),
        ("crm/users_9.csv", r"crm/users_9\.csv does not exist"),
        ("crm/success/20260101T000000Z_users_1.csv.rejected.csv", "is a report a run wrote beside a moved file"),
        ("crm/success/20260101T000000Z_users_1.csv.error.txt", "is a report"),
        ("crm/success/", "is a folder, not a file"),
    ],
)
def test_key_param_that_is_no_export_of_this_source_fails_without_skipping(s3, sensor, key, why) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    s3.put_object(Bucket=BUCKET, Key="hr/users_1.csv", Body=b"Email\n")
    s3.put_object(Bucket=BUCKET, Key="crm/success/20260101T000000Z_users_1.csv.rejected.csv", Body=b"line\n")
    s3.put_object(Bucket=BUCKET, Key="crm/success/20260101T000000Z_users_1.csv.error.txt", Body=b"why\n")
    ti = _Pushed()
    with pytest.raises(AirflowFailException, match=why):
        sensor.execute({"params": {"key": key}, "ti": ti, "run_id": "manual__1"})
    assert re.search(why, ti.xcom["inbound_error"])  # finalize ends the run with this reason


def test_a_wait_that_gives_up_on_a_quiet_source_sends_the_stale_alert(s3, smtp, configs, tmp_path) -> None:
    import polars as pl

    from inbound.airflow.connections import store
    from inbound.store import FileImport

    integration = Integration.model_validate(
        integration_dict("crm", alerts={"email": ["ops@acme.test"], "stale_after": "P2D"})
    )
    sensor = NewFilesSensor(task_id="wait_for_file", snapshot=integration.snapshot(), timeout=60, poke_interval=30)
    attribute_store = store()
    attribute_store.write_file(
        FileImport("crm", "s3://acme-exports/crm/users_0.csv", "e", "v", "t", rows_read=1),
        types={"crm_plan": "string"},
        frame=pl.DataFrame({"user_id": ["ada@x"], "crm_plan": ["p"]}),
    )
    with pytest.raises(Exception, match="no new file"):
        sensor.execute_complete({}, {"status": "timeout"})
    assert smtp.messages == []  # imported just now: not stale
    with attribute_store.transaction() as cur:  # the last import was three days ago
        cur.execute(
            "UPDATE inbound_import_log SET finished_at = ?", ((datetime.now(UTC) - timedelta(days=3)).isoformat(),)
        )
    attribute_store.close()
    with pytest.raises(Exception, match="no new file"):
        sensor.execute_complete({}, {"status": "timeout"})
    ((recipients, message),) = smtp.messages
    assert recipients == ["ops@acme.test"] and message["Subject"] == "[inbound] crm: no new file for 3.0 days"


def test_s3_clients_are_reused_per_connection_until_the_connection_changes(monkeypatch) -> None:
    from inbound.airflow import connections

    monkeypatch.setattr(connections, "_clients", {})
    monkeypatch.setenv("AIRFLOW_CONN_BENCH_S3", json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}))
    first = connections.s3_client("bench_s3")
    assert connections.s3_client("bench_s3") is first
    monkeypatch.setenv("AIRFLOW_CONN_BENCH_S3", json.dumps({"conn_type": "aws", "extra": {"region_name": "eu-west-1"}}))
    assert connections.s3_client("bench_s3").meta.region_name == "eu-west-1"
    monkeypatch.setattr(connections, "CLIENT_TTL_S", -1.0)
    assert connections.s3_client("bench_s3") is not connections.s3_client("bench_s3")


class _ManualRun:
    """A manual run as the Task SDK hands it: `run_type` is its `DagRunType`, whose `str()` is not "manual"."""

    from airflow.sdk.api.datamodels._generated import DagRunType

    run_type = DagRunType.MANUAL


def test_a_manual_run_looks_once_and_never_waits(s3, sensor) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="no new file waiting"):
        sensor.execute({"dag_run": _ManualRun()})  # nothing there: skipped at once, never deferred
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email\n")
    assert [f["key"] for f in sensor.execute({"dag_run": _ManualRun()})["files"]] == ["crm/users_1.csv"]


def test_deferrable_follows_airflows_operators_default_deferrable(monkeypatch) -> None:
    """The Amazon provider's convention: `[operators] default_deferrable` unless the task says otherwise."""
    integration = Integration.model_validate(integration_dict("crm"))
    for setting in ("true", "false"):
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
        sensor = NewFilesSensor(task_id="wait_for_file", snapshot=integration.snapshot(), timeout=60)
        assert sensor.deferrable is (setting == "true")
    sensor = NewFilesSensor(task_id="wait_for_file", snapshot=integration.snapshot(), timeout=60, deferrable=True)
    assert sensor.deferrable is True


def test_waiting_only_looks_s3_reads_and_the_import_log_nothing_written(s3, store, write_config, monkeypatch) -> None:
    """A shared file crm did its part of, due since hr is absent past its grace: the look reports it
    due, and every S3 call is a read and no store write method is called (the move is finalize's)."""
    from inbound.airflow import look
    from inbound.run import Run
    from inbound.store import AttributeStore

    shared = {"source": {"bucket": BUCKET, "key": "exports/*.csv"}}
    crm = Integration.model_validate(integration_dict("crm", **shared))
    write_config("crm.yaml", integration_dict("crm", **shared))
    write_config("hr.yaml", integration_dict("hr", attributes=[{"column": "Plan", "name": "hr_plan"}], **shared))
    s3.put_object(Bucket=BUCKET, Key="exports/people.csv", Body=b"Email,Plan\nada@x,p\n")
    this = Run(crm, s3, store, "r1", "test")
    this.finalize(this.write(this.map(this.look().new)))  # crm imports; the file stays for hr
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/")["Contents"]
    assert [o["Key"] for o in listed if "/" not in o["Key"].removeprefix("exports/")] == ["exports/people.csv"]
    monkeypatch.setenv("INBOUND_SHARED_GRACE_INTERVALS", "0")  # from now on hr counts as absent

    calls: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    monkeypatch.setattr(look, "s3_client", lambda conn_id: s3)
    monkeypatch.setattr(look, "store", lambda migrate=True: store)
    monkeypatch.setattr(store, "close", lambda: None)
    writes: list[str] = []
    for name in ("write_file", "log_failure", "log_skip", "set_final_key", "purge", "forget", "migrate"):
        if hasattr(AttributeStore, name):
            monkeypatch.setattr(store, name, lambda *a, _n=name, **k: writes.append(_n))
    found = look.look(crm.snapshot())
    assert found["files"] == [] and [f["key"] for f in found["due"]] == ["exports/people.csv"]
    assert calls and set(calls) <= {"ListObjectsV2", "HeadObject", "GetObject"}, calls
    assert writes == []


class _Event:
    def __init__(self, payload: Any) -> None:
        self.extra = {"from_trigger": True, "payload": payload}


class _AssetRun:
    from airflow.sdk.api.datamodels._generated import DagRunType

    run_type = DagRunType.ASSET_TRIGGERED


def _evented_sensor() -> NewFilesSensor:
    config = integration_dict("crm")
    integration = Integration.model_validate({**config, "source": {**config["source"], "events": {"queue": "q"}}})
    return NewFilesSensor(
        task_id="wait_for_file", snapshot=integration.snapshot(), timeout=60, poke_interval=30, deferrable=True
    )


def _asset_context(*payloads: Any) -> dict[str, Any]:
    return {"dag_run": _AssetRun(), "triggering_asset_events": {"inbound_crm_files": [_Event(p) for p in payloads]}}


def test_a_run_from_events_imports_exactly_the_files_they_named(s3) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    for key in ("crm/users_1.csv", "crm/users_2 +3.csv", "crm/users_4.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"Email\n")
    named = [{"bucket": BUCKET, "key": "crm/users_2 +3.csv"}, {"bucket": BUCKET, "key": "crm/users_1.csv"}]
    found = _evented_sensor().execute(_asset_context({"files": named[:1]}, {"files": named[1:]}))
    assert [f["key"] for f in found["files"]] == ["crm/users_1.csv", "crm/users_2 +3.csv"]  # oldest first
    # an event whose file a run already moved (or that names nothing of ours): skipped, nothing done
    s3.delete_object(Bucket=BUCKET, Key="crm/users_1.csv")
    with pytest.raises(AirflowSkipException, match="imported already"):
        _evented_sensor().execute(_asset_context({"files": [{"bucket": BUCKET, "key": "crm/users_1.csv"}]}))


def test_the_sweep_of_event_mode_looks_once_never_defers_and_counts_what_it_finds(s3, monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from inbound.airflow import sensor as sensor_module

    sensor = _evented_sensor()
    with pytest.raises(AirflowSkipException, match="the sweep looks once"):
        sensor.execute({})  # a scheduled run: no TaskDeferred, the run slot is free at once
    s3.put_object(Bucket=BUCKET, Key="crm/users_9.csv", Body=b"Email\n")  # an event was lost
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(sensor_module, "emit_swept", lambda integration, files: sent.append((integration, files)))
    assert [f["key"] for f in sensor.execute({})["files"]] == ["crm/users_9.csv"]
    assert sent == [("crm", 1)]  # files_swept: the loss rate of the event path
