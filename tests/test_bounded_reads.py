"""Reads bounded by the latest entries or by an index, never by history: a year of it, and the rows each query reads.

Issue 29, item 4. On PostgreSQL (unreachable: the test fails, it never skips), a year of hourly
history for 500 integrations is written by the database itself (`generate_series`):

- the attribute store (`migrate()`, then its tables filled directly): 4.38M import-log entries
  (half the integrations read one fixed key, half a new key each hour; ~1% failures, one
  integration failing for its last 90 days, one that never succeeded, one whose unchanged file
  comes again every hour: one object version, skipped 8,759 times), the log sizes as schema v5
  counts them, and a table of `USERS` users per integration;
- Airflow's metadata database, a database of its own made by `airflow db migrate`: 500 DAGs,
  4.38M scheduled or asset-triggered runs (event mode: no logical date) and a daily re-import of
  each DAG (no logical date either), a few dry runs and runs with run IDs of a caller's own, the
  `wait_for_file` task instance of the last week's runs and of every run of `FULL_TI_DAGS` DAGs,
  the `finalize` outcome XCom of the last week's runs, three parsed versions of each DAG.

Then the real code runs (the plugin's routes through Airflow's API app and TestClient, the
management table, the CLI's commands, the tasks' store calls) while every statement it sends is
recorded: the store's through psycopg, Airflow's through a SQLAlchemy `before_cursor_execute`
listener. Each statement runs again under `EXPLAIN (ANALYZE, FORMAT JSON)` with its parameters
(the store's just before it runs, in a savepoint rolled back: its temporary tables exist then;
Airflow's, all reads, afterwards) and what it read, summed over the plan's table scans as
(actual rows + rows removed by a filter or a recheck) x loops (PostgreSQL reports both per loop),
must stay within the bound of its family (`FAMILIES`): a number that does not grow with history.
A statement of no family fails the test: a new query states its bound here. A table of one row per
integration or DAG (the log sizes, Airflow's `dag`) is bounded by its size: while it is a few pages,
PostgreSQL rightly scans it whole rather than look one row up.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import yaml

from conftest import BUCKET, POSTGRES_URL, integration_dict

pytestmark = pytest.mark.slow

INTEGRATIONS = 500
HOURS = 24 * 365  # a year, hourly
USERS = 40  # users of each integration's table: the store's state, not its history
FAILING = 7  # failed every hour of its last 90 days
NEVER = 13  # never imported: every entry failed, no table
REPEATED = 2  # the same content uploaded every hour: one object version, skipped 8,759 times
FULL_TI_DAGS = 4  # DAGs with a wait task instance for every run of the year
RECENT = 14  # `inbound.airflow.runs.RECENT_RUNS`
VERSIONS_PER_DAG = 3  # DAG versions Airflow parsed (a config changed)
RUN_TYPES = 6  # Airflow's run types: a LIMITed branch each, and one for run IDs of no type
FAILED_KEY = "int_0001/failed/20251230T190000Z_users_8731.csv"  # the failed import of hour 8731 (8731 % 97 == 1)


def name(i: int) -> str:
    return f"int_{i:04d}"


# -- building a year ------------------------------------------------------------------------------
def database_url(database: str) -> str:
    parts = urlsplit(POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{database}", query=""))


def admin(statement: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


# Each integration: `s3://acme-exports/int_NNNN/users.csv` (even: one key, uploaded again every hour)
# or `.../users_<hour>.csv` (odd: a new key each hour); moved to success/ or failed/ after. In the
# order the imports ran, hour by hour (ids given: no sequence to advance 4.38M times).
LOG_HISTORY = f"""
WITH n AS MATERIALIZED (
    SELECT i, 'int_' || lpad(i::text, 4, '0') AS name, 's3://{BUCKET}/int_' || lpad(i::text, 4, '0') || '/' AS uri,
           'int_' || lpad(i::text, 4, '0') || '/' AS folder, 'airflow:inbound_int_' || lpad(i::text, 4, '0') || '/' AS dag
    FROM generate_series(0, {INTEGRATIONS - 1}) AS i),
hs AS MATERIALIZED (
    SELECT h, 'users_' || h || '.csv' AS stamped, 'scheduled__' || h AS run,
           to_char(timestamptz '2025-01-01 00:00+00' + h * interval '1 hour', 'YYYYMMDD"T"HH24MISS"Z"_') AS stamp,
           timestamptz '2025-01-01 00:00+00' + h * interval '1 hour' AS at
    FROM generate_series(0, {HOURS - 1}) AS h),
e AS (
    SELECT n.*, hs.*, CASE WHEN n.i % 2 = 0 THEN 'users.csv' ELSE hs.stamped END AS file,
           (n.i = {NEVER} OR (n.i = {FAILING} AND hs.h >= {HOURS - 24 * 90}) OR hs.h % 97 = n.i % 97) AS failed
    FROM hs CROSS JOIN LATERAL (SELECT * FROM n) AS n)
INSERT INTO inbound_import_log (id, integration, source_file, etag, config_version, outcome, rows_read, rows_written,
    rows_rejected, attributes, error, triggered_by, finished_at, final_key, inserted, updated, unchanged)
