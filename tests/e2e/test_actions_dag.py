"""Issue 23's matrix, DAG column: the DAG triggered with `key` (a re-import), with `dry_run` and with
`force`, × every outcome of `tests/actions.py`, on both stores, as real `airflow dags test` runs.

Checked for each: S3 and the store before and after, the import log, the DAG run's state and
the run's answer (`finalize`'s `inbound_outcome` XCom, what the UI shows).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from actions import CASES, SEED, Case, check_real, check_untouched, config, keys, store_state
from conftest import _postgres_url
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.run import Run
from inbound.store import open_store

pytestmark = pytest.mark.slow
BUCKET = "acme-exports"
BIN = Path(sys.executable).parent


@pytest.fixture
def world(request, tmp_path, airflow_env, s3_server, monkeypatch):
    """A crm integration on either store whose users_0.csv was imported by `inbound run`."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        connection = json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "store.db")})
        cleanup = None
    else:
        cleanup = _postgres_url()
        url = next(cleanup)
        connection = url.replace("postgresql://", "postgres://")
    try:
        s3_server.create_bucket(Bucket=BUCKET)
    except s3_server.exceptions.BucketAlreadyOwnedByYou:
        pass
    for key in keys(s3_server, BUCKET, "crm/"):
        s3_server.delete_object(Bucket=BUCKET, Key=key)
    folder = tmp_path / "integrations"
    folder.mkdir()
    env = {
        **airflow_env,
        "INBOUND_CONFIG_DIR": str(folder),
        "INBOUND_STAGING_DIR": str(tmp_path / "staging"),
        "AIRFLOW_CONN_INBOUND_STORE": connection,
    }

    def start(case: Case) -> str:
        """The config, and users_0.csv imported (in this process, as `inbound run` would: it saves a start-up)."""
        written = config(case, BUCKET)
        (folder / "crm.yaml").write_text(yaml.safe_dump(written))
        s3_server.put_object(Bucket=BUCKET, Key="crm/users_0.csv", Body=SEED.encode())
        monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "seed-staging"))
        crm = Integration.model_validate(written)
        with open_store(url, migrate=True) as store:  # the deploy step (`inbound migrate`), then the seed import
            run = Run(crm, s3_server, store, run_id="seed", triggered_by="cli:test/seed", catalog=Catalog())
            assert run(run.look().new).outcome == "success"
        (seed,) = [k for k in keys(s3_server, BUCKET, "crm/success/") if k.endswith("_users_0.csv")]
        if case.body is not None:
            s3_server.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=case.body.encode())
        return seed

    yield {"start": start, "env": env, "store": url, "staging": tmp_path / "staging"}
    if cleanup is not None:
        next(cleanup, None)


def _trigger(world, conf: dict) -> tuple[str, dict | None, str]:
    """`airflow dags test inbound_crm -c conf`: the run's state, its `inbound_outcome` and the output."""
    proc = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "inbound_crm", "-c", json.dumps(conf)],
        env=world["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert "dag_id=inbound_crm" in output, output[-3000:]
    db = Path(world["env"]["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        run_id, state = conn.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = 'inbound_crm' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        row = conn.execute(
            "SELECT value FROM xcom WHERE dag_id = 'inbound_crm' AND run_id = ? AND task_id = 'finalize' "
            "AND key = 'inbound_outcome'",
            (run_id,),
        ).fetchone()
    outcome = None
    if row is not None:
        outcome = json.loads(row[0])
        if isinstance(outcome, str):
            outcome = json.loads(outcome)
    return state, outcome, output


def _state(s3, url):
    with open_store(url) as store:
        return keys(s3, BUCKET), store_state(store)


# The outcomes that take a path of their own through Airflow: which task decides (the sensor
# refusing a key, the mapping failing a file, the write tripping the mirror guard, the write
# logging a skip), what finalize then says, and the run's state. The outcomes left out here
# take one of these paths with another message (a file-level failure is the over-the-ratio
# path; a report's key, and a moved key in a dry run, is the missing key's), and the CLI
# matrix (tests/test_actions.py) runs every outcome through the same core on both stores.
# On PostgreSQL: those whose Airflow path leans on the store. A `dags test` costs ~15 s here
# (6 of them Airflow starting its in-process execution API), so the suite stays near 25 min.
IMPORTS = {c.name for c in CASES} - {"a file-level failure", "a report's key"}
DRY_RUNS = {"good file", "rows rejected within the ratio", "rows rejected over the ratio", "the mirror guard"}
DRY_RUNS |= {"identical content", "a missing key"}
ON_POSTGRES = {"good file", "rows rejected over the ratio", "identical content", "a moved key"}
COMBOS = [
    pytest.param(store, case, dry_run, id=f"{store}-{'dry run' if dry_run else 'import'}-{case.name}")
    for store in ("sqlite", "postgres")
    for dry_run in (False, True)
    for case in CASES
    if case.name in ((DRY_RUNS if dry_run else IMPORTS) if store == "sqlite" else () if dry_run else ON_POSTGRES)
]
STORES = pytest.mark.parametrize("world", ["sqlite", "postgres"], indirect=True)


@pytest.mark.parametrize(("world", "case", "dry_run"), COMBOS, indirect=["world"])
def test_the_dag_answers_each_outcome_truthfully(world, s3_server, case, dry_run) -> None:
    seed = world["start"](case)
    s3_before, before = _state(s3_server, world["store"])
    state, outcome, output = _trigger(world, {"key": case.key.format(seed=seed), "dry_run": dry_run})
    s3_after, after = _state(s3_server, world["store"])
    if dry_run or case.refused:
        check_untouched(s3_before, s3_after, before, after)
    else:
        check_real(case, s3_before, s3_after, before, after, run="dag")
    fails = case.dry_fails if dry_run else case.fails
    assert state == ("failed" if fails else "success"), output[-3000:]
    assert outcome is not None, output[-3000:]
    assert outcome["state"] == state and outcome["dry_run"] is dry_run
    said = "\n".join([outcome["message"], *outcome["lines"]])  # the sentence, and the lines the CLI prints
    assert (case.dry_says if dry_run else case.says) in said, said
    if not dry_run and case.moves_to:
        (result,) = outcome["summary"]["results"]
        assert result["final_key"].startswith(f"crm/{case.moves_to}/")
        assert sorted(result["report_keys"]) == sorted(f"{result['final_key']}{s}" for s in case.reports)
    assert not any(world["staging"].rglob("*.parquet"))  # the run's staged sets are gone with it


@STORES
def test_force_writes_past_the_mirror_guard(world, s3_server) -> None:
    (case,) = [c for c in CASES if c.name == "the mirror guard"]
    world["start"](case)
    state, outcome, _ = _trigger(world, {"key": "crm/users_1.csv", "force": True})
    assert state == "success" and outcome is not None
    assert "imported 1 rows from crm/users_1.csv: 1 updated, 2 removed" in outcome["message"]
    with open_store(world["store"]) as store:
        values, _ = store_state(store)
    assert {u for u, v in values.items() if v} == {"a@x"}


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_run_with_nothing_waiting_is_skipped_in_neutral_words(world, s3_server) -> None:
    (case,) = [c for c in CASES if c.name == "a missing key"]
    world["start"](case)  # @daily: a manual run looks once, it never waits for the interval
    state, outcome, _ = _trigger(world, {})
    assert state == "success" and outcome is not None  # Airflow's run: no leaf failed
    assert (outcome["outcome"], outcome["state"]) == ("no new file", "skipped")
    assert "nothing was imported" in outcome["message"]
