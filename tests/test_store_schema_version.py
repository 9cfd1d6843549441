"""Migrations are a deploy step (issue 29, item 6): only `inbound migrate` changes the store's schema.

A store behind the code (none at all included) fails every open, so every task, command and
route, with the store, both versions and the fix; a store ahead of the code (a newer inbound
migrated it) is read as usual and refuses every write before it changes anything. Every test
runs on SQLite and PostgreSQL where the store matters.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import polars as pl
import pytest

from conftest import BUCKET, _postgres_url, integration_dict, migrated
from inbound.errors import SchemaAhead, SchemaBehind, SchemaMismatch
from inbound.store import AttributeStore, FileImport, open_store
from inbound.store.base import redacted
from inbound.store.schema import SCHEMA_TABLE, SCHEMA_VERSION, Schema

BEHIND = "the attribute store's schema is behind: "
FIX = "run `inbound migrate` (the deploy step: docker-compose's airflow-init service runs it), then retry"
AHEAD = (
    f"the attribute store's schema is version {SCHEMA_VERSION + 1}, newer than this inbound's {SCHEMA_VERSION}: "
    "upgrade inbound on this worker; nothing was written"
)
TYPES = {"plan": "string"}


def entry(source: str = "s3://b/crm/users_1.csv", etag: str = "e1", rows: int = 1) -> FileImport:
    return FileImport("crm", source, etag, "v1", "test", rows)


def users(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"user_id": pl.String, "plan": pl.String}, orient="row")


def tables(store: AttributeStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the store's database (its schema on PostgreSQL) with every row: what "nothing
    was written" compares."""
    with store.transaction() as cur:
        if store.placeholder == "?":
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        else:
            cur.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        names = sorted(str(row[0]) for row in cur.fetchall())
        found = {}
        for name in names:
            cur.execute(f"SELECT * FROM {name}")
            found[name] = sorted(cur.fetchall(), key=repr)
    return found