OVERRIDING SYSTEM VALUE
SELECT h * {INTEGRATIONS} + i + 1, name, uri || file, CASE WHEN i = {REPEATED} THEN 'same' ELSE 'e' || h END, 'v1',
       CASE WHEN failed THEN 'failed' ELSE 'success' END, {USERS}, 2, 0, 2,
       CASE WHEN failed THEN 'the file has no column Email'
            WHEN i = {REPEATED} AND h > 0 THEN 'skipped: same content, config and data as import {REPEATED + 1}' END,
       dag || run, at,
       folder || CASE WHEN failed THEN 'failed/' ELSE 'success/' END || stamp || file, 0, 2, {USERS - 2}
FROM e
"""


def build_store(url: str) -> dict[str, float]:
    """The store's schema, a year of its import log, a table of `USERS` users per integration that ever imported."""
    from inbound.store import open_store
    from inbound.store.schema import LOG_TABLE, RECOUNT, Schema

    times: dict[str, float] = {}
    started = time.perf_counter()
    with open_store(url, migrate=True):
        pass
    with psycopg.connect(url, autocommit=True) as conn:
        # Indexes built once over the loaded rows cost a third of keeping them row by row.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%pkey'",
            (LOG_TABLE,),
        ).fetchall()
        for index, _ in indexes:
            conn.execute(f"DROP INDEX {index}")
        conn.execute(LOG_HISTORY)
        conn.execute(f"ALTER TABLE {LOG_TABLE} ALTER COLUMN id RESTART WITH {INTEGRATIONS * HOURS + 1}")
        times["store: 4.38M import-log entries"] = time.perf_counter() - started
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:  # two at once: the server sorts each in a process of its own
            list(pool.map(lambda d: run_on(url, f"SET maintenance_work_mem = '128MB'; {d[1]}"), indexes))
        times["store: the log's indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        for statement in RECOUNT:  # the log sizes, as schema v5 counts them
            conn.execute(statement)
        latest = {name(i): (HOURS - 1) * INTEGRATIONS + i + 1 for i in range(INTEGRATIONS)}  # each one's last entry
    with open_store(url) as store, store.transaction() as cur:
        original = Schema._create_view
        Schema._create_view = lambda self, cur: None  # type: ignore[method-assign]  # once, after the tables
        try:
            for i in range(INTEGRATIONS):
                if i == NEVER:
                    continue
                plan, tickets = f"{name(i)}_plan", f"{name(i)}_open_tickets"
                table = store._create_table(cur, name(i), {plan: "string", tickets: "integer"})
                cur.execute(
                    f"""INSERT INTO {table} (_user_id, _import_id, "{plan}", "{tickets}")
                        SELECT 'user' || lpad(j::text, 3, '0') || '@x', %s, (ARRAY['free', 'premium'])[j %% 2 + 1],
                               (j %% 10)::text FROM generate_series(0, {USERS - 1}) AS j""",
                    (latest[name(i)],),
                )
        finally:
            Schema._create_view = original  # type: ignore[method-assign]
        store._create_view(cur)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    times["store: 499 tables of users, log sizes, ANALYZE"] = time.perf_counter() - started
    return times


def run_on(url: str, statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements.split("; "):
            conn.execute(statement)


# DAG `d`: event mode (asset-triggered runs, no logical date) when d % 4 == 1, else scheduled hourly;
# every DAG also has a daily re-import (manual, no logical date) half an hour after its noon run.
# Run IDs as Airflow makes them; in the order Airflow would have made them (ids follow time).
DAG_RUNS = f"""
WITH d AS MATERIALIZED (
    SELECT i, 'inbound_int_' || lpad(i::text, 4, '0') AS dag_id, i % 4 = 1 AS events
    FROM generate_series(0, {INTEGRATIONS - 1}) AS i),
hs AS MATERIALIZED (
    SELECT h, timestamptz '2025-01-01 00:00+00' + h * interval '1 hour' AS at,
           to_char(timestamptz '2025-01-01 00:00+00' + h * interval '1 hour', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') AS iso,
           to_char(timestamptz '2025-01-01 00:30+00' + h * interval '1 hour', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') AS later
    FROM generate_series(0, {HOURS - 1}) AS h)
INSERT INTO dag_run (dag_id, run_id, logical_date, run_after, start_date, end_date, state, run_type,
                     data_interval_start, data_interval_end, clear_number, log_template_id, updated_at, conf)
SELECT d.dag_id,
       CASE WHEN k.manual THEN 'manual__' || hs.later || '_' || substr(md5('m' || d.i || '/' || hs.h), 1, 8)
            WHEN d.events THEN 'asset_triggered__' || hs.iso || '_' || substr(md5(d.i || '/' || hs.h), 1, 8)
            ELSE 'scheduled__' || hs.iso END,
       CASE WHEN d.events OR k.manual THEN NULL ELSE hs.at END, hs.at + k.after, hs.at + k.after,
       hs.at + k.after + interval '20 seconds',
       CASE WHEN hs.h % 89 = d.i % 89 AND NOT k.manual THEN 'failed' ELSE 'success' END,
       CASE WHEN k.manual THEN 'manual' WHEN d.events THEN 'asset_triggered' ELSE 'scheduled' END,
       CASE WHEN d.events OR k.manual THEN NULL ELSE hs.at END,
       CASE WHEN d.events OR k.manual THEN NULL ELSE hs.at + interval '1 hour' END,
       0, 1, hs.at + k.after, CASE WHEN k.manual THEN '{{"key": "x/users.csv"}}'::jsonb END
FROM hs CROSS JOIN LATERAL (SELECT * FROM d) AS d
CROSS JOIN LATERAL (SELECT false AS manual, interval '0' AS after
                    UNION ALL SELECT true, interval '30 minutes' WHERE hs.h % 24 = 12) AS k
"""
# Among the latest: dry runs (no run of the integration) for every 10th DAG, run IDs of a caller's own for every 50th.
ODD_RUNS = f"""
INSERT INTO dag_run (dag_id, run_id, logical_date, run_after, start_date, end_date, state, run_type,
                     clear_number, log_template_id, updated_at, conf)
SELECT 'inbound_int_' || lpad(i::text, 4, '0'), 'dry-' || k, NULL::timestamptz,
       timestamptz '2026-01-01' + k * interval '1 minute', NULL::timestamptz, NULL::timestamptz, 'success', 'manual', 0, 1,
       now(), '{{"dry_run": true}}'::jsonb
FROM generate_series(0, {INTEGRATIONS - 1}, 10) AS i, generate_series(1, 3) AS k
UNION ALL
SELECT 'inbound_int_' || lpad(i::text, 4, '0'), 'reimport-' || k, NULL, timestamptz '2025-12-31' + k * interval '1 minute',
       NULL, NULL, 'success', 'manual', 0, 1, now(), NULL
FROM generate_series(5, {INTEGRATIONS - 1}, 50) AS i, generate_series(1, 30) AS k
"""
DRY_RUNS = 3 * len(range(0, INTEGRATIONS, 10))
OWN_IDS = 30 * len(range(5, INTEGRATIONS, 50))
WAITS = f"""
INSERT INTO task_instance (id, dag_id, task_id, run_id, map_index, state, try_number, max_tries, pool, pool_slots,
                           priority_weight, operator, queue, start_date, end_date, duration, updated_at)
SELECT gen_random_uuid(), r.dag_id, 'wait_for_file', r.run_id, -1,
       CASE WHEN extract(hour FROM r.run_after) = 6 THEN 'success' ELSE 'skipped' END,
       1, 0, 'default_pool', 1, 1, 'WaitForFileSensor', 'default', r.start_date, r.end_date, 20, r.end_date
FROM dag_run AS r
WHERE r.run_after >= timestamptz '2025-01-01' + {HOURS - 24 * 7} * interval '1 hour'
   OR r.dag_id < 'inbound_int_{FULL_TI_DAGS:04d}'
"""
# The outcome `finalize` pushed, for each DAG's runs of its last week (as the task SDK stores it).
OUTCOMES = f"""
WITH last AS (SELECT id, dag_id, run_id, end_date FROM dag_run
              WHERE run_after >= timestamptz '2025-01-01' + {HOURS - 24 * 7} * interval '1 hour')
, tis AS (INSERT INTO task_instance (id, dag_id, task_id, run_id, map_index, state, try_number, max_tries, pool,
                                     pool_slots, priority_weight, operator, queue)
          SELECT gen_random_uuid(), dag_id, 'finalize', run_id, -1, 'success', 1, 0, 'default_pool', 1, 1,
                 '_PythonDecoratedOperator', 'default' FROM last RETURNING 1)
INSERT INTO xcom (dag_run_id, task_id, map_index, key, dag_id, run_id, value, timestamp)
SELECT id, 'finalize', -1, 'inbound_outcome', dag_id, run_id,
       jsonb_build_object('outcome', 'success', 'state', 'success', 'message', 'imported 40 rows'), coalesce(end_date, now())
FROM last
"""
VERSIONS = f"""
WITH v AS (
    INSERT INTO dag_version (id, version_number, dag_id, bundle_name, created_at, last_updated)
    SELECT gen_random_uuid(), k, 'inbound_int_' || lpad(i::text, 4, '0'), 'dags-folder', now(), now()
    FROM generate_series(0, {INTEGRATIONS - 1}) AS i, generate_series(1, {VERSIONS_PER_DAG}) AS k
    RETURNING id, dag_id, version_number)
INSERT INTO serialized_dag (id, dag_id, data, created_at, last_updated, dag_hash, dag_version_id)
SELECT gen_random_uuid(), dag_id,
       jsonb_build_object('dag', jsonb_build_object('doc_md', 'config (version `' || lpad(version_number::text, 12, 'a') || '`)')),
       now(), now(), md5(dag_id || version_number), id
FROM v
"""
DAGS = f"""
INSERT INTO dag_bundle (name, active) VALUES ('dags-folder', true);
INSERT INTO dag (dag_id, is_paused, is_stale, bundle_name, timetable_type, partition_mapper_info, max_active_tasks,
                 max_consecutive_failed_dag_runs, has_task_concurrency_limits, next_dagrun_create_after)
SELECT 'inbound_int_' || lpad(i::text, 4, '0'), i % 3 = 0, false, 'dags-folder', 'CronTriggerTimetable', '{{}}'::json,
       16, 0, false, timestamptz '2026-01-01'
FROM generate_series(0, {INTEGRATIONS - 1}) AS i
"""


def build_airflow(url: str, home: Path) -> dict[str, float]:
    """A metadata database made by `airflow db migrate`, then a year of runs written into it."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url.replace("postgresql://", "postgresql+psycopg2://", 1),
    }
    migrated = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    times["airflow: db migrate"] = time.perf_counter() - started
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in DAGS.split(";\n"):
            conn.execute(statement)
        with loading(url, "dag_run", times, "airflow: the runs' indexes and keys"):
            conn.execute(DAG_RUNS)
            conn.execute(ODD_RUNS)
            times["airflow: 4.56M runs"] = time.perf_counter() - started
        started = time.perf_counter()
        with loading(url, "task_instance", times, "airflow: the task instances' indexes", uniques=False):
            conn.execute(WAITS)
            conn.execute(OUTCOMES)
            times["airflow: task instances, outcomes"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(VERSIONS)
        for table in ("dag", "dag_run", "task_instance", "xcom", "dag_version", "serialized_dag"):
            conn.execute(f"ANALYZE {table}")
        times["airflow: versions, ANALYZE"] = time.perf_counter() - started
    return times


@contextlib.contextmanager
def loading(url: str, table: str, times: dict[str, float], label: str, *, uniques: bool = True) -> Iterator[None]:
    """`table` without its foreign keys, its secondary indexes (and its unique keys, and the foreign keys
    that use them, when `uniques`) while it is loaded: each made again afterwards from its own
    definition (indexes two at a time, a foreign key checked by one join), which costs a fraction of
    keeping them row by row. The primary key stays."""
    with psycopg.connect(url, autocommit=True) as conn:
        keys = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid), conindid FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'u'",
            (table,),
        ).fetchall()
        keys = keys if uniques else []
        foreign = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND (conindid = ANY(%s) OR conrelid = %s::regclass)",
            ([oid for *_, oid in keys], table),
        ).fetchall()
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes AS i WHERE i.tablename = %s AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint AS c WHERE c.conrelid = %s::regclass AND c.conname = i.indexname)",
            (table, table),
        ).fetchall()
        for other, constraint, _ in foreign:
            conn.execute(f"ALTER TABLE {other} DROP CONSTRAINT {constraint}")
        for constraint, _, _ in keys:
            conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
        for index, _ in indexes:
            conn.execute(f"DROP INDEX {index}")
        yield
        started = time.perf_counter()
        builds = [f"ALTER TABLE {table} ADD CONSTRAINT {n} {d}" for n, d, _ in keys] + [d for _, d in indexes]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda b: run_on(url, f"SET maintenance_work_mem = '128MB'; {b}"), builds))
        for other, constraint, definition in foreign:
            conn.execute(f"ALTER TABLE {other} ADD CONSTRAINT {constraint} {definition}")
        times[label] = time.perf_counter() - started


@dataclass
class Year:
    store_url: str
    airflow_url: str
    configs: Path
    build: dict[str, float]


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Year]:
    """Both databases with a year of history (dropped at the end), and the 500 configs."""
    tag = uuid.uuid4().hex[:8]
    store_db, airflow_db = f"inbound_bounded_store_{tag}", f"inbound_bounded_airflow_{tag}"
    home = tmp_path_factory.mktemp("bounded")
    configs = home / "integrations"
    configs.mkdir()
    for i in range(INTEGRATIONS):
        key = f"{name(i)}/users.csv" if i % 2 == 0 else f"{name(i)}/users_*.csv"
        config = integration_dict(name(i), source={"bucket": BUCKET, "key": key})
        (configs / f"{name(i)}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    admin(f"CREATE DATABASE {store_db}")  # unreachable: an error here, never a skip
    admin(f"CREATE DATABASE {airflow_db}")
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:  # the two databases side by side
            store = pool.submit(build_store, database_url(store_db))
            airflow = pool.submit(build_airflow, database_url(airflow_db), home / "airflow")
            build = {**store.result(), **airflow.result()}
        build["build, wall clock"] = time.perf_counter() - started
        print("\n" + "\n".join(f"  {what}: {seconds:.1f} s" for what, seconds in build.items()))
        yield Year(database_url(store_db), database_url(airflow_db), configs, build)
    finally:
        for database in (store_db, airflow_db):
            admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


# -- recording and measuring statements ------------------------------------------------------------
@dataclass
class Statement:
    source: str  # "store" | "airflow"
    sql: str
    params: Any
    rows: int | None = None  # read, per EXPLAIN ANALYZE; None: not a statement EXPLAIN takes
    family: str = ""
    bound: int = 0


def rows_read(plan: dict[str, Any]) -> int:
    """(actual rows + rows removed by a filter or a recheck) x loops, summed over the plan's table scans."""
    total = 0
    if "Relation Name" in plan and "Scan" in plan["Node Type"]:
        per_loop = plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)
        per_loop += plan.get("Rows Removed by Index Recheck", 0)
        total += round(per_loop * plan["Actual Loops"])
    return total + sum(rows_read(child) for child in plan.get("Plans", ()))


EXPLAINED = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")


def explainable(sql: str) -> bool:
    return sql.lstrip().lstrip("(").split(None, 1)[0].upper() in EXPLAINED


def _store_explain(execute: Callable[..., Any], cursor: Any, query: Any, params: Any) -> int | None:
    """The statement under EXPLAIN ANALYZE just before it runs, in a savepoint rolled back (outside a
    transaction, a read only: the store writes in transactions)."""
    from psycopg.pq import TransactionStatus

    inside = cursor.connection.info.transaction_status == TransactionStatus.INTRANS
    if not inside and not str(query).lstrip().upper().startswith("SELECT"):
        return None
    if inside:
        execute(cursor, "SAVEPOINT inbound_bounded")
    try:
        execute(cursor, "EXPLAIN (ANALYZE, FORMAT JSON) " + str(query), params)
        plan = cursor.fetchone()[0]
    finally:
        if inside:
            execute(cursor, "ROLLBACK TO SAVEPOINT inbound_bounded")
            execute(cursor, "RELEASE SAVEPOINT inbound_bounded")
    return rows_read((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])


@dataclass
class Recorder:
    """Every statement the store (psycopg, the store's database) and Airflow (its engine) send."""

    store_db: str
    statements: list[Statement] = field(default_factory=list)
    active: bool = False
    local: threading.local = field(default_factory=threading.local)

    def install(self, monkeypatch: pytest.MonkeyPatch, engine: Any) -> None:
        from sqlalchemy import event

        recorder = self
        for method in ("execute", "stream"):
            original = getattr(psycopg.Cursor, method)

            def wrapped(cursor: Any, query: Any, params: Any = None, *args: Any, _original: Any = original, **kw: Any):
                mine = recorder.active and cursor.connection.info.dbname == recorder.store_db
                if mine and not getattr(recorder.local, "busy", False):
                    recorder.local.busy = True
                    try:
                        sql = str(query)
                        explain = psycopg.Cursor.execute  # (this wrapper: `busy` passes it through)
                        rows = _store_explain(explain, cursor, query, params) if explainable(sql) else None
                    finally:
                        recorder.local.busy = False
                    recorder.statements.append(Statement("store", sql, params, rows))
                return _original(cursor, query, params, *args, **kw)

            monkeypatch.setattr(psycopg.Cursor, method, wrapped)
        original_copy = psycopg.Cursor.copy

        def copy(cursor: Any, statement: Any, *args: Any, **kw: Any) -> Any:
            if recorder.active and cursor.connection.info.dbname == recorder.store_db:
                recorder.statements.append(Statement("store", str(statement), None))
            return original_copy(cursor, statement, *args, **kw)

        monkeypatch.setattr(psycopg.Cursor, "copy", copy)

        def airflow(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            if recorder.active:
                recorder.statements.append(Statement("airflow", statement, parameters))

        event.listen(engine, "before_cursor_execute", airflow)
        self.engine = engine

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[Statement]]:
        start = len(self.statements)
        self.active = True
        try:
            yield self.statements
        finally:
            self.active = False
        self.explain_airflow(self.statements[start:])

    def explain_airflow(self, statements: list[Statement]) -> None:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for s in statements:
                if (
                    s.source == "airflow"
                    and explainable(s.sql)
                    and s.sql.lstrip().upper().startswith(("SELECT", "WITH"))
                ):
                    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + s.sql, s.params)
                    s.rows = rows_read(cursor.fetchone()[0][0]["Plan"])
            raw.rollback()
        finally:
            raw.close()


