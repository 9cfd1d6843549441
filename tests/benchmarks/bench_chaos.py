"""The chaos scenario at scale: throughput, upload -> stored latency and the invariants' counts.

    uv run --frozen python tests/benchmarks/bench_chaos.py [--integrations 1000] [--files 10000]
        [--waves 5] [--wave-gap 120] [--seed 29] [--polling-schedule PT10M] [--sweep-schedule PT10M]
        [--kill-window 60,600] [--stall-timeout 600] [--settle-timeout 3600] [--keep]

A script, not a test (machines here are noisy): the scenario of `tests/e2e/chaos.py` (the CI
test runs its small configuration) with a bigger configuration, on the real deployment of
`tests/e2e/cluster.py`: two schedulers, two triggerers, two Celery workers as hosts sharing
no disk, PostgreSQL, Redis, the moto server's S3 and SQS. Half the integrations in event mode,
some files shared and some failing, a share of the notifications sent twice; a worker, a
triggerer and a scheduler killed with SIGKILL at seeded moments and restarted. It prints one
table: files/min (files over the time from the first upload until every file had moved),
p50/p95 from upload to stored (per imported (integration, file): the end of `put_object` to
the import-log entry), files lost / imported twice / left unmoved, the other invariants' counts,
the kills done and the peak RSS of the cluster's processes (each Airflow process with every
process it started, sampled every 2 s; the moto server, PostgreSQL and Redis not counted).
The exit status is 1 when an invariant broke (the table says which; the details follow it).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from e2e.chaos import ChaosConfig, run  # noqa: E402

# The 1,000 integrations and 10,000 files do not fit two cores in a working session (every
# polling run and every event is 4 task processes of about a second of CPU each): this is a tenth
# of the integrations and two fifths of the files; the flags scale it up. One triggerer holding
# 1,000 waiting integrations is `bench_trigger.py`'s measure.
BIG = ChaosConfig(
    integrations=100,
    files=4000,
    waves=4,
    wave_gap=30.0,
    queues=6,
    kill_window=(30.0, 200.0),
    event_files=0.02,
    polling_schedule="PT5M",
    sweep_schedule="PT5M",
    concurrency=4,
    stall_timeout=420.0,
    settle_timeout=1800.0,
    quiet_timeout=300.0,
    queued_timeout=600.0,
    upload_threads=8,
)


def _pair(text: str) -> tuple[float, float]:
    low, high = (float(x) for x in text.split(","))
    return low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--integrations", type=int)
    parser.add_argument("--files", type=int)
    parser.add_argument("--waves", type=int)
    parser.add_argument("--wave-gap", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--queues", type=int)
    parser.add_argument("--event-files", type=float, help="share of the files in folders event-mode integrations read")
    parser.add_argument("--duplicates", type=float, help="share of event-mode notifications sent twice")
    parser.add_argument("--polling-schedule")
    parser.add_argument("--sweep-schedule")
    parser.add_argument("--concurrency", type=int, help="slots per worker")
    parser.add_argument("--kill-window", type=_pair, help="FROM,TO: seconds after the first upload")
    parser.add_argument("--stall-timeout", type=float, help="seconds without a file moving that fail the run")
    parser.add_argument("--settle-timeout", type=float, help="seconds after the last wave for every file to move")
    parser.add_argument("--kills", help="comma-separated: worker, triggerer, scheduler")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (logs) and print its path")
    args = parser.parse_args()
    given = {f.name: getattr(args, f.name) for f in fields(ChaosConfig) if getattr(args, f.name, None) is not None}
    if args.kills is not None:
        given["kills"] = tuple(k for k in args.kills.split(",") if k)
    config = replace(BIG, **given)
    work = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    started = time.monotonic()
    try:
        report = run(config, work, say=lambda line: print(line, flush=True))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{config}\nwall time in all: {time.monotonic() - started:.0f} s\n")
    print(report.table())
    if args.keep:
        print(f"\nlogs: {work / 'airflow'}")
    if report.violations:
        print()
        print(report.failure())
        sys.exit(1)


if __name__ == "__main__":
    main()
