"""A real Airflow deployment on loopback: CeleryExecutor, PostgreSQL, Redis, a moto S3 server.

Used by the Celery end-to-end tests, the chaos test (`chaos.py`) and the load scripts
(`tests/benchmarks/load_celery.py`, `bench_chaos.py`). It starts the same processes as
docker-compose.yaml (`api-server`, `scheduler`, `dag-processor`, `triggerer`, `celery worker`),
each in its own process group, against this machine's PostgreSQL (a fresh metadata database
and a fresh attribute-store database) and Redis (a queue of its own, so parallel runs never
share tasks). There may be several schedulers and triggerers (`scheduler`, `scheduler-2`, ...),
and workers as hosts of their own (`hosts`). A test may `kill` a process with everything it
started (SIGKILL: no cleanup, as a host that dies) and `restart` it later with the same
command and environment. `stop()` ends every process it started and drops both databases.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("INBOUND_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("INBOUND_TEST_REDIS", "redis://127.0.0.1:6379/0")
USER, PASSWORD = "admin", "admin"
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "celery-worker")
# What a CeleryExecutor deployment of inbound must set on every Airflow process; this
# cluster sets them, and tests/test_compose.py checks that docker-compose.yaml does too.
DEPLOYMENT_ENV = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW_CONN_INBOUND_STORE",
    "AIRFLOW_CONN_AWS_DEFAULT",
    "INBOUND_CONFIG_DIR",
    "INBOUND_STAGING_DIR",
)
T = TypeVar("T")


class ClusterError(RuntimeError):
    """A process exited or a condition was not met in time; carries the tails of the logs."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres(database: str | None = None) -> str:
    parts = urllib.parse.urlsplit(POSTGRES)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}")) if database else POSTGRES


def _admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


