"""The distributed path for real: CeleryExecutor with every Airflow process, on loopback.

The scheduler, DAG processor, triggerer, API server and a Celery worker (4 slots) run as
separate processes against PostgreSQL (metadata, attribute store) and Redis (broker), with
a moto server as S3 (see `cluster.py`). The schedule runs three integrations at once, two
of them reading the same export (each imports it once, the last moves it); a fourth waits
deferred in the triggerer (holding no worker slot) while a manual re-import of it starts and
finishes at once; two manual runs triggered back to back through the REST API (re-importing
named files) have their writes serialized by the store's lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import celery_cluster
from inbound.store import open_store

pytestmark = pytest.mark.slow

BUCKET = "celery-exports"


def _config(name: str, schedule: str, folder: str | None = None, column: str = "Plan") -> dict[str, Any]:
    return {
        "name": name,
        "schedule": schedule,
        "source": {"bucket": BUCKET, "key": f"{folder or name}/export_*.csv"},
        "user_id": {"column": "Email"},
        "attributes": [
            {"column": column, "name": f"{name}_{column.lower()}"},
        ],
    }


def _csv(plan: str, seats: int) -> bytes:
    return f"Email,Plan,Seats\nada@example.com,{plan},{seats}\ngrace@example.com,{plan}-lite,{seats + 1}\n".encode()


def _keys(s3: Any, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_integrations_run_on_celery_workers_and_sensors_wait_in_the_triggerer(tmp_path: Path) -> None:
    configs = tmp_path / "integrations"
    configs.mkdir()
    # crm and billing read the same export; hr has its own; support (@hourly) has no file
    # yet: its scheduled run waits deferred while a manual run of it goes ahead.
    for config in (
        _config("crm", "@daily"),
        _config("billing", "@daily", folder="crm", column="Seats"),
        _config("hr", "@daily"),
        _config("support", "@hourly"),
    ):
        (configs / f"{config['name']}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    with celery_cluster(tmp_path / "airflow", configs) as cluster:
        s3 = cluster.s3()
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="crm/export_1.csv", Body=_csv("pro", 10))
        s3.put_object(Bucket=BUCKET, Key="hr/export_1.csv", Body=_csv("staff", 1))

        # The DAGs are created unpaused (enabled: true), so the schedule starts one run each.
        def finished(dag_id: str, count: int = 1) -> list[dict[str, Any]] | None:
            runs = cluster.dag_runs(dag_id)
            done = [r for r in runs if r["state"] in ("success", "failed")]
            return runs if len(done) >= count else None

        for name in ("crm", "billing", "hr"):
            runs = cluster.wait_for(
                f"the scheduled run of inbound_{name}", lambda n=name: finished(f"inbound_{n}"), timeout=300
            )
            assert [(r["state"], r["run_type"]) for r in runs] == [("success", "scheduled")], cluster.log_tails()

        # The shared export was imported by both readers, then moved once, by the last one.
        (moved, readers) = _keys(s3, "crm/")
        assert moved.startswith("crm/success/") and readers == f"{moved}.readers.txt"
        report = s3.get_object(Bucket=BUCKET, Key=readers)["Body"].read().decode()
        assert (
            "- billing: success: 2 rows read, 2 written" in report
            and "- crm: success: 2 rows read, 2 written" in report
        )

        # support's scheduled run is deferred: the triggerer waits, no worker slot is held.
        (support_run,) = cluster.wait_for(
            "a run of inbound_support", lambda: cluster.dag_runs("inbound_support"), timeout=120
        )
        scheduled = support_run["dag_run_id"]

        def deferred() -> bool:
            return cluster.task_states("inbound_support", scheduled).get("wait_for_file") == "deferred"

        cluster.wait_for("wait_for_file of inbound_support to be deferred", deferred, timeout=180)
        pool = cluster.pool()
        assert pool["deferred_slots"] >= 1 and pool["running_slots"] == 0, pool

        # A waiting run never blocks a person: a re-import with `key` starts and finishes within
        # seconds while the @hourly scheduled run still waits for its interval.
        s3.put_object(Bucket=BUCKET, Key="support/export_1.csv", Body=_csv("gold", 3))
        manual = cluster.trigger("inbound_support", {"key": "support/export_1.csv"})

        def manual_done() -> dict[str, Any] | None:
            by_id = {r["dag_run_id"]: r for r in cluster.dag_runs("inbound_support")}
            return by_id[manual] if by_id[manual]["state"] in ("success", "failed") else None

        done = cluster.wait_for("the manual run of inbound_support", manual_done, timeout=120)
        assert done["state"] == "success", cluster.log_tails()
        runs = {r["dag_run_id"]: r for r in cluster.dag_runs("inbound_support")}
        assert runs[scheduled]["state"] == "running"  # still waiting: the manual run did not queue behind it

        # Two manual runs through the REST API, back to back (each re-imports one named file): they
        # may overlap, but their writes are serialized by the store's per-integration lock.
        s3.put_object(Bucket=BUCKET, Key="hr/export_2.csv", Body=_csv("contractor", 5))
        s3.put_object(Bucket=BUCKET, Key="hr/export_3.csv", Body=_csv("manager", 7))
        first = cluster.trigger("inbound_hr", {"key": "hr/export_2.csv"})
        second = cluster.trigger("inbound_hr", {"key": "hr/export_3.csv"})
        runs = cluster.wait_for("both manual runs of inbound_hr", lambda: finished("inbound_hr", 3), timeout=300)
        by_id = {r["dag_run_id"]: r for r in runs}
        assert by_id[first]["state"] == by_id[second]["state"] == "success"
        assert set(cluster.task_states("inbound_hr", second).values()) == {"success"}

        # Every file was moved to success/ and nothing is waiting.
        for name in ("crm", "hr", "support"):
            moved = [k for k in _keys(s3, f"{name}/") if not k.endswith(".txt")]
            assert moved and all(k.startswith(f"{name}/success/") for k in moved), moved
        assert len([k for k in _keys(s3, "hr/success/")]) == 3

        with open_store(cluster.store_url) as store:
            attributes = store.user_attributes("ada@example.com")["attributes"]
            assert (attributes["crm_plan"], attributes["billing_seats"]) == ("pro", "10")
            assert attributes["support_plan"] == "gold"
            assert store.user_attributes("grace@example.com")["attributes"]["support_plan"] == "gold-lite"
            hr = store.imports("hr")
            assert [e.outcome for e in hr] == ["success"] * 3
            # The writes did not interleave: the store holds what the last committed import wrote.
            last = hr[0].source_file.rsplit("_", 1)[-1]
            assert attributes["hr_plan"] == {"2.csv": "contractor", "3.csv": "manager"}[last]
            assert len(store.imports("crm")) == len(store.imports("billing")) == 1  # each read the shared file once
        triggerer_log = (cluster.home / "triggerer.log").read_text()
        # The trigger never blocks the event loop: a blocking call in a look (a boto3 client built on
        # the loop) shows at every look, many times a run. One blip just past Airflow's 0.2 s threshold
        # is the host's scheduling on a loaded machine (seen once with the CPUs shared), not the trigger.
        blocked = [line[:160] for line in triggerer_log.splitlines() if "async thread was blocked" in line]
        assert len(blocked) <= 1, blocked
        processes = list(cluster.processes.values())
    assert all(p.poll() is not None for p in processes)  # every process was stopped


def test_a_set_staged_by_one_worker_is_written_by_another_that_shares_no_disk(tmp_path: Path) -> None:
    """Two workers as on two hosts (own AIRFLOW_HOME, logs, temp and staging folders), staging in S3.

    A cluster policy routes `upsert_attributes` to host b's queue, so the set host a staged
    in `validate_and_map` can only reach the store through S3. OpenLineage is on (the file
    transport): the import's one edge runs from the export to the PostgreSQL store, and the
    staging bucket shows in no event.
    """
    configs = tmp_path / "integrations"
    configs.mkdir()
    (configs / "crm.yaml").write_text(yaml.safe_dump(_config("crm", "@daily"), sort_keys=False))
    staging = "celery-staging"
    events = tmp_path / "openlineage.jsonl"
    with celery_cluster(
        tmp_path / "airflow",
        configs,
        concurrency=2,
        extra_env={
            "INBOUND_STAGING_URL": f"s3://{staging}/runs",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events), "append": True}
            ),
        },
        hosts={"a": (), "b": ("upsert_attributes",)},
    ) as cluster:
        s3 = cluster.s3()
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=staging)
        s3.put_object(Bucket=BUCKET, Key="crm/export_1.csv", Body=_csv("pro", 10))

        def finished() -> list[dict[str, Any]] | None:
            runs = cluster.dag_runs("inbound_crm")
            return runs if runs and runs[0]["state"] in ("success", "failed") else None

        (run,) = cluster.wait_for("the scheduled run of inbound_crm", finished, timeout=300)
        assert run["state"] == "success", cluster.log_tails()
        assert s3.list_objects_v2(Bucket=staging).get("KeyCount") == 0  # finalize removed the staged set
        with open_store(cluster.store_url) as store:
            assert store.user_attributes("ada@example.com")["attributes"]["crm_plan"] == "pro"
            (entry,) = store.imports("crm")
            assert entry.outcome == "success" and entry.rows_written == 2
            where = store.location("crm")
        lineage = [json.loads(line) for line in events.read_text().splitlines()]
    (complete,) = [
        e for e in lineage if e["job"]["name"] == "inbound_crm.upsert_attributes" and e["eventType"] == "COMPLETE"
    ]
    namespace = f"postgres://{where.host}:{where.port}"
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [(f"s3://{BUCKET}", "crm/export_1.csv")]
    assert [(d["namespace"], d["name"]) for d in complete["outputs"]] == [
        (namespace, f"{where.database}.{where.schema}.{where.table}"),
        (namespace, f"{where.database}.{where.schema}.inbound_attributes_v1"),
    ]
    assert where.database.startswith("inbound_e2e_store_") and where.schema == "public"
    assert staging not in json.dumps([(e.get("inputs"), e.get("outputs")) for e in lineage])
    # Each task's log lies on the host that ran it: mapped on a, written on b.
    home = tmp_path / "airflow"

    def ran_on(host: str) -> set[str]:
        return {p.parent.name.removeprefix("task_id=") for p in (home / f"host_{host}" / "logs").rglob("attempt=*.log")}

    assert "validate_and_map" in ran_on("a") and "upsert_attributes" not in ran_on("a")
    assert ran_on("b") == {"upsert_attributes"}
    assert not list(home.rglob("*.parquet"))  # nothing was staged on a disk
