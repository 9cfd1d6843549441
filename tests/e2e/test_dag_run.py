"""Real DAG runs: `airflow dags test` against a moto S3 server, checking the store and S3."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from inbound.store import open_store

pytestmark = pytest.mark.slow

BUCKET = "e2e-exports"


@pytest.fixture
def unmigrated(tmp_path, airflow_env, s3_server):
    """One integration config in its own folder and a store nobody migrated yet (no file at all)."""
    name = f"e2e_{uuid.uuid4().hex[:6]}"
    folder = tmp_path / "integrations"
    folder.mkdir()
    (folder / f"{name}.yaml").write_text(
        yaml.safe_dump(
            {
                "name": name,
                "schedule": "@daily",
                "source": {"bucket": BUCKET, "key": f"{name}/users_*.csv"},
                "user_id": {"column": "Email"},
                "attributes": [
                    {"column": "Plan", "name": f"{name}_plan"},
                    {"column": "Open Tickets", "name": f"{name}_open_tickets", "type": "integer"},
                ],
            }
        )
    )
    try:
        s3_server.create_bucket(Bucket=BUCKET)
    except s3_server.exceptions.BucketAlreadyOwnedByYou:
        pass
    store_path = tmp_path / "store.db"
    env = {
        **airflow_env,
        "INBOUND_CONFIG_DIR": str(folder),
        "INBOUND_STAGING_DIR": str(tmp_path / "staging"),
        "AIRFLOW_CONN_INBOUND_STORE": json.dumps({"conn_type": "sqlite", "host": str(store_path)}),
    }
    return {"name": name, "env": env, "store": f"sqlite:///{store_path}", "staging": tmp_path / "staging"}


@pytest.fixture
def integration(unmigrated):
    """One integration config in its own folder and a store, migrated (the deploy step), for a real DAG run."""
    open_store(unmigrated["store"], migrate=True).close()  # as `inbound migrate` does
    return unmigrated


def dags_test(integration, conf: dict | None = None) -> str:
    dag_id = f"inbound_{integration['name']}"
    args = ["airflow", "dags", "test", dag_id] + (["-c", json.dumps(conf)] if conf else [])
    proc = subprocess.run(args, env=integration["env"], capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert f"dag_id={dag_id}" in output, output[-3000:]
    return output


def run_state(integration) -> str:
    db = Path(integration["env"]["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        (state,) = conn.execute(
            "SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (f"inbound_{integration['name']}",)
        ).fetchone()
    return state


def keys(s3, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_good_file_lands_in_the_store_and_moves_to_success(integration, s3_server) -> None:
    name = integration["name"]
    s3_server.put_object(
        Bucket=BUCKET, Key=f"{name}/users_1.csv", Body=b"Email,Plan,Open Tickets\nada@x,premium,3\nbob@x,free,0\n"
    )
    dags_test(integration)
    assert run_state(integration) == "success"
    store = open_store(integration["store"])
    types = {f"{name}_open_tickets": "integer", f"{name}_plan": "string"}
    assert store.user_attributes("ada@x", types)["attributes"] == {f"{name}_open_tickets": 3, f"{name}_plan": "premium"}
    (entry,) = store.imports(name)
    assert (
        entry.outcome == "success"
        and entry.rows_written == 2
        and entry.triggered_by.startswith(f"airflow:inbound_{name}/")
    )
    (moved,) = keys(s3_server, f"{name}/")
    assert moved.startswith(f"{name}/success/") and moved.endswith("_users_1.csv") and entry.final_key == moved
    assert not any(integration["staging"].rglob("*.parquet"))
    db = Path(integration["env"]["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:  # the downstream asset event, with the run's counts
        (extra,) = conn.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = ?", (f"inbound_{name}",)
        ).fetchone()
    counts = json.loads(extra)
    assert (counts["rows_written"], counts["inserted"], counts["files"]) == (2, 2, 1)


def test_file_without_user_id_column_fails_the_run_and_moves_to_failed(integration, s3_server) -> None:
    name = integration["name"]
    s3_server.put_object(Bucket=BUCKET, Key=f"{name}/users_1.csv", Body=b"Mail,Plan,Open Tickets\nada@x,premium,3\n")
    output = dags_test(integration)
    assert run_state(integration) == "failed"
    assert "user-ID column 'Email' is not in the file's header" in output  # the task log says it too
    store = open_store(integration["store"])
    assert store.user_attributes("ada@x")["attributes"] == {}
    (entry,) = store.imports(name)
    assert entry.outcome == "failed"
    moved, report = keys(s3_server, f"{name}/")
    assert moved.startswith(f"{name}/failed/") and report == f"{moved}.error.txt"
    reason = s3_server.get_object(Bucket=BUCKET, Key=report)["Body"].read().decode()
    assert "user-ID column 'Email' is not in the file's header" in reason
    assert "'Plan' (column 2)" in reason and "(column 1)" in reason  # 'Mail' is read by no config: placed, not quoted


def test_no_new_file_skips_the_run_instead_of_failing(integration, tmp_path) -> None:
    """A manual run (`airflow dags test` makes one) looks once and, finding nothing, is skipped, not failed."""
    path = next(Path(integration["env"]["INBOUND_CONFIG_DIR"]).glob("*.yaml"))
    config = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**config, "schedule": "PT1M"}))
    dags_test(integration)
    assert run_state(integration) == "success"
    db = Path(integration["env"]["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        states = dict(
            conn.execute(
                "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = "
                "(SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1)",
                (f"inbound_{integration['name']}",) * 2,
            ).fetchall()
        )
    assert states == {
        "wait_for_file": "skipped",
        "validate_and_map": "skipped",
        "upsert_attributes": "skipped",
        "finalize": "skipped",
    }


def last_run(integration) -> tuple[dict[str, tuple[str, int]], dict | None]:
    """The latest run's task states with their try numbers, and finalize's `inbound_outcome` XCom."""
    db = Path(integration["env"]["AIRFLOW_HOME"]) / "airflow.db"
    dag_id = f"inbound_{integration['name']}"
    with sqlite3.connect(db) as conn:
        (run_id,) = conn.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        tasks = conn.execute(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
        ).fetchall()
        row = conn.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'finalize' AND key = 'inbound_outcome'",
            (dag_id, run_id),
        ).fetchone()
    outcome = json.loads(row[0]) if row else None
    if isinstance(outcome, str):  # (stored as a JSON text of JSON)
        outcome = json.loads(outcome)
    return {task: (state, tries) for task, state, tries in tasks}, outcome


def test_a_run_against_an_unmigrated_store_fails_saying_run_inbound_migrate_and_moves_nothing(
    unmigrated, s3_server
) -> None:
    """Migrations are a deploy step (issue 29, item 6): no task creates the store's schema. Until `inbound migrate`
    runs, a run fails at once (no retries) with the fix in its outcome and task log, writes nothing (not even an
    empty database file) and leaves the file where it was; after `inbound migrate` the next run imports it."""
    name = unmigrated["name"]
    body = b"Email,Plan,Open Tickets\nada@x,premium,3\n"
    s3_server.put_object(Bucket=BUCKET, Key=f"{name}/users_1.csv", Body=body)
    output = dags_test(unmigrated)
    assert run_state(unmigrated) == "failed"
    store_file = Path(unmigrated["store"].removeprefix("sqlite:///"))
    message = f"the attribute store's schema is behind: sqlite:///{store_file} has no schema yet (version 0)"
    assert message in output and "run `inbound migrate`" in output  # the task log says it
    tasks, outcome = last_run(unmigrated)
    assert tasks["validate_and_map"] == ("failed", 1), tasks  # failed at once, not retried as a database down
    assert tasks["upsert_attributes"][0] == "upstream_failed" and tasks["finalize"][0] == "failed"
    assert outcome is not None and outcome["outcome"] == "failed"
    assert message in outcome["message"] and "run `inbound migrate`" in outcome["message"]
    assert not store_file.exists()  # nothing written, not even an empty database
    assert keys(s3_server, f"{name}/") == [f"{name}/users_1.csv"]  # the file stays; no report beside it
    assert not any(unmigrated["staging"].rglob("*.parquet"))

    migrated = subprocess.run(
        ["inbound", "migrate"], env=unmigrated["env"], capture_output=True, text=True, timeout=120, check=True
    )
    assert f"sqlite:///{store_file}: schema version" in migrated.stdout
    dags_test(unmigrated)
    assert run_state(unmigrated) == "success"
    (moved,) = keys(s3_server, f"{name}/")
    assert moved.startswith(f"{name}/success/")
    with open_store(unmigrated["store"]) as store:
        assert [r.outcome for r in store.imports(name)] == ["success"]


@pytest.mark.parametrize("case_name", ["german_excel_cp1252", "bad_rows_within_threshold", "gzip_bomb"])
def test_corpus_through_a_real_dag(case_name, tmp_path, airflow_env, s3_server) -> None:
    """Realistic exports through Airflow: store, moved file and reports as the corpus says."""
    import csv
    import io
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from corpus import ATTRIBUTES, cases

    case = next(c for c in cases() if c.name == case_name)
    name = f"corpus_{uuid.uuid4().hex[:6]}"
    folder = tmp_path / "integrations"
    folder.mkdir()
    config = {
        "name": name,
        "schedule": "@daily",
        "source": {"bucket": BUCKET, "key": f"{name}/*"},
        "user_id": {"column": "Email"},
        "attributes": ATTRIBUTES,
        **case.config,
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    try:
        s3_server.create_bucket(Bucket=BUCKET)
    except s3_server.exceptions.BucketAlreadyOwnedByYou:
        pass
    filename = case.key.rsplit("/", 1)[1]
    s3_server.put_object(Bucket=BUCKET, Key=f"{name}/{filename}", Body=case.data)
    store_path = tmp_path / "store.db"
    integration = {
        "name": name,
        "env": {
            **airflow_env,
            "INBOUND_CONFIG_DIR": str(folder),
            "INBOUND_STAGING_DIR": str(tmp_path / "staging"),
            "AIRFLOW_CONN_INBOUND_STORE": json.dumps({"conn_type": "sqlite", "host": str(store_path)}),
        },
    }
    open_store(f"sqlite:///{store_path}", migrate=True).close()  # the deploy step (`inbound migrate`)
    output = dags_test(integration)
    assert run_state(integration) == ("success" if case.outcome == "success" else "failed")
    store = open_store(f"sqlite:///{store_path}")
    for user, expected in case.users.items():
        types = {a["name"]: a.get("type", "string") for a in config["attributes"]}
        found = store.user_attributes(user, types)["attributes"]
        assert {k: found.get(k) for k in expected} == expected
    moved = next(k for k in keys(s3_server, f"{name}/{case.outcome}/") if k.endswith(filename))
    if case.rejects:
        report = s3_server.get_object(Bucket=BUCKET, Key=f"{moved}.rejected.csv")["Body"].read().decode()
        assert sorted(int(r["line"]) for r in csv.DictReader(io.StringIO(report))) == sorted(
            line for line, _ in case.rejects
        )
    if case.error:
        assert case.error in output
        assert case.error in s3_server.get_object(Bucket=BUCKET, Key=f"{moved}.error.txt")["Body"].read().decode()


def test_a_failed_run_alerts_by_email_and_the_fixed_file_is_reimported_with_the_key_param(
    integration, s3_server, smtp
) -> None:
    """The README's "a file failed, I fixed it, re-import" steps, through real DAG runs."""
    name = integration["name"]
    env = {**integration["env"], "AIRFLOW_CONN_SMTP_DEFAULT": os.environ["AIRFLOW_CONN_SMTP_DEFAULT"]}
    integration = {**integration, "env": env}
    path = next(Path(env["INBOUND_CONFIG_DIR"]).glob("*.yaml"))
    config = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**config, "alerts": {"email": ["data-team@acme.test"]}}))
    s3_server.put_object(
        Bucket=BUCKET, Key=f"{name}/users_1.csv", Body=b"Mail,Plan,Open Tickets\nada@x,premium,3\nbob@x,free,many\n"
    )
    dags_test(integration)
    assert run_state(integration) == "failed"
    ((recipients, message),) = smtp.messages
    assert recipients == ["data-team@acme.test"] and message["Subject"] == f"[inbound] {name}: run failed"
    body = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert "user-ID column &#x27;Email&#x27; is not in the file&#x27;s header" in body and "key=" in body
    failed, report = keys(s3_server, f"{name}/")
    assert failed.startswith(f"{name}/failed/") and report == f"{failed}.error.txt"

    # The fix: the export calls the column Mail. Then re-import exactly that file.
    # bob's "many" tickets is rejected: allowed (max_rejected_ratio), but over the alert threshold.
    path.write_text(
        yaml.safe_dump(
            {
                **config,
                "user_id": {"column": "Mail"},
                "max_rejected_ratio": 0.6,
                "alerts": {"email": ["data-team@acme.test"], "rejected_ratio_over": 0.1},
            }
        )
    )
    dags_test(integration, conf={"key": failed})
    assert run_state(integration) == "success"
    moved, rejected = keys(s3_server, f"{name}/")
    assert moved.startswith(f"{name}/success/") and moved.endswith("_users_1.csv")  # the old report went with it
    assert rejected == f"{moved}.rejected.csv"
    store = open_store(integration["store"])
    assert store.user_attributes("ada@x")["attributes"] == {f"{name}_plan": "premium", f"{name}_open_tickets": "3"}
    assert [e.outcome for e in store.imports(name)] == ["success", "failed"]
    assert [m["Subject"] for _, m in smtp.messages] == [
        f"[inbound] {name}: run failed",
        f"[inbound] {name}: 50.0% of rows rejected",
    ]