@dataclass
class Cluster:
    home: Path
    env: dict[str, str]
    base_url: str
    moto_url: str
    store_url: str
    queue: str
    databases: list[str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str = ""
    # What each process was started with (argv, environment), for `restart`.
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)
    # Processes the test killed on purpose and has not restarted yet (name -> time.monotonic() of the kill).
    killed: dict[str, float] = field(default_factory=dict)

    # -- S3 and REST API -------------------------------------------------------------------
    def s3(self) -> Any:
        return self._client("s3")

    def sqs(self) -> Any:
        return self._client("sqs")

    def _client(self, service: str) -> Any:
        """A boto3 client of the moto server (S3, SQS) with the deployment's keys."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="e2e",
            aws_secret_access_key="e2e-secret",
        )

    def inbound(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `inbound` command with the deployment's environment (its connections and configs)."""
        return subprocess.run([str(BIN / "inbound"), *args], env=self.env, capture_output=True, text=True, timeout=120)

    def api(self, method: str, path: str, data: Any = None) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=body,
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raise ClusterError(
                f"{method} {path}: HTTP {error.code} {error.read().decode(errors='replace')[:500]}"
            ) from None

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=run_after&limit=100")["dag_runs"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        answer = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in answer["task_instances"]}

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def pool(self, name: str = "default_pool") -> dict[str, Any]:
        return self.api("GET", f"/api/v2/pools/{name}")

    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float, every: float = 2.0) -> T:
        """Poll `check` until it returns something truthy; fail with the logs when a process died."""
        deadline = time.monotonic() + timeout
        while True:
            self.assert_alive()
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.log_tails()}")
            time.sleep(every)

    # -- processes --------------------------------------------------------------------------
    def start(self, service: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.commands[service] = ([str(BIN / "airflow"), *args], env or self.env)
        self._spawn(service, "w")

    def _spawn(self, service: str, mode: str) -> None:
        argv, env = self.commands[service]
        with open(self.home / f"{service}.log", mode) as log:
            self.processes[service] = subprocess.Popen(
                argv,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: stop() ends its children too
            )

    def kill(self, service: str) -> None:
        """kill -9 a process and everything it started, as a host that dies: no signal handler, no cleanup.

        Everything is stopped first (SIGSTOP: nothing forks meanwhile), then its group is killed and
        every descendant that left the group (`airflow celery worker` runs Celery in a session of its
        own, Airflow's task runners take groups of their own).
        `assert_alive` and `wait_for` let it be until `restart`.
        """
        proc = self.processes[service]
        self.killed[service] = time.monotonic()
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGSTOP)
        for pid in descendants(proc.pid):  # those outside the group too: nothing forks any more
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        family = [(pid, _started(pid)) for pid in descendants(proc.pid)]
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid, started in family:
            _kill_if(pid, started)
        proc.wait(timeout=30)
        with open(self.home / f"{service}.log", "a") as log:
            log.write(f"\n--- killed with SIGKILL by the test at {time.strftime('%H:%M:%S')} ---\n")

    def restart(self, service: str) -> None:
        """Start a process again with the command and environment it first had; its log goes on."""
        proc = self.processes[service]
        if proc.poll() is None:
            raise ClusterError(f"airflow {service} is still running: kill it first")
        with open(self.home / f"{service}.log", "a") as log:
            log.write(f"--- restarted by the test at {time.strftime('%H:%M:%S')} ---\n")
        self._spawn(service, "a")
        self.killed.pop(service, None)

    def pids(self, service: str) -> list[int]:
        """The process and everything it started (now)."""
        pid = self.processes[service].pid
        return [pid, *descendants(pid)]

    def assert_alive(self) -> None:
        """Every process runs, except those the test killed on purpose and has not restarted yet."""
        for name, proc in list(self.processes.items()):
            if name not in self.killed and proc.poll() is not None:
                raise ClusterError(f"airflow {name} exited with {proc.returncode}\n{self.log_tails()}")

    def log_tails(self, chars: int = 3000) -> str:
        parts = []
        for name in self.processes:
            path = self.home / f"{name}.log"
            if path.exists():
                parts.append(f"--- {name}.log ---\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        processes = list(self.processes.values())
        self.processes.clear()
        stop_groups(processes)
        for database in self.databases:
            try:
                _admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            except Exception:
                pass


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (from /proc; this kernel has no /proc/PID/task/TID/children)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _started(pid: int) -> str | None:
    """When a process started (clock ticks after boot): with its pid, who it is (pids are reused)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _kill_if(pid: int, started: str | None) -> None:
    """SIGKILL a process if it is still the one seen (same pid, same start)."""
    if started is not None and _started(pid) == started:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def rss_mb(pids: list[int]) -> float:
    """The resident memory of these processes together (MB); ended ones count nothing."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def stop_groups(processes: list[subprocess.Popen], timeout: float = 30) -> None:
    """Terminate several processes at once, each with its group and every process it started.

    Some leave their group (`airflow celery worker` runs Celery's main process in a session of its
    own, task runners take groups of their own): those are found in the process tree first. What is
    still there after `timeout` is killed, and so is everything when an interrupt (Ctrl-C) comes.
    """
    family = [(pid, _started(pid)) for proc in processes if proc.poll() is None for pid in descendants(proc.pid)]
    try:
        for proc in processes:
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in processes:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        for proc in processes:
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
        for pid, started in family:  # ended by now, or left behind: never left running
            _kill_if(pid, started)


def stop_group(proc: subprocess.Popen) -> None:
    """Terminate the process group a process was started in (its children too)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def start_moto(log_dir: Path | None = None) -> tuple[subprocess.Popen, str]:
    """A moto S3 server on a free loopback port, in its own process group; (process, URL)."""
    port = free_port()
    log = open(log_dir / "moto.log", "w") if log_dir else subprocess.DEVNULL
    proc = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    stop_group(proc)
    raise ClusterError("the moto server did not start")


@contextmanager
def celery_cluster(
    home: Path,
    config_dir: Path,
    *,
    concurrency: int = 4,
    extra_env: dict[str, str] | None = None,
    hosts: dict[str, tuple[str, ...]] | None = None,
    schedulers: int = 1,
    triggerers: int = 1,
    setup: Callable[[Cluster], None] | None = None,
) -> Iterator[Cluster]:
    """Start the whole deployment; yields once the API server answers and every job is healthy.

    `concurrency` is the Celery worker's slots: 4 on this 2-core machine, since the tasks
    mostly wait on S3 and the database. `hosts`: instead of one worker, one worker per entry
    (a name -> the task IDs routed to it; the first takes every other task, and so does any
    other host that names no task), each as on a host of its own: its own AIRFLOW_HOME, logs,
    temp and staging folders, log-server port and queue; its process is `worker-<name>`.
    `schedulers`, `triggerers`: how many of each run side by side (Airflow's HA): the first is
    `scheduler` (`triggerer`), the next `scheduler-2`, ... each with ports of its own.
    `setup` runs once the moto server and both databases are ready, before any Airflow
    process starts (buckets, queues and notifications that the first runs must find).
    """
    home.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    metadata_db, store_db = f"inbound_e2e_airflow_{tag}", f"inbound_e2e_store_{tag}"
    moto, moto_url = start_moto(home)
    api_port = free_port()
    base_url = f"http://127.0.0.1:{api_port}"
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    metadata_url = _postgres(metadata_db)
    store_url = _postgres(store_db)
    parts = urllib.parse.urlsplit(store_url)
    queue = f"inbound_e2e_{tag}"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        "AIRFLOW__CELERY__BROKER_URL": REDIS,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__FERNET_KEY": "",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        # Every listening port on a free loopback port: parallel clusters never collide.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
        # Pick up new DAG files quickly (the default is every 5 minutes).
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AWS_ACCESS_KEY_ID": "e2e",
        "AWS_SECRET_ACCESS_KEY": "e2e-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {"conn_type": "aws", "extra": {"endpoint_url": moto_url, "region_name": "us-east-1"}}
        ),
        "AIRFLOW_CONN_INBOUND_STORE": json.dumps(
            {
                "conn_type": "postgres",
                "host": parts.hostname,
                "port": parts.port or 5432,
                "login": parts.username or "postgres",
                "password": parts.password or "",
                "schema": store_db,
            }
        ),
        "INBOUND_CONFIG_DIR": str(config_dir),
        "INBOUND_STAGING_DIR": str(home / "staging"),
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true",
        **(extra_env or {}),
    }
    missing = [key for key in DEPLOYMENT_ENV if not env.get(key)]
    assert not missing, f"the cluster does not set {missing}"
    env.pop("AWS_ENDPOINT_URL", None)
    cluster = Cluster(
        home=home,
        env=env,
        base_url=base_url,
        moto_url=moto_url,
        store_url=store_url,
        queue=queue,
        databases=[metadata_db, store_db],
    )
    if hosts:
        _route(cluster, hosts)
    try:
        _admin_sql(f'CREATE DATABASE "{metadata_db}"')
        _admin_sql(f'CREATE DATABASE "{store_db}"')
        migrated = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=600
        )
        if migrated.returncode != 0:
            raise ClusterError(f"airflow db migrate failed:\n{migrated.stdout[-2000:]}\n{migrated.stderr[-3000:]}")
        # The deploy step of the attribute store (docker-compose's init runs it too): tasks never migrate.
        store_migrated = cluster.inbound("migrate")
        if store_migrated.returncode != 0:
            raise ClusterError(
                f"inbound migrate failed:\n{store_migrated.stdout[-2000:]}\n{store_migrated.stderr[-3000:]}"
            )
        if setup is not None:
            setup(cluster)
        cluster.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1")
        for i in range(schedulers):
            own = {"AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port())} if i else {}
            cluster.start(_numbered("scheduler", i), "scheduler", env={**cluster.env, **own})
        cluster.start("dag-processor", "dag-processor")
        for i in range(triggerers):
            own = {"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())} if i else {}
            cluster.start(_numbered("triggerer", i), "triggerer", env={**cluster.env, **own})
        if hosts:
            _start_hosts(cluster, hosts, concurrency)
        else:
            cluster.start("celery-worker", "celery", "worker", "--concurrency", str(concurrency), "--queues", queue)
        cluster.wait_for(
            "the API server's health endpoint to report every job healthy", lambda: _healthy(base_url), timeout=240
        )
        cluster.token = _token(base_url)
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            stop_group(moto)


# Routes tasks to the queue of the worker `hosts` names for them (a cluster policy, applied by
# every process that parses the DAGs: the DAG processor and the workers).
_POLICY = """
import json, os

ROUTES = json.loads(os.environ["INBOUND_E2E_ROUTES"])


def task_policy(task):
    if task.task_id in ROUTES:
        task.queue = ROUTES[task.task_id]
"""


def _route(cluster: Cluster, hosts: dict[str, tuple[str, ...]]) -> None:
    """The cluster policy that routes tasks to the hosts' queues, in every process's environment."""
    policy = cluster.home / "policy"
    policy.mkdir(exist_ok=True)
    (policy / "airflow_local_settings.py").write_text(_POLICY)
    routes = {task: f"{cluster.queue}_{name}" for name, tasks in list(hosts.items())[1:] for task in tasks}
    cluster.env.update({"PYTHONPATH": str(policy), "INBOUND_E2E_ROUTES": json.dumps(routes)})


def _start_hosts(cluster: Cluster, hosts: dict[str, tuple[str, ...]], concurrency: int) -> None:
    """One worker per host, sharing nothing on disk; tasks routed by `_route`'s policy."""
    for i, name in enumerate(hosts):
        own = cluster.home / f"host_{name}"
        (own / "tmp").mkdir(parents=True, exist_ok=True)
        env = {
            **cluster.env,
            "AIRFLOW_HOME": str(own),
            "TMPDIR": str(own / "tmp"),
            "INBOUND_STAGING_DIR": str(own / "staging"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        }
        queue = cluster.queue if i == 0 or not hosts[name] else f"{cluster.queue}_{name}"
        cluster.start(
            f"worker-{name}",
            *("celery", "worker", "--concurrency", str(concurrency), "--queues", queue),
            *("--celery-hostname", f"{name}@%h"),
            env=env,
        )


def _numbered(service: str, index: int) -> str:
    """`scheduler`, `scheduler-2`, `scheduler-3`, ..."""
    return service if index == 0 else f"{service}-{index + 1}"


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=5) as response:
            health = json.loads(response.read())
    except (OSError, ValueError):
        return False
    jobs = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return all(health.get(job, {}).get("status") == "healthy" for job in jobs)


def _token(base_url: str) -> str:
    request = urllib.request.Request(
        f"{base_url}/auth/token",
        data=json.dumps({"username": USER, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


__all__ = [
    "DEPLOYMENT_ENV",
    "SERVICES",
    "Cluster",
    "ClusterError",
    "celery_cluster",
    "descendants",
    "free_port",
    "rss_mb",
    "start_moto",
    "stop_group",
    "stop_groups",
]
