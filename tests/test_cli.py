"""`inbound` commands, called in-process against moto's S3 and a SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import BUCKET, EXAMPLES, integration_dict, migrated
from inbound.cli import main
from inbound.store.schema import SCHEMA_VERSION


@pytest.fixture
def env(monkeypatch, tmp_path, write_config):
    """Configs in a temp folder and a store selected through the `inbound_store` connection."""
    monkeypatch.setenv("INBOUND_CONFIG_DIR", str(write_config.folder))
    monkeypatch.setenv(
        "AIRFLOW_CONN_INBOUND_STORE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "store.db")})
    )
    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
    migrated(f"sqlite:///{tmp_path / 'store.db'}")
    return write_config


def test_validate_examples(capsys) -> None:
    assert main(["validate", str(EXAMPLES)]) == 0
    assert "ok: 2 integration(s), 9 of 100 attributes" in capsys.readouterr().out


def test_validate_101_attributes_fails_and_names_the_files(env, capsys) -> None:
    env("crm.yaml", integration_dict("crm", attributes=[{"column": f"c{i}", "name": f"crm_{i}"} for i in range(51)]))
    env("hr.yaml", integration_dict("hr", attributes=[{"column": f"c{i}", "name": f"hr_{i}"} for i in range(50)]))
    assert main(["validate", str(env.folder)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1  # one line per problem
    assert "hr.yaml" in out[0] and "crm.yaml: 51" in out[0] and "would make 101" in out[0]


def test_validate_verbose_shows_yaml(env, capsys) -> None:
    env("crm.yaml", {**integration_dict("crm"), "shedule": "@daily"})
    assert main(["validate", "-v", str(env.folder)]) == 1
    out = capsys.readouterr().out
    assert "did you mean 'schedule'?" in out and "shedule: '@daily'" in out


def test_run_user_and_status(env, s3, capsys) -> None:
    env(
        "crm.yaml",
        integration_dict(
            "crm",
            attributes=[
                {"column": "Plan", "name": "plan"},
                {"column": "Seats", "name": "seats", "type": "integer"},
                {"column": "Admin", "name": "admin", "type": "boolean"},
                {"column": "Since", "name": "since", "type": "date"},
            ],
        ),
    )
    s3.put_object(
        Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email,Plan,Seats,Admin,Since\nada@x,premium,3,yes,2024-01-31\n"
    )
    assert main(["run", "crm"]) == 0
    assert "crm: success: 1 file(s), 1 rows read, 1 written, 0 rejected" in capsys.readouterr().out
    assert main(["user", "ada@x", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["user_id"] == "ada@x"
    assert found["attributes"] == {"admin": True, "plan": "premium", "seats": 3, "since": "2024-01-31"}
    assert set(found["sources"]["plan"]) == {"integration", "file", "updated_at"}
    assert found["sources"]["plan"]["integration"] == "crm"
    assert main(["user", "nobody", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["attributes"] == {}
    assert main(["run", "crm"]) == 0
    assert "no new file" in capsys.readouterr().out
    assert main(["status", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["name"] == "crm" and row["attributes_imported"] == 4 and row["users"] == 1
    assert row["last_success_at"] and row["stale"] is False and row["source"] == "s3://acme-exports/crm/users_*.csv"


def test_run_failed_file_exits_1(env, s3, capsys) -> None:
    env("crm.yaml", integration_dict("crm"))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Mail,Plan\nada@x,premium\n")
    assert main(["run", "crm"]) == 1
    out = capsys.readouterr().out
    assert "failed" in out and "user-ID column 'Email'" in out and "crm/failed/" in out


def test_run_usage_errors_exit_2(env, s3, capsys) -> None:
    env("crm.yaml", integration_dict("crm"))
    assert main(["run", "crn"]) == 2
    assert "did you mean 'crm'?" in capsys.readouterr().err
    assert main(["run", "crm", "--key", "crm/missing.csv"]) == 2
    assert "crm/missing.csv" in capsys.readouterr().err


def test_run_with_key_refuses_a_file_of_another_source(env, s3, capsys) -> None:
    env("crm.yaml", integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}]))
    s3.put_object(Bucket=BUCKET, Key="elsewhere/export.csv", Body=b"Email,Plan\nada@x,premium\n")
    assert main(["run", "inbound_crm", "--key", "elsewhere/export.csv", "--json"]) == 2
    assert "'elsewhere/export.csv' does not match source.key 'crm/users_*.csv'" in capsys.readouterr().err
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["elsewhere/export.csv"]


def test_failed_file_fixed_config_reimport_with_key(env, s3, capsys) -> None:
    """The README's steps: a file failed, the config is fixed, `inbound run NAME --key` re-imports it."""
    path = env("crm.yaml", integration_dict("crm", user_id={"column": "Mail"}))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email,Plan,Open Tickets\nada@x,premium,2\n")
    assert main(["run", "crm"]) == 1
    capsys.readouterr()
    failed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="crm/failed/")["Contents"]]
    (moved,) = [k for k in failed if k.endswith("users_1.csv")]
    assert f"{moved}.error.txt" in failed
    env(path.name, integration_dict("crm"))  # the fix: the user-ID column is Email
    assert main(["run", "crm"]) == 0 and "no new file" in capsys.readouterr().out  # failed/ is never re-read alone
    assert main(["run", "crm", "--key", moved, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["outcome"] == "success" and summary["rows_written"] == 1
    final = summary["results"][0]["final_key"]
    assert final.startswith("crm/success/") and final.endswith("_users_1.csv")
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == [final]
    assert main(["user", "ada@x", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["attributes"] == {"crm_plan": "premium", "crm_open_tickets": 2}


def test_status_shows_broken_configs(env, capsys) -> None:
    env("crm.yaml", integration_dict("crm"))
    env("hr.yaml", {**integration_dict("hr"), "schedule": "@sometimes"})
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "crm" in out and "never run" in out
    assert "hr" in out and "config error" in out and "unknown schedule preset" in out


def test_schema_check() -> None:
    assert main(["schema", "--check"]) == 0


def test_preview_purge_forget_migrate(env, s3, capsys) -> None:
    env("crm.yaml", integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}]))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email,Plan\nada@x,premium\nbob@x,free\n")
    assert main(["preview", "crm"]) == 0
    out = capsys.readouterr().out
    assert "previewed" in out and "2 inserted" in out and "dry run" in out
    assert main(["run", "crm"]) == 0
    capsys.readouterr()
    assert main(["forget", "ada@x"]) == 0
    assert "removed from crm: plan" in capsys.readouterr().out
    assert main(["purge", "crm"]) == 1
    assert "holds values for 1 users" in capsys.readouterr().out
    assert main(["purge", "crm", "--yes"]) == 0
    assert "for 1 users" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert f"schema version {SCHEMA_VERSION}" in capsys.readouterr().out


def test_status_names_values_without_a_config(env, s3, capsys) -> None:
    env("crm.yaml", integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}]))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email,Plan\nada@x,premium\n")
    assert main(["run", "crm"]) == 0
    (env.folder / "crm.yaml").unlink()
    capsys.readouterr()
    assert main(["status"]) == 0
    assert "inbound purge crm --yes" in capsys.readouterr().out


