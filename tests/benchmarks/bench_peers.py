"""Peer benchmark (issue 28): `inbound run` against dlt, sling and raw COPY on the same CSV bytes.

    uv run --frozen python tests/benchmarks/bench_peers.py [--rows 1000000] [--big-rows 0]
        [--repeat 3] [--big-repeat 1] [--json]

Every tool runs as its own process; each is measured by its wall time and its peak RSS
(`os.wait4`'s `ru_maxrss` of that process, taken by a small launcher: see `child`), on the PostgreSQL at INBOUND_BENCH_POSTGRES_URL
(default: the local one, trust auth), each into a fresh schema of its own. PostgreSQL's own
work (its backends' CPU and memory) is in every tool's wall time and in nobody's RSS.

- inbound: `inbound run crm --json` (the CLI, as bench_import runs it) reading the file from a
  moto S3 server on loopback: S3 is inbound's only source, so its times include the GET from
  moto (the peers read the local file). Its store is the `bench_*` schema; values are read
  back through the view `inbound_attributes_v1`.
- dlt: `peers/dlt_load.py` in a virtualenv of its own (never a project dependency): pyarrow.csv
  reads the local file with typed columns (the inbound config's types), arrow tables go to a
  dlt resource with write_disposition merge and primary key user_id, loaded as parquet through
  ADBC into dlt's staging dataset and merged by dlt's SQL.
- sling: the Go binary of the `sling-linux-amd64` wheel, in the same virtualenv, run directly:
  `sling run --src-stream file://... --mode incremental --primary-key email` with the columns
  typed as above and a primary key on the target table (sling's user ID column is `email`).
- COPY (the floor): `psql -c "COPY ... FROM STDIN (FORMAT csv, HEADER true, FORCE_NULL (...))"`
  with the file on its stdin, into bench_import's typed table with the user ID as primary key.
  COPY has no merge of its own: its re-imports COPY into a temporary table, then
  `INSERT ... ON CONFLICT (email) DO UPDATE ... WHERE the row IS DISTINCT FROM` (one transaction).

The peers' virtualenv is made on first use under INBOUND_BENCH_PEERS_DIR (default
~/.cache/inbound-bench-peers/) with `uv venv` and `uv pip install` of pinned versions; if that
fails (no network to PyPI, not linux x86_64), the tool's column is left out with the reason.

Per size, per tool, on fresh targets, --repeat times (medians; --big-rows --big-repeat times):
a 1-row load (start-up), a full load of file A into an empty target, an identical re-import of
A (same bytes; inbound also with --force, which reads and compares instead of skipping by
ETag), then file B: the same users with exactly 1% of the rows' Seats changed, through each
tool's own merge path. After every step the target's row count must equal the file's users
and three users (one of them changed in B) must read back equal to the file's values.
The files are written to a temporary folder on disk a million rows at a time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import polars as pl
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import BUCKET, COPY, COPY_TABLE, LAUNCHER, URL, Bench, schema_url, write_export

from bench_mapping import ATTRIBUTES, export

HERE = Path(__file__).resolve().parent
DLT_SCRIPT = HERE / "peers" / "dlt_load.py"
PEERS_DIR = Path(os.environ.get("INBOUND_BENCH_PEERS_DIR") or "~/.cache/inbound-bench-peers").expanduser()
DLT_PINS = ["dlt==1.31.0", "pyarrow==26.0.1", "adbc-driver-postgresql==1.13.0", "psycopg2-binary==2.9.13"]
SLING_PINS = ["sling-linux-amd64==1.4.11"]
TYPES = {a["name"]: a.get("type", "text") for a in ATTRIBUTES}
COLUMN_OF = {a["column"]: a["name"] for a in ATTRIBUTES}
SLING_TYPES = {
    "seats": "integer",
    "score": "float",
    "is_admin": "bool",
    "signup_date": "date",
    "last_seen": "timestampz",
}
TOOLS = ("inbound", "dlt", "sling", "COPY")
MEASURES = (
    ("startup", "start-up (1-row load)"),
    ("full", "full load"),
    ("identical", "identical re-import"),
    ("identical_force", "identical re-import --force"),
    ("one_percent", "1% re-import"),
    ("rss", "peak RSS (MB)"),
)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# A child's `ru_maxrss` starts at the RSS of the process it was forked from (Linux keeps the
# high-water mark of the mm an exec replaces): measured straight from this harness, a 10 MB
# psql shows the harness's 250 MB. So every tool is started by a small launcher that forks
# and waits for it: GNU time (`%M`, KB), else a bare Python (`-I -S`, its ~10 MB is the floor).
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None


def child(cmd: list[str], env: dict[str, str], stdin: Path | None = None) -> tuple[float, int, bytes]:
    """Run `cmd`: (wall seconds, its peak RSS in MB, its stdout); its stderr is shown if it fails."""
    with (
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
        stdin.open("rb") if stdin else open(os.devnull, "rb") as source,
    ):
        if GNU_TIME:
            launch = [GNU_TIME, "-q", "-f", "%M", "-o", rss.name]
        else:
            launch = [sys.executable, "-I", "-S", "-c", LAUNCHER, rss.name]
        start = time.perf_counter()
        proc = subprocess.Popen([*launch, *cmd], env=env, stdin=source, stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read() if proc.stdout else b""
        proc.wait()
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read()[-3000:].decode(errors="replace")
            why = last_line(tail)
            raise RuntimeError(
                f"{Path(cmd[0]).name} exited {proc.returncode}: {why}\n{tail}\n{out[-2000:].decode(errors='replace')}"
            )
        kb = int(rss.read().split()[-1])
    return wall, kb // 1024, out


# --- the files -----------------------------------------------------------------------------------


def changed_seats(i: int, seats: str) -> str:
    return str(int(seats) + 1000)


def write_changed(path: Path, rows: int, chunk: int = 1_000_000) -> int:
    """File B: the users of A, Seats changed on every 100th row (1%), everything else the same bytes."""
    changed = 0
    with path.open("wb") as out:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            frame = pl.read_csv(export(n, start), infer_schema=False)
            hit = (pl.int_range(start, start + n) % 100) == 0
            frame = frame.with_columns(
                pl.when(hit).then((pl.col("Seats").cast(pl.Int64) + 1000).cast(pl.String)).otherwise(pl.col("Seats"))
            )
            changed += frame.select(hit.sum()).item()
            out.write(frame.write_csv(include_header=start == 0).encode())
    return changed


def write_tiny(folder: Path) -> Path:
    path = folder / "tiny.csv"
    path.write_bytes(export(1))
    return path


def file_rows(path: Path, emails: list[str]) -> dict[str, dict]:
    """The chosen users' values as the file has them (read from the file, normalized)."""
    frame = pl.scan_csv(path, infer_schema=False).filter(pl.col("Email").is_in(emails)).collect(engine="streaming")
    return {
        row["Email"]: {COLUMN_OF[c]: norm(TYPES[COLUMN_OF[c]], v) for c, v in row.items() if c in COLUMN_OF}
        for row in frame.iter_rows(named=True)
    }