# -- the families and their bounds ----------------------------------------------------------------
def _limit_offset(sql: str, _: Any) -> int:
    found = re.search(r"LIMIT (\d+) OFFSET (\d+)", sql)
    assert found, sql
    return int(found[1]) + int(found[2])


def _asked(sql: str, params: Any) -> int:
    """Per integration a statement names (its VALUES list), one index entry and the entry; without a
    list, every integration of the log sizes, read first."""
    marks = re.search(r"VALUES ((?:\(%s\),? ?)+)", sql)
    return 2 * marks[1].count("%s") if marks else 3 * INTEGRATIONS


def _ids(sql: str, params: Any) -> int:
    return len(params) if isinstance(params, tuple | list) else len(params or {})


def _dags_asked(sql: str, params: Any) -> int:
    return len(params.get("dag_ids", ())) if isinstance(params, dict) else 0


def _in_list(sql: str, params: Any) -> int:
    return max(len(params) if isinstance(params, dict | tuple | list) else 1, 1)


def _recent(sql: str, params: Any) -> int:
    """Per DAG asked: a LIMITed branch per run type and one for other run IDs, and a wait lookup per
    recent run; and the dry runs and the runs of a caller's own IDs (the data's), read and passed over."""
    return _dags_asked(sql, params) * (RUN_TYPES + 1 + 1) * RECENT + DRY_RUNS + OWN_IDS