def test_a_run_that_finds_no_new_file_still_moves_a_shared_file_once_its_absent_reader_is_past_grace(
    integration, s3_server
) -> None:
    """A and B read one export; B never runs (paused, say). A imports it and the file stays for B; A's next
    run finds no new file, but B's grace has passed: that run moves the file and `readers.txt` names B."""
    name = integration["name"]
    folder = Path(integration["env"]["INBOUND_CONFIG_DIR"])
    other = f"{name}_b"
    (folder / f"{other}.yaml").write_text(
        yaml.safe_dump(
            {
                "name": other,
                "schedule": "@hourly",
                "source": {"bucket": BUCKET, "key": f"{name}/users_*.csv"},
                "user_id": {"column": "Email"},
                "attributes": [{"column": "Plan", "name": f"{other}_plan"}],
            }
        )
    )
    s3_server.put_object(Bucket=BUCKET, Key=f"{name}/users_1.csv", Body=b"Email,Plan,Open Tickets\nada@x,pro,1\n")
    dags_test(integration)
    assert run_state(integration) == "success"
    assert keys(s3_server, f"{name}/") == [f"{name}/users_1.csv"]  # done for A; it waits for B
    with open_store(integration["store"]) as store:
        assert [e.outcome for e in store.imports(name)] == ["success"] and store.imports(other) == []

    later = {**integration, "env": {**integration["env"], "INBOUND_SHARED_GRACE_INTERVALS": "0"}}  # B is late now
    output = dags_test(later)
    assert run_state(later) == "success", output[-3000:]
    moved, readers = keys(s3_server, f"{name}/")
    assert moved.startswith(f"{name}/success/") and readers == f"{moved}.readers.txt"
    report = s3_server.get_object(Bucket=BUCKET, Key=readers)["Body"].read().decode()
    assert f"- {other}: did not process it within 0 schedule intervals" in report
    assert f"- {name}: success: 1 rows read, 1 written" in report
    with open_store(integration["store"]) as store:
        assert len(store.imports(name)) == 1  # moved, not imported a second time


