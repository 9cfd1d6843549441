"""Latency of event mode against polling: from `put_object` to the attribute being readable.

    uv run --frozen python tests/benchmarks/bench_events.py [--uploads 20] [--spacing 30]

A script, not a test (machines here are noisy). It starts the real deployment of
`tests/e2e/cluster.py` (api-server, scheduler, dag-processor, triggerer, a Celery worker;
PostgreSQL, Redis, the moto server's S3 and SQS) with two integrations side by side in one
bucket:

- `events`: event mode (`source.events`, the queue set up by `inbound events --apply`),
  schedule @daily (the sweep);
- `polling`: the fastest polling the config allows: schedule PT1M, so the deferrable sensor
  looks every 30 s (its floor) and a run starts every minute.

Each upload puts one file into each at the same moment, for a user of its own, and reads
the store (what `inbound user` reads: `user_attributes`) every 0.2 s until both values are
there. Uploads are --spacing seconds apart plus a random 0-10 s, on their own clock (never
waiting for the last one to be read), so they fall at random points of the polling cycle. It prints p50/p95/max per mode, and for event mode where the time
went, from Airflow's own records: put -> asset event (the trigger's receive loop), asset
event -> run started (the scheduler), run started -> `upsert_attributes` ended (task
start-ups and the import), that end -> readable (the rest of the wait). Peak RSS of the
Celery worker's task processes is not the point here (files are tiny); the triggerer's RSS
is printed to show what the watcher costs.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from e2e.cluster import Cluster, celery_cluster  # noqa: E402
from inbound.store import open_store  # noqa: E402

BUCKET = "latency-exports"
QUEUE = "inbound-latency"
ATTRIBUTES = ("events_plan", "polling_plan")


def _configs(folder: Path) -> None:
    events = {
        "name": "events",
        "schedule": "@daily",
        "source": {"bucket": BUCKET, "key": "events/export_*.csv", "events": {"queue": QUEUE}},
        "user_id": {"column": "Email"},
        "attributes": [{"column": "Plan", "name": "events_plan"}],
    }
    polling = {
        "name": "polling",
        "schedule": "PT1M",
        "source": {"bucket": BUCKET, "key": "polling/export_*.csv"},
        "user_id": {"column": "Email"},
        "attributes": [{"column": "Plan", "name": "polling_plan"}],
    }
    for config in (events, polling):
        (folder / f"{config['name']}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _readable(cluster: Cluster, user: str, attribute: str, value: str, started: float, out: dict[str, float]) -> None:
    with open_store(cluster.store_url) as store:
        while time.monotonic() - started < 300:
            attributes = store.user_attributes(user)["attributes"] if store.schema_version() else {}
            if attributes.get(attribute) == value:
                out[attribute] = time.monotonic() - started
                return
            time.sleep(0.2)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _when(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def _breakdown(cluster: Cluster, puts: list[float]) -> dict[str, list[float]]:
    """Per upload in event mode: receive, schedule, tasks, rest (seconds), from Airflow's records."""
    (asset,) = cluster.api("GET", "/api/v2/assets?name_pattern=inbound_events_files")["assets"]
    events = cluster.api("GET", f"/api/v2/assets/events?asset_id={asset['id']}&limit=100&order_by=timestamp")
    stamps = sorted(_when(e["timestamp"]) or 0.0 for e in events["asset_events"])
    runs = [r for r in cluster.dag_runs("inbound_events") if r["run_type"] == "asset_triggered"]
    parts: dict[str, list[float]] = {"receive": [], "schedule": [], "tasks": []}
    for put in puts:
        event = next((s for s in stamps if s >= put - 1), None)
        run = next((r for r in runs if (_when(r["start_date"]) or 0) >= (event or put)), None)
        if event is None or run is None:
            continue
        tasks = cluster.api("GET", f"/api/v2/dags/inbound_events/dagRuns/{run['dag_run_id']}/taskInstances")
        upsert = next(t for t in tasks["task_instances"] if t["task_id"] == "upsert_attributes")
        started, ended = _when(run["start_date"]) or 0.0, _when(upsert["end_date"]) or 0.0
        parts["receive"].append(event - put)
        parts["schedule"].append(started - event)
        parts["tasks"].append(ended - started)
    return parts


