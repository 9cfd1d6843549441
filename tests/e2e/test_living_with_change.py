"""Issue 30 through real DAG runs: schema drift, the volume guard and deletions from the export.

`tests/test_drift.py`, `tests/test_volume.py` and `tests/test_deletions.py` run these through
`inbound.run.Run` in the test's process; here each goes through `airflow dags test` against the moto
S3 server, so what a run learns (the header's shape, the rows of earlier imports, the deleted count)
has to survive the tasks, XCom and the config snapshot: checked are the run's state, its answer
(finalize's `inbound_outcome`), where the file went and its `.error.txt`, the store's values and
the import log. Seven DAG runs in all (a `dags test` costs ~15 s here): where a test only needs an
earlier import to compare with, that import is done in this process, as `inbound run` would do it
(as `test_actions_dag` seeds); the first test checks that a DAG run records what those comparisons read.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import yaml

from e2e.test_dag_run import BUCKET, dags_test, keys, last_run, run_state
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.mapping.drift import Shape
from inbound.run import Run
from inbound.store import open_store

pytestmark = pytest.mark.slow

TYPES = {"plan": "string", "open_tickets": "integer"}  # the attributes, before the integration's prefix


@pytest.fixture
def world(tmp_path, airflow_env, s3_server, monkeypatch):
    """A function that writes one integration's config (the usual Plan and Open Tickets, with
    `overrides`) into its own folder, migrates a store (the deploy step) and returns what
    `test_dag_run`'s helpers take: name, env, store URL (and the config, for `_seed`)."""
    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "seed_staging"))  # `_seed`'s runs, in this process

    def make(**overrides: Any) -> dict[str, Any]:
        name = f"drift_{uuid.uuid4().hex[:6]}"
        folder = tmp_path / name
        folder.mkdir()
        config = {
            "name": name,
            "schedule": "@daily",
            "source": {"bucket": BUCKET, "key": f"{name}/users_*.csv"},
            "user_id": {"column": "Email"},
            "attributes": [
                {"column": "Plan", "name": f"{name}_plan"},
                {"column": "Open Tickets", "name": f"{name}_open_tickets", "type": "integer"},
            ],
            **overrides,
        }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        store_path = tmp_path / f"{name}.db"
        env = {
            **airflow_env,
            "INBOUND_CONFIG_DIR": str(folder),
            "INBOUND_STAGING_DIR": str(tmp_path / f"{name}_staging"),
            "AIRFLOW_CONN_INBOUND_STORE": json.dumps({"conn_type": "sqlite", "host": str(store_path)}),
        }
        open_store(f"sqlite:///{store_path}", migrate=True).close()  # as `inbound migrate` does
        return {"name": name, "env": env, "store": f"sqlite:///{store_path}", "config": config}

    try:
        s3_server.create_bucket(Bucket=BUCKET)
    except s3_server.exceptions.BucketAlreadyOwnedByYou:
        pass
    return make


def _put(s3, integration, filename: str, body: str) -> str:
    key = f"{integration['name']}/{filename}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())
    return key


def _seed(s3, integration, filename: str, body: str) -> None:
    """`filename` imported in this process, as `inbound run` would (it saves a DAG run's start-up)."""
    _put(s3, integration, filename, body)
    with open_store(integration["store"]) as store:
        run = Run(
            Integration.model_validate(integration["config"]),
            s3,
            store,
            run_id=f"seed_{filename}",
            triggered_by="cli:test/seed",
            catalog=Catalog(),
        )
        assert run(run.look().new).outcome == "success"


def _values(integration, user: str) -> dict[str, Any]:
    name = integration["name"]
    with open_store(integration["store"]) as store:
        found = store.user_attributes(user, {f"{name}_{a}": t for a, t in TYPES.items()})["attributes"]
    return {a.removeprefix(f"{name}_"): v for a, v in found.items()}


def _outcome(integration) -> dict[str, Any]:
    _, outcome = last_run(integration)
    assert outcome is not None
    return outcome


def _report(s3, key: str) -> str:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