def test_a_run_sends_its_metrics_to_statsd(integration, s3_server) -> None:
    """A real DAG run with Airflow's StatsD on, read back from a UDP socket on loopback."""
    import socket

    name = integration["name"]
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(1)
    env = {
        **integration["env"],
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(sink.getsockname()[1]),
    }
    good = "".join(f"user{i}@x,premium,{i}\n" for i in range(20))  # and one bad row: 1 of 21 is under 5%
    body = f"Email,Plan,Open Tickets\n{good}bob@x,free,x\n".encode()
    s3_server.put_object(Bucket=BUCKET, Key=f"{name}/users_1.csv", Body=body)
    dags_test({**integration, "env": env})
    got: dict[str, str] = {}
    try:
        while True:
            for line in sink.recv(65535).decode().splitlines():
                stat, _, value = line.partition(":")
                got.setdefault(stat, value)
    except TimeoutError:
        pass
    finally:
        sink.close()
    prefix = f"airflow.inbound.{name}."
    assert got.get(prefix + "rows_read") == "21|c", sorted(k for k in got if "inbound" in k)
    assert got[prefix + "rows_written"] == "20|c" and got[prefix + "rows_rejected"] == "1|c"
    assert got[prefix + "files_imported"] == "1|c" and got[prefix + "files_failed"] == "0|c"
    assert float(got[prefix + "import_duration"].split("|")[0]) > 0
    stamp = float(got[prefix + "last_import_timestamp"].split("|")[0])
    (entry,) = open_store(integration["store"]).imports(name)
    assert abs(stamp - datetime.fromisoformat(entry.finished_at.replace("Z", "+00:00")).timestamp()) < 1


