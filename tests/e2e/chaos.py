"""The chaos scenario (issue 29): many integrations on the real processes, with processes killed.

Used by `tests/e2e/test_chaos.py` (the small configuration, in CI) and
`tests/benchmarks/bench_chaos.py` (a bigger one, printed as a table). One run:

1. **Plan** (`make_plan`, seeded, no cluster): N integrations, every other one in event mode
   (`source.events`: S3 notifications into an SQS queue, a few queues shared by several
   integrations) and the rest polling. Most read a folder of their own; some folders are
   shared (two or three readers: events + events on one queue, polling + polling, events +
   polling + polling), and the readers of one folder map different columns (a Plan-only
   reader and a Plan + Seats reader), so a file may fail for one reader and not another.
   The files: `<folder>/export_<seq>.csv`, 50 rows over a pool of users per folder; most are
   good (some with blank cells, one rejected row or a repeated user within the ratio); some
   fail (no user-ID column; too many empty user IDs; too many bad Seats values, which fails
   only the readers of Seats).
2. **Run** (`run`): the deployment of `cluster.py` with two schedulers, two triggerers and two
   Celery workers as hosts sharing no disk (staging in S3). Once every DAG's first run is at
   rest (the sweeps looked, the polling waits deferred), the files go up in waves; a share of
   the event-mode uploads have their S3 notification sent to the queue a second time (SQS is
   at-least-once), at once or seconds later. During the waves a worker, a triggerer and a
   scheduler (which one of each, and when: seeded) are killed with SIGKILL and restarted a
   few seconds later. Then it waits, bounded, until every file has moved and every run that
   took files has ended (runs still waiting, with nothing to find, may go on).
3. **Check** (`check`), against a model computed here with the csv module (never inbound's
   code): every file ended in `success/` or `failed/` exactly once, in the folder its readers'
   outcomes give, none left; the store (the contract view `inbound_attributes_v1`, plain SQL)
   holds exactly what importing each file a reader accepts, once, in upload order, gives; no
   (integration, object version, config version) was imported twice (a repeat logged as
   "skipped: ..." is no import); no staged object is left in S3 or on any host's disk; each
   finished run's state matches the outcomes the import log holds for it (a file failed: the
   run failed; every file imported or skipped: success; nothing: success, as a run whose wait
   found nothing is skipped and a DAG run of skipped tasks is a success). Times: per imported
   (reader, file), from the end of `put_object` to the import-log entry's `finished_at` (the
   entry is written at the start of the file's store transaction).

Settings the scenario needs from the deployment, and why (`chaos_env`): a killed worker's task
must be found dead in 45 s (Airflow's default is 5 minutes), a task queued on a killed worker
requeued in 90 s (`queued_timeout`), a dead scheduler's tasks adopted within 30 s; a shared file waits for all its
readers for 60 of their intervals (the default 2 would, under kills, move a file before a slow
reader had it: documented, and not what this test is about).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import threading
import time
import traceback
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from e2e.cluster import Cluster, ClusterError, celery_cluster, rss_mb

BUCKET = "chaos-exports"
STAGING_BUCKET = "chaos-staging"
HOSTS = ("a", "b")  # two Celery workers, each as a host of its own; both take any task
ROWS = 50
REJECTED_RATIO = 0.05  # the configs' default max_rejected_ratio
MOVED = re.compile(r"^(?P<folder>[^/]+)/(?P<where>success|failed)/\d{8}T\d{6}Z_(?P<name>export_\d+\.csv)$")
WAITING = re.compile(r"^(?P<folder>[^/]+)/(?P<name>export_\d+\.csv)$")


@dataclass(frozen=True)
class ChaosConfig:
    """One chaos run. `small()` is the CI test's; the benchmark scales it up."""

    integrations: int = 20
    files: int = 300
    waves: int = 3
    wave_gap: float = 10.0  # seconds between the starts of two waves
    seed: int = 29
    kills: tuple[str, ...] = ("worker", "triggerer", "scheduler")
    kill_window: tuple[float, float] = (5.0, 40.0)  # seconds after the first upload
    down_for: tuple[float, float] = (3.0, 8.0)  # seconds a killed process stays dead
    queues: int = 3
    failing: float = 0.1  # share of files that fail (for some or every reader)
    # Share of the files in folders that event-mode integrations read: each such file starts runs of
    # its own (one per event-mode reader, 4 task starts each), a polling run takes a folder's batch.
    event_files: float = 0.03
    duplicates: float = 0.2  # share of event-mode uploads whose notification is sent twice
    polling_schedule: str = "PT3M"  # polling: a run looks at its start and every 30 s for 150 s
    # Event mode's sweep: one look for what an event missed. Events do get missed: a triggerer killed
    # between hearing a message and storing its event (the message comes back after its 5-minute
    # visibility timeout), and Airflow 3.3.2's asset queue (an event stored while the run for the
    # asset's previous event is being created is consumed by no run until the asset's next event:
    # apache/airflow#54659, reworked in #70972). Its interval bounds how late such a file is.
    sweep_schedule: str = "PT2M"
    concurrency: int = 4  # slots per worker
    # A task a killed worker had taken but not started stays queued (Celery redelivers it after a day):
    # Airflow requeues it after this long. Longer than any wait in Celery's queue, or a healthy task is
    # requeued too (a big backlog: Airflow's default, 600 s).
    queued_timeout: float = 90.0
    schedulers: int = 2
    triggerers: int = 2
    # After the last wave, every file must move. A slow machine moves them later, a broken one not at
    # all: the wait lasts while files keep moving, and fails when none moved for `stall_timeout`
    # (longer than a sweep interval and the runs behind it: a file whose event was missed waits for
    # a sweep) or at `settle_timeout` after the last wave in any case.
    stall_timeout: float = 240.0
    settle_timeout: float = 900.0
    quiet_timeout: float = 180.0  # then: every run that took files ended
    upload_threads: int = 4

    @classmethod
    def small(cls) -> ChaosConfig:
        return cls()