Bound = int | Callable[[str, Any], int]
# (family, what bounds it, the bound, its statements: a regular expression, searched in each)
# fmt: off
FAMILIES: list[tuple[str, str, Bound, str]] = [
    # the attribute store
    ("store: schema version", "its versions", 10, r"SELECT MAX\(version\) FROM inbound_schema"),
    ("store: the integration tables", "integrations", INTEGRATIONS, r"inbound_integration\b"),
    ("store: latest entry per integration", "2 x integrations asked", _asked, r"SELECT \(SELECT latest\.id"),
    ("store: log size", "integrations (1 row each)", INTEGRATIONS, r"SELECT entries FROM inbound_import_log_size WHERE"),
    ("store: a page of the log", "offset + limit", _limit_offset, r"ORDER BY id DESC LIMIT \d+ OFFSET \d+"),
    ("store: a file's last move", "1 a step", 1, r"WHERE source_file = %s AND final_key IS NOT NULL ORDER BY id DESC"),
    ("store: one object version", "its newest 1,000 entries", 1000, r"WHERE (integration = %s AND )?source_file = %s AND etag = %s"),
    ("store: recent successes' rows", "the limit (5)", 5,
     r"SELECT rows_read FROM inbound_import_log WHERE integration = %s AND outcome = 'success' ORDER BY id DESC LIMIT 5"),
    ("store: latest change", "1", 1, r"WHERE integration = %s AND outcome <> 'failed' ORDER BY id DESC LIMIT 1"),
    ("store: entries by id", "ids asked", _ids, r"FROM inbound_import_log WHERE id (IN \(|= %s)"),
    ("store: append to the log", "1", 1, r"^(INSERT INTO inbound_import_log|UPDATE inbound_import_log SET)"),
    ("store: users (state)", "users of the tables read", INTEGRATIONS * USERS,
     r"inbound_values_\d+|inbound_file|inbound_change|inbound_keep|inbound_present|inbound_deletion"),
    ("store: locks, DDL, settings", "0", 0,
     r"^(SELECT pg_advisory_xact_lock|SELECT to_regclass|SELECT current_database|DROP |CREATE |ALTER |ANALYZE |SET LOCAL )"),
    # Airflow's metadata database
    ("airflow: DAG rows", "DAGs (1 row each)", INTEGRATIONS, r"FROM dag \nWHERE dag\.dag_id IN"),
    ("airflow: latest runs and their waits", "DAGs asked x (6 + 1 + 1) x 14", _recent, r"FROM unnest\(CAST\("),
    ("airflow: outcome messages", "runs asked", _in_list, r"FROM xcom \nWHERE xcom\.dag_run_id IN"),
    ("airflow: one run and its outcome", "1", 1, r"FROM (dag_run|xcom) \nWHERE (dag_run\.dag_id = |xcom\.dag_run_id = )"),
    ("airflow: a token revoked? (Airflow's own)", "1", 1, r"FROM revoked_token \nWHERE revoked_token\.jti ="),
    ("airflow: the parsed DAG (Airflow's own)", "DAG versions (x 2 tables)", 2 * VERSIONS_PER_DAG * INTEGRATIONS,
     r"FROM serialized_dag JOIN dag_version"),
]
# fmt: on


