"""Plugin benchmark: the management table for 500 integrations, targeting on 1,000,000 users.

    uv run --frozen python tests/benchmarks/bench_plugin.py [--integrations 500] [--users 1000000]
        [--store sqlite|postgres] [--repeat 5] [--history-days 365]

A script, not a test. It builds Airflow's real API app in-process (as tests/test_api.py
does: simple auth manager, this repo's plugins folder, a SQLite metadata database in a
temporary AIRFLOW_HOME), with

- N generated integration configs of one attribute each in a temporary
  INBOUND_CONFIG_DIR (the attribute cap raised through INBOUND_MAX_ATTRIBUTES), one DAG
  row per integration in Airflow's database, and a small import (100 users) for each;
- one of them holding --users users (written with `store.write_file`), on a SQLite store
  or on PostgreSQL (INBOUND_BENCH_POSTGRES_URL, default the local one, in its own schema);

then times, through the app with an admin's token (median of --repeat requests after a
warm-up): `GET /inbound/api/integrations`, one integration's detail, one
user lookup and one segment count, and prints a table.

--history-days N (N > 0): Airflow's metadata database is a PostgreSQL database of its own
(created on INBOUND_BENCH_POSTGRES_URL's server, migrated as `airflow db migrate` does, dropped
at the end), and the table request is timed twice: with the DAG rows only, then after N days
of hourly runs of every integration were inserted (`INSERT ... SELECT` over
`generate_series`: one `dag_run` and one `wait_for_file` task instance per hour and DAG,
skipped except once a day), with the ratio. A year for 500 integrations is 4.38M runs and
4.38M task instances.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("INBOUND_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "inbound-bench-jwt-secret-" + "x" * 64
SMALL = 100  # users of each of the other integrations


def configure(home: Path, store_url: str, count: int, metadata_url: str | None = None) -> Path:
    """Environment for Airflow and inbound; must run before Airflow is imported."""
    configs = home / "integrations"
    configs.mkdir()
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": SECRET,
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "INBOUND_CONFIG_DIR": str(configs),
            "INBOUND_MAX_ATTRIBUTES": str(max(count * 2, 100)),
            "AIRFLOW_CONN_INBOUND_STORE": store_connection(store_url),
        }
    )
    if metadata_url:
        os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata_url
    (home / "airflow").mkdir()
    return configs


def metadata_database() -> tuple[str, str]:
    """A PostgreSQL database of its own for Airflow's metadata: (its name, SQLAlchemy URL)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"inbound_bench_meta_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(PG_URL)
    return name, urlunsplit(("postgresql+psycopg2", parts.netloc, f"/{name}", "", ""))


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


HISTORY_RUNS = """
INSERT INTO dag_run (dag_id, run_id, logical_date, run_after, start_date, end_date, state, run_type,
                     data_interval_start, data_interval_end, clear_number, log_template_id, updated_at,
                     triggered_by, backfill_id, bundle_version, queued_at, creating_job_id)
SELECT 'inbound_bench_' || lpad(d::text, 4, '0'), 'scheduled__' || to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
       t, t + interval '1 hour', t + interval '1 hour', t + interval '1 hour 20 seconds', 'success', 'scheduled',
       t, t + interval '1 hour', 0, (SELECT max(id) FROM log_template), t + interval '1 hour 20 seconds',
       'timetable', NULL, NULL, t + interval '1 hour', NULL
FROM generate_series(date_trunc('hour', now()) - make_interval(hours => :oldest),
                     date_trunc('hour', now()) - make_interval(hours => :newest), interval '1 hour') AS t,
     generate_series(0, :dags - 1) AS d
ORDER BY t, d
"""
HISTORY_WAITS = """
INSERT INTO task_instance (id, dag_id, task_id, run_id, map_index, state, try_number, max_tries, pool, pool_slots,
                           priority_weight, operator, queue, start_date, end_date, duration, updated_at,
                           custom_operator_name, executor_config)
SELECT gen_random_uuid(), r.dag_id, 'wait_for_file', r.run_id, -1,
       CASE WHEN extract(hour FROM r.logical_date) = 6 THEN 'success' ELSE 'skipped' END,
       1, 0, 'default_pool', 1, 1, 'WaitForFileSensor', 'default', r.start_date, r.end_date, 20, r.end_date,
       '', :executor_config
FROM dag_run AS r WHERE r.dag_id LIKE 'inbound_bench_%'
  AND r.logical_date BETWEEN date_trunc('hour', now()) - make_interval(hours => :oldest)
                         AND date_trunc('hour', now()) - make_interval(hours => :newest)
"""