def _lineage_events(integration, tmp_path: Path, conf: dict | None = None) -> tuple[list[dict], str]:
    """A real DAG run with the OpenLineage provider's file transport: its events, and the run's output."""
    events = tmp_path / "openlineage.jsonl"
    env = {
        **integration["env"],
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "inbound-e2e",
    }
    output = dags_test({**integration, "env": env}, conf)
    lines = events.read_text().splitlines() if events.exists() else []
    return [json.loads(line) for line in lines], output


def _task_events(events: list[dict], integration, task_id: str) -> dict[str, dict]:
    job = f"inbound_{integration['name']}.{task_id}"
    return {e["eventType"]: e for e in events if e["job"]["name"] == job}


def _datasets(event: dict, kind: str) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in event.get(kind) or []}


def test_a_run_reports_its_import_to_openlineage(integration, s3_server, tmp_path) -> None:
    """START and COMPLETE of `upsert_attributes`: the S3 object in, the store's table and view out,
    with schema, counts, rejected rows by reason and the config version; no other task reports a dataset."""
    name = integration["name"]
    key = f"{name}/users_1.csv"
    good = "".join(f"user{i}@x,premium,{i}\n" for i in range(20))
    s3_server.put_object(Bucket=BUCKET, Key=key, Body=f"Email,Plan,Open Tickets\n{good}bob@x,free,x\n".encode())
    events, output = _lineage_events(integration, tmp_path)
    assert run_state(integration) == "success", output[-3000:]
    upsert = _task_events(events, integration, "upsert_attributes")
    assert {"START", "COMPLETE"} <= set(upsert), [(e["job"]["name"], e["eventType"]) for e in events]
    etag = s3_server.head_object(Bucket=BUCKET, Key=keys(s3_server, f"{name}/success/")[0])["ETag"].strip('"')
    start, complete = upsert["START"], upsert["COMPLETE"]
    source = ("s3://" + BUCKET, key)
    assert _datasets(start, "inputs") == {source} and _datasets(start, "outputs") == set()

    with open_store(integration["store"]) as store:
        (entry,) = store.imports(name)
        table = store.location(name).table
    namespace = f"sqlite://{socket.gethostname()}{Path(integration['store'].removeprefix('sqlite:///')).resolve()}"
    assert _datasets(complete, "inputs") == {source}
    assert _datasets(complete, "outputs") == {(namespace, f"main.{table}"), (namespace, "main.inbound_attributes_v1")}

    (read,) = complete["inputs"]
    assert [(f["name"], f["type"]) for f in read["facets"]["schema"]["fields"]] == [
        ("Email", "string"),
        ("Plan", "string"),
        ("Open Tickets", "integer"),
    ]
    assert read["facets"]["version"]["datasetVersion"] == etag
    assert read["inputFacets"]["dataQualityMetrics"]["rowCount"] == 21
    assert read["inputFacets"]["inboundRejections"] == {
        **{k: v for k, v in read["inputFacets"]["inboundRejections"].items() if k.startswith("_")},
        "rowsRead": 21,
        "rowsRejected": 1,
        "byReason": [{"kind": "invalid_value", "column": "Open Tickets", "rows": 1}],
    }
    failed = [a for a in read["inputFacets"]["dataQualityAssertions"]["assertions"] if not a["success"]]
    assert [(a["assertion"], a["column"], a["actual"]) for a in failed] == [("type", "Open Tickets", "1")]
    stored = next(o for o in complete["outputs"] if o["name"] == f"main.{table}")
    assert stored["outputFacets"]["outputStatistics"]["rowCount"] == 20
    assert stored["outputFacets"]["inboundWrite"]["inserted"] == 20
    assert [(f["name"], f["type"]) for f in stored["facets"]["schema"]["fields"]] == [
        ("user_id", "string"),
        (f"{name}_plan", "string"),
        (f"{name}_open_tickets", "integer"),
    ]
    plan = stored["facets"]["columnLineage"]["fields"][f"{name}_plan"]["inputFields"]
    assert [(f["namespace"], f["name"], f["field"]) for f in plan] == [(*source, "Plan")]
    run = complete["run"]["facets"]["inbound"]
    assert (run["integration"], run["configVersion"], run["dryRun"]) == (name, entry.config_version, False)
    assert [(f["uri"], f["outcome"], f["rowsWritten"]) for f in run["files"]] == [
        (f"s3://{BUCKET}/{key}", "success", 20)
    ]

    for task_id in ("wait_for_file", "validate_and_map", "finalize"):  # no staged parts, no move to success/
        task_events = _task_events(events, integration, task_id)
        assert task_events, task_id
        for event in task_events.values():
            assert _datasets(event, "inputs") == _datasets(event, "outputs") == set(), (task_id, event["eventType"])