OLD = "Email,Plan,Open Tickets\nada@x,premium,3\nbob@x,free,0\n"
NEW = "Email,Plan,Open Tickets,Region\nada@x,basic,4,EU\nbob@x,free,1,US\n"  # Region: new, read by no config


def test_a_new_column_warns_the_run_imports_without_it_and_the_import_log_keeps_the_shape(world, s3_server) -> None:
    integration = world()  # on_new_columns: warn, the default
    name = integration["name"]
    _put(s3_server, integration, "users_1.csv", OLD)
    dags_test(integration)
    assert run_state(integration) == "success"
    first = _outcome(integration)["message"]
    assert first.startswith("imported 2 rows") and "new column" not in first  # the first import only records

    _put(s3_server, integration, "users_2.csv", NEW)
    dags_test(integration)
    assert run_state(integration) == "success"
    outcome = _outcome(integration)
    assert outcome["outcome"] == "success"
    message = outcome["message"]
    assert "1 new column since" in message and "'Region'" in message, message
    assert "map them or list them under `ignore_columns`" in message
    assert _values(integration, "ada@x") == {"plan": "basic", "open_tickets": 4}  # imported, without Region
    moved = keys(s3_server, f"{name}/")
    assert len(moved) == 2 and all(k.startswith(f"{name}/success/") for k in moved), moved

    with open_store(integration["store"]) as store:
        latest = store.last_success([name])[name]
        log = store.imports(name)
    assert [e.outcome for e in log] == ["success", "success"] and latest.id == log[0].id
    shape = Shape.loads(latest.shape)
    assert shape is not None and shape.columns == ("Email", "Plan", "Open Tickets", "Region")
    assert [c for c, _ in shape.new] == ["Region"] and shape.appeared == ("Region",)
    assert shape.compared_with is not None and not shape.gone and not shape.reordered
    before = Shape.loads(log[1].shape)
    assert before is not None and before.columns == ("Email", "Plan", "Open Tickets") and before.new == ()
    # What the volume guard compares, recorded by a DAG run too: the rows with a value per attribute.
    assert dict(before.filled) == dict(shape.filled) == {f"{name}_plan": 2, f"{name}_open_tickets": 2}
    assert (log[1].rows_read, log[0].rows_read) == (2, 2)


def test_on_new_columns_fail_fails_the_file_with_the_config_lines_and_force_imports_it(world, s3_server) -> None:
    integration = world(on_new_columns="fail")
    name = integration["name"]
    _seed(s3_server, integration, "users_1.csv", OLD)
    before = _values(integration, "ada@x")
    assert before == {"plan": "premium", "open_tickets": 3}

    _put(s3_server, integration, "users_2.csv", NEW)
    output = dags_test(integration)
    assert run_state(integration) == "failed"
    outcome = _outcome(integration)
    assert outcome["outcome"] == "failed"
    assert "on_new_columns is fail: nothing was imported" in outcome["message"], outcome["message"]
    assert "on_new_columns is fail" in output  # the task log says it too
    assert _values(integration, "ada@x") == before  # nothing written
    failed = [k for k in keys(s3_server, f"{name}/failed/") if k.endswith("_users_2.csv")]
    assert len(failed) == 1, keys(s3_server, f"{name}/")
    (failed_key,) = failed
    report = _report(s3_server, f"{failed_key}.error.txt")
    assert "- column: Region" in report and "type: string" in report, report
    assert "force" in report
    with open_store(integration["store"]) as store:
        assert [e.outcome for e in store.imports(name)] == ["failed", "success"]

    # The export really has a new column and it is fine to import without it: re-import that key with force.
    dags_test(integration, conf={"key": failed_key, "force": True})
    assert run_state(integration) == "success"
    outcome = _outcome(integration)
    assert outcome["outcome"] == "success" and "1 new column since" in outcome["message"], outcome["message"]
    assert _values(integration, "ada@x") == {"plan": "basic", "open_tickets": 4}
    assert keys(s3_server, f"{name}/failed/") == []  # the file and its report left failed/
    assert sum(k.endswith("_users_2.csv") for k in keys(s3_server, f"{name}/success/")) == 1
    with open_store(integration["store"]) as store:
        latest = store.imports(name, limit=1)[0]
    assert latest.outcome == "success" and latest.rows_written == 2
    shape = Shape.loads(latest.shape)
    assert shape is not None and [c for c, _ in shape.new] == ["Region"]