def classify(statement: Statement) -> None:
    for family, _, bound, pattern in FAMILIES:
        if re.search(pattern, statement.sql, re.MULTILINE):
            statement.family = family
            statement.bound = bound if isinstance(bound, int) else bound(statement.sql, statement.params)
            return
    raise AssertionError(f"a {statement.source} statement of no family (state its bound in FAMILIES):\n{statement.sql}")


MEASURED: dict[str, tuple[int, int, int]] = {}  # family -> (statements, most rows one read, its bound)
OVER: list[str] = []  # the statements of the current test that read more than their bound


def check(statements: list[Statement]) -> None:
    """Every statement of a family and measured against its bound; the most each family read is kept."""
    for s in statements:
        classify(s)
        if s.rows is None:
            continue
        count, most, bound = MEASURED.get(s.family, (0, 0, 0))
        MEASURED[s.family] = (count + 1, max(most, s.rows), max(bound, s.bound))
        if s.rows > s.bound:
            OVER.append(f"{s.family}: {s.rows:,} rows read > {s.bound:,}\n{s.sql}\n{s.params!r:.300}")


@pytest.fixture
def bounded() -> None:
    OVER.clear()


def assert_within_bounds() -> None:
    """Every statement the test measured read at most its bound (all of those that did not, said at once)."""
    assert not OVER, f"{len(OVER)} reads that grow with history:\n\n" + "\n\n".join(OVER)


