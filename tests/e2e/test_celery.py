"""The distributed path for real: CeleryExecutor with every Airflow process, on loopback.

The scheduler, DAG processor, triggerer, API server and a Celery worker (4 slots) run as
separate processes against PostgreSQL (metadata, attribute store) and Redis (broker), with
a moto server as S3 (see `cluster.py`). Files are dropped for three integrations; the
schedule runs two of them at once, the third waits deferred in the triggerer (holding no
worker slot) until its file arrives; a fourth run is triggered through the REST API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import celery_cluster
from inbound.store import open_store

pytestmark = pytest.mark.slow

BUCKET = "celery-exports"
NAMES = ("crm", "hr", "support")


def _config(name: str, schedule: str) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": schedule,
        "source": {"bucket": BUCKET, "key": f"{name}/export_*.csv"},
        "user_id": {"column": "Email"},
        "attributes": [
            {"column": "Plan", "name": f"{name}_plan"},
            {"column": "Seats", "name": f"{name}_seats", "type": "integer"},
        ],
    }


def _csv(plan: str, seats: int) -> bytes:
    return f"Email,Plan,Seats\nada@example.com,{plan},{seats}\ngrace@example.com,{plan}-lite,{seats + 1}\n".encode()


def _keys(s3: Any, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_integrations_run_on_celery_workers_and_sensors_wait_in_the_triggerer(tmp_path: Path) -> None:
    configs = tmp_path / "integrations"
    configs.mkdir()
    # crm and hr find their files at once; support (every 15 min, so the triggerer polls
    # every 30 s) has none yet and must wait deferred.
    for name, schedule in (("crm", "@daily"), ("hr", "@daily"), ("support", "PT15M")):
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(_config(name, schedule), sort_keys=False))

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

        for name in ("crm", "hr"):
            runs = cluster.wait_for(f"the scheduled run of inbound_{name}", lambda n=name: finished(f"inbound_{n}"), timeout=300)
            assert [r["state"] for r in runs] == ["success"], cluster.log_tails()
            assert runs[0]["run_type"] == "scheduled"

        # support's sensor is deferred: the triggerer waits, no worker slot is held.
        (support_run,) = cluster.wait_for("a run of inbound_support", lambda: cluster.dag_runs("inbound_support"), timeout=120)

        def deferred() -> bool:
            return cluster.task_states("inbound_support", support_run["dag_run_id"]).get("wait_for_file") == "deferred"

        cluster.wait_for("wait_for_file of inbound_support to be deferred", deferred, timeout=180)
        pool = cluster.pool()
        assert pool["deferred_slots"] >= 1 and pool["running_slots"] == 0, pool

        s3.put_object(Bucket=BUCKET, Key="support/export_1.csv", Body=_csv("gold", 3))
        runs = cluster.wait_for("inbound_support's run to finish", lambda: finished("inbound_support"), timeout=240)
        assert runs[0]["state"] == "success", cluster.log_tails()

        # A manual run through the REST API, for a file that arrived after the scheduled run.
        s3.put_object(Bucket=BUCKET, Key="crm/export_2.csv", Body=_csv("enterprise", 50))
        run_id = cluster.trigger("inbound_crm")
        runs = cluster.wait_for("the triggered run of inbound_crm", lambda: finished("inbound_crm", 2), timeout=240)
        manual = next(r for r in runs if r["dag_run_id"] == run_id)
        assert manual["state"] == "success" and manual["run_type"] == "manual"
        assert set(cluster.task_states("inbound_crm", run_id).values()) == {"success"}

        # Every file was moved to success/ and nothing is waiting.
        for name in NAMES:
            moved = _keys(s3, f"{name}/")
            assert moved and all(k.startswith(f"{name}/success/") for k in moved), moved
        assert len(_keys(s3, "crm/success/")) == 2

        store = open_store(cluster.store_url)
        try:
            attributes = store.user_attributes("ada@example.com")["attributes"]
            assert (attributes["crm_plan"], attributes["crm_seats"]) == ("enterprise", "50")
            assert (attributes["hr_plan"], attributes["support_seats"]) == ("staff", "3")
            assert store.user_attributes("grace@example.com")["attributes"]["support_plan"] == "gold-lite"
            assert sorted(e.outcome for e in store.imports("crm")) == ["success", "success"]
        finally:
            store.close()
        processes = list(cluster.processes.values())
    assert all(p.poll() is not None for p in processes)  # every process was stopped