def _rows(users: int, plan: str) -> str:
    return "Email,Plan,Open Tickets\n" + "".join(f"u{i}@x,{plan},{i}\n" for i in range(users))


def test_a_file_far_smaller_than_the_usual_export_fails_as_suspicious_writing_nothing(world, s3_server) -> None:
    integration = world()
    name = integration["name"]
    for i, users in enumerate((10, 11, 12), start=1):  # a backlog of three exports: three imports in one run
        _put(s3_server, integration, f"users_{i}.csv", _rows(users, plan=f"p{i}"))
    dags_test(integration)
    assert run_state(integration) == "success"
    with open_store(integration["store"]) as store:
        assert [(e.outcome, e.rows_read) for e in store.imports(name)] == [
            ("success", 12),
            ("success", 11),
            ("success", 10),
        ]
    before = {user: _values(integration, user) for user in ("u0@x", "u1@x", "u11@x")}
    assert before["u0@x"] == {"plan": "p3", "open_tickets": 0}

    _put(s3_server, integration, "users_4.csv", _rows(2, plan="half"))
    output = dags_test(integration)
    assert run_state(integration) == "failed"
    message = _outcome(integration)["message"]
    expected = "suspicious export: 2 rows, 82% fewer than the median of the last 3 imports (11 rows)"
    assert expected in message and "nothing was imported" in message, message
    assert "suspicious export" in output
    assert {user: _values(integration, user) for user in before} == before  # nothing written
    (failed,) = (k for k in keys(s3_server, f"{name}/failed/") if k.endswith("_users_4.csv"))
    report = _report(s3_server, f"{failed}.error.txt")
    assert expected in report and "force" in report, report
    with open_store(integration["store"]) as store:
        latest = store.imports(name, limit=1)[0]
    assert latest.outcome == "failed" and latest.rows_written == 0 and latest.final_key == failed


DELETE_WHEN = {"column": "Status", "values": ["deleted", "erased"]}


def test_a_row_marked_deleted_removes_the_users_values_counted_in_the_answer_and_the_log(world, s3_server) -> None:
    integration = world(delete_when=DELETE_WHEN)  # max_deleted 0.2: 1 of 10 users is fine
    name = integration["name"]
    header = "Email,Plan,Open Tickets,Status\n"
    _seed(s3_server, integration, "users_1.csv", header + "".join(f"u{i}@x,pro,{i},active\n" for i in range(10)))
    assert _values(integration, "u1@x") == {"plan": "pro", "open_tickets": 1}

    # u1 is deleted (its other cells are not read), u2 updated; the others are not in the file.
    _put(s3_server, integration, "users_2.csv", header + "u1@x,,, Deleted \nu2@x,free,5,active\n")
    output = dags_test(integration)
    assert run_state(integration) == "success"
    outcome = _outcome(integration)
    assert outcome["outcome"] == "success"
    assert "1 deleted" in outcome["message"] and "1 updated" in outcome["message"], outcome["message"]
    assert outcome["summary"]["deleted"] == 1, outcome["summary"]
    assert "1 deleted" in output  # the task log
    assert _values(integration, "u1@x") == {}
    assert _values(integration, "u2@x") == {"plan": "free", "open_tickets": 5}
    assert _values(integration, "u3@x") == {"plan": "pro", "open_tickets": 3}  # upsert: not in the file, kept
    assert all(k.startswith(f"{name}/success/") for k in keys(s3_server, f"{name}/"))
    with open_store(integration["store"]) as store:
        latest = store.imports(name, limit=1)[0]
    assert latest.outcome == "success" and latest.deleted == 1 and latest.updated == 1, latest