# -- the code under test, wired to the year ---------------------------------------------------------
@pytest.fixture(scope="module")
def wired(year: Year) -> Iterator[tuple[Any, Recorder]]:
    """Airflow (in this process) on the year's metadata database, the store connection, Airflow's API app."""
    from airflow import settings

    from test_api import SIMPLE_AUTH_MANAGER, api_app_with

    mp = pytest.MonkeyPatch()
    parts = urlsplit(year.store_url)
    mp.setenv(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", year.airflow_url.replace("postgresql://", "postgresql+psycopg2://")
    )
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(year.configs.parent / "passwords.json"))
    mp.setenv("INBOUND_CONFIG_DIR", str(year.configs))
    mp.setenv("INBOUND_MAX_ATTRIBUTES", str(4 * INTEGRATIONS))
    mp.setenv("INBOUND_STAGING_DIR", str(year.configs.parent / "staging"))
    mp.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "login": "x", "password": "y"}))
    mp.setenv(
        "AIRFLOW_CONN_INBOUND_STORE",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": parts.hostname,
                "port": parts.port or 5432,
                "login": parts.username or "postgres",
                "schema": parts.path.lstrip("/"),
            }
        ),
    )
    settings.configure_vars()
    settings.reconfigure_orm()
    recorder = Recorder(parts.path.lstrip("/"))
    try:
        app = api_app_with(mp, SIMPLE_AUTH_MANAGER)
        recorder.install(mp, settings.engine)
        yield app, recorder
    finally:
        from airflow import plugins_manager
        from airflow.api_fastapi import app as api_app

        from test_api import _clear_plugin_caches

        api_app.purge_cached_app()
        _clear_plugin_caches(plugins_manager)
        mp.undo()
        settings.configure_vars()
        settings.reconfigure_orm()


