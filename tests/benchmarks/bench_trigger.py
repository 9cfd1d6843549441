"""Triggerer benchmark: N waiting integrations in one process, CPU per poll round and peak RSS.

    uv run --frozen python tests/benchmarks/bench_trigger.py [--integrations 1000] [--rounds 5]

A script, not a test. A moto server on loopback and one bucket, a folder per integration,
no file waiting. Each way runs in a fresh child process (so its peak RSS is its own) on
one asyncio loop, as a triggerer runs its triggers:

- baseline, the trigger before issue 29: each poll ran the worker's whole look
  (`inbound.airflow.look.look`: the config snapshot, a boto3 listing, the shared-file
  check) off the loop, here on a pool of 32 threads (`sync_to_async`, thread_sensitive=False);
- now: N thin `NewFilesTrigger`s (name, version, source), each listing with the shared
  aiobotocore client on the loop itself, `--rounds` polls each (poke_interval 10 s).

It prints CPU seconds per poll round (every integration listed once: the process's CPU
time over the polls, divided by the rounds), wall seconds per round for the baseline, the
ratio now / baseline, and the peak RSS of each child process. moto answers every request
with `Connection: close`, so each listing also pays a new TCP connection, which S3 (keep-alive)
would not ask for: the figures are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
BUCKET = "bench-exports"
POKE_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--integrations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=["baseline", "now"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = (_baseline if args.child == "baseline" else _now)(args.integrations, args.rounds)
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    work = Path(tempfile.mkdtemp(prefix="inbound-bench-trigger-"))
    from e2e.cluster import start_moto, stop_group

    moto, url = start_moto(work)
    try:
        env = _environment(work, url, args.integrations)
        import boto3

        _configs(work / "integrations", args.integrations)
        boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
        ).create_bucket(Bucket=BUCKET)
        results = {}
        for way in ("baseline", "now"):
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    way,
                    "--integrations",
                    str(args.integrations),
                    "--rounds",
                    str(args.rounds),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"{way} failed:\n{done.stderr[-3000:]}")
            results[way] = json.loads(done.stdout.strip().splitlines()[-1])
        b, n = results["baseline"], results["now"]
        print(f"| {args.integrations} waiting integrations, one triggerer process | baseline | now | now / baseline |")
        print("|---|---|---|---|")
        print(f"| CPU per poll round (s) | {b['cpu']:.2f} | {n['cpu']:.2f} | {n['cpu'] / b['cpu']:.2f} |")
        print(f"| wall per poll round (s) | {b['wall']:.2f} | (polls every {POKE_S:.0f} s) | |")
        print(f"| peak RSS (MB) | {b['rss_mb']:.0f} | {n['rss_mb']:.0f} | {n['rss_mb'] / b['rss_mb']:.2f} |")
        print(f"(rounds: baseline {b['rounds']}, now {n['rounds']:.1f}; listings now: {n['listings']})")
    finally:
        stop_group(moto)


def _environment(work: Path, url: str, integrations: int) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {"conn_type": "aws", "extra": {"endpoint_url": url, "region_name": "us-east-1"}}
        ),
        "AIRFLOW_CONN_INBOUND_STORE": json.dumps({"conn_type": "sqlite", "host": str(work / "store.db")}),
        "INBOUND_CONFIG_DIR": str(work / "integrations"),
        "INBOUND_MAX_ATTRIBUTES": str(10 * integrations),
    }


def _configs(folder: Path, integrations: int) -> None:
    import yaml

    folder.mkdir()
    for i in range(integrations):
        name = f"bench_{i:04d}"
        config = {
            "name": name,
            "schedule": "@daily",
            "source": {"bucket": BUCKET, "key": f"{name}/export_*.csv"},
            "user_id": {"column": "Email"},
            "attributes": [{"column": "Plan", "name": f"{name}_plan"}],
        }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(config))


def _baseline(integrations: int, rounds: int) -> dict[str, float]:
    """The trigger before: the worker's whole look off the loop, for every integration, each round."""
    from asgiref.sync import sync_to_async

    from inbound.airflow.look import look
    from inbound.config.catalog import load_folder

    snapshots = [i.snapshot() for i in load_folder().integrations.values()]
    assert len(snapshots) == integrations
    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=32))

    async def round_of() -> None:
        found = await asyncio.gather(*(sync_to_async(look, thread_sensitive=False)(s) for s in snapshots))
        assert not any(f["files"] or f["due"] for f in found)

    loop.run_until_complete(round_of())  # warm: clients, imports
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        loop.run_until_complete(round_of())
    return {
        "cpu": (time.process_time() - cpu) / rounds,
        "wall": (time.perf_counter() - wall) / rounds,
        "rounds": rounds,
    }


def _now(integrations: int, rounds: int) -> dict[str, float]:
    """N thin triggers on one loop, as the triggerer runs them, each polling every POKE_S."""
    from inbound.airflow import s3_async
    from inbound.airflow.files_trigger import NewFilesTrigger

    listings = 0
    listing = s3_async.list_new_files

    async def counted(*args: object, **kwargs: object) -> list[object]:
        nonlocal listings
        listings += 1
        return await listing(*args, **kwargs)  # type: ignore[arg-type]

    s3_async.list_new_files = counted  # type: ignore[assignment]

    async def run_all() -> tuple[float, float]:
        warm = NewFilesTrigger(
            integration="warm",
            source={"bucket": BUCKET, "key": "warm/export_*.csv"},
            poke_interval=POKE_S,
            deadline=datetime.now(UTC).isoformat(),
        )
        async with s3_async.s3_client("aws_default"):  # held: the client the triggers share stays open
            async for _ in warm.run():  # imports, the client, one listing: not part of a round
                break
            start = datetime.now(UTC)
            deadline = (start + timedelta(seconds=POKE_S * rounds - POKE_S / 2)).isoformat()
            triggers = [
                NewFilesTrigger(
                    integration=f"bench_{i:04d}",
                    version="v",
                    source={"bucket": BUCKET, "key": f"bench_{i:04d}/export_*.csv"},
                    poke_interval=POKE_S,
                    deadline=deadline,
                )
                for i in range(integrations)
            ]
            cpu, wall = time.process_time(), time.perf_counter()

            async def first(trigger: NewFilesTrigger) -> object:
                async for event in trigger.run():
                    return event.payload
                return None

            events = await asyncio.gather(*(first(t) for t in triggers))
            assert all(e == {"status": "timeout"} for e in events), events[:3]
            return time.process_time() - cpu, time.perf_counter() - wall

    cpu, wall = asyncio.run(run_all())
    done = (listings - 1) / integrations
    return {"cpu": cpu / done, "wall": wall / done, "rounds": done, "listings": listings - 1}


if __name__ == "__main__":
    main()