def _rss_mb(pid: int) -> float:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *_children(kid)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=30.0, help="seconds between uploads (plus 0-10 s random)")
    args = parser.parse_args()
    random.seed(14)
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        configs = Path(tmp) / "integrations"
        configs.mkdir()
        _configs(configs)
        with celery_cluster(Path(tmp) / "airflow", configs) as cluster:
            s3, sqs = cluster.s3(), cluster.sqs()
            s3.create_bucket(Bucket=BUCKET)
            sqs.create_queue(QueueName=QUEUE)
            applied = cluster.inbound("events", "events", "--apply")
            assert applied.returncode == 0, applied.stderr
            cluster.wait_for(
                "both DAGs", lambda: all(cluster.dag_runs(f"inbound_{n}") for n in ("events", "polling")), timeout=300
            )
            time.sleep(15)
            results: list[dict[str, float]] = []
            puts: list[float] = []
            waiters: list[threading.Thread] = []
            for i in range(args.uploads):
                # One user per upload, and uploads on their own clock (never waiting for the last
                # to be read), so the uploads fall at random points of the polling cycle.
                user, value = f"u{i}@example.com", f"plan-{i}"
                body = f"Email,Plan\n{user},{value}\n".encode()
                out: dict[str, float] = {}
                results.append(out)
                started = time.monotonic()
                puts.append(time.time())
                s3.put_object(Bucket=BUCKET, Key=f"events/export_{i}.csv", Body=body)
                s3.put_object(Bucket=BUCKET, Key=f"polling/export_{i}.csv", Body=body)
                for attribute in ATTRIBUTES:
                    waiter = threading.Thread(target=_readable, args=(cluster, user, attribute, value, started, out))
                    waiter.start()
                    waiters.append(waiter)
                print(f"upload {i + 1:>2} at {datetime.now(UTC):%H:%M:%S}", flush=True)
                time.sleep(args.spacing + random.uniform(0, 10))
            for waiter in waiters:
                waiter.join()
            latencies = {a: [r.get(a, math.nan) for r in results] for a in ATTRIBUTES}
            for i, r in enumerate(results):
                print(
                    f"upload {i + 1:>2}: events {r.get('events_plan', math.nan):5.1f} s, "
                    f"polling {r.get('polling_plan', math.nan):5.1f} s"
                )
            parts = _breakdown(cluster, puts)
            triggerer_rss = _rss_mb(cluster.processes["triggerer"].pid)
        print()
        print(f"{args.uploads} uploads, {datetime.now(UTC):%Y-%m-%d}, put_object -> attribute readable")
        print("| mode | p50 | p95 | max |")
        print("|---|---|---|---|")
        for attribute, mode in (("events_plan", "events (SQS)"), ("polling_plan", "polling (PT1M, looks every 30 s)")):
            values = [v for v in latencies[attribute] if not math.isnan(v)]
            missing = len(latencies[attribute]) - len(values)
            note = f" ({missing} not readable within 300 s)" if missing else ""
            print(f"| {mode}{note} | {_pct(values, 0.5):.1f} s | {_pct(values, 0.95):.1f} s | {max(values):.1f} s |")
        event_p50 = _pct([v for v in latencies["events_plan"] if not math.isnan(v)], 0.5)
        polling_p50 = _pct([v for v in latencies["polling_plan"] if not math.isnan(v)], 0.5)
        print(f"\nratio polling p50 / events p50: {polling_p50 / event_p50:.2f}")
        print("\nevent mode, where the time goes (median s):")
        for name, values in parts.items():
            if values:
                print(f"  {name:<9} {statistics.median(values):5.1f}  (p95 {_pct(values, 0.95):.1f})")
        print(f"triggerer RSS (with its children): {triggerer_rss:.0f} MB")
        print(json.dumps({"latencies": latencies, "parts": parts}))


if __name__ == "__main__":
    main()