def test_a_failed_file_gives_a_fail_event_with_its_reason_and_a_dry_run_writes_nothing(
    integration, s3_server, tmp_path
) -> None:
    name = integration["name"]
    s3_server.put_object(Bucket=BUCKET, Key=f"{name}/users_1.csv", Body=b"Mail,Plan,Open Tickets\nada@x,premium,3\n")
    events, output = _lineage_events(integration, tmp_path)
    assert run_state(integration) == "failed", output[-3000:]
    finalize = _task_events(events, integration, "finalize")
    reason = finalize["FAIL"]["run"]["facets"]["errorMessage"]["message"]
    assert (
        f"s3://{BUCKET}/{name}/users_1.csv" in reason and "user-ID column 'Email' is not in the file's header" in reason
    )
    complete = _task_events(events, integration, "upsert_attributes")["COMPLETE"]
    assert _datasets(complete, "inputs") == _datasets(complete, "outputs") == set()  # it fed nothing
    (file,) = complete["run"]["facets"]["inbound"]["files"]
    assert file["outcome"] == "failed" and "is not in the file's header" in file["reason"]

    key = f"{name}/users_2.csv"
    s3_server.put_object(Bucket=BUCKET, Key=key, Body=b"Email,Plan,Open Tickets\nada@x,premium,3\n")
    (tmp_path / "openlineage.jsonl").unlink()
    events, output = _lineage_events(integration, tmp_path, {"dry_run": True})
    complete = _task_events(events, integration, "upsert_attributes")["COMPLETE"]
    assert _datasets(complete, "inputs") == {("s3://" + BUCKET, key)} and _datasets(complete, "outputs") == set()
    assert complete["inputs"][0]["inputFacets"]["dataQualityMetrics"]["rowCount"] == 1
    assert complete["run"]["facets"]["inbound"]["dryRun"] is True