def insert_history(newest: int, oldest: int, dags: int) -> dict[str, float]:
    """Hourly runs from `oldest` to `newest` hours ago for every bench DAG, written by PostgreSQL itself."""
    import pickle

    from airflow.utils.session import create_session
    from sqlalchemy import text

    timings = {}
    with create_session() as session:
        started = time.perf_counter()
        session.execute(text(HISTORY_RUNS), {"newest": newest, "oldest": oldest, "dags": dags})
        timings["insert runs"] = time.perf_counter() - started
    with create_session() as session:
        started = time.perf_counter()
        window = {"newest": newest, "oldest": oldest}
        session.execute(text(HISTORY_WAITS), {"executor_config": pickle.dumps({}), **window})
        timings["insert task instances"] = time.perf_counter() - started
    with create_session() as session:
        started = time.perf_counter()
        session.execute(text("ANALYZE dag_run"))
        session.execute(text("ANALYZE task_instance"))
        counts = session.execute(
            text("SELECT (SELECT count(*) FROM dag_run), (SELECT count(*) FROM task_instance)")
        ).one()
        timings["analyze"] = time.perf_counter() - started
    print(f"metadata DB now: {counts[0]:,} runs, {counts[1]:,} task instances ({dags} DAGs)")
    return {f"{label} ({oldest - newest + 1} hours)": seconds for label, seconds in timings.items()}


def store_connection(url: str) -> str:
    if url.startswith("sqlite:///"):
        return json.dumps({"conn_type": "sqlite", "host": url.removeprefix("sqlite:///")})
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": parts.hostname,
            "port": parts.port or 5432,
            "login": parts.username,
            "password": unquote(parts.password or ""),
            "schema": parts.path.lstrip("/"),
        }
    )


def name_of(i: int) -> str:
    return f"bench_{i:04d}"


def write_configs(folder: Path, count: int) -> None:
    import yaml

    schedules = ["@hourly", "@daily", "PT30M", "0 6 * * 1-5", "*/15 * * * *"]
    for i in range(count):
        name = name_of(i)
        config = {
            "name": name,
            "schedule": schedules[i % len(schedules)],
            "source": {"bucket": "bench-exports", "key": f"{name}/users_*.csv"},
            "user_id": {"column": "Email"},
            "attributes": [{"column": "Plan", "name": f"{name}_plan", "type": "string"}],
        }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def fill_store(url: str, count: int, users: int) -> dict[str, float]:
    import polars as pl

    from inbound.store import FileImport, open_store

    timings = {}
    store = open_store(url, migrate=True)  # the deploy step (`inbound migrate`) first
    try:
        started = time.perf_counter()
        plans = pl.Series(["free", "basic", "premium", "enterprise"])
        big = pl.DataFrame({"user_id": [f"user{i:07d}@x" for i in range(users)]}).with_columns(
            plans.gather(pl.int_range(0, users, eager=True) % 4).alias(f"{name_of(0)}_plan")
        )
        store.write_file(
            FileImport(name_of(0), f"s3://bench-exports/{name_of(0)}/users_1.csv", "big", "bench", "bench", users),
            types={f"{name_of(0)}_plan": "string"},
            frame=big,
        )
        timings[f"write {users:,} users (store.write_file)"] = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(1, count):
            name = name_of(i)
            frame = pl.DataFrame(
                {"user_id": [f"user{j:07d}@x" for j in range(SMALL)], f"{name}_plan": ["premium"] * SMALL}
            )
            store.write_file(
                FileImport(name, f"s3://bench-exports/{name}/users_1.csv", f"e{i}", "bench", "bench", SMALL),
                types={f"{name}_plan": "string"},
                frame=frame,
            )
        timings[f"write {count - 1} small imports ({SMALL} users each)"] = time.perf_counter() - started
    finally:
        store.close()
    return timings


def dag_rows(count: int) -> None:
    from airflow.models import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    with create_session() as session:
        if session.get(DagBundleModel, "dags-folder") is None:
            session.add(DagBundleModel(name="dags-folder"))
            session.flush()
        for i in range(count):
            session.add(
                DagModel(
                    dag_id=f"inbound_{name_of(i)}",
                    bundle_name="dags-folder",
                    max_active_tasks=16,
                    max_consecutive_failed_dag_runs=0,
                    has_task_concurrency_limits=False,
                    is_paused=bool(i % 3 == 0),
                    is_stale=False,
                )
            )


def strips(table: list[dict[str, object]]) -> str:
    return f"{len(table)} rows, {sum(len(r['recent_runs']) for r in table):,} runs in the strips"  # type: ignore[arg-type]


