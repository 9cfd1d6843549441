"""Import benchmark (issue 13): `inbound run` as its own process, against raw COPY and polars.read_csv.

    uv run python tests/benchmarks/bench_import.py [--rows 1000000] [--big-rows 10000000]
        [--huge-rows 0] [--repeat 3]

Everything is measured in one run, on this machine, on the PostgreSQL at
INBOUND_BENCH_POSTGRES_URL (default: the local one), with a moto S3 server on loopback:

- `inbound run crm` in a child process (the CLI, as an operator runs it), wall time and the
  child's own peak RSS (`os.wait4`'s `ru_maxrss`), median of --repeat, on an empty store
  each time: on a 1-row file (the start-up), on --rows and on --big-rows (once each);
- right after each full load, raw `COPY ... FROM STDIN (FORMAT csv, HEADER true)` of the same
  bytes into an empty table with the file's columns typed and the user ID as primary key;
- `map_file` (what `validate_and_map` does besides S3 and staging, in batches) against
  `polars.read_csv` of the same bytes, in this process, interleaved, median of --repeat;
- a re-import with 1% of the rows changed (rows written must equal the changed rows).

Ratios as issue 13 defines them: full load = (run(N) - run(1 row)) / COPY(N).
The last line prints the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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
from inbound.config.model import Integration  # noqa: E402
from inbound.pipeline.batches import map_file  # noqa: E402
from inbound.store import open_store  # noqa: E402

URL = os.environ.get("INBOUND_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BUCKET = "bench-exports"
COPY_TABLE = """CREATE TABLE copy_floor (email TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, account TEXT,
    plan TEXT, department TEXT, country TEXT, seats INTEGER, score DOUBLE PRECISION, is_admin BOOLEAN,
    signup_date DATE, last_seen TIMESTAMPTZ)"""
# The export writes an empty cell as `""`: FORCE_NULL makes it no value in the typed columns.
COPY = "COPY copy_floor FROM STDIN (FORMAT csv, HEADER true, FORCE_NULL (department, signup_date, last_seen))"


# Forks the command, waits for it and writes its own peak RSS (KB) to argv[1]: a bare Python
# (`-I -S`, about 10 MB) is the only memory the command's fork can inherit.
LAUNCHER = (
    "import os, sys; pid = os.fork()\n"
    "if pid == 0: os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))"
)


def schema_url(schema: str) -> str:
    return f"{URL}{'&' if '?' in URL else '?'}options=-csearch_path%3D{schema}"


class Bench:
    """A moto server, a configs folder with `crm`, and a fresh PostgreSQL schema per import."""

    def __init__(self, workdir: Path) -> None:
        self.proc, self.endpoint = start_moto()
        self.s3 = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
        )
        self.s3.create_bucket(Bucket=BUCKET)
        self.configs = workdir / "integrations"
        self.configs.mkdir()
        config = {
            "name": "crm",
            "schedule": "@daily",
            "source": {"bucket": BUCKET, "key": "crm/*.csv"},
            "user_id": {"column": "Email"},
            "attributes": ATTRIBUTES,
            "max_file_mb": 100_000,
        }
        (self.configs / "crm.yaml").write_text(json.dumps(config))  # JSON is YAML
        self.workdir = workdir

    def env(self, schema: str) -> dict[str, str]:
        aws = {"conn_type": "aws", "login": "b", "password": "b", "extra": {"endpoint_url": self.endpoint}}
        return {
            **os.environ,
            "AIRFLOW_HOME": str(self.workdir / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "INBOUND_CONFIG_DIR": str(self.configs),
            "INBOUND_STAGING_DIR": str(self.workdir / "staging"),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
            "AIRFLOW_CONN_INBOUND_STORE": schema_url(schema),
        }

    def schema(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        open_store(schema_url(name), migrate=True).close()  # the deploy step (`inbound migrate`), outside the timing
        return name

    def drop(self, schema: str) -> None:
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

    def put(self, key: str, data: bytes | Path) -> None:
        if isinstance(data, Path):  # a large export: streamed from disk in parts
            self.s3.upload_file(str(data), BUCKET, key)
        else:
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)

    def run(self, schema: str) -> tuple[float, int, dict]:
        """`inbound run crm --json` as a child: (wall seconds, the child's peak RSS in MB, its summary).

        Started through a small launcher: a child forked straight from this harness reports the
        harness's RSS at the fork as its own floor (Linux keeps the high-water mark of the memory
        an exec replaces), 595 MB for a run whose own peak was 370 MB.
        """
        command = [sys.executable, "-m", "inbound.cli", "run", "crm", "--json"]
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", LAUNCHER, rss.name, *command],
                env=self.env(schema),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            out = proc.stdout.read() if proc.stdout else b""
            proc.wait()
            wall = time.perf_counter() - start
            summary = json.loads(out or b"{}")
            assert proc.returncode == 0 and summary.get("outcome") == "success", (proc.returncode, out[-2000:])
            return wall, int(rss.read()) // 1024, summary

    def full_load(self, data: bytes | Path, rows: int | None = None) -> tuple[float, int, float]:
        """One `inbound run` of `data` into an empty store, then COPY of the same bytes: (run s, RSS MB, COPY s)."""
        schema = self.schema()
        try:
            self.put(f"crm/export_{uuid.uuid4().hex[:6]}.csv", data)
            wall, rss, summary = self.run(schema)
            expected = rows if rows is not None else data.count(b"\n") - 1 if isinstance(data, bytes) else None
            assert summary["rows_written"] == expected or expected is None or expected < 10, summary
            with psycopg.connect(schema_url(schema), autocommit=True) as conn:
                conn.execute(COPY_TABLE)
                start = time.perf_counter()
                with conn.cursor() as cur, cur.copy(COPY) as copy:
                    if isinstance(data, bytes):
                        copy.write(data)
                    else:
                        with data.open("rb") as source:
                            while piece := source.read(8 << 20):
                                copy.write(piece)
                t_copy = time.perf_counter() - start
            return wall, rss, t_copy
        finally:
            self.drop(schema)

    def one_percent(self, data: bytes) -> tuple[float, float, int, int]:
        """Full load, then the same users with 1% changed: (full s, re-import s, rows written, changed rows)."""
        schema = self.schema()
        try:
            self.put("crm/export_full.csv", data)
            t_full, _, _ = self.run(schema)
            changed = pl.read_csv(data, infer_schema=False).with_columns(
                pl.when(pl.int_range(pl.len()) % 100 == 0)
                .then(pl.lit("changed"))
                .otherwise(pl.col("Plan"))
                .alias("Plan")
            )
            self.put("crm/export_changed.csv", changed.write_csv().encode())
            t_one, _, summary = self.run(schema)
            return t_full, t_one, summary["rows_written"], changed.filter(pl.col("Plan") == "changed").height
        finally:
            self.drop(schema)


def write_export(path: Path, rows: int, chunk: int = 1_000_000) -> Path:
    """A large export written to disk a million rows at a time (the harness never holds it)."""
    with path.open("wb") as out:
        for start in range(0, rows, chunk):
            out.write(export(min(chunk, rows - start), start, header=start == 0))
    return path


def parse_ratio(data: bytes, repeat: int) -> tuple[float, float]:
    """Medians of `map_file` (what `validate_and_map` does besides S3 and staging: batches, spool,
    duplicates across batches) and of `polars.read_csv`, interleaved, same bytes."""
    integration = Integration.model_validate(
        {
            "name": "crm",
            "schedule": "@daily",
            "source": {"bucket": BUCKET, "key": "x.csv"},
            "user_id": {"column": "Email"},
            "attributes": ATTRIBUTES,
        }
    )
    ours, plain = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        pl.read_csv(data)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="inbound-bench-map-") as folder:
            pieces = (data[i : i + (8 << 20)] for i in range(0, len(data), 8 << 20))
            map_file(pieces, integration.model_copy(update={"max_file_mb": 1 << 20}), Path(folder))
        ours.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(plain)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--huge-rows", type=int, default=0, help="e.g. 50000000: imported once, reported as is")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inbound-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            report(bench, args)
        finally:
            bench.proc.terminate()


def report(bench: Bench, args: argparse.Namespace) -> None:
    tiny = export(1)
    startup = statistics.median(bench.full_load(tiny)[0] for _ in range(args.repeat))
    data = export(args.rows)
    loads = [bench.full_load(data) for _ in range(args.repeat)]
    run_1m = statistics.median(w for w, _, _ in loads)
    rss_1m = statistics.median(r for _, r, _ in loads)
    copy_1m = statistics.median(c for _, _, c in loads)
    ours, plain = parse_ratio(data, args.repeat)
    t_full, t_one, written, changed = bench.one_percent(data)
    assert written == changed, (written, changed)
    size_1m = len(data)
    del data
    lines = [
        ("start-up: inbound run of a 1-row file", f"{startup:.1f} s", "", ""),
        (
            f"inbound run, {args.rows:,} rows ({size_1m / 1e6:.0f} MB)",
            f"{run_1m:.1f} s",
            f"{rss_1m:,} MB",
            f"{args.rows / (run_1m - startup):,.0f}",
        ),
        ("COPY of the same bytes, typed table with PK", f"{copy_1m:.2f} s", "", f"{args.rows / copy_1m:,.0f}"),
        ("map_file (batched validate_and_map) / polars.read_csv", f"{ours:.2f} / {plain:.2f} s", "", ""),
        (f"re-import, 1% changed ({written:,} rows written)", f"{t_one:.1f} s", "", ""),
    ]
    ratios = {
        "full load / COPY": (run_1m - startup) / copy_1m,
        "validate_and_map / read_csv": ours / plain,
        "1% re-import / full load": (t_one - startup) / (t_full - startup),
    }
    for label, t, rss_text, rate in lines:
        print(f"{label}: {t} {rss_text} {rate}", flush=True)
    for rows in (args.big_rows, args.huge_rows):
        if not rows:
            continue
        data = write_export(bench.workdir / "big.csv", rows)
        wall, rss, t_copy = bench.full_load(data, rows)
        size = data.stat().st_size
        data.unlink()
        lines.append(
            (
                f"inbound run, {rows:,} rows ({size / 1e6:.0f} MB)",
                f"{wall:.1f} s",
                f"{rss:,} MB",
                f"{rows / (wall - startup):,.0f}",
            )
        )
        lines.append((f"COPY of the same bytes ({rows:,} rows)", f"{t_copy:.1f} s", "", f"{rows / t_copy:,.0f}"))
        for label, t, rss_text, rate in lines[-2:]:
            print(f"{label}: {t} {rss_text} {rate}", flush=True)
        if rows == args.big_rows:
            ratios[f"peak RSS {rows // 10**6}M / {args.rows // 10**6}M"] = rss / rss_1m
            ratios[f"rows/s {rows // 10**6}M / {args.rows // 10**6}M"] = (rows / (wall - startup)) / (
                args.rows / (run_1m - startup)
            )
            ratios[f"full load / COPY at {rows // 10**6}M"] = (wall - startup) / t_copy
    width = max(len(line[0]) for line in lines)
    print(f"\n{'':{width}}  {'time':>14}  {'peak RSS':>10}  {'rows/s net':>11}")
    for label, t, rss_text, rate in lines:
        print(f"{label:{width}}  {t:>14}  {rss_text:>10}  {rate:>11}")
    print("ratios: " + "; ".join(f"{k} {v:.2f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
