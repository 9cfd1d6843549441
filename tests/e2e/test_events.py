"""Event mode for real: S3 notifications -> SQS -> Airflow's asset watcher -> a DAG run, no poll.

Every Airflow process runs (scheduler, DAG processor, triggerer, API server, a Celery worker;
`cluster.py`) with the moto server's S3 and SQS: the bucket notifies the queue as AWS does.
Two integrations (crm, billing) read the same export through one queue; `inbound events
--apply` sets the queue policy and the bucket notification. Uploading a file starts a run of
each, with no manual trigger and no poll (their schedule is @daily: the sweep ran once at
start and found nothing); a second file uploaded during the first run is imported too; our
own moves and reports (which the bucket notifies as well) start no further run.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import Cluster, celery_cluster
from inbound.store import open_store

pytestmark = pytest.mark.slow

BUCKET = "event-exports"
QUEUE = "inbound-e2e-events"


POISON = [
    json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": BUCKET}, "object": {"key": "crm/export_\ud800.csv"}},
                }
            ]
        }
    ),
    "[" * 5000 + "]" * 5000,
    json.dumps(
        {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"object": {"key": 5}}}]}
    ),
]


def _config(name: str, column: str) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": "@daily",
        "source": {"bucket": BUCKET, "key": "crm/export_*.csv", "events": {"queue": QUEUE}},
        "user_id": {"column": "Email"},
        "attributes": [{"column": column, "name": f"{name}_{column.lower()}"}],
    }


def _csv(plan: str, seats: int) -> bytes:
    return f"Email,Plan,Seats\nada@example.com,{plan},{seats}\ngrace@example.com,{plan}-lite,{seats + 1}\n".encode()


def _asset_events(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    (asset,) = cluster.api("GET", f"/api/v2/assets?name_pattern=inbound_{name}_files")["assets"]
    return cluster.api("GET", f"/api/v2/assets/events?asset_id={asset['id']}&limit=100")["asset_events"]


def _runs(cluster: Cluster, name: str, run_type: str) -> list[dict[str, Any]]:
    return [r for r in cluster.dag_runs(f"inbound_{name}") if r["run_type"] == run_type]


def _imported(cluster: Cluster, name: str, count: int) -> list[Any] | None:
    """The successful imports that wrote (a repeat of a file another run took is logged as a skip)."""
    with open_store(cluster.store_url) as store:
        entries = store.imports(name) if store.schema_version() else []
    written = [e for e in entries if e.outcome == "success" and not (e.error or "").startswith("skipped")]
    return written if len(written) >= count else None


def test_a_file_is_imported_from_its_s3_event_without_a_trigger_or_a_poll(tmp_path: Path) -> None:
    configs = tmp_path / "integrations"
    configs.mkdir()
    for config in (_config("crm", "Plan"), _config("billing", "Seats")):
        (configs / f"{config['name']}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    with celery_cluster(tmp_path / "airflow", configs) as cluster:
        s3, sqs = cluster.s3(), cluster.sqs()
        s3.create_bucket(Bucket=BUCKET)
        sqs.create_queue(QueueName=QUEUE)
        for name in ("crm", "billing"):
            applied = cluster.inbound("events", name, "--apply")
            assert applied.returncode == 0, applied.stderr
        assert json.loads(applied.stdout)["notes"][1] == "rule inbound-crm already sends these objects to the queue"
        (rule,) = s3.get_bucket_notification_configuration(Bucket=BUCKET)["QueueConfigurations"]

        # The schedule's first run (the sweep) looks once, finds nothing and ends: no run waits.
        for name in ("crm", "billing"):
            (sweep,) = cluster.wait_for(
                f"the sweep of inbound_{name} to end",
                lambda n=name: [r for r in _runs(cluster, n, "scheduled") if r["state"] in ("success", "failed")],
                timeout=300,
            )
            assert sweep["state"] == "success" and _runs(cluster, name, "asset_triggered") == []

        time.sleep(10)  # past the watchers' start-up (one SQS client per queue, built once)
        # Poison first (issue 24): a forged key of our pattern with a lone surrogate once killed the
        # triggerer (every trigger in it); a nested body or a key that is no string ended every
        # subscriber of the poll, and the good messages of that receive came back 5 minutes later.
        queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
        for body in POISON:
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        cluster.wait_for(
            "the watchers to hear the poison",
            lambda: (cluster.home / "triggerer.log").read_text().count("it is no S3 notification") >= len(POISON),
            timeout=60,
            every=0.5,
        )
        uploaded = datetime.now(UTC).isoformat()
        s3.put_object(Bucket=BUCKET, Key="crm/export_1.csv", Body=_csv("pro", 10))
        heard = time.monotonic()
        cluster.wait_for(
            "a run of inbound_crm from the event",
            lambda: _runs(cluster, "crm", "asset_triggered"),
            timeout=120,  # well inside the 300 s a message waits when its receive's subscribers died
            every=0.5,
        )
        print(f"the event after the poison started a run in {time.monotonic() - heard:.1f} s")
        cluster.assert_alive()
        triggerer_log = (cluster.home / "triggerer.log").read_text()
        assert "runner process has died" not in triggerer_log and "export_\\ud800" not in triggerer_log
        s3.put_object(Bucket=BUCKET, Key="crm/export_2 +b.csv", Body=_csv("team", 20))  # during that run

        for name in ("crm", "billing"):
            entries = cluster.wait_for(
                f"inbound_{name} to import both files", lambda n=name: _imported(cluster, n, 2), timeout=240
            )
            assert sorted(e.source_file.rsplit("/", 1)[-1] for e in entries) == ["export_1.csv", "export_2 +b.csv"]
            # Imported by runs the events started: no manual trigger, no poll.
            assert all("/asset_triggered__" in e.triggered_by for e in entries), [e.triggered_by for e in entries]

        def settled() -> bool:
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="crm/").get("Contents", [])]
            runs = [r for n in ("crm", "billing") for r in _runs(cluster, n, "asset_triggered")]
            done = all(r["state"] in ("success", "failed") for r in runs)
            return done and not [k for k in keys if k.count("/") == 1]  # both files moved

        cluster.wait_for("both files to be moved and every run to end", settled, timeout=240)
        counts = {
            n: (len(_asset_events(cluster, n)), len(_runs(cluster, n, "asset_triggered"))) for n in ("crm", "billing")
        }
        # The moves to success/ and the reports beside them were notified too: give the watcher time to hear them.
        time.sleep(45)
        for name in ("crm", "billing"):
            events, runs = len(_asset_events(cluster, name)), _runs(cluster, name, "asset_triggered")
            assert (events, len(runs)) == counts[name], "our own writes started a run"
            assert events == 2 and 1 <= len(runs) <= 2  # one event per upload; events may fold into one run
            assert all(r["state"] == "success" for r in runs), cluster.log_tails()
        moved = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="crm/success/")["Contents"]]
        assert len([k for k in moved if k.endswith(".csv")]) == 2 and any(k.endswith(".readers.txt") for k in moved)

        with open_store(cluster.store_url) as store:
            attributes = store.user_attributes("ada@example.com")["attributes"]
        assert (attributes["crm_plan"], attributes["billing_seats"]) == ("team", "20")
        assert rule["Events"] == ["s3:ObjectCreated:*"]
        # Building the queue's SQS client once at start-up may hold the event loop a moment (botocore
        # parses its models holding the GIL); the receive loop itself never does.
        blocked = [
            line[:27]
            for line in (cluster.home / "triggerer.log").read_text().splitlines()
            if "thread was blocked" in line
        ]
        assert all(when < uploaded for when in blocked), blocked