# -- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One integration: where it reads, how it hears of files, what it maps."""

    name: str
    folder: str
    events: bool
    queue: str | None
    seats: bool  # maps Seats (integer) besides Plan (string)
    schedule: str

    @property
    def attributes(self) -> dict[str, str]:
        """Column -> attribute name."""
        columns = {"Plan": f"{self.name}_plan"}
        if self.seats:
            columns["Seats"] = f"{self.name}_seats"
        return columns

    def config(self) -> dict[str, Any]:
        source: dict[str, Any] = {"bucket": BUCKET, "key": f"{self.folder}/export_*.csv"}
        if self.events:
            source["events"] = {"queue": self.queue}
        attributes: list[dict[str, Any]] = [{"column": "Plan", "name": f"{self.name}_plan"}]
        if self.seats:
            attributes.append({"column": "Seats", "name": f"{self.name}_seats", "type": "integer"})
        return {
            "name": self.name,
            "schedule": self.schedule,
            "source": source,
            "user_id": {"column": "Email"},
            "attributes": attributes,
        }


@dataclass(frozen=True)
class Upload:
    seq: int
    folder: str
    kind: str  # good | no_user_id | empty_ids | bad_seats
    wave: int
    body: bytes

    @property
    def key(self) -> str:
        return f"{self.folder}/{self.name}"

    @property
    def name(self) -> str:
        return f"export_{self.seq:06d}.csv"


@dataclass(frozen=True)
class Kill:
    service: str
    at: float  # seconds after the first upload
    down_for: float


@dataclass(frozen=True)
class Plan:
    config: ChaosConfig
    specs: tuple[Spec, ...]
    uploads: tuple[Upload, ...]  # in upload order (seq)
    duplicates: dict[int, float]  # seq -> seconds after its upload when its notification is sent again
    kills: tuple[Kill, ...]

    def readers(self, folder: str) -> list[Spec]:
        return [s for s in self.specs if s.folder == folder]

    @property
    def folders(self) -> list[str]:
        return sorted({s.folder for s in self.specs})

    @property
    def queues(self) -> list[str]:
        return sorted({s.queue for s in self.specs if s.queue})