def set_version(url: str, version: int) -> None:
    """Make a migrated store's recorded schema version `version` (as an older or newer inbound would have left it)."""
    with open_store(url, migrate=True) as store, store.transaction() as cur:
        cur.execute(f"DELETE FROM {SCHEMA_TABLE}")
        cur.execute(store._sql(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES (?)"), (version,))


# -- behind: no schema, or an older one ---------------------------------------------------


def test_a_store_nobody_migrated_is_refused_at_open_with_the_fix_and_nothing_is_created(store_url) -> None:
    with pytest.raises(SchemaBehind) as refused:
        open_store(store_url)
    message = str(refused.value)
    assert message.startswith(BEHIND) and FIX in message and message.endswith("Nothing was read or written")
    assert f"has no schema yet (version 0), this inbound needs version {SCHEMA_VERSION}" in message
    if store_url.startswith("sqlite"):
        path = store_url.removeprefix("sqlite:///")
        assert f"sqlite:///{path} has no schema yet" in message
        assert not Path(path).exists()  # not even an empty database file
    else:
        assert "127.0.0.1:5432/test" in message
    with open_store(store_url, migrate=True) as store:  # `inbound migrate` found nothing in its way
        assert store.schema_version() == SCHEMA_VERSION and store.integrations() == {}
    with open_store(store_url) as store:  # and from then on the store opens
        assert store.integrations() == {}


def test_a_store_behind_names_its_version_and_the_codes(store_url) -> None:
    set_version(store_url, SCHEMA_VERSION - 1)
    with pytest.raises(SchemaBehind) as refused:
        open_store(store_url)
    message = str(refused.value)
    assert f"is at schema version {SCHEMA_VERSION - 1}, this inbound needs version {SCHEMA_VERSION}" in message
    assert message.startswith(BEHIND) and FIX in message


def test_a_write_on_a_store_opened_without_the_check_is_refused_too(tmp_path) -> None:
    """A backend opened directly (not through `open_store`) still never writes into a store without a schema."""
    from inbound.store.sqlite import SqliteStore

    with SqliteStore(tmp_path / "store.db") as store:
        for write in (
            lambda: store.write_file(entry(), types=TYPES, frame=users(("ada@x", "pro"))),
            lambda: store.log_failure(entry(), "bad"),
            lambda: store.purge("crm", "test"),
        ):
            with pytest.raises(SchemaBehind, match="has no schema yet"):
                write()
        assert tables(store) == {}


def test_the_message_names_the_store_without_its_password() -> None:
    """(The local test server trusts its clients: it takes any password, and the URL carries one.)"""
    cleanup = _postgres_url()
    plain = urlsplit(next(cleanup))
    user = plain.username or "postgres"
    url = urlunsplit(plain._replace(netloc=f"{user}:pw-s3cret@{plain.hostname}:{plain.port or 5432}"))
    try:
        with pytest.raises(SchemaBehind) as refused:
            open_store(url)
        message = str(refused.value)
        assert f"postgresql://{user}:***@{plain.hostname}:{plain.port or 5432}/" in message
        assert "pw-s3cret" not in message
    finally:
        next(cleanup, None)


def test_redacted_hides_every_password_a_store_url_carries() -> None:
    assert redacted("postgresql://u:p%40ss@h:5432/db?sslmode=require&sslpassword=k3y") == (
        "postgresql://u:***@h:5432/db?sslmode=require&sslpassword=***"
    )
    assert redacted("postgresql://h/db?password=x") == "postgresql://h/db?password=***"
    assert redacted("postgresql://u:a@b@h/db") == "postgresql://u:***@h/db"
    for plain in ("sqlite:////tmp/store.db", "postgresql://u@h/db", "postgresql:///db"):
        assert redacted(plain) == plain


# -- ahead: a newer inbound migrated it --------------------------------------------------

# Every public method of the store, by what it does to the data. A new method has to be put in one
# of these (and a write must call `check_writable` first): this test fails until it is.
READS = {
    "user_attributes", "integrations", "location", "user_count", "stored_attributes", "match_rows", "match_users",
    "moved_to", "already_imported", "file_outcomes", "imports", "import_count", "last_imports", "last_success", "recent_rows_read",
    "preview",  # temporary tables only; a dry run is refused by the run itself (`Run.map`), as the real one would be
}  # fmt: skip
WRITES = {"write_file", "log_skip", "log_failure", "set_final_key", "purge", "forget", "migrate"}
OTHER = {"transaction", "close", "schema_version", "known_version", "check_current", "check_writable"}


def test_every_public_store_method_is_known_as_a_read_or_a_write() -> None:
    public = {name for name in dir(AttributeStore) if not name.startswith("_")}
    public = {name for name in public if callable(getattr(AttributeStore, name))}  # (not the dialect's settings)
    assert public == READS | WRITES | OTHER, f"classify: {sorted(public - READS - WRITES - OTHER)}"


@pytest.fixture
def ahead(store_url) -> str:
    """A store with crm's values and log, then migrated by a newer inbound (one version ahead)."""
    with open_store(store_url, migrate=True) as store:
        store.write_file(entry(), types=TYPES, frame=users(("ada@x", "pro"), ("bob@x", "free")))
        store.log_failure(entry("s3://b/crm/users_2.csv", "e2"), "bad", final_key="crm/failed/users_2.csv")
    with open_store(store_url) as store, store.transaction() as cur:
        cur.execute(store._sql(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES (?)"), (SCHEMA_VERSION + 1,))
    return store_url


def test_a_store_ahead_refuses_every_write_and_nothing_is_written(ahead) -> None:
    with open_store(ahead) as store:
        before = tables(store)
        (imported,) = [r for r in store.imports("crm") if r.outcome == "success"]
        writes = {
            "write_file": lambda: store.write_file(
                entry("s3://b/crm/users_3.csv", "e3"), types=TYPES, frame=users(("cy@x", "pro"))
            ),
            "log_skip": lambda: store.log_skip(imported.id, entry("s3://b/crm/users_1.csv", "e1")),
            "log_failure": lambda: store.log_failure(entry("s3://b/crm/users_4.csv", "e4"), "bad"),
            "set_final_key": lambda: store.set_final_key(imported.id, "crm/success/elsewhere.csv"),
            "purge": lambda: store.purge("crm", "test"),
            "forget": lambda: store.forget("ada@x", "test"),
            "migrate": store.migrate,
        }
        assert set(writes) == WRITES
        for name, write in writes.items():
            with pytest.raises(SchemaAhead) as refused:
                write()
            assert str(refused.value) == f"{AHEAD} ({store.label})", name
        assert tables(store) == before  # not a row, not a table, not a version


def test_a_store_ahead_is_read_as_usual(ahead) -> None:
    from inbound.rules import evaluate

    with open_store(ahead) as store:
        assert store.user_attributes("ada@x", TYPES)["attributes"] == {"plan": "pro"}
        assert store.integrations() == {"crm": 2} and store.user_count("crm") == 2
        assert [r.outcome for r in store.imports("crm")] == ["failed", "success"] and store.import_count("crm") == 2
        assert store.last_success()["crm"].etag == "e1" and store.last_imports()["crm"].etag == "e2"
        assert store.already_imported("crm", "e1", "v1") is not None
        assert set(store.file_outcomes("s3://b/crm/users_1.csv", "e1")) == {"crm"}
        assert store.moved_to("s3://b/crm/users_2.csv") == ("crm/failed/users_2.csv", "test")
        assert [a.name for a in store.stored_attributes()] == ["plan"]
        assert store.location("crm").table is not None
        assert evaluate(store, {"attribute": "plan", "op": "eq", "value": "pro"}, TYPES).count == 1
        previewed = store.preview(
            integration="crm", types=TYPES, frame=users(("cy@x", "pro")), rows_read=1, rows_rejected=0
        )
        assert previewed.inserted == 1
        assert store.schema_version() == SCHEMA_VERSION + 1


def test_the_version_is_read_once_per_opened_store_not_per_write(store_url, monkeypatch) -> None:
    migrated(store_url)
    reads = []
    original = Schema.schema_version

    def counted(self: Schema) -> int:
        reads.append(self)
        return original(self)

    monkeypatch.setattr(Schema, "schema_version", counted)
    with open_store(store_url) as store:
        for i in range(3):
            written = store.write_file(entry(etag=f"e{i}"), types=TYPES, frame=users(("ada@x", f"p{i}")))
            store.set_final_key(written.import_id, f"crm/success/{i}.csv")
        store.log_failure(entry("s3://b/crm/users_9.csv", "e9"), "bad")
    assert len(reads) == 1


# -- the command line ---------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch, tmp_path, write_config, s3):
    """crm's config, one waiting export and a store nobody migrated, through the `inbound_store` connection."""
    write_config("crm.yaml", integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}]))
    monkeypatch.setenv("INBOUND_CONFIG_DIR", str(write_config.folder))
    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_INBOUND_STORE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "store.db")})
    )
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email,Plan\nada@x,premium\n")
    return f"sqlite:///{tmp_path / 'store.db'}"


def keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_every_store_command_says_run_inbound_migrate_until_it_runs(cli, s3, capsys) -> None:
    from inbound.cli import main

    for argv in (["run", "crm"], ["preview", "crm"], ["user", "ada@x"], ["forget", "ada@x"], ["purge", "crm"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(BEHIND) and FIX in err and "Traceback" not in err, (argv, err)
    assert keys(s3) == ["crm/users_1.csv"]  # the run moved nothing
    assert main(["migrate"]) == 0
    assert f"{cli}: schema version {SCHEMA_VERSION}" in capsys.readouterr().out
    assert main(["run", "crm"]) == 0
    assert main(["user", "ada@x", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["attributes"] == {"plan": "premium"}


def test_a_store_ahead_refuses_the_commands_that_write_and_answers_the_reads(cli, s3, capsys) -> None:
    from inbound.cli import main

    assert main(["migrate"]) == 0 and main(["run", "crm"]) == 0
    s3.put_object(Bucket=BUCKET, Key="crm/users_2.csv", Body=b"Email,Plan\nada@x,gold\n")
    set_version(cli, SCHEMA_VERSION + 1)
    with open_store(cli) as store:
        before = tables(store)
    waiting = keys(s3)
    capsys.readouterr()
    for argv in (["run", "crm"], ["preview", "crm"], ["forget", "ada@x"], ["purge", "crm", "--yes"], ["migrate"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(AHEAD) and "Traceback" not in err, (argv, err)
    assert keys(s3) == waiting and "crm/users_2.csv" in waiting
    with open_store(cli) as store:
        assert tables(store) == before
    assert main(["user", "ada@x", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["attributes"] == {"plan": "premium"}


# -- the tasks ----------------------------------------------------------------------------


class Ti:
    """What the tasks ask of a task instance: XCom in and out, the run's task states."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return None

    def get_task_states(self, **_: Any) -> dict[str, Any]:
        return {}


@pytest.fixture
def task(cli, monkeypatch):
    """The crm integration and a task context (in the shape the tasks read) around its store."""
    from inbound.airflow import tasks
    from inbound.config.model import Integration

    ti = Ti()
    run = SimpleNamespace(dag_id="inbound_crm", run_id="manual__1")
    context = {"ti": ti, "params": {}, "run_id": "manual__1", "dag": run, "dag_run": run}
    monkeypatch.setattr(tasks, "get_current_context", lambda: context)
    integration = Integration.model_validate(integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}]))
    return SimpleNamespace(integration=integration, ti=ti, url=cli, context=context)


def test_a_task_on_a_store_behind_fails_at_once_saying_run_inbound_migrate(task) -> None:
    """`AirflowFailException` (no retries: retrying cannot migrate), the reason left for finalize."""
    from airflow.sdk.exceptions import AirflowFailException

    from inbound.airflow.tasks import opened_run, reported
    from inbound.results import ERROR_XCOM

    with (
        pytest.raises(AirflowFailException) as failed,
        reported(),
        opened_run(task.integration, task.integration.snapshot()),
    ):
        raise AssertionError("the run opened a store without a schema")
    assert str(failed.value).startswith(BEHIND) and FIX in str(failed.value)
    assert task.ti.pushed[ERROR_XCOM] == str(failed.value)


def test_finalize_of_a_run_with_no_file_fails_on_a_store_behind_with_the_reason_as_its_outcome(task) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from inbound.airflow.tasks import finalize_run
    from inbound.results import OUTCOME_XCOM

    with pytest.raises(AirflowFailException, match="run `inbound migrate`"):
        finalize_run(task.integration)
    outcome = task.ti.pushed[OUTCOME_XCOM]
    assert outcome["state"] == "failed" and outcome["message"].startswith(BEHIND)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_run_on_a_store_ahead_fails_before_reading_a_file_and_moves_nothing(task, s3, dry_run) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from inbound.airflow.tasks import opened_run, reported

    set_version(task.url, SCHEMA_VERSION + 1)
    with open_store(task.url) as store:
        before = tables(store)
    task.context["params"] = {"dry_run": dry_run}
    with (
        pytest.raises(AirflowFailException) as failed,
        reported(),
        opened_run(task.integration, task.integration.snapshot()) as run,
    ):
        run.map(run.look().new)
    assert str(failed.value).startswith(AHEAD)
    assert keys(s3) == ["crm/users_1.csv"]
    with open_store(task.url) as store:
        assert tables(store) == before


def test_the_pipeline_never_fails_a_file_for_the_stores_schema(
    store, store_url, crm, s3, tmp_path, monkeypatch
) -> None:
    """A newer inbound migrates the store between a run's mapping and its write: the write task fails,
    not the file (no `failed/`, no log entry), and the file stays for a worker that is upgraded."""
    from inbound.config.catalog import Catalog
    from inbound.pipeline import steps
    from inbound.run import Run

    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email,Plan,Open Tickets\nada@x,premium,3\n")
    mapping = Run(crm, s3, store, run_id="r1", triggered_by="test", catalog=Catalog())
    mapped = mapping.map(mapping.look().new)
    with store.transaction() as cur:
        cur.execute(store._sql(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES (?)"), (SCHEMA_VERSION + 1,))
    with open_store(store_url) as later:  # the write task's store
        before = tables(later)
        writing = Run(crm, s3, later, run_id="r1", triggered_by="test", catalog=Catalog())
        with pytest.raises(SchemaAhead):
            writing.write(mapped)
        with pytest.raises(SchemaMismatch):  # past the run's own check, the step lets it through as well
            steps.upsert_attributes(later, writing.who, mapped[0])
        with pytest.raises(SchemaAhead):
            writing.finalize(mapped)
        assert tables(later) == before
    assert keys(s3) == ["crm/users_1.csv"]


# -- the plugin's routes ------------------------------------------------------------------


def test_a_route_on_a_store_behind_is_a_503_with_the_fix() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from inbound.store.schema import behind
    from inbound.web.guard import install

    app = FastAPI()
    install(app)

    @app.get("/behind")
    def refused() -> None:
        raise SchemaBehind(behind("postgresql://inbound:***@db:5432/inbound", 0))

    answer = TestClient(app).get("/behind")
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith(BEHIND) and FIX in answer.json()["detail"]