def median_time(call, repeat: int) -> tuple[float, object]:
    result = call()  # warm-up (and the answer to check)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--integrations", type=int, default=500)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print where the table request spends its time")
    parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="days of hourly runs per integration in a PostgreSQL metadata DB (365: a year; 0: SQLite, no history)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="inbound-bench-plugin-") as tmp:
        home = Path(tmp)
        schema = None
        if args.store == "postgres":
            import psycopg

            schema = f"inbound_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
            # the inbound_store connection has no field for options: libpq's PGOPTIONS picks the schema
            os.environ["PGOPTIONS"] = f"-csearch_path={schema}"
        else:
            url = f"sqlite:///{home / 'store.db'}"
        meta = metadata_database() if args.history_days > 0 else None
        try:
            run(home, url, args, meta[1] if meta else None)
        finally:
            if meta:
                from airflow.settings import dispose_orm

                dispose_orm()
                drop_database(meta[0])
            if schema:
                import psycopg

                with psycopg.connect(PG_URL, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")


def general_segment(rule: dict[str, object], *, general: bool) -> int:
    """The rule evaluated in the store: as `evaluate` does now, or (`general`) in the form every rule
    had before one-table rules tested rows directly: each condition a `user_id IN (subquery)`."""
    from inbound.airflow.connections import store
    from inbound.config.catalog import current_catalog
    from inbound.rules import Compiler, evaluate

    catalog = current_catalog()
    with store() as s:
        if not general:
            return evaluate(s, rule, catalog.declared_types, sample=20, owners=catalog.owners).count
        located = {a.name: a.table for a in s.stored_attributes()}
        compiler = Compiler(catalog.declared_types, located, *s.number_casts, substring_position=s.substring_position)
        condition = compiler.compile(rule)
        return s.match_users(condition, compiler.params, compiler.tables, 20).count


def profile_table(client, headers: dict[str, str], user) -> None:  # type: ignore[no-untyped-def]
    """Where the management table request's time goes, step by step (median of 5 each), in this process.

    The steps are the route's own, in its order: the gate every route carries (`reader`: the
    catalog and the caller's read rights), the store's three reads, Airflow's runs, the rows, the
    edit rights, the answer's dicts and their JSON; then the whole request through the app, and
    what is left of it (authentication, routing, gzip, the test client). Last, a cProfile of the
    route called directly: the functions that took the most time of their own.
    """
    import cProfile
    import io
    import pstats

    from inbound.airflow.connections import store
    from inbound.airflow.management import rows
    from inbound.airflow.runs import dag_states
    from inbound.config.catalog import current_catalog
    from inbound.web import integrations as web
    from inbound.web.access import reader

    catalog = current_catalog()
    caller = reader(user)
    dag_ids = [i.dag_id for i in caller.catalog.integrations.values()]
    steps = {
        "gate: catalog + read rights (reader)": lambda: reader(user),
        "store: open": lambda: store().__enter__(),
    }
    timings: dict[str, float] = {}
    with store() as s:
        steps |= {
            "store: last_success": s.last_success,
            "store: last_imports": s.last_imports,
            "store: integrations (user counts)": s.integrations,
        }
        steps["airflow: dag_states"] = lambda: dag_states(dag_ids)
        states, last, held, success = dag_states(dag_ids), s.last_imports(), s.integrations(), s.last_success()
        users = {name: held.get(name, 0) for name in caller.catalog.integrations}
        steps["rows"] = lambda: rows(caller.catalog, states, success, users, last)
        table = rows(caller.catalog, states, success, users, last)
        ids = {row.dag_id for row in table if row.dag_id}
        steps["edit rights (editable_dags)"] = lambda: web.editable_dags(user, ids)
        editable = web.editable_dags(user, ids)
        steps["answer: row dicts"] = lambda: web.table_answer(table, editable)
        answer = web.table_answer(table, editable)
        steps["answer: JSON"] = lambda: web.encode(answer)
        for label, step in steps.items():
            timings[label], _ = median_time(step, 5)
    del catalog
    request, _ = median_time(lambda: client.get("/inbound/api/integrations", headers=headers), 5)
    for label, seconds in timings.items():
        print(f"  {label:<40} {seconds * 1000:7.1f}ms")
    print(f"  {'sum of the steps':<40} {sum(timings.values()) * 1000:7.1f}ms")
    print(f"  {'the request (through the app)':<40} {request * 1000:7.1f}ms")
    print(f"  {'the rest (auth, routing, gzip, client)':<40} {(request - sum(timings.values())) * 1000:7.1f}ms")
    profiler = cProfile.Profile()  # the route itself, in this thread (the app runs it in a worker thread)
    profiler.enable()
    web.list_integrations(reader(user))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print("  cProfile of the route (list_integrations) called directly, by own time (the top 15):")
    print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip())[:6000])


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(home: Path, url: str, args: argparse.Namespace, metadata_url: str | None = None) -> None:
    configs = configure(home, url, args.integrations, metadata_url)
    setup: dict[str, float] = {}
    started = time.perf_counter()
    write_configs(configs, args.integrations)
    setup[f"write {args.integrations} configs"] = time.perf_counter() - started
    setup.update(fill_store(url, args.integrations, args.users))

    from airflow.api_fastapi import app as api_app
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.utils import db
    from fastapi.testclient import TestClient

    started = time.perf_counter()
    if metadata_url:
        db.upgradedb()  # what `airflow db migrate` runs
    else:
        db.initdb()
    dag_rows(args.integrations)
    app = api_app.create_app()
    setup["Airflow metadata DB + API app"] = time.perf_counter() - started
    user = SimpleAuthManagerUser(username="admin", role="admin")
    headers = {"Authorization": "Bearer " + get_auth_manager().generate_jwt(user)}

    big_attribute = f"{name_of(0)}_plan"
    rule = {"attribute": big_attribute, "op": "eq", "value": "premium"}
    rows: list[tuple[str, float, str]] = []
    ratios: list[str] = []
    with TestClient(app) as client:

        def get(path: str):
            def call():
                response = client.get(path, headers=headers)
                response.raise_for_status()
                return response

            return call

        seconds, response = median_time(get("/inbound/api/integrations"), args.repeat)
        table = response.json()
        rows.append(
            (
                "GET /inbound/api/integrations",
                seconds,
                f"{len(table)} rows, {sum(r['users'] or 0 for r in table):,} users",
            )
        )
        if args.profile:
            profile_table(client, headers, user)
        if args.history_days > 0:
            # the baseline: the last day only (more runs than the strip shows), then the rest of the year
            setup.update(insert_history(1, 24, args.integrations))
            recent, response = median_time(get("/inbound/api/integrations"), args.repeat)
            rows.append(("GET /inbound/api/integrations (the last day of runs only)", recent, strips(response.json())))
            setup.update(insert_history(25, args.history_days * 24, args.integrations))
            history, response = median_time(get("/inbound/api/integrations"), args.repeat)
            rows.append(
                (
                    f"GET /inbound/api/integrations ({args.history_days} days of hourly runs)",
                    history,
                    strips(response.json()),
                )
            )
            ratios.append(f"management table: all the history / the last day only = {history / recent:.2f}")
            ratios.append(f"management table: all the history / no run at all = {history / seconds:.2f}")
            if args.profile:
                profile_table(client, headers, user)
        seconds, response = median_time(get(f"/inbound/api/integrations/{name_of(0)}"), args.repeat)
        rows.append((f"GET /inbound/api/integrations/{name_of(0)}", seconds, f"{args.users:,} users"))
        for user_id, what in ((f"user{args.users // 2:07d}@x", "in 1 integration"), ("user0000042@x", "in all")):
            seconds, response = median_time(get(f"/inbound/api/users/{user_id}"), args.repeat)
            rows.append(
                (f"GET /inbound/api/users/{{id}} ({what})", seconds, f"{len(response.json()['attributes'])} attributes")
            )

        def segment():
            response = client.post("/inbound/api/segments/evaluate?sample=20", json=rule, headers=headers)
            response.raise_for_status()
            return response

        seconds, response = median_time(segment, args.repeat)
        rows.append(("POST /inbound/api/segments/evaluate", seconds, f"count {response.json()['count']:,}"))
        # The baseline, same process, same store: the general form of the same rule (every
        # condition a `user_id IN (subquery)` over the rule's users), which a one-table rule used
        # before it tested rows directly.
        direct, count = median_time(lambda: general_segment(rule, general=False), args.repeat)
        rows.append(("  the rule in the store, one-table form (now)", direct, f"count {count:,}"))
        baseline, count = median_time(lambda: general_segment(rule, general=True), args.repeat)
        rows.append(("  the rule in the store, IN-subquery form (baseline)", baseline, f"count {count:,}"))
        ratios.append(f"segment in the store: baseline / now = {baseline / direct:.1f}")

    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"\ninbound plugin benchmark: {args.integrations} integrations (1 attribute each), "
        f"{args.users:,} users in one of them, {backend} store, median of {args.repeat} (after a warm-up)\n"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'request':<{width}}  {'median':>9}  answer")
    for label, seconds, note in rows:
        print(f"{label:<{width}}  {seconds * 1000:>7.1f}ms  {note}")
    for ratio in ratios:
        print(f"\n{ratio}")
    print(f"peak RSS of this process (the API app and the store client): {peak_rss_mb():.0f} MB")
    print("\nsetup (not timed above):")
    for label, seconds in setup.items():
        print(f"  {label}: {seconds:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