def admin_headers() -> dict[str, str]:
    from test_api import token

    return {"Authorization": f"Bearer {token('admin')}"}


@pytest.fixture(scope="module")
def s3_files() -> Iterator[Any]:
    """moto's S3 with a few files of int_0000 and int_0001 (waiting and moved ones)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        body = b"Email,Plan,Open Tickets\nuser000@x,gold,1\nuser001@x,free,2\n"
        for key in (
            "int_0000/users.csv",
            "int_0000/success/20251231T230000Z_users.csv",
            "int_0001/users_9000.csv",
            FAILED_KEY,
        ):
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        yield s3


def measure(recorder: Recorder, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`call(*args, **kwargs)` with its statements recorded, measured and checked against their bounds."""
    with recorder.recording() as statements:
        start = len(statements)
        result = call(*args, **kwargs)
    check(statements[start:])
    return result


# -- the tests --------------------------------------------------------------------------------------
def test_the_plugins_routes_read_a_bounded_number_of_rows(year, wired, s3_files, bounded) -> None:
    """Every route the UI calls, with a year of history behind it."""
    from fastapi.testclient import TestClient

    app, recorder = wired
    headers = admin_headers()
    run_id = "scheduled__2025-12-31T23:00:00+00:00"
    with TestClient(app) as client:
        requests = [
            ("GET", "/inbound/api/integrations", None),
            ("GET", f"/inbound/api/integrations/{name(0)}?runs_offset=0&runs_limit=20", None),
            ("GET", f"/inbound/api/integrations/{name(0)}?runs_offset=200&runs_limit=20", None),
            ("GET", f"/inbound/api/integrations/{name(FAILING)}", None),
            ("GET", f"/inbound/api/integrations/{name(0)}/files", None),
            ("GET", f"/inbound/api/integrations/{name(1)}/files", None),
            ("GET", f"/inbound/api/integrations/{name(0)}/runs/{run_id}", None),
            ("GET", f"/inbound/api/integrations/{name(1)}/rejections?key={FAILED_KEY}", None),
            ("GET", f"/inbound/api/integrations/{name(1)}/reports?key={FAILED_KEY}.error.txt&check=true", None),
            ("GET", "/inbound/api/attributes?imports=true", None),
            ("GET", "/inbound/api/users/user007@x", None),
            (
                "POST",
                "/inbound/api/segments/evaluate?sample=20&total=true",
                {"attribute": "int_0002_plan", "op": "eq", "value": "premium"},
            ),
        ]
        for method, path, body in requests:
            answer = measure(recorder, client.request, method, path, json=body, headers=headers)
            assert answer.status_code == 200, (path, answer.text[:500])
            if path == "/inbound/api/integrations":
                rows = {row["name"]: row for row in answer.json()}
                assert len(rows) == INTEGRATIONS and len(rows[name(0)]["recent_runs"]) == RECENT
                assert rows[name(NEVER)]["last_success_at"] is None  # every entry of it failed
                assert rows[name(FAILING)]["last_success_at"] < "2025-10-03" < rows[name(0)]["last_success_at"]
                events = rows[name(1)]["recent_runs"]  # asset-triggered runs and re-imports, no logical date
                assert len(events) == RECENT and events[-1]["run_id"].startswith(("manual__", "asset_triggered__"))
            if "runs_offset=0" in path:
                assert answer.json()["runs_total"] == HOURS and len(answer.json()["runs"]) == 20
    assert_within_bounds()


