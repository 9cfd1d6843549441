"""Triggerer benchmark: one round of looks by N waiting `wait_for_file` triggers.

    uv run --frozen python tests/benchmarks/bench_trigger.py [--integrations 1000] [--repeat 1]

A script, not a test. N integration configs (one bucket, a folder each, no file waiting)
and a moto server on loopback; the attribute store is SQLite. It runs what the triggerer
runs for every waiting sensor in one poll (`inbound.airflow.look.look`: catalog, S3 listing,
shared-file check), for all N at once on one asyncio loop, two ways:

- baseline: `look` as first written this session (kept in this script): every look on
  asgiref's one shared thread (`sync_to_async` default, thread_sensitive=True), with a new
  boto3 client, the config folder loaded and the store opened for each;
- now: `inbound.airflow.look.look` on a pool of threads (thread_sensitive=False): S3 clients
  reused per connection, and the catalog and the store only touched when a file is listed.

It prints the median seconds per round for both and the ratio now / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
BUCKET = "bench-exports"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--integrations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="inbound-bench-trigger-"))
    from e2e.cluster import start_moto, stop_group

    moto, url = start_moto(work)
    try:
        os.environ.update(
            {
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
                "INBOUND_MAX_ATTRIBUTES": str(10 * args.integrations),
            }
        )
        configs = work / "integrations"
        configs.mkdir()
        for i in range(args.integrations):
            name = f"bench_{i:04d}"
            (configs / f"{name}.yaml").write_text(
                yaml.safe_dump(
                    {
                        "name": name,
                        "schedule": "@daily",
                        "source": {"bucket": BUCKET, "key": f"{name}/export_*.csv"},
                        "user_id": {"column": "Email"},
                        "attributes": [{"column": "Plan", "name": f"{name}_plan"}],
                    }
                )
            )
        import boto3
        from asgiref.sync import sync_to_async

        from inbound.airflow import connections
        from inbound.airflow.look import look as current_look
        from inbound.config.catalog import load_folder
        from inbound.config.model import Integration
        from inbound.pipeline.shared_files import look as split_listing
        from inbound.pipeline.shared_files import shares_bucket
        from inbound.s3.source import list_new_files

        boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        catalog = load_folder()
        snapshots = [i.snapshot() for i in catalog.integrations.values()]

        def baseline_look(snapshot: dict) -> list:
            """`look` as first written this session, kept here as the baseline."""
            integration = Integration.from_snapshot(snapshot)
            catalog = load_folder()
            client = connections._new_s3_client(integration.source.aws_conn_id)
            source = integration.source
            files = list_new_files(client, source.bucket, source.key, source.marker)
            attribute_store = connections.store() if shares_bucket(catalog, integration) else None
            try:
                return [f.to_dict() for f in split_listing(attribute_store, catalog, integration, files).new]
            finally:
                if attribute_store is not None:
                    attribute_store.close()

        async def round_of(look, thread_sensitive: bool) -> float:
            started = time.perf_counter()
            results = await asyncio.gather(
                *(sync_to_async(look, thread_sensitive=thread_sensitive)(s) for s in snapshots)
            )
            assert all(r in ([], {"files": [], "due": []}) for r in results)
            return time.perf_counter() - started

        loop = asyncio.new_event_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=32))  # what thread_sensitive=False runs on
        baseline, now = [], []
        for _ in range(args.repeat):
            baseline.append(loop.run_until_complete(round_of(baseline_look, True)))
            now.append(loop.run_until_complete(round_of(current_look, False)))
        b, n = statistics.median(baseline), statistics.median(now)
        print(
            f"| {args.integrations} waiting triggers, one round of looks (median of {args.repeat}) | "
            f"baseline {b:.1f} s | now {n:.1f} s | ratio {n / b:.2f} |"
        )
    finally:
        stop_group(moto)


if __name__ == "__main__":
    main()