def test_segment(env, s3, capsys) -> None:
    env(
        "crm.yaml",
        integration_dict(
            "crm",
            attributes=[{"column": "Plan", "name": "plan"}, {"column": "Seats", "name": "seats", "type": "integer"}],
        ),
    )
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email,Plan,Seats\nada@x,premium,3\nbob@x,free,10\n")
    assert main(["run", "crm"]) == 0
    capsys.readouterr()
    assert main(["segment", '{"attribute": "plan", "op": "eq", "value": "premium"}', "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"count": 1, "sample": ["ada@x"]}
    assert main(["segment", '{"attribute": "seats", "op": "gt", "value": 2}']) == 0
    assert "2 users match" in capsys.readouterr().out
    assert main(["segment", '{"attribute": "seat", "op": "gt", "value": 2}']) == 2
    assert "did you mean 'seats'?" in capsys.readouterr().err


def imported_modules(*argv: str) -> set[str]:
    """The modules a fresh `inbound ARGV...` process imports (`python -X importtime`, on stderr)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "inbound.cli", *argv],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("form", ["uri", "json"])
def test_store_commands_do_not_load_airflow_when_the_store_comes_from_the_variable(
    env, tmp_path, monkeypatch, form
) -> None:
    path = str(tmp_path / "store.db")
    value = f"sqlite:///{path}" if form == "uri" else json.dumps({"conn_type": "sqlite", "host": path})
    monkeypatch.setenv("AIRFLOW_CONN_INBOUND_STORE", value)
    env("crm.yaml", integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}]))
    for argv in (["user", "ada@x"], ["segment", '{"attribute": "plan", "op": "eq", "value": "premium"}']):
        loaded = imported_modules(*argv)
        assert "inbound.store" in loaded  # the command did read the store
        assert not {m for m in loaded if m.partition(".")[0] == "airflow"}, argv
    validate = imported_modules("validate")
    assert not {m for m in validate if m.partition(".")[0] in ("airflow", "polars") or m.startswith("inbound.store")}


def test_a_store_connection_it_cannot_use_exits_2_without_the_secret(env, monkeypatch, capsys) -> None:
    env("crm.yaml", integration_dict("crm"))
    monkeypatch.setenv("AIRFLOW_CONN_INBOUND_STORE", "mysql://inbound:s3cret@db/inbound")
    assert main(["user", "ada@x"]) == 2
    err = capsys.readouterr().err
    assert "connection inbound_store has type 'mysql'; use postgres or sqlite" in err
    assert "s3cret" not in err


@pytest.mark.parametrize("command", [["migrate"], ["user", "ada@x"], ["status"]])
def test_a_store_that_is_down_is_one_line_not_a_traceback(env, monkeypatch, capsys, command) -> None:
    import socket

    import inbound.store as store_module

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    monkeypatch.setenv("AIRFLOW_CONN_INBOUND_STORE", f"postgresql://inbound:s3cret@127.0.0.1:{port}/inbound")
    monkeypatch.setattr(store_module, "CONNECT_BACKOFF_S", 0.01)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "cannot reach the attribute store" in err and "Traceback" not in err and "s3cret" not in err


def test_events_prints_then_applies_the_notification_and_queue_policy(env, s3, capsys) -> None:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="inbound-crm")["QueueUrl"]
    config = integration_dict("crm")
    env("crm.yaml", {**config, "source": {**config["source"], "events": {"queue": "inbound-crm"}}})
    env("hr.yaml", integration_dict("hr"))
    assert main(["events", "inbound_crm"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["applied"] is False and printed["queue_url"] == url
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=BUCKET)
    assert main(["events", "crm", "--apply"]) == 0
    applied = json.loads(capsys.readouterr().out)
    assert applied["applied"] is True and applied["notes"][0] == "queue policy set"
    (rule,) = s3.get_bucket_notification_configuration(Bucket=BUCKET)["QueueConfigurations"]
    assert rule["QueueArn"] == printed["queue_arn"]
    assert main(["events", "hr"]) == 2
    assert "is polled: add a source.events block" in capsys.readouterr().err
    env("crm.yaml", {**config, "source": {**config["source"], "events": {"queue": "missing"}}})
    assert main(["events", "crm"]) == 1
    assert "reading the queue and bucket notification of 'crm' failed" in capsys.readouterr().err


def _evented(name: str, queue: str, key: str | None = None) -> dict[str, object]:
    config = integration_dict(name)
    return {**config, "source": {**config["source"], "key": key or config["source"]["key"], "events": {"queue": queue}}}


def test_events_prints_without_any_aws_access(env, monkeypatch, capsys) -> None:
    """A bucket owner applies the JSON: printing needs no region, no credentials (the ARN follows from the URL)."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/inbound-crm"
    env("crm.yaml", _evented("crm", url))
    assert main(["events", "crm"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["queue_arn"] == "arn:aws:sqs:eu-west-1:123456789012:inbound-crm" and printed["applied"] is False
    (rule,) = printed["bucket_notification"]["QueueConfigurations"]
    assert rule["QueueArn"] == printed["queue_arn"]
    (statement,) = printed["queue_policy"]["Statement"]
    assert statement["Resource"] == printed["queue_arn"]


def test_events_print_reports_a_conflict_apply_would_refuse(env, s3, capsys) -> None:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.create_queue(QueueName="inbound-crm")
    other = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName="analytics")["QueueUrl"], AttributeNames=["QueueArn"]
    )
    theirs = {"Id": "analytics", "QueueArn": other["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": [theirs]})
    env("crm.yaml", _evented("crm", "inbound-crm"))
    assert main(["events", "crm"]) == 1
    captured = capsys.readouterr()
    assert "rule 'analytics' already sends" in json.loads(captured.out)["problems"][0]
    assert "rule 'analytics' already sends" in captured.err


def test_events_changing_a_shared_rule_keeps_the_other_integrations_files_notified(env, s3, capsys) -> None:
    """(b) hr shares crm's wider rule; crm changing its key must not leave hr's files notifying nothing."""
    import boto3

    from inbound.events.notifications import created

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="inbound-events")["QueueUrl"]
    env("crm.yaml", _evented("crm", "inbound-events", "crm/users_*.csv"))
    env("hr.yaml", _evented("hr", "inbound-events", "crm/users_hr.csv"))
    assert main(["events", "crm", "--apply"]) == 0
    assert main(["events", "hr", "--apply"]) == 0  # covered: it shares inbound-crm
    env("crm.yaml", _evented("crm", "inbound-events", "crm/users_*.txt"))
    assert main(["events", "crm", "--apply"]) == 0
    assert "set rule inbound-hr" in capsys.readouterr().out
    sqs.purge_queue(QueueUrl=url)
    s3.put_object(Bucket=BUCKET, Key="crm/users_hr.csv", Body=b"Email\n")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [c.key for m in messages for c in created(m["Body"])] == ["crm/users_hr.csv"]


def test_events_print_tells_when_no_rule_carries_the_files(env, s3, capsys) -> None:
    """(b) After hr's files lost their rule, `inbound events hr` says so (it showed nothing wrong)."""
    import boto3

    boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="inbound-events")
    env("hr.yaml", _evented("hr", "inbound-events"))
    assert main(["events", "hr"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "not set"
    assert "no rule of bucket acme-exports sends" in captured.err and "inbound events hr --apply" in captured.err
