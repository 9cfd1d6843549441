"""What lineage costs (issue 16): a real DAG run with OpenLineage off, on, and before it existed.

    uv run --frozen python tests/benchmarks/bench_lineage.py [--repeat 5] [--rows 10000]
        [--baseline 63ec561]

A script, not a test (machines here are noisy). Everything runs on this machine in one
invocation, with a moto S3 server on loopback and a SQLite metadata database:

- `airflow dags test` of one integration importing one file of --rows rows, as a child
  process, wall time and the child's peak RSS (`os.wait4`'s `ru_maxrss`), median of
  --repeat, interleaved, in three variants:
  - `before`: the code at --baseline (a commit before lineage existed: no
    `UpsertAttributesOperator`, no `inbound.pipeline.lineage`), from a git worktree put first on
    PYTHONPATH, same virtualenv;
  - `off`: this code, the OpenLineage provider installed but no transport (the default);
  - `on`: this code with the provider's file transport (every event written to a file);
- in this process: the lineage of a run at the event's bound (INBOUND_LINEAGE_MAX_FILES, default
  20, files x 100 attributes) built and serialized, against serializing the run's own XCom
  result (`RunSummary.to_json`) of the same files, median of --repeat; the event's size.

The last lines print the ratios off/before and on/off (wall time) and lineage/XCom.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import integration_dict, migrated  # noqa: E402
from e2e.cluster import start_moto, stop_group  # noqa: E402

BUCKET = "bench-lineage"
BIN = Path(sys.executable).parent


def _child(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a child; its wall time (s), its own peak RSS (MB) and its output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{text[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, text


def _worktree(commit: str, where: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), commit], check=True, capture_output=True
    )
    return where


def _env(home: Path, moto: str, folder: Path, store: Path, code: Path, lineage: Path | None) -> dict[str, str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(code / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {"conn_type": "aws", "extra": {"endpoint_url": moto, "region_name": "us-east-1"}}
        ),
        "INBOUND_CONFIG_DIR": str(folder),
        "INBOUND_STAGING_DIR": str(home / "staging"),
        "AIRFLOW_CONN_INBOUND_STORE": json.dumps({"conn_type": "sqlite", "host": str(store)}),
        "PYTHONPATH": str(code / "include"),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("AIRFLOW__OPENLINEAGE__TRANSPORT", None)
    if lineage is not None:
        env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
            {"type": "file", "log_file_path": str(lineage), "append": True}
        )
    return env


def dag_runs(repeat: int, rows: int, baseline: str, tmp: Path) -> dict[str, list[tuple[float, float]]]:
    moto_proc, moto = start_moto(tmp)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
    )
    s3.create_bucket(Bucket=BUCKET)
    before = _worktree(baseline, tmp / "before")
    home = tmp / "home"
    home.mkdir()
    base = _env(home, moto, tmp, tmp / "unused.db", ROOT, None)
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=base, check=True, capture_output=True)
    body = "Email,Plan,Open Tickets\n" + "".join(f"user{i}@x,plan{i % 7},{i % 13}\n" for i in range(rows))
    timings: dict[str, list[tuple[float, float]]] = {"before": [], "off": [], "on": []}
    try:
        for round_ in range(repeat + 1):  # the first round warms caches and bytecode; not counted
            for variant, runs in timings.items():
                name = f"bench_{variant}_{uuid.uuid4().hex[:6]}"
                folder = tmp / f"configs_{name}"
                folder.mkdir()
                source = {"bucket": BUCKET, "key": f"{name}/users_*.csv"}
                config = integration_dict(name, schedule="@daily", source=source)
                (folder / f"{name}.yaml").write_text(yaml.safe_dump(config))
                s3.put_object(Bucket=BUCKET, Key=f"{name}/users_1.csv", Body=body.encode())
                code = before if variant == "before" else ROOT
                events = tmp / f"{name}.jsonl" if variant == "on" else None
                env = _env(home, moto, folder, tmp / f"{name}.db", code, events)
                migrated(f"sqlite:///{tmp / f'{name}.db'}")  # the deploy step (`inbound migrate`), outside the timing
                wall, rss, out = _child([str(BIN / "airflow"), "dags", "test", f"inbound_{name}"], env)
                with sqlite3.connect(home / "airflow.db") as db:
                    (state,) = db.execute("SELECT state FROM dag_run WHERE dag_id = ?", (f"inbound_{name}",)).fetchone()
                if state != "success":
                    raise SystemExit(f"{variant}: the run ended {state}:\n{out[-3000:]}")
                if events is not None and not events.exists():
                    raise SystemExit("lineage was on but no event was written")
                if round_:
                    runs.append((wall, rss))
                print(f"  round {round_} {variant:6s} {wall:6.2f} s  peak RSS {rss:6.0f} MB", flush=True)
    finally:
        stop_group(moto_proc)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], capture_output=True)
    return timings


def event_cost(repeat: int) -> tuple[float, float, int, int]:
    """Lineage of a run at the bound against its XCom result: median seconds of each, and sizes."""
    from openlineage.client.serde import Serde

    from inbound.config.model import Integration
    from inbound.pipeline import lineage
    from inbound.results import FileResult, RunSummary
    from inbound.s3.layout import S3File
    from inbound.store import Location, WriteResult

    attributes = [{"column": f"Col {i}", "name": f"attr_{i}", "type": "integer"} for i in range(100)]
    integration = Integration.model_validate(integration_dict("bench", attributes=attributes))
    results = [
        FileResult(
            S3File(BUCKET, f"bench/users_{i}.csv", f"etag{i}", 10**6, "2026-12-01T00:00:00Z"),
            stage="file:///tmp/x",
            rows_read=1000,
            rows_rejected=3,
            rejected_by=(("invalid_value", "Col 1", 2), ("duplicate_user_id", "Email", 1)),
            write=WriteResult(i, 1000, 3, 900, 97, 0, 99700),
        )
        for i in range(lineage.max_files())
    ]
    location = Location("postgresql", "db", 5432, "analytics", "public", "inbound_values_1")

    def with_lineage() -> int:
        found = lineage.of_write(integration, results, location)
        return len(json.dumps([Serde.to_dict(d) for d in (*found.inputs, *found.outputs)])) + len(
            json.dumps({k: Serde.to_dict(v) for k, v in found.run_facets.items()})
        )

    def xcom() -> int:
        return len(json.dumps(RunSummary("bench", tuple(results)).to_json()))

    spent: dict[str, list[float]] = {"lineage": [], "xcom": []}
    sizes = {"lineage": with_lineage(), "xcom": xcom()}
    for _ in range(repeat):
        for label, call in (("lineage", with_lineage), ("xcom", xcom)):
            started = time.perf_counter()
            call()
            spent[label].append(time.perf_counter() - started)
    return statistics.median(spent["lineage"]), statistics.median(spent["xcom"]), sizes["lineage"], sizes["xcom"]


def lineage_files() -> int:
    from inbound.pipeline import lineage

    return lineage.max_files()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--baseline", default="63ec561", help="a commit before lineage existed")
    args = parser.parse_args()
    print(f"host {socket.gethostname()}, {os.cpu_count()} cores; --rows {args.rows}, --repeat {args.repeat}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-lineage-"))
    try:
        timings = dag_runs(args.repeat, args.rows, args.baseline, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    median = {v: statistics.median(w for w, _ in runs) for v, runs in timings.items()}
    rss = {v: max(r for _, r in runs) for v, runs in timings.items()}
    for variant in timings:
        print(f"dags test, {variant:6s}: median {median[variant]:.2f} s, peak RSS {rss[variant]:.0f} MB")
    spent_lineage, spent_xcom, size_lineage, size_xcom = event_cost(max(args.repeat, 20))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"lineage at the bound ({lineage_files()} files x 100 attributes): {spent_lineage * 1000:.1f} ms, {size_lineage / 1024:.0f} KiB; "
        f"the run's XCom result: {spent_xcom * 1000:.1f} ms, {size_xcom / 1024:.0f} KiB; this process's peak RSS {own:.0f} MB"
    )
    print(
        f"ratios: off/before {median['off'] / median['before']:.2f}, on/off {median['on'] / median['off']:.2f}, "
        f"lineage/XCom (time) {spent_lineage / spent_xcom:.1f}"
    )


if __name__ == "__main__":
    main()
