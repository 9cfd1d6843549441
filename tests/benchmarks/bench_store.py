"""Store benchmark: `inbound run` against the usual Airflow way and the COPY floor.

    uv run python tests/benchmarks/bench_store.py [--rows 1000000] [--big-rows 10000000]

Generates an export (user ID + 11 attributes), starts a moto S3 server on loopback, and
measures on the PostgreSQL at INBOUND_BENCH_POSTGRES_URL (default: the local one), in one
run:

1. `inbound run` (the pipeline's own steps) full load from S3 into an empty store;
2. the baseline most Airflow users would write: pandas `read_csv` + PostgresHook
   `insert_rows(replace=True)` into one JSONB row per user (on --baseline-rows rows,
   reported as rows/s);
3. the floor: raw COPY of the same rows into a typed table with a primary key;
4. re-imports: the same content again (shortcut), the same content forced through the
   diff, and a copy with 1% of users changed (rows written must equal the changed rows);
5. peak RSS of a --big-rows import in a child process (skipped with --big-rows 0).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import polars as pl
import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
from bench_mapping import ATTRIBUTES, export  # noqa: E402
from e2e.cluster import start_moto  # noqa: E402
from inbound.config.catalog import Catalog  # noqa: E402
from inbound.config.model import Integration  # noqa: E402
from inbound.run import Run  # noqa: E402
from inbound.s3.source import list_new_files  # noqa: E402
from inbound.store import open_store  # noqa: E402

URL = os.environ.get("INBOUND_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BUCKET = "bench-exports"


def schema_url(schema: str) -> str:
    return f"{URL}{'&' if '?' in URL else '?'}options=-csearch_path%3D{schema}"


def integration(name: str, max_file_mb: int = 1024) -> Integration:
    return Integration.model_validate(
        {
            "name": name,
            "schedule": "@daily",
            "source": {"bucket": BUCKET, "key": f"{name}/*.csv"},
            "user_id": {"column": "Email"},
            "attributes": ATTRIBUTES,
            "max_file_mb": max_file_mb,
        }
    )


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(client, store, config):
    files = list_new_files(client, BUCKET, config.source.key)
    return Run(config, client, store, f"bench_{uuid.uuid4().hex[:8]}", "bench", catalog=Catalog())(files)


def baseline(data: bytes, rows: int, schema: str) -> float:
    """pandas + PostgresHook.insert_rows(replace=True), one JSONB row per user."""
    import pandas as pd
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    os.environ["AIRFLOW_CONN_BENCH_PG"] = schema_url(schema).replace("postgresql://", "postgres://")
    hook = PostgresHook(postgres_conn_id="bench_pg")
    hook.run(f"CREATE TABLE {schema}.baseline (user_id TEXT PRIMARY KEY, attrs JSONB)")
    start = time.perf_counter()
    frame = pd.read_csv(io.BytesIO(data), nrows=rows, dtype=str, keep_default_na=False)
    records = frame.drop(columns=["Email"]).to_dict(orient="records")
    values = [(uid, json.dumps(r)) for uid, r in zip(frame["Email"], records)]
    hook.insert_rows(
        f"{schema}.baseline",
        values,
        target_fields=["user_id", "attrs"],
        replace=True,
        replace_index="user_id",
        commit_every=5000,
    )
    return time.perf_counter() - start


def floor(data: bytes, schema: str) -> float:
    """Raw COPY of the rows into a typed table with a primary key."""
    with psycopg.connect(schema_url(schema), autocommit=True) as conn:
        conn.execute(
            """CREATE TABLE floor (email TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, account TEXT, plan TEXT,
               department TEXT, country TEXT, seats INTEGER, score DOUBLE PRECISION, is_admin BOOLEAN,
               signup_date DATE, last_seen TIMESTAMPTZ)"""
        )
        start = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY floor FROM STDIN (FORMAT csv, HEADER true, FORCE_NULL (department, signup_date, last_seen))"
            ) as copy,
        ):
            copy.write(data)
        return time.perf_counter() - start


def big(rows: int, endpoint: str, client) -> str:
    """Import a --big-rows file in a child process (which only imports) and report its peak RSS."""
    data = export(rows)
    client.put_object(Bucket=BUCKET, Key="big/export.csv", Body=data)
    del data
    code = f"""
