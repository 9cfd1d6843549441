"""Load: many integrations through the real CeleryExecutor deployment, and DAG parse times.

    uv run --frozen python tests/benchmarks/load_celery.py [--integrations 100] [--rows 1000]
        [--concurrency 4] [--parse 100,1000] [--skip-load]

A script, not a test (machines here are noisy). It prints one table with:

1. **Parse time** of the DAGs folder for N integration configs, the way the DAG processor
   parses it (`DagBag` over the folder, in a fresh process that has Airflow imported
   already), for each N in --parse (the attribute cap raised through
   INBOUND_MAX_ATTRIBUTES). In the same run, the same N four-task DAGs built from YAML by
   astronomer's dag-factory (S3KeySensor + three PythonOperators each, one YAML file per
   DAG), as the baseline: the ratio is ours / dag-factory. dag-factory (DAG_FACTORY pinned
   below) is installed into a folder of its own on the first run and put on the path of its
   parse only: in the project's environment its Airflow plugin would load in every task.
2. **Load**: --integrations configs with a file of --rows rows each, run through the
   deployment of `tests/e2e/cluster.py` (api-server, scheduler, dag-processor, triggerer,
   one Celery worker with --concurrency slots; PostgreSQL, Redis, moto server). The DAGs
   are created paused; the clock starts when all are parsed and unpaused through the REST
   API and stops when every run is green: wall time and runs per minute.
3. **Slots while sensors wait**: one run per integration triggered with no file waiting;
   once every `wait_for_file` is deferred, the default pool is sampled for 15 s: running
   slots (worker slots held) versus deferred.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from e2e.cluster import celery_cluster  # noqa: E402

BUCKET = "load-exports"
DAG_FACTORY = "dag-factory==1.1.0"

# Runs in a fresh interpreter: Airflow imported first (the DAG processor has it loaded
# already), then only the parse of the folder is timed.
PARSE_SNIPPET = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
import airflow.providers.amazon.aws.sensors.s3, airflow.providers.standard.operators.python  # noqa
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=True)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "dags": len(bag.dag_ids), "errors": {k: v[-300:] for k, v in bag.import_errors.items()}}))
"""


def integration(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": "@daily",
        "enabled": False,
        "source": {"bucket": BUCKET, "key": f"{name}/export_*.csv"},
        "user_id": {"column": "Email"},
        "attributes": [
            {"column": "Plan", "name": f"{name}_plan"},
            {"column": "Seats", "name": f"{name}_seats", "type": "integer"},
        ],
    }


def dag_factory_dag(name: str) -> dict[str, Any]:
    """The same four-task DAG in dag-factory's YAML: sensor, three Python tasks."""
    python = "airflow.providers.standard.operators.python.PythonOperator"
    return {
        f"inbound_{name}": {
            "default_args": {"owner": "inbound", "start_date": "2026-01-01", "retries": 3},
            "schedule": "@daily",
            "catchup": False,
            "max_active_runs": 1,
            "tags": ["inbound"],
            "tasks": [
                {
                    "task_id": "wait_for_file",
                    "operator": "airflow.providers.amazon.aws.sensors.s3.S3KeySensor",
                    "bucket_name": BUCKET,
                    "bucket_key": f"{name}/export_*.csv",
                    "wildcard_match": True,
                    "deferrable": True,
                    "soft_fail": True,
                },
                {
                    "task_id": "validate_and_map",
                    "operator": python,
                    "python_callable": "builtins.print",
                    "dependencies": ["wait_for_file"],
                },
                {
                    "task_id": "upsert_attributes",
                    "operator": python,
                    "python_callable": "builtins.print",
                    "dependencies": ["validate_and_map"],
                },
                {
                    "task_id": "finalize",
                    "operator": python,
                    "python_callable": "builtins.print",
                    "trigger_rule": "all_done",
                    "dependencies": ["upsert_attributes"],
                },
            ],
        }
    }


def names(count: int) -> list[str]:
    return [f"load_{i:04d}" for i in range(count)]


def dag_factory_path(work: Path) -> str:
    """Install dag-factory (no dependencies: Airflow and PyYAML are here) into a folder of its own."""
    target = work / "dag_factory_pkg"
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is needed to install the dag-factory baseline")
    subprocess.run([uv, "pip", "install", "--quiet", "--no-deps", "--target", str(target), DAG_FACTORY], check=True)
    return str(target)