def test_the_management_table_and_the_cli_read_a_bounded_number_of_rows(year, wired, capsys, bounded) -> None:
    from inbound.airflow.management import current_table
    from inbound.cli import main
    from inbound.config.catalog import current_catalog

    _, recorder = wired
    table = measure(recorder, current_table, current_catalog())
    assert len(table.rows) == INTEGRATIONS
    for argv in (["status", "--json"], ["user", "user001@x"], ["purge", name(3)]):
        assert measure(recorder, main, argv) in (0, 1)
    capsys.readouterr()
    assert_within_bounds()


def test_the_tasks_store_calls_read_a_bounded_number_of_rows(year, wired, bounded) -> None:
    """What a run asks of the store: the repeat shortcut, shared files, the idempotent write, moves, metrics."""
    import polars as pl

    from inbound.store import FileImport, open_store

    _, recorder = wired
    with open_store(year.store_url) as store:
        uri, stamped = f"s3://{BUCKET}/{name(0)}/users.csv", f"s3://{BUCKET}/{name(1)}/users_8759.csv"
        measure(recorder, store.file_outcomes, uri, f"e{HOURS - 1}")
        repeated = f"s3://{BUCKET}/{name(REPEATED)}/users.csv"
        assert measure(recorder, store.file_outcomes, repeated, "same")[name(REPEATED)].error.startswith("skipped")
        measure(recorder, store.already_imported, name(FAILING), "e1", "v1")
        measure(recorder, store.already_imported, name(0), f"e{HOURS - 1}", "v1")
        measure(recorder, store.moved_to, uri)
        measure(recorder, store.moved_to, stamped)
        measure(recorder, store.imports, name(0), limit=1)
        measure(recorder, store.last_success, [name(FAILING)])
        assert len(measure(recorder, store.recent_rows_read, name(FAILING), 5)) == 5  # the volume guard's history
        assert len(measure(recorder, store.recent_rows_read, name(NEVER), 5)) == 0
        measure(recorder, store.last_imports)
        measure(recorder, store.import_count, name(FAILING))
        entry = FileImport(name(REPEATED), repeated, "same", "v2", "airflow:test/run", 3, 1)  # a new config
        frame = pl.DataFrame(
            {
                "user_id": ["user000@x", "new@x"],
                f"{name(REPEATED)}_plan": ["gold", "free"],
                f"{name(REPEATED)}_open_tickets": ["1", "2"],
            }
        )
        types = {f"{name(REPEATED)}_plan": "string", f"{name(REPEATED)}_open_tickets": "integer"}
        written = measure(recorder, store.write_file, entry, types=types, frame=frame)
        measure(recorder, store.set_final_key, written.import_id, f"{name(REPEATED)}/success/x_users.csv")
        again = FileImport(name(REPEATED), repeated, "same", "v2", "r2", 3)
        measure(recorder, store.log_skip, written.import_id, again)
        failed = FileImport(name(4), f"s3://{BUCKET}/{name(4)}/users.csv", "bad", "v1", "r3")
        measure(recorder, store.log_failure, failed, "no column Email")
        assert store.import_count(name(REPEATED)) == HOURS + 2
    assert_within_bounds()


def test_the_latest_runs_read_so_are_the_latest_runs(year, wired) -> None:
    """The bounded read of the recent-runs strip answers what reading every run of the DAG would: the
    latest `RECENT` by id, dry runs left out, for each kind of DAG (scheduled, event mode, with dry
    runs, with run IDs of a caller's own)."""
    from inbound.airflow.runs import dag_states

    dags = [f"inbound_{name(i)}" for i in (0, 1, 5, FAILING, 10, 55)]
    states = dag_states(dags)
    with psycopg.connect(year.airflow_url) as conn:
        for dag_id in dags:
            everything = conn.execute(
                "SELECT run_id FROM dag_run WHERE dag_id = %s AND NOT coalesce((conf ->> 'dry_run')::boolean, false) "
                "ORDER BY id DESC LIMIT %s",
                (dag_id, RECENT),
            ).fetchall()
            assert [r.run_id for r in states[dag_id].recent] == [run_id for (run_id,) in reversed(everything)], dag_id


def test_no_query_wrote_to_airflows_tables_and_the_bounds_held(year, wired) -> None:
    """The summary: each family, its bound and the most rows one of its statements read."""
    _, recorder = wired
    writes = [
        s.sql
        for s in recorder.statements
        if s.source == "airflow" and re.match(r"\s*(INSERT|UPDATE|DELETE)", s.sql, re.I)
    ]
    assert not writes, writes
    lines = [f"{'family':<50} {'statements':>10} {'most rows read':>15} {'bound':>10}"]
    for family, (count, most, bound) in sorted(MEASURED.items()):
        lines.append(f"{family:<50} {count:>10,} {most:>15,} {bound:>10,}")
    print("\n" + "\n".join(lines))
    print("\n".join(f"  {what}: {seconds:.1f} s" for what, seconds in year.build.items()))