def _groups(count: int) -> list[list[int]]:
    """Integration indexes by folder: per block of ten, two shared pairs (events + events, polling +
    polling) in even blocks, a triple (events + polling + polling) in odd ones; the rest alone."""
    groups: list[list[int]] = []
    for start in range(0, count, 10):
        block = list(range(start, min(start + 10, count)))
        shared = [[0, 2], [1, 3]] if (start // 10) % 2 == 0 else [[0, 1, 3]]
        taken: set[int] = set()
        for group in shared:
            members = [start + i for i in group if start + i in block]
            if len(members) > 1:
                groups.append(members)
                taken.update(members)
        groups.extend([i] for i in block if i not in taken)
    return sorted(groups)


def make_plan(config: ChaosConfig) -> Plan:
    """Everything the run does, from the seed: integrations, files, duplicates, kills."""
    rng = random.Random(config.seed)
    specs: list[Spec] = []
    for number, members in enumerate(_groups(config.integrations)):
        folder = f"f{number:04d}"
        queue = f"chaos-q{number % config.queues}"
        for i in members:
            events = i % 2 == 0
            specs.append(
                Spec(
                    name=f"chaos_{i:04d}",
                    folder=folder,
                    events=events,
                    queue=queue if events else None,
                    seats=i % 3 != 0,
                    schedule=config.sweep_schedule if events else config.polling_schedule,
                )
            )
    specs.sort(key=lambda s: s.name)
    folders = sorted({s.folder for s in specs})
    pools = {f: [f"u{n:03d}@{f}.example" for n in range(ROWS * 8 // 5)] for f in folders}
    kinds = ["no_user_id", "empty_ids", "bad_seats"]
    uploads = []
    # Each folder gets a file first; then a file goes to a folder that event-mode integrations read
    # with the chance `event_files` (each such file is an S3 event, and events start runs).
    evented = sorted({s.folder for s in specs if s.events})
    polled = [f for f in folders if f not in evented] or evented
    for seq in range(config.files):
        if seq < len(folders):
            folder = folders[seq]
        else:
            folder = rng.choice(evented if rng.random() < config.event_files else polled)
        kind = rng.choice(kinds) if rng.random() < config.failing else "good"
        wave = min(seq * config.waves // config.files, config.waves - 1)
        uploads.append(Upload(seq, folder, kind, wave, _body(rng, pools[folder], kind)))
    # Waves follow seq, and keys sort as seq: a tie of S3's second-resolution LastModified
    # orders one folder's files as they were uploaded (listings sort by time, then key).
    duplicates = {
        u.seq: rng.choice([0.0, rng.uniform(0.5, 30.0)])
        for u in uploads
        if u.folder in evented and rng.random() < config.duplicates
    }
    kills = []
    for kind in config.kills:
        service = _instance(kind, config, rng)
        kills.append(Kill(service, rng.uniform(*config.kill_window), rng.uniform(*config.down_for)))
    return Plan(config, tuple(specs), tuple(uploads), duplicates, tuple(sorted(kills, key=lambda k: k.at)))


def _instance(kind: str, config: ChaosConfig, rng: random.Random) -> str:
    """Which process of a kind: `worker` -> worker-a or worker-b, `scheduler` -> scheduler or scheduler-2."""
    if kind == "worker":
        return f"worker-{rng.choice(HOSTS)}"
    count = {"scheduler": config.schedulers, "triggerer": config.triggerers}[kind]
    index = rng.randrange(count)
    return kind if index == 0 else f"{kind}-{index + 1}"


def _body(rng: random.Random, pool: list[str], kind: str) -> bytes:
    users = rng.sample(pool, ROWS)
    rows = [[u, f"plan{rng.randrange(1000)}", str(rng.randrange(500))] for u in users]
    if kind == "good":
        variant = rng.random()
        if variant < 0.25:  # blank cells: the stored value stays
            for _ in range(4):
                rows[rng.randrange(ROWS)][rng.choice((1, 2))] = ""
        elif variant < 0.4:  # one bad Seats value: that row is rejected by the readers of Seats
            rows[rng.randrange(ROWS)][2] = "n/a"
        elif variant < 0.5:  # a repeated user: both of its rows are rejected (2 of 50: within 5%)
            rows[1][0] = rows[0][0]
    elif kind == "empty_ids":  # 10% of the rows without a user: the file fails
        for row in rng.sample(rows, 5):
            row[0] = ""
    elif kind == "bad_seats":  # 10% bad Seats: fails the readers of Seats only
        for row in rng.sample(rows, 5):
            row[2] = "many"
    header = ["Mail" if kind == "no_user_id" else "Email", "Plan", "Seats"]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode()


# -- the model: what the store must hold, computed with the csv module --------------------------------


def evaluate(body: bytes, spec: Spec) -> list[dict[str, str]] | None:
    """What one reader imports of a file (attribute -> value per accepted row), or None: the file fails.

    The README's rules: the header needs the user-ID column and every mapped column; a row
    without a user ID, with a Seats value that is no whole number, or whose user appears on
    several rows is rejected; more than 5% rejected fails the file; an empty cell sets nothing.
    """
    records = [r for r in csv.reader(io.StringIO(body.decode("utf-8"))) if r]
    if not records:
        return None
    header = [h.strip() for h in records[0]]
    columns = {"Email", *spec.attributes}
    if not columns <= set(header):
        return None
    at = {name: header.index(name) for name in columns}
    data = records[1:]
    if not data:
        return None
    ids = Counter(row[at["Email"]].strip() for row in data if len(row) == len(header))
    accepted = []
    for row in data:
        if len(row) != len(header):
            continue
        user = row[at["Email"]].strip()
        if not user or ids[user] > 1:
            continue
        seats = row[at["Seats"]].strip() if spec.seats else ""
        if seats and not re.fullmatch(r"[0-9]+", seats):
            continue
        values = {"user": user}
        for column, attribute in spec.attributes.items():
            if row[at[column]].strip():
                values[attribute] = row[at[column]].strip()
        accepted.append(values)
    if len(data) - len(accepted) > REJECTED_RATIO * len(data):
        return None
    return accepted


@dataclass
class Model:
    outcome: dict[tuple[str, str], bool]  # (integration, key) -> imported (else failed)
    folder: dict[str, str]  # key -> success | failed
    values: dict[tuple[str, str, str], str]  # (integration, user, attribute) -> value


def model(plan: Plan) -> Model:
    outcome: dict[tuple[str, str], bool] = {}
    values: dict[tuple[str, str, str], str] = {}
    for spec in plan.specs:
        for upload in plan.uploads:  # in upload order
            if upload.folder != spec.folder:
                continue
            rows = evaluate(upload.body, spec)
            outcome[(spec.name, upload.key)] = rows is not None
            for row in rows or []:
                for attribute, value in row.items():
                    if attribute != "user":
                        values[(spec.name, row["user"], attribute)] = value
    folder = {
        u.key: "success" if all(outcome[(s.name, u.key)] for s in plan.readers(u.folder)) else "failed"
        for u in plan.uploads
    }
    return Model(outcome, folder, values)


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Report:
    config: ChaosConfig
    integrations: int = 0
    events_integrations: int = 0
    shared_folders: int = 0
    files: int = 0
    failing_pairs: int = 0
    start_seconds: float = 0.0
    settle_seconds: float = 0.0  # first upload -> every file moved
    quiet_seconds: float = 0.0  # then -> nothing in flight
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"events": [], "polling": []})
    lost: list[str] = field(default_factory=list)
    imported_twice: list[str] = field(default_factory=list)
    unmoved: list[str] = field(default_factory=list)
    misplaced: list[str] = field(default_factory=list)
    moved_twice: list[str] = field(default_factory=list)
    store_diffs: list[str] = field(default_factory=list)
    log_diffs: list[str] = field(default_factory=list)
    run_mismatches: list[str] = field(default_factory=list)
    staged_left: list[str] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    duplicates_sent: int = 0
    event_uploads: int = 0  # (event-mode reader, upload) pairs: what the watchers should hear at least
    asset_events: int = 0
    missed_events: list[tuple[str, str]] = field(default_factory=list)  # event-mode (reader, file) a sweep took
    missed_why: Counter[str] = field(default_factory=Counter)
    missed_trails: list[str] = field(default_factory=list)
    failed_twice: int = 0
    runs: Counter[str] = field(default_factory=Counter)
    peak_rss_mb: float = 0.0
    peak_rss_by_service: dict[str, float] = field(default_factory=dict)
    cpu_by_service: dict[str, float] = field(default_factory=dict)
    task_instances: int = 0
    task_tries: int = 0  # the tries the task instances started (a deferral's resume not counted)
    violations: list[str] = field(default_factory=list)
    tails: str = ""

    @property
    def files_per_minute(self) -> float:
        return self.files / self.settle_seconds * 60 if self.settle_seconds else 0.0

    def table(self) -> str:
        c = self.config
        every = [*self.latencies["events"], *self.latencies["polling"]]

        def pct(values: list[float]) -> str:
            return f"{_pct(values, 0.5):.1f} / {_pct(values, 0.95):.1f} s (n={len(values)})" if values else "-"

        biggest = sorted(self.peak_rss_by_service.items(), key=lambda kv: -kv[1])[:4]
        rows = [
            (
                "integrations (event mode / polling; shared folders)",
                f"{self.integrations} ({self.events_integrations} / {self.integrations - self.events_integrations}; "
                f"{self.shared_folders})",
            ),
            ("files uploaded (waves)", f"{self.files} ({c.waves}, {c.wave_gap:.0f} s apart)"),
            ("(reader, file) pairs that fail by the model", str(self.failing_pairs)),
            ("cluster start", f"{self.start_seconds:.0f} s"),
            (
                "first upload -> every file moved",
                f"{self.settle_seconds:.0f} s" if self.settle_seconds else "not reached",
            ),
            ("files/min", f"{self.files_per_minute:.0f}"),
            ("upload -> stored p50 / p95, all", pct(every)),
            ("upload -> stored p50 / p95, event mode", pct(self.latencies["events"])),
            ("upload -> stored p50 / p95, polling", pct(self.latencies["polling"])),
            (
                "files lost / imported twice / left unmoved",
                f"{len(self.lost)} / {len(self.imported_twice)} / {len(self.unmoved)}",
            ),
            ("files in the wrong folder / moved twice", f"{len(self.misplaced)} / {len(self.moved_twice)}"),
            ("store values unlike the model", str(len(self.store_diffs))),
            ("(reader, file) outcomes in the import log unlike the model", str(len(self.log_diffs))),
            ("runs whose state does not match their files", str(len(self.run_mismatches))),
            ("staged objects left", str(len(self.staged_left))),
            ("kills done (kill -9, then restart)", "; ".join(self.kills) or "none"),
            ("SQS notifications sent twice", str(self.duplicates_sent)),
            (
                "asset events from the watchers / (event-mode reader, upload) pairs",
                f"{self.asset_events} / {self.event_uploads}",
            ),
            (
                "event-mode (reader, file) first taken by a sweep, not its event",
                f"{len(self.missed_events)}"
                + (
                    " (" + ", ".join(f"{k}: {v}" for k, v in sorted(self.missed_why.items())) + ")"
                    if self.missed_why
                    else ""
                ),
            ),
            ("(reader, file) failed more than once in the log", str(self.failed_twice)),
            ("DAG runs by state", ", ".join(f"{k} {v}" for k, v in sorted(self.runs.items()))),
            ("task instances / tries started (all runs)", f"{self.task_instances} / {self.task_tries}"),
            (
                "CPU time of the cluster's processes",
                f"{sum(self.cpu_by_service.values()):.0f} s; "
                + ", ".join(f"{k} {v:.0f}" for k, v in sorted(self.cpu_by_service.items(), key=lambda kv: -kv[1])),
            ),
            (
                "peak RSS of the cluster's processes (sampled every 2 s)",
                f"{self.peak_rss_mb:.0f} MB; " + ", ".join(f"{k} {v:.0f}" for k, v in biggest),
            ),
        ]
        return "\n".join(["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])

    def failure(self) -> str:
        """What went wrong, for an assertion message: each broken invariant with examples, then the logs."""
        lines = [f"{len(self.violations)} invariant(s) broken:"]
        lines += [f"- {v}" for v in self.violations]
        if self.missed_trails:
            lines += ["", "event-mode files a sweep took (or none), with their asset events:"]
            lines += [f"  {t}" for t in self.missed_trails[:20]]
        return "\n".join([*lines, "", self.table(), "", self.tails])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def chaos_env(config: ChaosConfig) -> dict[str, str]:
    return {
        "INBOUND_STAGING_URL": f"s3://{STAGING_BUCKET}/runs",
        "INBOUND_SHARED_GRACE_INTERVALS": "60",
        "INBOUND_MAX_ATTRIBUTES": "100000",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "45",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": f"{config.queued_timeout:.0f}",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000",
        # The configs do not change during the run: the DAG processor re-parses them every 5 minutes
        # (the default 30 s costs a core at 1,000 integrations), new DAG files are still seen in 5 s.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
    }


def run(config: ChaosConfig, work: Path, say: Callable[[str], None] = print) -> Report:
    """Plan, start the deployment, upload with the chaos, wait until quiet, check; never raises on a
    broken invariant (the report lists them); raises ClusterError when the cluster cannot start."""
    plan = make_plan(config)
    expected = model(plan)
    configs = work / "integrations"
    configs.mkdir(parents=True, exist_ok=True)
    for spec in plan.specs:
        (configs / f"{spec.name}.yaml").write_text(yaml.safe_dump(spec.config(), sort_keys=False))
    report = Report(
        config,
        integrations=len(plan.specs),
        events_integrations=sum(s.events for s in plan.specs),
        shared_folders=sum(1 for f in plan.folders if len(plan.readers(f)) > 1),
        files=len(plan.uploads),
        failing_pairs=sum(1 for ok in expected.outcome.values() if not ok),
        event_uploads=sum(1 for u in plan.uploads for s in plan.readers(u.folder) if s.events),
    )
    say(
        f"chaos: {report.integrations} integrations, {report.files} files, kills "
        + ", ".join(f"{k.service} at {k.at:.0f} s for {k.down_for:.0f} s" for k in plan.kills)
    )
    started = time.monotonic()
    with celery_cluster(
        work / "airflow",
        configs,
        concurrency=config.concurrency,
        extra_env=chaos_env(config),
        hosts={name: () for name in HOSTS},
        schedulers=config.schedulers,
        triggerers=config.triggerers,
        setup=lambda cluster: _prepare_aws(cluster, plan),
    ) as cluster:
        report.start_seconds = time.monotonic() - started
        say(f"chaos: cluster up in {report.start_seconds:.0f} s")
        sampler = _Sampler(cluster)
        sampler.start()
        try:
            uploaded = _drive(cluster, plan, report, say)
            _check(cluster, plan, expected, uploaded, report, say)
        except ClusterError as exc:
            report.violations.append(f"the cluster broke: {str(exc)[:3000]}")
        except Exception:
            report.violations.append(f"the chaos run itself failed:\n{traceback.format_exc()}")
        finally:
            sampler.stop()
            report.peak_rss_mb, report.peak_rss_by_service = sampler.peak, sampler.by_service
            report.cpu_by_service = sampler.cpu_by_service()
            with suppress(Exception):
                tasks = _pages(cluster, "/api/v2/dags/~/dagRuns/~/taskInstances", "task_instances", 1000)
                report.task_instances = len(tasks)
                report.task_tries = sum(t["try_number"] for t in tasks)
            if report.violations:
                report.tails = cluster.log_tails(3000)
    return report


def _prepare_aws(cluster: Cluster, plan: Plan) -> None:
    """Buckets, queues and the bucket's notification rules (one per folder an event-mode integration reads,
    as `inbound events --apply` writes them: the key's literal prefix and suffix), before Airflow starts."""
    s3, sqs = cluster.s3(), cluster.sqs()
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=STAGING_BUCKET)
    arns = {}
    for queue in plan.queues:
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        arns[queue] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rules = []
    for folder in plan.folders:
        queue = next((s.queue for s in plan.readers(folder) if s.queue), None)
        if queue is None:
            continue
        rules.append(
            {
                "Id": f"inbound-{folder}",
                "QueueArn": arns[queue],
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {
                        "FilterRules": [
                            {"Name": "prefix", "Value": f"{folder}/export_"},
                            {"Name": "suffix", "Value": ".csv"},
                        ]
                    }
                },
            }
        )
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": rules})


def _drive(cluster: Cluster, plan: Plan, report: Report, say: Callable[[str], None]) -> dict[str, float]:
    """The uploads in waves, the duplicates and the kills; then wait until every file moved and all is quiet.

    Returns each key's upload time (epoch seconds, when `put_object` returned)."""
    config = plan.config
    names = [s.name for s in plan.specs]
    cluster.wait_for(
        f"{len(names)} DAGs",
        lambda: _count(cluster, "/api/v2/dags?tags=inbound&limit=1") >= len(names),
        timeout=600,
    )
    # Each DAG's first scheduled run starts at once: the sweeps look and end, the polling runs defer.
    # The files come once that is done, so the chaos starts on a cluster at rest.
    waited = time.monotonic()
    cluster.wait_for(
        "the first runs (sweeps done, polling waits deferred)",
        lambda: _count(cluster, "/api/v2/dags/~/dagRuns?limit=1") >= len(names) and not _busy(cluster),
        timeout=600,
        every=3,
    )
    say(f"chaos: {len(names)} DAGs, their first runs at rest after {time.monotonic() - waited:.0f} s")
    uploaded: dict[str, float] = {}
    stop = threading.Event()
    first = time.monotonic()
    chaos = threading.Thread(target=_kills, args=(cluster, plan, first, report, stop, say), daemon=True)
    chaos.start()
    resender = _Resender(cluster, plan, uploaded, stop)
    resender.start()
    try:
        for wave in range(config.waves):
            _sleep_until(first + wave * config.wave_gap, stop)
            batch = [u for u in plan.uploads if u.wave == wave]
            by_folder: dict[str, list[Upload]] = defaultdict(list)
            for upload in batch:
                by_folder[upload.folder].append(upload)
            # One folder's files go up one after the other (in key order); folders in parallel.
            with ThreadPoolExecutor(config.upload_threads) as pool:
                for times in pool.map(_upload_folder, [cluster.moto_url] * len(by_folder), by_folder.values()):
                    uploaded.update(times)
            resender.add([(uploaded[u.key] + plan.duplicates[u.seq], u) for u in batch if u.seq in plan.duplicates])
            say(f"chaos: wave {wave + 1}/{config.waves}: {len(batch)} files at {time.monotonic() - first:.0f} s")
        moved_at = _settle(cluster, plan, first, report, say)
        report.settle_seconds = moved_at - first if moved_at else 0.0
        chaos.join(timeout=max(0.0, config.kill_window[1] + config.down_for[1] - (time.monotonic() - first)) + 60)
        _quiet(cluster, plan, report, say)
    finally:
        stop.set()
        resender.join(timeout=30)
        chaos.join(timeout=30)
    report.duplicates_sent = resender.sent
    with suppress(Exception):  # a count for the table; the invariants do not need it
        report.asset_events = _asset_events(cluster)
    return uploaded


def _asset_events(cluster: Cluster) -> int:
    """The asset events the event-mode integrations' watchers gave (one per notification heard, per reader)."""
    assets = _pages(cluster, "/api/v2/assets?name_pattern=inbound_chaos_%25_files", "assets")
    return sum(_count(cluster, f"/api/v2/assets/events?asset_id={a['id']}&limit=1") for a in assets)


def _upload_folder(moto_url: str, uploads: list[Upload]) -> dict[str, float]:
    s3 = _s3(moto_url)
    times = {}
    for upload in sorted(uploads, key=lambda u: u.seq):
        s3.put_object(Bucket=BUCKET, Key=upload.key, Body=upload.body)
        times[upload.key] = time.time()
    return times


def _s3(moto_url: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e-secret",
    )


def _sleep_until(moment: float, stop: threading.Event) -> None:
    stop.wait(max(0.0, moment - time.monotonic()))


def _kills(
    cluster: Cluster, plan: Plan, first: float, report: Report, stop: threading.Event, say: Callable[[str], None]
) -> None:
    """kill -9 each planned process at its moment, restart it after its pause (one at a time).

    A restart happens even when the run is being stopped, so no process is left dead."""
    for kill in plan.kills:
        _sleep_until(first + kill.at, stop)
        if stop.is_set():
            return
        at = time.monotonic() - first
        try:
            cluster.kill(kill.service)
            say(f"chaos: killed {kill.service} at {at:.0f} s")
            stop.wait(kill.down_for)
            cluster.restart(kill.service)
        except Exception:
            report.violations.append(f"killing or restarting {kill.service} failed:\n{traceback.format_exc()}")
            return
        down = time.monotonic() - first - at
        say(f"chaos: restarted {kill.service} after {down:.0f} s")
        report.kills.append(f"{kill.service} at {at:.0f} s, down {down:.0f} s")


class _Resender(threading.Thread):
    """Sends the S3 notification of chosen uploads to their queue once more, at the planned moment."""

    def __init__(self, cluster: Cluster, plan: Plan, uploaded: dict[str, float], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.cluster, self.plan, self.uploaded, self.stop_event = cluster, plan, uploaded, stop
        self.due: list[tuple[float, Upload]] = []  # (epoch seconds, upload)
        self.lock = threading.Lock()
        self.sent = 0
        self.queues = {s.folder: s.queue for s in plan.specs if s.queue}

    def add(self, items: list[tuple[float, Upload]]) -> None:
        with self.lock:
            self.due.extend(items)

    def run(self) -> None:
        sqs, s3 = self.cluster.sqs(), self.cluster.s3()
        urls: dict[str, str] = {}
        while not self.stop_event.wait(0.2):
            now = time.time()
            with self.lock:
                ready = sorted((d for d in self.due if d[0] <= now), key=lambda d: d[0])
                self.due = [d for d in self.due if d[0] > now]
            for _, upload in ready:
                queue = self.queues[upload.folder]
                if queue not in urls:
                    urls[queue] = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                sqs.send_message(QueueUrl=urls[queue], MessageBody=self._notification(s3, upload))
                self.sent += 1

    def _notification(self, s3: Any, upload: Upload) -> str:
        """The notification S3 sent for the upload, as S3 writes it (the same object version)."""
        try:
            head = s3.head_object(Bucket=BUCKET, Key=upload.key)
            etag, size = head["ETag"].strip('"'), head["ContentLength"]
        except Exception:  # imported and moved already: S3's message named it all the same
            etag, size = None, len(upload.body)
        when = datetime.fromtimestamp(self.uploaded[upload.key], UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": when,
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": f"inbound-{upload.folder}",
                "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                "object": {
                    "key": urllib.parse.quote_plus(upload.key, safe="/"),
                    "size": size,
                    **({"eTag": etag} if etag else {}),
                    "sequencer": f"{upload.seq:016X}",
                },
            },
        }
        return json.dumps({"Records": [record]})


def _listing(moto_url: str) -> list[str]:
    s3 = _s3(moto_url)
    return [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]


def _settle(cluster: Cluster, plan: Plan, first: float, report: Report, say: Callable[[str], None]) -> float | None:
    """Wait until no uploaded file is left in its folder; the moment it was so, or None.

    Bounded by progress, not by the clock alone: a file must move every `stall_timeout` seconds."""
    config = plan.config
    deadline = first + (config.waves - 1) * config.wave_gap + config.settle_timeout
    every = max(5.0, len(plan.uploads) / 500)
    last_said, died = 0.0, False
    fewest, moved_at = len(plan.uploads) + 1, time.monotonic()
    while True:
        try:
            cluster.assert_alive()
        except ClusterError as exc:
            if not died:
                report.violations.append(f"a process died that the test did not kill: {str(exc)[:300]}")
            died = True
        keys = _listing(cluster.moto_url)
        waiting = [k for k in keys if WAITING.match(k)]
        now = time.monotonic()
        if not waiting:
            say(f"chaos: every file moved at {now - first:.0f} s")
            return now
        if now - last_said > 30:
            say(f"chaos: {len(waiting)} file(s) still waiting at {now - first:.0f} s; tasks {_tasks(cluster)}")
            last_said = now
        if len(waiting) < fewest:
            fewest, moved_at = len(waiting), now
        stalled = now - moved_at > config.stall_timeout and now > first + (config.waves - 1) * config.wave_gap
        if stalled or now > deadline:
            why = (
                f"no file moved for {now - moved_at:.0f} s"
                if stalled
                else f"not every file moved within {deadline - first:.0f} s of the first upload"
            )
            report.violations.append(
                f"{why} ({now - first:.0f} s after the first upload): {len(waiting)} still waiting, e.g. "
                f"{waiting[:10]}; tasks: {_tasks(cluster)}; load average {os.getloadavg()[0]:.1f}"
            )
            return None
        time.sleep(every)


def _quiet(cluster: Cluster, plan: Plan, report: Report, say: Callable[[str], None]) -> None:
    """Wait (bounded) until no run is past its wait and unfinished: every run that took files has ended.

    Runs still waiting (a polling run's wait, deferred until its interval ends; an event's run
    that will find its files done) have nothing in flight: every file has moved.
    """
    started = time.monotonic()
    busy: list[str] = []
    while time.monotonic() - started < plan.config.quiet_timeout:
        busy = _in_flight(cluster)
        if not busy:
            report.quiet_seconds = time.monotonic() - started
            say(f"chaos: quiet {report.quiet_seconds:.0f} s after the last file moved")
            return
        time.sleep(3)
    report.violations.append(
        f"runs still in flight {plan.config.quiet_timeout:.0f} s after every file moved: {busy[:10]}"
    )


def _in_flight(cluster: Cluster) -> list[str]:
    """The unfinished runs whose wait handed files on (and why each is unfinished)."""
    runs = _pages(cluster, "/api/v2/dags/~/dagRuns?state=queued&state=running", "dag_runs")
    if not runs:
        return []
    body = {"dag_run_ids": sorted({r["dag_run_id"] for r in runs}), "task_ids": ["wait_for_file"], "state": ["success"]}
    waited = cluster.api("POST", "/api/v2/dags/~/dagRuns/~/taskInstances/list", {**body, "page_limit": 10000})
    past = {(t["dag_id"], t["dag_run_id"]) for t in waited["task_instances"]}
    return [f"{r['dag_id']}/{r['dag_run_id']}" for r in runs if (r["dag_id"], r["dag_run_id"]) in past]


def _tasks(cluster: Cluster) -> str:
    """The unfinished task instances by task and state, and how many of each task ended
    (`upsert_attributes: 12 ended, 30 scheduled; ...`: a task that stays scheduled while the
    others end is starved by their priority)."""
    states = "&".join(f"state={s}" for s in ("scheduled", "queued", "running", "deferred", "up_for_retry"))
    tasks = _pages(cluster, f"/api/v2/dags/~/dagRuns/~/taskInstances?{states}", "task_instances")
    counts = Counter((t["task_id"], t["state"]) for t in tasks)
    ended = "&".join(f"state={s}" for s in ("success", "failed", "skipped", "upstream_failed"))
    parts = []
    for task in ("wait_for_file", "validate_and_map", "upsert_attributes", "finalize"):
        done = _count(cluster, f"/api/v2/dags/~/dagRuns/~/taskInstances?task_id={task}&{ended}&limit=1")
        busy = ", ".join(f"{n} {state}" for (t, state), n in sorted(counts.items()) if t == task)
        parts.append(f"{task}: {done} ended" + (f", {busy}" if busy else ""))
    return "; ".join(parts)


def _busy(cluster: Cluster) -> bool:
    """Whether any task instance is scheduled, queued, running or waiting for a retry."""
    states = "&".join(f"state={s}" for s in ("scheduled", "queued", "running", "up_for_retry"))
    return _count(cluster, f"/api/v2/dags/~/dagRuns/~/taskInstances?{states}&limit=1") > 0


def _count(cluster: Cluster, path: str) -> int:
    return int(cluster.api("GET", path)["total_entries"])


def _pages(cluster: Cluster, path: str, field_name: str, size: int = 500) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    joiner = "&" if "?" in path else "?"
    while True:
        page = cluster.api("GET", f"{path}{joiner}limit={size}&offset={len(items)}")
        items.extend(page[field_name])
        if not page[field_name] or len(items) >= page["total_entries"]:
            return items


class _Sampler(threading.Thread):
    """Every 2 s, each Airflow process with everything it started: resident memory (the peaks) and CPU
    time (of the processes alive now and of the children they reaped; a killed process's is kept)."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.peak = 0.0
        self.by_service: dict[str, float] = {}
        self.cpu: dict[tuple[str, int], float] = {}  # (service, pid of that start) -> CPU seconds
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(2.0):
            self.sample()

    def sample(self) -> None:
        total = 0.0
        for name, proc in list(self.cluster.processes.items()):
            try:
                pids = self.cluster.pids(name)
            except (OSError, KeyError):
                continue
            mb = rss_mb(pids)
            total += mb
            self.by_service[name] = max(self.by_service.get(name, 0.0), mb)
            seconds = cpu_seconds(pids)
            self.cpu[(name, proc.pid)] = max(self.cpu.get((name, proc.pid), 0.0), seconds)
        self.peak = max(self.peak, total)

    def cpu_by_service(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for (name, _), seconds in self.cpu.items():
            totals[name] += seconds
        return dict(totals)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)
        self.sample()


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of these processes and of the children each has reaped (a tree: nothing counted twice)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


# -- the checks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: int
    integration: str
    key: str
    etag: str | None
    config_version: str | None
    outcome: str
    error: str | None
    triggered_by: str
    finished_at: datetime

    @property
    def imported(self) -> bool:
        """A real import: a success that is not a repeat's skip (`store.writes._log_repeat`)."""
        return self.outcome == "success" and not (self.error or "").startswith("skipped")


def _store_rows(store_url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(store_url, connect_timeout=10) as conn:
        return list(conn.execute(sql).fetchall())


def _log(store_url: str) -> list[Entry]:
    rows = _store_rows(
        store_url,
        "SELECT id, integration, source_file, etag, config_version, outcome, error, triggered_by, finished_at "
        "FROM inbound_import_log ORDER BY id",
    )
    prefix = f"s3://{BUCKET}/"
    entries = []
    for id_, integration, source, etag, version, outcome, error, by, at in rows:
        when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at).replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        key = source[len(prefix) :] if source.startswith(prefix) else source
        entries.append(Entry(id_, integration, key, etag, version, outcome, error, by, when))
    return entries


def _check(
    cluster: Cluster,
    plan: Plan,
    expected: Model,
    uploaded: dict[str, float],
    report: Report,
    say: Callable[[str], None],
) -> None:
    entries: list[Entry] = []

    def import_log() -> None:
        entries.extend(_log(cluster.store_url))
        _check_log(plan, expected, entries, uploaded, report)
        if report.missed_events:
            _explain_missed(cluster, report)

    checks: list[tuple[str, Callable[[], None]]] = [
        ("the files' folders", lambda: _check_files(plan, expected, _listing(cluster.moto_url), report)),
        ("the import log", import_log),
        ("the store", lambda: _check_store(cluster, expected, report)),
        ("the staging", lambda: _check_staging(cluster, report)),
        ("the runs' states", lambda: _check_runs(cluster, plan, entries, report)),
    ]
    for what, check in checks:  # each on its own: one that cannot run does not hide the others
        try:
            check()
        except Exception:
            report.violations.append(f"checking {what} failed:\n{traceback.format_exc()}")
    for what, found in (
        ("files lost (neither waiting nor moved)", report.lost),
        ("(integration, file) imported more than once", report.imported_twice),
        ("files left unmoved", report.unmoved),
        ("files in the wrong folder", report.misplaced),
        ("files moved more than once", report.moved_twice),
        ("store values unlike the model", report.store_diffs),
        ("(reader, file) outcomes in the import log unlike the model", report.log_diffs),
        ("runs whose state does not match their files", report.run_mismatches),
        ("staged objects left", report.staged_left),
    ):
        if found:
            report.violations.append(f"{len(found)} {what}: " + "; ".join(found[:15]))
    say("chaos: checked; " + ("all invariants hold" if not report.violations else f"{len(report.violations)} broken"))


def _check_files(plan: Plan, expected: Model, keys: list[str], report: Report) -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        if moved := MOVED.match(key):
            where[f"{moved['folder']}/{moved['name']}"].append(moved["where"])
        elif WAITING.match(key):
            where[key].append("waiting")
    for upload in plan.uploads:
        found = where.get(upload.key, [])
        if not found:
            report.lost.append(upload.key)
        elif "waiting" in found:
            report.unmoved.append(upload.key)
        elif len(found) > 1:
            report.moved_twice.append(f"{upload.key}: {found}")
        elif found[0] != expected.folder[upload.key]:
            readers = {s.name: expected.outcome[(s.name, upload.key)] for s in plan.readers(upload.folder)}
            report.misplaced.append(
                f"{upload.key} ({upload.kind}) in {found[0]}/, the model says {expected.folder[upload.key]}/ "
                f"(imported by reader: {readers})"
            )


def _check_log(plan: Plan, expected: Model, entries: list[Entry], uploaded: dict[str, float], report: Report) -> None:
    """Per (reader, file): one real import when the model imports it, none (and a failure) when it fails."""
    specs = {s.name: s for s in plan.specs}
    by_pair: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries:
        by_pair[(entry.integration, entry.key)].append(entry)
    for (name, key), model_ok in expected.outcome.items():
        found = by_pair.get((name, key), [])
        imports = [e for e in found if e.imported]
        failed = [e for e in found if e.outcome == "failed"]
        report.failed_twice += len(failed) > 1
        versions = Counter((e.etag, e.config_version) for e in imports)
        if any(n > 1 for n in versions.values()):
            report.imported_twice.append(f"{name} {key}: entries {[(e.id, e.triggered_by) for e in imports]}")
        if model_ok and not imports:
            said = f"failed: {failed[0].error}" if failed else f"entries {[(e.outcome, e.error) for e in found]}"
            report.log_diffs.append(f"{name} {key}: never imported ({said}), the model imports it")
        elif not model_ok and (imports or not failed):
            report.log_diffs.append(f"{name} {key}: {[(e.outcome, e.error) for e in found]}, the model fails it")
        if imports and key in uploaded:
            first = min(imports, key=lambda e: e.id)
            mode = "events" if specs[name].events else "polling"
            report.latencies[mode].append(first.finished_at.timestamp() - uploaded[key])
        if specs[name].events and not any("/asset_triggered__" in e.triggered_by for e in found[:1]):
            report.missed_events.append((name, key))  # first done by a sweep, or not at all


def _explain_missed(cluster: Cluster, report: Report) -> None:
    """Why event-mode files were first taken by a sweep (or never): from the asset events and their runs."""
    events: dict[tuple[str, str], list[tuple[str, list[str]]]] = defaultdict(list)  # (reader, key) -> (event, its runs)
    for asset in _pages(cluster, "/api/v2/assets?name_pattern=inbound_chaos_%25_files", "assets"):
        name = asset["name"].removeprefix("inbound_").removesuffix("_files")
        for event in _pages(cluster, f"/api/v2/assets/events?asset_id={asset['id']}", "asset_events"):
            payload = (event.get("extra") or {}).get("payload") or {}
            runs = [r["run_id"] for r in event.get("created_dagruns") or []]
            for file in payload.get("files") or []:
                events[(name, file["key"])].append((f"asset event {event['id']} at {event['timestamp']}", runs))
    for name, key in report.missed_events:
        found = events.get((name, key), [])
        if not found:
            why = "no asset event named it"
        elif not any(runs for _, runs in found):
            why = "its asset event started no run"
        else:
            why = "its event's run came after the sweep"
        report.missed_why[why] += 1
        trail = "; ".join(f"{event}: runs {runs}" for event, runs in found) or "no event"
        report.missed_trails.append(f"{name} {key}: {why} ({trail})")


def _check_store(cluster: Cluster, expected: Model, report: Report) -> None:
    exists = _store_rows(cluster.store_url, "SELECT to_regclass('inbound_attributes_v1') IS NOT NULL")[0][0]
    rows = (
        _store_rows(
            cluster.store_url,
            "SELECT integration, user_id, attribute, value FROM inbound_attributes_v1 WHERE value IS NOT NULL",
        )
        if exists
        else []
    )  # no import has written yet
    stored = {(i, u, a): str(v) for i, u, a, v in rows}
    for pair in sorted(set(stored) | set(expected.values)):
        want, have = expected.values.get(pair), stored.get(pair)
        if want != have:
            report.store_diffs.append(f"{'/'.join(pair)}: stored {have!r}, the model says {want!r}")


def _check_staging(cluster: Cluster, report: Report) -> None:
    s3 = cluster.s3()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=STAGING_BUCKET):
        report.staged_left.extend(f"s3://{STAGING_BUCKET}/{o['Key']}" for o in page.get("Contents", []))
    for folder in [cluster.home / "staging", *sorted(cluster.home.glob("host_*/staging"))]:
        if folder.exists():
            report.staged_left.extend(str(p) for p in folder.rglob("*") if p.is_file())


def _check_runs(cluster: Cluster, plan: Plan, entries: list[Entry], report: Report) -> None:
    """A finished run's state against its import-log entries: a failed file fails it; else success."""
    by_run: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_run[entry.triggered_by].append(entry)
    runs = _pages(cluster, "/api/v2/dags/~/dagRuns", "dag_runs")
    for dag_run in runs:
        report.runs[f"{dag_run['run_type']} {dag_run['state']}"] += 1
        mine = by_run.get(f"airflow:{dag_run['dag_id']}/{dag_run['dag_run_id']}", [])
        if dag_run["state"] not in ("success", "failed"):  # an idle wait, paused: it must have done nothing
            if mine:
                report.run_mismatches.append(
                    f"{dag_run['dag_id']}/{dag_run['dag_run_id']} is {dag_run['state']} with files {[e.key for e in mine]}"
                )
            continue
        want = "failed" if any(e.outcome == "failed" for e in mine) else "success"
        if dag_run["state"] != want:
            tasks = cluster.task_states(dag_run["dag_id"], dag_run["dag_run_id"])
            outcomes = [(e.key, e.outcome, (e.error or "")[:80]) for e in mine]
            report.run_mismatches.append(
                f"{dag_run['dag_id']}/{dag_run['dag_run_id']} ({dag_run['run_type']}) is {dag_run['state']}, "
                f"its files say {want}: files {outcomes or 'none'}, tasks {tasks}"
            )