def parse_once(folder: Path, env: dict[str, str], expected: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PARSE_SNIPPET, str(folder)], env=env, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise SystemExit(f"parse of {folder} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["dags"] != expected or result["errors"]:
        raise SystemExit(f"parse of {folder}: {result['dags']} DAGs (expected {expected}), errors {result['errors']}")
    return result["seconds"]


def parse_times(count: int, work: Path, repeat: int) -> tuple[float, float]:
    """Median seconds to parse N integrations: ours, then dag-factory's."""
    ours, theirs = work / f"ours_{count}", work / f"dagfactory_{count}"
    configs = ours / "integrations"
    configs.mkdir(parents=True)
    for name in names(count):
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(integration(name), sort_keys=False))
    for dag_file in ("inbound_integrations.py", "inbound_config_errors.py"):
        (ours / dag_file).write_text((ROOT / "dags" / dag_file).read_text())
    (theirs / "configs").mkdir(parents=True)
    for name in names(count):
        (theirs / "configs" / f"{name}.yml").write_text(yaml.safe_dump(dag_factory_dag(name), sort_keys=False))
    (theirs / "dag_factory_dags.py").write_text(
        "# airflow dag: dag-factory builds every DAG from configs/*.yml\n"
        "from dagfactory import load_yaml_dags\n\n"
        f"load_yaml_dags(globals_dict=globals(), dags_folder={str(theirs / 'configs')!r})\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(work / "airflow_home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
        "SCARF_NO_ANALYTICS": "true",
        "INBOUND_CONFIG_DIR": str(configs),
        "INBOUND_MAX_ATTRIBUTES": str(10 * count),
    }
    theirs_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [dag_factory_path(work), env.get("PYTHONPATH")]))}
    ours_seconds, theirs_seconds = [], []
    for _ in range(repeat):  # interleaved, so that drift of the machine hits both alike
        ours_seconds.append(parse_once(ours, env, count))
        theirs_seconds.append(parse_once(theirs, theirs_env, count))
    return statistics.median(ours_seconds), statistics.median(theirs_seconds)


def csv_body(rows: int, seed: int) -> bytes:
    lines = ["Email,Plan,Seats"] + [f"user{i}@example.com,plan{(i + seed) % 7},{(i * seed) % 500}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def count(cluster: Any, path: str) -> int:
    return int(cluster.api("GET", path)["total_entries"])


def load(n: int, rows: int, concurrency: int, work: Path) -> dict[str, Any]:
    configs = work / "load_integrations"
    configs.mkdir()
    for name in names(n):
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(integration(name), sort_keys=False))
    report: dict[str, Any] = {}
    with celery_cluster(
        work / "cluster", configs, concurrency=concurrency, extra_env={"INBOUND_MAX_ATTRIBUTES": str(10 * n)}
    ) as cluster:
        s3 = cluster.s3()
        s3.create_bucket(Bucket=BUCKET)
        for i, name in enumerate(names(n)):
            s3.put_object(Bucket=BUCKET, Key=f"{name}/export_1.csv", Body=csv_body(rows, i + 1))
        cluster.wait_for(
            f"{n} DAGs parsed",
            lambda: count(cluster, "/api/v2/dags?tags=inbound&limit=1&paused=true") >= n,
            timeout=600,
        )

        started = time.monotonic()
        cluster.api("PATCH", "/api/v2/dags?dag_id_pattern=inbound_load_%25&limit=1000", {"is_paused": False})

        def finished() -> int | None:
            done = count(cluster, "/api/v2/dags/~/dagRuns?state=success&state=failed&limit=1")
            return done if done >= n else None

        cluster.wait_for(f"{n} runs to finish", finished, timeout=3600, every=1.0)
        wall = time.monotonic() - started
        failed = count(cluster, "/api/v2/dags/~/dagRuns?state=failed&limit=1")
        report.update(wall=wall, runs_per_minute=n / wall * 60, failed=failed)
        moved = sum(
            1
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])
            if "/success/" in o["Key"] and not o["Key"].endswith(".txt")
        )
        report["moved_to_success"] = moved

        # Sensors waiting with no file: triggered runs defer, the worker should hold nothing.
        for name in names(n):
            cluster.trigger(f"inbound_{name}")
        cluster.wait_for(
            f"{n} deferred sensors",
            lambda: count(cluster, "/api/v2/dags/~/dagRuns/~/taskInstances?state=deferred&limit=1") >= n,
            timeout=1800,
            every=2.0,
        )
        samples = []
        for _ in range(15):
            pool = cluster.pool()
            samples.append((pool["running_slots"], pool["deferred_slots"], pool["queued_slots"]))
            time.sleep(1)
        report["running_slots_max"] = max(s[0] for s in samples)
        report["deferred"] = min(s[1] for s in samples)
        report["queued_max"] = max(s[2] for s in samples)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--integrations", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--parse", default="100,1000", help="config counts for the parse-time comparison")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    lines = ["| measurement | inbound | dag-factory | ratio |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="inbound-load-") as tmp:
        work = Path(tmp)
        for n in [int(x) for x in args.parse.split(",") if x]:
            ours, theirs = parse_times(n, work, args.repeat)
            lines.append(
                f"| parse {n} configs (median of {args.repeat}) | {ours:.2f} s | {theirs:.2f} s | {ours / theirs:.2f} |"
            )
            print(lines[-1], flush=True)
        if not args.skip_load:
            r = load(args.integrations, args.rows, args.concurrency, work)
            lines += [
                f"| {args.integrations} integrations x {args.rows} rows, wall time to all green "
                f"(Celery, {args.concurrency} worker slots) | {r['wall']:.0f} s | | |",
                f"| runs per minute | {r['runs_per_minute']:.1f} | | |",
                f"| failed runs / files moved to success/ | {r['failed']} / {r['moved_to_success']} | | |",
                f"| worker slots held while {r['deferred']} sensors wait (max over 15 s) | "
                f"{r['running_slots_max']} running, {r['queued_max']} queued | | |",
            ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