import resource, sys, boto3, uuid
sys.path.insert(0, {str(ROOT / "tests" / "benchmarks")!r})
from bench_store import integration, run, schema_url, BUCKET
from inbound.store import open_store
client = boto3.client("s3", endpoint_url={endpoint!r}, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b")
config = integration("big", max_file_mb=100_000)
store = open_store(schema_url(sys.argv[1]), migrate=True)
summary = run(client, store, config)
print(summary.outcome, summary.rows_written, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""
    schema = f"bench_big_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        out = subprocess.run([sys.executable, "-c", code, schema], capture_output=True, text=True, timeout=3600)
        return out.stdout.strip() or out.stderr.strip()[-500:]
    finally:
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=200_000)
    parser.add_argument("--big-rows", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("INBOUND_STAGING_DIR", "/tmp/inbound-bench-staging")
    schema = f"bench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    proc, endpoint = start_moto()
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
    )
    client.create_bucket(Bucket=BUCKET)
    rows = []
    try:
        data = export(args.rows)
        config = integration("crm")
        store = open_store(schema_url(schema), migrate=True)  # the deploy step (`inbound migrate`) first
        client.put_object(Bucket=BUCKET, Key="crm/export_1.csv", Body=data)
        t_full, summary = timed(lambda: run(client, store, config))
        assert summary.outcome == "success" and summary.rows_written == args.rows, summary.lines()
        t_base = baseline(data, args.baseline_rows, schema)
        t_floor = floor(data, schema)
        client.put_object(Bucket=BUCKET, Key="crm/export_2.csv", Body=data)
        t_same, same = timed(lambda: run(client, store, config))
        assert same.files[0].write["skipped"], same.lines()
        client.put_object(Bucket=BUCKET, Key="crm/export_3.csv", Body=data)
        files = list_new_files(client, BUCKET, config.source.key)
        t_forced, forced = timed(
            lambda: Run(config, client, store, "forced", "bench", catalog=Catalog(), force=True)(files)
        )
        assert forced.rows_written == 0, forced.lines()
        changed = pl.read_csv(data, infer_schema=False).with_columns(
            pl.when(pl.int_range(pl.len()) % 100 == 0).then(pl.lit("changed")).otherwise(pl.col("Plan")).alias("Plan")
        )
        expected = changed.filter(pl.col("Plan") == "changed").height
        client.put_object(Bucket=BUCKET, Key="crm/export_4.csv", Body=changed.write_csv().encode())
        t_one, one = timed(lambda: run(client, store, config))
        assert one.rows_written == expected, (one.rows_written, expected)
        store.close()
        full_rate = args.rows / t_full
        base_rate = args.baseline_rows / t_base
        rows = [
            ("1. inbound run, full load (S3 -> store)", f"{t_full:.1f} s", f"{full_rate:,.0f}"),
            (
                f"2. pandas + PostgresHook.insert_rows(replace=True), JSONB ({args.baseline_rows:,} rows)",
                f"{t_base:.1f} s",
                f"{base_rate:,.0f}",
            ),
            ("3. floor: COPY into a typed table with a primary key", f"{t_floor:.1f} s", f"{args.rows / t_floor:,.0f}"),
            ("4a. re-import, same content (shortcut)", f"{t_same:.2f} s", "-"),
            (
                "4b. re-import, same content, forced through the diff (0 rows written)",
                f"{t_forced:.1f} s",
                f"{args.rows / t_forced:,.0f}",
            ),
            (
                f"4c. re-import, 1% changed ({one.rows_written:,} rows written = changed)",
                f"{t_one:.1f} s",
                f"{args.rows / t_one:,.0f}",
            ),
        ]
        if args.big_rows:
            rows.append(
                (
                    f"5. peak RSS, {args.big_rows:,}-row import (outcome, rows written, MB)",
                    big(args.big_rows, endpoint, client),
                    "-",
                )
            )
        print(f"\n{args.rows:,} rows x 11 attributes, {len(data) / 1e6:.0f} MB CSV, PostgreSQL, 2 cores\n")
        width = max(len(r[0]) for r in rows)
        print(f"{'':{width}}  {'time':>10}  {'rows/s':>10}")
        for label, t, rate in rows:
            print(f"{label:{width}}  {t:>10}  {rate:>10}")
        print(f"\n(1)/(2) speed: {full_rate / base_rate:.1f}x   (goal >= 5x)")
        print(f"(1)/(3) time:  {t_full / t_floor:.1f}x   (goal <= 2.5x)")
        print(f"(4a)/(1) time: {t_same / t_full:.2f}   (goal < 0.25)")
        print(f"(4b)/(1) time: {t_forced / t_full:.2f}")
    finally:
        proc.terminate()
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