def norm(kind: str, value: object) -> object:
    """A value as file text, a typed column or inbound's canonical text, made comparable."""
    if value is None or value == "":
        return None
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() in ("true", "t")
    if kind == "date":
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if kind == "timestamp":
        if not isinstance(value, datetime):
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return str(value)


# --- the tools -----------------------------------------------------------------------------------


def new_schema(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return name


def drop_schemas(*names: str) -> None:
    with psycopg.connect(URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def read_table(table: str, key: str, emails: list[str]) -> tuple[int, dict[str, dict]]:
    """A peer's target: (rows, the chosen users' values by attribute name)."""
    with psycopg.connect(URL, autocommit=True) as conn:
        count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        cur = conn.execute(f"SELECT * FROM {table} WHERE {key} = ANY(%s)", (emails,))
        names = [d.name for d in cur.description]
        found = {}
        for row in cur.fetchall():
            values = dict(zip(names, row, strict=True))
            found[values[key]] = {n: norm(t, values.get(n)) for n, t in TYPES.items()}
    return count, found


class Inbound:
    name = "inbound"

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.version = "this checkout"

    def setup(self) -> str:
        return self.bench.schema()

    def load(self, target: str, path: Path, step: str) -> tuple[float, int]:
        key = f"crm/{step}_{uuid.uuid4().hex[:6]}.csv"
        self.bench.put(key, path)
        extra = ["--key", key, "--force"] if step == "identical_force" else []
        wall, rss, out = child(
            [sys.executable, "-m", "inbound.cli", "run", "crm", "--json", *extra], self.bench.env(target)
        )
        summary = json.loads(out)
        assert summary.get("outcome") == "success" and summary["files"] == 1, summary
        self.last = summary
        return wall, rss

    def read(self, target: str, emails: list[str]) -> tuple[int, dict[str, dict]]:
        with psycopg.connect(schema_url(target), autocommit=True) as conn:
            # every user has a first name: one view row per user
            count = conn.execute(
                "SELECT count(*) FROM inbound_attributes_v1 WHERE integration = 'crm' AND attribute = 'first_name'"
            ).fetchone()[0]
            rows = conn.execute(
                "SELECT user_id, attribute, value FROM inbound_attributes_v1 WHERE integration = 'crm'"
                " AND user_id = ANY(%s)",
                (emails,),
            ).fetchall()
        found: dict[str, dict] = {}
        for user, attribute, value in rows:
            found.setdefault(user, dict.fromkeys(TYPES))[attribute] = norm(TYPES[attribute], value)
        return count, found

    def drop(self, target: str) -> None:
        self.bench.drop(target)
        objects = self.bench.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        for item in objects:  # moto keeps every upload: free them
            self.bench.s3.delete_object(Bucket=BUCKET, Key=item["Key"])


class Dlt:
    name = "dlt"

    def __init__(self, python: Path, workdir: Path) -> None:
        self.python, self.workdir = python, workdir
        self.version = subprocess.run(
            [str(python), "-c", "import dlt; print(dlt.__version__)"], capture_output=True, text=True, check=True
        ).stdout.strip()

    def setup(self) -> str:
        return f"peer_dlt_{uuid.uuid4().hex[:8]}"  # dlt makes its dataset (schema) and `<dataset>_staging`

    def load(self, target: str, path: Path, step: str) -> tuple[float, int]:
        env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
        pipelines = self.workdir / f"dlt_{target}"
        wall, rss, out = child([str(self.python), str(DLT_SCRIPT), str(path), URL, target, str(pipelines)], env)
        self.last = json.loads(out.splitlines()[-1])
        return wall, rss

    def read(self, target: str, emails: list[str]) -> tuple[int, dict[str, dict]]:
        return read_table(f"{target}.crm", "user_id", emails)

    def drop(self, target: str) -> None:
        drop_schemas(target, f"{target}_staging")
        shutil.rmtree(self.workdir / f"dlt_{target}", ignore_errors=True)


class Sling:
    name = "sling"

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.home = PEERS_DIR / "sling-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
        self.version = self.version.stdout.strip().removeprefix("Version:").strip()

    def setup(self) -> str:
        return new_schema("peer_sling")

    def load(self, target: str, path: Path, step: str) -> tuple[float, int]:
        parts = urlsplit(URL)
        query = dict(parse_qsl(parts.query))
        query.setdefault("sslmode", "disable")
        env = {
            **os.environ,
            "SLING_HOME_DIR": str(self.home),
            "SLING_DISABLE_TELEMETRY": "true",
            "BENCH_PG": urlunsplit(parts._replace(query=urlencode(query))),
        }
        cmd = [
            str(self.binary),
            "run",
            "--src-stream",
            f"file://{path}",
            "--tgt-conn",
            "BENCH_PG",
            "--tgt-object",
            f"{target}.crm",
            "--mode",
            "incremental",
            "--primary-key",
            "email",
            "--columns",
            json.dumps(SLING_TYPES),
            "--tgt-options",
            json.dumps({"table_keys": {"primary": ["email"]}}),
        ]
        wall, rss, _ = child(cmd, env)
        return wall, rss

    def read(self, target: str, emails: list[str]) -> tuple[int, dict[str, dict]]:
        return read_table(f"{target}.crm", "email", emails)

    def drop(self, target: str) -> None:
        drop_schemas(target)


class Copy:
    name = "COPY"

    def __init__(self, psql: str) -> None:
        self.psql = psql
        self.version = subprocess.run([psql, "--version"], capture_output=True, text=True).stdout.strip()

    def setup(self) -> str:
        schema = new_schema("peer_copy")
        with psycopg.connect(schema_url(schema), autocommit=True) as conn:
            conn.execute(COPY_TABLE)
        return schema

    def load(self, target: str, path: Path, step: str) -> tuple[float, int]:
        cmd = [self.psql, schema_url(target), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        if step in ("full", "startup"):
            cmd += ["-c", COPY]
        else:  # COPY has no merge: a temporary table, then an upsert of the rows that differ
            names = [n for n in TYPES]
            sets = ", ".join(f"{n} = EXCLUDED.{n}" for n in names)
            old = ", ".join(f"copy_floor.{n}" for n in names)
            new = ", ".join(f"EXCLUDED.{n}" for n in names)
            cmd += [
                "--single-transaction",
                "-c",
                "CREATE TEMP TABLE copy_stage (LIKE copy_floor) ON COMMIT DROP",
                "-c",
                COPY.replace("COPY copy_floor", "COPY copy_stage"),
                "-c",
                f"INSERT INTO copy_floor SELECT * FROM copy_stage ON CONFLICT (email) DO UPDATE SET {sets}"
                f" WHERE ({old}) IS DISTINCT FROM ({new})",
            ]
        wall, rss, _ = child(cmd, dict(os.environ), stdin=path)
        return wall, rss

    def read(self, target: str, emails: list[str]) -> tuple[int, dict[str, dict]]:
        return read_table(f"{target}.copy_floor", "email", emails)

    def drop(self, target: str) -> None:
        drop_schemas(target)


# --- the peers' virtualenv -----------------------------------------------------------------------


def peers_venv() -> tuple[Path | None, Path | None, dict[str, str]]:
    """(dlt's python, sling's binary, why a peer is missing): the venv is made once per set of pins."""
    skipped: dict[str, str] = {}
    uv = shutil.which("uv")
    if uv is None:
        return None, None, {"dlt": "no `uv` on PATH to make the peers' venv", "sling": "no `uv` on PATH"}
    tag = hashlib.sha1(" ".join(DLT_PINS + SLING_PINS).encode()).hexdigest()[:8]
    venv = PEERS_DIR / f"venv-{tag}"
    python = venv / "bin" / "python"
    if not python.exists():
        PEERS_DIR.mkdir(parents=True, exist_ok=True)
        made = subprocess.run([uv, "venv", "-q", "--python", "3.11", str(venv)], capture_output=True, text=True)
        if made.returncode != 0:
            reason = f"`uv venv` failed: {last_line(made.stderr)}"
            return None, None, {"dlt": reason, "sling": reason}
    dlt_python = sling = None
    for peer, pins in (("dlt", DLT_PINS), ("sling", SLING_PINS)):
        marker = venv / f".installed-{peer}"
        if peer == "sling" and (platform.system(), platform.machine()) != ("Linux", "x86_64"):
            skipped[peer] = f"the sling-linux-amd64 wheel needs linux x86_64, not {platform.machine()}"
            continue
        if not marker.exists():
            log(f"installing {' '.join(pins)} into {venv}")
            done = subprocess.run(
                [uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(python), *pins],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                skipped[peer] = f"`uv pip install {' '.join(pins)}` failed: {last_line(done.stderr)}"
                continue
            marker.write_text(" ".join(pins))
        if peer == "dlt":
            dlt_python = python
        else:
            found = sorted(venv.glob("lib/python*/site-packages/sling_linux_amd64/bin/sling-linux-amd64"))
            if not found:
                skipped[peer] = "the sling-linux-amd64 wheel is installed but holds no sling-linux-amd64 binary"
            else:
                sling = found[0]
    return dlt_python, sling, skipped


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


# --- the run -------------------------------------------------------------------------------------


def check(tool, target: str, rows: int, expected: dict[str, dict], step: str) -> None:
    count, found = tool.read(target, list(expected))
    assert count == rows, f"{tool.name} {step}: {count:,} rows in the target, the file has {rows:,} users"
    for user, values in expected.items():
        assert found.get(user) == values, f"{tool.name} {step}: {user} reads {found.get(user)}, the file has {values}"


def sequence(tool, files: dict, rows: int, changed: int, expected: dict) -> dict[str, tuple[float, int]]:
    """One tool at one size: start-up, full load, identical re-import(s), 1% re-import, checked."""
    out: dict[str, tuple[float, int]] = {}
    target = tool.setup()
    try:
        out["startup"] = tool.load(target, files["tiny"], "startup")
    finally:
        tool.drop(target)
    target = tool.setup()
    try:
        out["full"] = tool.load(target, files["A"], "full")
        check(tool, target, rows, expected["A"], "full load")
        steps = ["identical", "identical_force"] if tool.name == "inbound" else ["identical"]
        for step in steps:
            out[step] = tool.load(target, files["A"], step)
            check(tool, target, rows, expected["A"], step)
            if tool.name == "inbound":
                assert tool.last["rows_written"] == 0, (step, tool.last["rows_written"])
        out["one_percent"] = tool.load(target, files["B"], "one_percent")
        check(tool, target, rows, expected["B"], "1% re-import")
        if tool.name == "inbound":
            assert tool.last["rows_written"] == changed, (tool.last["rows_written"], changed)
    finally:
        tool.drop(target)
    return out


def measure_size(tools: list, workdir: Path, rows: int, repeat: int) -> dict:
    folder = workdir / f"rows_{rows}"
    folder.mkdir()
    files = {"tiny": write_tiny(folder), "A": folder / "a.csv", "B": folder / "b.csv"}
    log(f"{rows:,} rows: writing the files")
    write_export(files["A"], rows)
    changed = write_changed(files["B"], rows)
    assert changed == rows // 100 + (1 if rows % 100 else 0), changed
    emails = [f"user{i}@example.com" for i in (0, rows // 2 + 1, rows - 1)]  # user0 changes in B
    expected = {"A": file_rows(files["A"], emails), "B": file_rows(files["B"], emails)}
    assert expected["A"][emails[0]]["seats"] != expected["B"][emails[0]]["seats"]
    assert len(expected["A"]) == len(expected["B"]) == 3
    runs: dict[str, list[dict]] = {t.name: [] for t in tools}
    failed: dict[str, str] = {}
    for r in range(repeat):
        for tool in tools:  # interleaved: a busy moment of the machine hits every tool alike
            if tool.name in failed:
                continue
            log(f"{rows:,} rows, run {r + 1}/{repeat}: {tool.name}")
            try:
                runs[tool.name].append(sequence(tool, files, rows, changed, expected))
            except (RuntimeError, AssertionError, psycopg.Error) as exc:  # its column is left out, with why
                failed[tool.name] = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                print(f"failed {tool.name} at {rows:,} rows: {failed[tool.name]}", flush=True)
                log(str(exc))
                continue
            log("  " + ", ".join(f"{k} {w:.2f} s {m} MB" for k, (w, m) in runs[tool.name][-1].items()))
    result = {}
    for name, done in runs.items():
        if name in failed:
            continue
        steps = {k: statistics.median(d[k][0] for d in done) for k in done[0]}
        steps["rss"] = max(m for d in done for _, m in d.values())
        steps["rss_by_step"] = {k: max(d[k][1] for d in done) for k in done[0]}
        result[name] = steps
    size = files["A"].stat().st_size
    for path in files.values():
        path.unlink()
    return {
        "rows": rows,
        "mb": round(size / 1e6, 1),
        "changed": changed,
        "repeat": repeat,
        "tools": result,
        "failed": failed,
    }


def ratios(size: dict) -> dict[str, float]:
    t = size["tools"]
    out: dict[str, float] = {}
    if "dlt" in t:
        for name in t:
            if name != "dlt":
                out[f"{name} full load / dlt full load"] = t[name]["full"] / t["dlt"]["full"]
    for name in t:
        out[f"{name} 1% re-import / full load"] = t[name]["one_percent"] / t[name]["full"]
    if "inbound" in t:
        ib = t["inbound"]
        if "dlt" in t:
            out["inbound 1% re-import / dlt 1% re-import"] = ib["one_percent"] / t["dlt"]["one_percent"]
        out["inbound identical re-import / full load"] = ib["identical"] / ib["full"]
        out["inbound identical re-import --force / full load"] = ib["identical_force"] / ib["full"]
        if "COPY" in t:
            out["inbound (full load - start-up) / COPY"] = (ib["full"] - ib["startup"]) / t["COPY"]["full"]
        out["inbound start-up s"] = ib["startup"]
    return out


def table(size: dict) -> str:
    names = [n for n in TOOLS if n in size["tools"]]
    label = f"{size['rows']:,} rows ({size['mb']:.0f} MB, {size['changed']:,} changed, median of {size['repeat']})"
    width = max(len(label), *(len(t) for _, t in MEASURES))
    lines = [f"{label:{width}}" + "".join(f"  {n:>9}" for n in names)]
    for key, text in MEASURES:
        cells = []
        for n in names:
            v = size["tools"][n].get(key)
            cells.append("-" if v is None else f"{v:,}" if key == "rss" else f"{v:.2f} s")
        lines.append(f"{text:{width}}" + "".join(f"  {c:>9}" for c in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=0, help="e.g. 5000000 (0: none)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    args = parser.parse_args()
    wanted = set(args.tools.split(","))
    with tempfile.TemporaryDirectory(prefix="inbound-bench-peers-") as tmp:
        workdir = Path(tmp)
        bench = Bench(workdir)
        try:
            tools, skipped = [], {}
            if "inbound" in wanted:
                tools.append(Inbound(bench))
            dlt_python, sling, skipped = peers_venv() if wanted & {"dlt", "sling"} else (None, None, {})
            if "dlt" in wanted and dlt_python:
                tools.append(Dlt(dlt_python, workdir))
            if "sling" in wanted and sling:
                tools.append(Sling(sling))
            if "COPY" in wanted:
                psql = shutil.which("psql")
                if psql:
                    tools.append(Copy(psql))
                else:
                    skipped["COPY"] = "no `psql` on PATH (the COPY floor runs as a psql process)"
            for name, reason in skipped.items():
                if name in wanted:
                    print(f"skipped {name}: {reason}", flush=True)
            for tool in tools:  # untimed: first runs pay for .pyc files, page cache, AIRFLOW_HOME
                log(f"warm-up: {tool.name}")
                target = tool.setup()
                try:
                    tool.load(target, write_tiny(workdir), "startup")
                finally:
                    tool.drop(target)
            sizes = [(args.rows, args.repeat)] + ([(args.big_rows, args.big_repeat)] if args.big_rows else [])
            results = [measure_size(tools, workdir, rows, repeat) for rows, repeat in sizes]
        finally:
            bench.proc.terminate()
    versions = {t.name: t.version for t in tools}
    print("versions: " + "; ".join(f"{k} {v}" for k, v in versions.items()))
    for size in results:
        size["ratios"] = ratios(size)
        print()
        print(table(size))
        for name, reason in size["failed"].items():
            print(f"left out {name}: {reason}")
        print("ratios: " + "; ".join(f"{k} {v:.2f}" for k, v in size["ratios"].items()))
    if args.json:
        report = {"postgres": urlsplit(URL).netloc.split("@")[-1], "versions": versions, "skipped": skipped}
        print(json.dumps({**report, "sizes": results}))


if __name__ == "__main__":
    main()
