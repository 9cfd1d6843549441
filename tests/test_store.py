"""The same behaviour on SQLite and PostgreSQL (every test runs against both)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from inbound.errors import BadFile, MirrorGuard, SchemaBehind, StoreUnavailable
from inbound.outcome import Outcome
from inbound.store import FileImport, open_store
from inbound.store.schema import SCHEMA_VERSION, Schema

TYPES = {
    "plan": "string",
    "seats": "integer",
    "score": "number",
    "admin": "boolean",
    "since": "date",
    "seen": "timestamp",
}
SCHEMA = {
    "user_id": pl.String,
    "plan": pl.String,
    "seats": pl.Int64,
    "score": pl.Float64,
    "admin": pl.Boolean,
    "since": pl.Date,
    "seen": pl.Datetime("us", "UTC"),
}


def frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def entry(
    integration: str = "crm", source: str = "s3://b/crm/a.csv", etag: str = "e1", rows: int = 0, triggered_by="test"
) -> FileImport:
    """One file's identity in the import log (config version v1)."""
    return FileImport(integration, source, etag, "v1", triggered_by, rows)


def write(store, data: pl.DataFrame, integration: str = "crm", types=TYPES, source: str = "s3://b/crm/a.csv", **kw):
    return store.write_file(
        entry(integration, source, kw.pop("etag", "e1"), data.height), types=types, frame=data, **kw
    )


def attrs(store, user: str, types=TYPES) -> dict:
    return store.user_attributes(user, types)["attributes"]


SEEN = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
ADA = ("ada@x", "premium", 12, 4.5, True, date(2021, 10, 25), SEEN)
BOB = ("bob@x", "free", 1, None, False, None, None)


def test_schema_is_created_and_versioned(store_url) -> None:
    store = open_store(store_url, migrate=True)  # `inbound migrate`
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    again = open_store(store_url, migrate=True)  # a second migration changes nothing and keeps data
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_opening_never_migrates(store_url, monkeypatch) -> None:
    """Migrations are a deploy step: only `open_store(url, migrate=True)` (`inbound migrate`) runs one."""
    calls = []
    original = Schema.migrate

    def counting(self):
        calls.append(self)
        return original(self)

    monkeypatch.setattr(Schema, "migrate", counting)
    with open_store(store_url, migrate=True) as store:
        assert store.schema_version() == SCHEMA_VERSION
    assert len(calls) == 1
    for _ in range(3):
        with open_store(store_url) as store:
            assert store.schema_version() == SCHEMA_VERSION and store.integrations() == {}
    assert len(calls) == 1


def test_the_store_is_a_context_manager_that_closes(store) -> None:
    with store:
        assert store.integrations() == {}
    with pytest.raises(Exception, match="closed"):
        store.integrations()


def test_typed_round_trip_with_lineage(store) -> None:
    result = write(store, frame([ADA]))
    assert (result.inserted, result.updated, result.unchanged, result.values_written) == (1, 0, 0, 6)
    found = store.user_attributes("ada@x", TYPES)
    assert found["attributes"] == {
        "admin": True,
        "plan": "premium",
        "score": 4.5,
        "seats": 12,
        "seen": "2026-01-02T03:04:05.600000+00:00",
        "since": "2021-10-25",
    }
    assert found["sources"]["plan"]["integration"] == "crm"
    assert found["sources"]["plan"]["file"] == "s3://b/crm/a.csv"
    assert datetime.fromisoformat(found["sources"]["plan"]["updated_at"]).tzinfo is not None


def test_unknown_user_has_no_attributes(store) -> None:
    assert store.user_attributes("nobody", TYPES) == {"user_id": "nobody", "attributes": {}, "sources": {}}


def test_only_changes_are_written_and_each_value_keeps_its_lineage(store) -> None:
    write(store, frame([ADA, BOB]))
    again = write(
        store, frame([ADA, ("bob@x", "starter", 1, None, False, None, None)]), source="s3://b/crm/b.csv", etag="e2"
    )
    assert (again.inserted, again.updated, again.unchanged, again.values_written, again.rows_written) == (0, 1, 1, 1, 1)
    bob = store.user_attributes("bob@x", TYPES)
    assert bob["attributes"]["plan"] == "starter"
    assert bob["sources"]["plan"]["file"] == "s3://b/crm/b.csv"
    assert bob["sources"]["seats"]["file"] == "s3://b/crm/a.csv"  # unchanged value: still from the first file
    assert store.user_attributes("ada@x", TYPES)["sources"]["plan"]["file"] == "s3://b/crm/a.csv"
    unchanged = write(
        store, frame([ADA, ("bob@x", "starter", 1, None, False, None, None)]), source="s3://b/crm/c.csv", etag="e3"
    )
    assert (unchanged.rows_written, unchanged.values_written, unchanged.unchanged) == (0, 0, 2)


def test_empty_cell_keeps_the_stored_value(store) -> None:
    write(store, frame([ADA]))
    write(store, frame([("ada@x", None, 13, None, None, None, None)]), etag="e2")
    found = attrs(store, "ada@x")
    assert found["plan"] == "premium" and found["seats"] == 13 and found["score"] == 4.5


def test_clear_blanks_removes_stored_values(store) -> None:
    write(store, frame([ADA, BOB]))
    result = write(
        store, frame([("ada@x", None, 12, 4.5, True, date(2021, 10, 25), SEEN)]), etag="e2", clear_blanks=True
    )
    assert (result.cleared, result.values_written, result.updated, result.unchanged) == (1, 0, 1, 0)
    assert "plan" not in attrs(store, "ada@x")
    assert attrs(store, "bob@x")["plan"] == "free"  # not in the file: untouched


def test_mirror_removes_missing_users_values_of_this_integration_only(store) -> None:
    write(
        store,
        frame(
            [
                ADA,
                BOB,
                ("cy@x", "free", 1, None, None, None, None),
                ("di@x", "free", 1, None, None, None, None),
                ("ed@x", "free", 1, None, None, None, None),
            ]
        ),
    )
    write(
        store,
        pl.DataFrame({"user_id": ["bob@x"], "tickets": ["3"]}),
        integration="zendesk",
        types={"tickets": "string"},
    )
    result = write(
        store,
        frame(
            [
                ADA,
                ("cy@x", "free", 1, None, None, None, None),
                ("di@x", "free", 1, None, None, None, None),
                ("ed@x", "free", 1, None, None, None, None),
            ]
        ),
        etag="e2",
        mirror=True,
        mirror_max_removed=0.2,
    )
    assert (result.removed, result.unchanged, result.rows_written) == (1, 4, 1)
    assert attrs(store, "bob@x", {**TYPES, "tickets": "string"}) == {"tickets": "3"}  # other integrations' values stay
    assert store.user_count("crm") == 4


def test_mirror_guard_refuses_a_truncated_export_unless_forced(store) -> None:
    write(store, frame([ADA, BOB]))
    with pytest.raises(MirrorGuard, match="would remove 1 of 2 users"):
        write(store, frame([ADA]), etag="e2", mirror=True, mirror_max_removed=0.2)
    assert store.user_count("crm") == 2 and len(store.imports("crm")) == 1  # nothing written, nothing logged
    assert write(store, frame([ADA]), etag="e2", mirror=True, mirror_max_removed=0.2, force=True).removed == 1
    assert store.user_count("crm") == 1


def test_preview_shows_the_diff_and_writes_nothing(store) -> None:
    write(store, frame([ADA, BOB]))
    result = store.preview(
        integration="crm",
        types=TYPES,
        frame=frame(
            [ADA, ("bob@x", "starter", 1, None, False, None, None), ("new@x", "free", None, None, None, None, None)]
        ),
        rows_read=3,
        rows_rejected=0,
        mirror=True,
    )
    assert (result.inserted, result.updated, result.unchanged, result.removed) == (1, 1, 1, 0)
    assert {"user_id": "bob@x", "changes": {"plan": ["free", "starter"]}} in result.sample
    assert attrs(store, "bob@x")["plan"] == "free" and attrs(store, "new@x") == {}
    assert len(store.imports("crm")) == 1


def test_shortcut_only_for_the_same_file_config_and_data(store) -> None:
    write(store, frame([ADA]), etag="e1")
    assert store.already_imported("crm", "e1", "v1").etag == "e1"
    assert store.already_imported("crm", "e1", "v2") is None  # other config
    assert store.already_imported("crm", "e9", "v1") is None  # other content
    write(store, frame([BOB]), etag="e2", source="s3://b/crm/b.csv")
    assert store.already_imported("crm", "e1", "v1") is None  # data changed since
    write(store, frame([ADA]), etag="e1")
    store.forget("ada@x", "test")
    assert store.already_imported("crm", "e1", "v1") is None  # an erasure since


def test_failed_write_leaves_store_and_log_untouched(store, monkeypatch) -> None:
    write(store, frame([ADA]))

    def broken_apply(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_apply", broken_apply)
    with pytest.raises(RuntimeError, match="disk full"):
        write(store, frame([("ada@x", "changed", 1, None, None, None, None)]), etag="e2")
    monkeypatch.undo()
    assert attrs(store, "ada@x")["plan"] == "premium"
    assert len(store.imports("crm")) == 1


def test_import_log_and_last_success(store) -> None:
    ok = write(store, frame([ADA]))
    store.set_final_key(ok.import_id, "crm/success/x_a.csv")
    store.log_failure(entry(source="s3://b/crm/c.csv", etag="e2"), "no user-ID column", final_key="crm/failed/x_c.csv")
    log = store.imports("crm")
    assert [r.outcome for r in log] == ["failed", "success"]
    assert log[0].error == "no user-ID column" and log[1].final_key == "crm/success/x_a.csv"
    assert (log[1].inserted, log[1].rows_written) == (1, 1)
    last = store.last_success()["crm"]
    assert last.id == ok.import_id and last.attributes == len(TYPES) and last.rows_written == 1
    assert store.user_count("crm") == 1


def test_purge_and_forget(store) -> None:
    write(store, frame([ADA, BOB]))
    write(
        store,
        pl.DataFrame({"user_id": ["ada@x"], "tickets": ["3"]}),
        integration="zendesk",
        types={"tickets": "string"},
    )
    assert store.integrations() == {"crm": 2, "zendesk": 1}
    assert store.forget("ada@x", "test") == {"crm": sorted(TYPES), "zendesk": ["tickets"]}
    assert store.user_attributes("ada@x") == {"user_id": "ada@x", "attributes": {}, "sources": {}}
    assert store.purge("crm", "test") == 1
    assert store.integrations() == {}
    assert store.imports("crm")[0].outcome is Outcome.PURGED


def test_attributes_named_like_the_stores_bookkeeping(store) -> None:
    types = {"lineage": "string", "import_id": "integer"}
    write(store, pl.DataFrame({"user_id": ["ada@x"], "lineage": ["a"], "import_id": [1]}), types=types)
    again = write(
        store, pl.DataFrame({"user_id": ["ada@x"], "lineage": ["b"], "import_id": [1]}), types=types, etag="e2"
    )
    assert (again.updated, again.values_written) == (1, 1)
    assert attrs(store, "ada@x", types) == {"lineage": "b", "import_id": 1}


def test_undeclared_attributes_are_not_served(store) -> None:
    write(store, frame([ADA]))
    assert set(attrs(store, "ada@x", {"plan": "string"})) == {"plan"}


def test_values_with_csv_specials_survive(store) -> None:
    tricky = 'a "quoted", multi\nline; value \\ {"json": 1}'
    write(store, frame([("ada@x", tricky, None, None, None, None, None)]))
    assert attrs(store, "ada@x")["plan"] == tricky


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time, polars as pl
    from inbound.store import FileImport, open_store
    store = open_store(sys.argv[1])
    original = store._apply
    def slow_apply(*args, **kwargs):
        original(*args, **kwargs)          # the rows are written, the transaction is open
        open(sys.argv[2], "w").close()
        time.sleep(60)                      # killed here
    store._apply = slow_apply
    n = int(sys.argv[3])
    frame = pl.DataFrame({"user_id": [f"u{i}" for i in range(n)], "plan": ["changed"] * n})
    store.write_file(FileImport("crm", "s3://b/k2", "e2", "v1", "test", n), types={"plan": "string"}, frame=frame)
    """
)


def kill_mid_write(store_url: str, tmp_path: Path, n: int) -> None:
    """Start a writer of n changed users and SIGKILL it inside its open transaction."""
    marker = tmp_path / "in-transaction"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, store_url, str(marker), str(n)])
    for _ in range(600):
        if marker.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert marker.exists(), "the writer never reached the middle of its transaction"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_a_killed_write_leaves_the_store_as_before(store, store_url, tmp_path) -> None:
    n = 50_000
    before = pl.DataFrame({"user_id": [f"u{i}" for i in range(n)], "plan": ["first"] * n})
    store.write_file(entry(source="s3://b/k1", rows=n), types={"plan": "string"}, frame=before)
    kill_mid_write(store_url, tmp_path, n)
    after = open_store(store_url)
    assert after.user_count("crm") == n
    assert {attrs(after, f"u{i}", {"plan": "string"})["plan"] for i in (0, n // 2, n - 1)} == {"first"}
    assert [r.etag for r in after.imports("crm")] == ["e1"]
    after.close()


def test_the_sql_view_contract(store) -> None:
    first = write(store, frame([ADA, BOB]))
    second = write(
        store, frame([("bob@x", "starter", 1, None, False, None, None)]), etag="e2", source="s3://b/crm/b.csv"
    )
    with store.transaction() as cur:
        cur.execute(
            "SELECT user_id, integration, attribute, value, import_id FROM inbound_attributes_v1 "
            "WHERE user_id = 'bob@x' ORDER BY attribute"
        )
        rows = [tuple(r) for r in cur.fetchall()]
    assert rows == [
        ("bob@x", "crm", "admin", "false", first.import_id),
        ("bob@x", "crm", "plan", "starter", second.import_id),
        ("bob@x", "crm", "seats", "1", first.import_id),
    ]


def test_upgrade_from_schema_v1_keeps_the_values(store_url) -> None:
    from inbound.store.postgres import PostgresStore
    from inbound.store.sqlite import SqliteStore

    old = (
        SqliteStore(store_url.removeprefix("sqlite:///"))
        if store_url.startswith("sqlite")
        else PostgresStore(store_url)
    )
    with old.transaction() as cur:  # a store as schema v1 left it
        cur.execute("CREATE TABLE inbound_schema (version INTEGER NOT NULL)")
        for statement in old._migrations()[1]:
            cur.execute(statement)
        cur.execute("INSERT INTO inbound_schema (version) VALUES (1)")
        for attribute, kind, value in (("plan", "string", "premium"), ("seats", "integer", "12")):
            cur.execute(
                old._sql("INSERT INTO inbound_attribute_value VALUES (?, ?, ?, ?, 'crm', 's3://b/a.csv', ?)"),
                ("ada@x", attribute, kind, value, old._timestamp(datetime.now(UTC))),
            )
    old.close()
    upgraded = open_store(store_url, migrate=True)
    assert upgraded.schema_version() == SCHEMA_VERSION
    assert attrs(upgraded, "ada@x", {"plan": "string", "seats": "integer"}) == {"plan": "premium", "seats": 12}
    write(upgraded, pl.DataFrame({"user_id": ["ada@x"], "plan": ["gold"]}), types={"plan": "string"})
    assert attrs(upgraded, "ada@x", {"plan": "string"}) == {"plan": "gold"}
    upgraded.close()


@pytest.fixture
def connect_attempts(monkeypatch) -> list[str]:
    """Every connection attempt the store makes to PostgreSQL, in order."""
    from inbound.store import postgres

    attempts: list[str] = []
    original = postgres.PostgresStore.__init__

    def counting(self, url):
        attempts.append(url)
        original(self, url)

    monkeypatch.setattr(postgres.PostgresStore, "__init__", counting)
    return attempts


def test_an_unreachable_store_is_retried_then_fails_clearly(monkeypatch, connect_attempts) -> None:
    import socket

    import inbound.store as store_module

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    monkeypatch.setattr(store_module, "CONNECT_BACKOFF_S", 0.01)
    with pytest.raises(StoreUnavailable) as error:
        open_store(f"postgresql://inbound:s3cret@127.0.0.1:{port}/inbound")
    assert len(connect_attempts) == store_module.CONNECT_ATTEMPTS == 4
    message = str(error.value)
    assert f"cannot reach the attribute store at 127.0.0.1:{port}/inbound" in message
    assert "inbound_store" in message and "after 4 attempts" in message and "s3cret" not in message


def test_a_killed_write_is_finished_by_the_retry_with_the_right_counts(store, store_url, tmp_path) -> None:
    """After the kill (previous test's scenario), the retry writes the file once, counted as changes."""
    n = 20_000
    before = pl.DataFrame({"user_id": [f"u{i}" for i in range(n)], "plan": ["first"] * n})
    store.write_file(entry(source="s3://b/k1", rows=n), types={"plan": "string"}, frame=before)
    kill_mid_write(store_url, tmp_path, n)
    retry = open_store(store_url)
    changed = pl.DataFrame({"user_id": [f"u{i}" for i in range(n)], "plan": ["changed"] * n})
    result = retry.write_file(
        entry(source="s3://b/k2", etag="e2", rows=n, triggered_by="retry"), types={"plan": "string"}, frame=changed
    )
    assert (result.inserted, result.updated, result.unchanged) == (0, n, 0)
    assert [(r.etag, r.rows_written) for r in retry.imports("crm")] == [("e2", n), ("e1", n)]
    assert attrs(retry, "u7", {"plan": "string"})["plan"] == "changed"
    retry.close()


def test_a_file_another_run_imported_meanwhile_is_not_written_twice(store) -> None:
    """Two overlapping runs map the same object version; under the writer's lock the second finds the
    first's import and only logs a skip, so it never writes an older file over a newer one."""
    first = write(store, frame([ADA]), source="s3://b/crm/a.csv", etag="e1")
    newer = (ADA[0], "gold", *ADA[2:])
    write(store, frame([newer]), source="s3://b/crm/b.csv", etag="e2")
    again = write(store, frame([ADA]), source="s3://b/crm/a.csv", etag="e1")  # the slower run's write
    assert again.skipped and again.rows_written == 0 and again.import_id != first.import_id
    assert attrs(store, "ada@x")["plan"] == "gold"
    assert store.imports("crm")[0].error == f"skipped: same content, config and data as import {first.import_id}"
    forced = write(store, frame([ADA]), source="s3://b/crm/a.csv", etag="e1", force=True)
    assert not forced.skipped and attrs(store, "ada@x")["plan"] == "premium"


def test_only_named_database_errors_mean_unavailable() -> None:
    """Retry (the file stays) only for connection, resource, operator, serialization and deadlock
    errors; any other database error fails the file."""
    import psycopg

    from inbound.store.postgres import unavailable

    for state in ("08006", "08001", "53100", "53300", "57P01", "57P03", "40001", "40P01"):
        assert unavailable(psycopg.errors.lookup(state)()), state
    for state in ("22021", "42701", "23505", "42P01", "22P02"):
        assert not unavailable(psycopg.errors.lookup(state)()), state
    assert unavailable(psycopg.OperationalError("server closed the connection unexpectedly"))


def test_a_locked_sqlite_store_is_unavailable_not_a_bad_file(tmp_path) -> None:
    import sqlite3

    from inbound.errors import StoreUnavailable

    path = tmp_path / "store.db"
    with open_store(f"sqlite:///{path}", migrate=True) as store:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
        store._conn.execute("PRAGMA busy_timeout = 50")
        try:
            with pytest.raises(StoreUnavailable, match="locked by another writer"):
                store.write_file(entry(), types=TYPES, frame=frame([ADA]))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert store.write_file(entry(), types=TYPES, frame=frame([ADA])).inserted == 1


def test_a_permanent_connection_error_fails_at_once_without_retrying(monkeypatch, connect_attempts) -> None:
    """A role that does not exist is the connection's mistake (the server's FATAL refusal): no retry."""
    import inbound.store as store_module
    from conftest import POSTGRES_URL
    from inbound.errors import ConfigInvalid

    monkeypatch.setattr(store_module, "CONNECT_BACKOFF_S", 5.0)  # a retry would show as a slow test
    url = POSTGRES_URL.replace("postgres@", "no_such_role_xyz:pw-s3cret@", 1)
    with pytest.raises(ConfigInvalid, match=r"refused the connection: .*does not exist") as error:
        open_store(url)
    assert len(connect_attempts) == 1 and "pw-s3cret" not in str(error.value)


def test_the_connections_libpq_options_reach_the_store(monkeypatch) -> None:
    """`?sslmode=verify-full&sslrootcert=...` (URI) or the extra (JSON) are kept in the store URL, and libpq
    gets them: `verify-full` stops the connection to a server without TLS instead of going plain-text."""
    import inbound.store as store_module
    from conftest import POSTGRES_URL
    from inbound.airflow.connections import parse_connection
    from inbound.store import store_url_from_connection

    uri = "postgresql://u:p@h:5432/db?sslmode=verify-full&sslrootcert=/etc/ca.pem&cursor=dictcursor"
    assert store_url_from_connection(parse_connection(uri)) == (
        "postgresql://u:p@h:5432/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"
    )
    as_json = '{"conn_type": "postgres", "host": "h", "login": "u", "schema": "db", "extra": {"sslmode": "require"}}'
    assert store_url_from_connection(parse_connection(as_json)) == "postgresql://u@h/db?sslmode=require"
    monkeypatch.setattr(store_module, "CONNECT_ATTEMPTS", 1)
    sep = "&" if "?" in POSTGRES_URL else "?"
    with pytest.raises(StoreUnavailable, match="SSL"):  # the server has no TLS: libpq refuses, as asked
        open_store(f"{POSTGRES_URL}{sep}sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")


def test_more_than_500_attributes_in_the_store_still_write_and_read(store) -> None:
    """SQLite allows 500 terms in a compound SELECT: the view once had one per attribute."""
    for i in range(6):  # 600 attributes: what a history of configs (orphans included) can leave
        types = {f"i{i}_a{j}": "string" for j in range(100)}
        data = pl.DataFrame({"user_id": ["ada"], **{name: [f"v{j}"] for j, name in enumerate(types)}})
        store.write_file(entry(f"int{i}", f"s3://b/{i}.csv", f"e{i}", 1), types=types, frame=data)
    with store.transaction() as cur:
        cur.execute("SELECT COUNT(*) FROM inbound_attributes_v1 WHERE user_id = 'ada'")
        assert cur.fetchone()[0] == 600
        cur.execute("SELECT value, integration FROM inbound_attributes_v1 WHERE attribute = 'i5_a99'")
        assert cur.fetchone() == ("v99", "int5")


def test_first_writes_of_many_integrations_at_once_all_reach_the_view(store_url: str) -> None:
    """Found on Celery: two integrations' first writes rebuilt the view at once (UniqueViolation on PostgreSQL)."""
    import threading

    names = [f"int{i}" for i in range(6)]
    barrier, errors = threading.Barrier(len(names)), []

    def first_write(name: str) -> None:
        try:
            with open_store(store_url, migrate=True) as store:  # and migrations side by side (`inbound migrate` twice)
                frame = pl.DataFrame({"user_id": ["ada@x"], f"{name}_plan": ["pro"]})
                barrier.wait(timeout=30)
                store.write_file(
                    FileImport(name, f"s3://b/{name}.csv", "e1", "v1", "test", 1),
                    types={f"{name}_plan": "string"},
                    frame=frame,
                )
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=first_write, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with open_store(store_url) as store:
        found = store.user_attributes("ada@x", {f"{n}_plan": "string" for n in names})["attributes"]
    assert found == {f"{n}_plan": "pro" for n in names}


def test_the_store_says_where_an_integrations_values_live(store, store_url) -> None:
    """For lineage: the database, the schema the tables are in, the table (once written) and the view."""
    before = store.location("crm")
    assert before.table is None and before.view == "inbound_attributes_v1"
    write(store, pl.DataFrame({"user_id": ["ada@x"], "plan": ["premium"]}), types={"plan": "string"})
    where = store.location("crm")
    assert where.table is not None and where.table.startswith("inbound_values_")
    if store_url.startswith("sqlite"):
        path = str(Path(store_url.removeprefix("sqlite:///")).resolve())
        assert (where.kind, where.host, where.port, where.database, where.schema) == (
            "sqlite",
            None,
            None,
            path,
            "main",
        )
    else:
        schema = store_url.rsplit("search_path%3D", 1)[1]
        assert (where.kind, where.host, where.port, where.database, where.schema) == (
            "postgresql",
            "127.0.0.1",
            5432,
            "test",
            schema,
        )
    assert store.location("billing").table is None  # another integration: no table yet


# -- what no store can hold: a NUL character, a lone surrogate, a page past int64 ---------
NOT_TEXT = [("a\x00b", "contains a NUL character"), ("a\ud800b", "contains a lone surrogate")]


@pytest.mark.parametrize(("user", "problem"), NOT_TEXT)
def test_a_user_id_no_store_holds_is_refused_clearly_on_both_stores(store, user, problem) -> None:
    """PostgreSQL's driver refused a NUL (DataError), both drivers a lone surrogate (UnicodeEncodeError);
    SQLite kept a NUL. Every store now says what is wrong with the ID, the same way, before any SQL."""
    write(store, frame([ADA]))
    with pytest.raises(ValueError, match=f"user ID {problem}"):
        store.user_attributes(user, TYPES)
    with pytest.raises(ValueError, match=f"user ID {problem}"):
        store.forget(user, "test")
    assert attrs(store, "ada@x")["plan"] == "premium" and len(store.imports("crm")) == 1


@pytest.mark.parametrize(("value", "problem"), NOT_TEXT)
def test_a_segment_value_no_store_holds_is_refused_clearly(store, value, problem) -> None:
    write(store, frame([ADA]))
    table = store.stored_attributes()[0].table
    with pytest.raises(ValueError, match=f"a segment value {problem}"):
        store.match_rows(table, '"plan" = ?', [value], 5)
    with pytest.raises(ValueError, match=f"a segment value {problem}"):
        store.match_users(f'user_id IN (SELECT _user_id FROM {table} WHERE "plan" = ?)', [value], [table], 5)


@pytest.mark.parametrize("column", ["user_id", "plan"])
def test_a_value_with_a_nul_is_a_clear_refusal_of_the_file_and_nothing_is_written(store, column) -> None:
    """Reading refuses a NUL in a CSV (`inbound.reading.decoding._nul`); a frame that has one anyway (another
    caller of the store) was a driver error halfway into PostgreSQL's COPY, and kept as is by SQLite."""
    from inbound.errors import BadFile

    write(store, frame([ADA]))
    bad = ("bob@x\x00", "free") if column == "user_id" else ("bob@x", "fr\x00ee")
    data = frame([("cy@x", "gold", 1, None, None, None, None), (*bad, 2, None, None, None, None)])
    for first_load in (False, True):  # into a table with users (the diff) and into an empty one (straight in)
        integration = "crm" if not first_load else "other"
        with pytest.raises(BadFile, match=rf"row 2 of the attribute set: the {column} value contains a NUL character"):
            write(store, data, integration=integration, etag="e2")
    with pytest.raises(BadFile, match="contains a NUL character"):
        store.preview(integration="crm", types=TYPES, frame=data, rows_read=2, rows_rejected=0)
    assert store.integrations() == {"crm": 1} and len(store.imports()) == 1
    assert store.user_attributes("cy@x")["attributes"] == {}


@pytest.mark.parametrize(("limit", "offset"), [(20, 2**63), (2**63, 0), (-1, 0), (20, -1)])
def test_a_page_of_the_import_log_past_int64_is_a_clear_error(store, limit, offset) -> None:
    """`OFFSET 9223372036854775808` was "datatype mismatch" on SQLite, "bigint out of range" on PostgreSQL."""
    write(store, frame([ADA]))
    with pytest.raises(ValueError, match="must be a whole number from"):
        store.imports("crm", limit=limit, offset=offset)
    assert store.imports("crm", limit=20, offset=2**63 - 1) == []


# Row content hashes (`inbound.store.row_hash`): only rows whose hash is new reach the database.

CAROL = ("carol@x", "free", 3, 1.0, False, None, None)


def test_a_re_import_sends_only_the_new_and_changed_rows(store) -> None:
    first = write(store, frame([ADA, BOB, CAROL]))
    assert first.sent == 3 and first.inserted == 3
    same = write(store, frame([ADA, BOB, CAROL]), etag="e2", force=True)
    assert (same.sent, same.unchanged, same.rows_written, same.values_written) == (0, 3, 0, 0)
    dave = ("dave@x", "gold", 7, None, None, None, None)
    changed = write(store, frame([ADA, ("bob@x", "gold", 1, None, False, None, None), CAROL, dave]), etag="e3")
    assert (changed.sent, changed.inserted, changed.updated, changed.unchanged) == (2, 1, 1, 2)
    assert attrs(store, "bob@x")["plan"] == "gold" and attrs(store, "dave@x")["seats"] == 7
    assert write(store, frame([ADA, ("bob@x", "gold", 1, None, False, None, None), CAROL, dave]), etag="e4").sent == 0


def test_a_kept_blank_is_compared_once_then_known(store) -> None:
    write(store, frame([ADA]))
    blank_plan = ("ada@x", None, 12, 4.5, True, date(2021, 10, 25), SEEN)
    kept = write(store, frame([blank_plan]), etag="e2")  # a new row content, the same stored values
    assert (kept.sent, kept.unchanged, kept.values_written) == (1, 1, 0)
    assert attrs(store, "ada@x")["plan"] == "premium"
    assert write(store, frame([blank_plan]), etag="e3").sent == 0  # its hash was stored


def test_the_blank_rule_is_part_of_the_hash(store) -> None:
    write(store, frame([ADA]))
    blank_plan = ("ada@x", None, 12, 4.5, True, date(2021, 10, 25), SEEN)
    write(store, frame([blank_plan]), etag="e2")  # keep: plan stays, the row's hash is stored
    cleared = write(store, frame([blank_plan]), etag="e3", clear_blanks=True)  # same bytes, another rule
    assert (cleared.sent, cleared.cleared) == (1, 1)
    assert "plan" not in attrs(store, "ada@x")


def test_a_schema_change_clears_the_hashes_so_old_rows_are_not_trusted(store) -> None:
    """Retyped and back: the values cleared on the way must come back from the next file."""
    write(store, frame([ADA, BOB]))
    write(store, frame([BOB]), types={**TYPES, "seats": "string"}, etag="e2")  # ada's seats cleared
    assert "seats" not in attrs(store, "ada@x", {**TYPES, "seats": "string"})
    back = write(store, frame([ADA, BOB]), etag="e3")
    assert back.sent == 2 and attrs(store, "ada@x")["seats"] == 12


def test_mirror_mode_removes_missing_users_when_no_row_changed(store) -> None:
    write(store, frame([ADA, BOB, CAROL]))
    mirrored = write(store, frame([ADA, BOB]), etag="e2", mirror=True)
    assert (mirrored.sent, mirrored.removed, mirrored.unchanged) == (0, 1, 2)
    assert store.user_count("crm") == 2


def test_a_dry_run_compares_by_hash_and_writes_nothing(store) -> None:
    write(store, frame([ADA, BOB]))
    preview = store.preview(
        integration="crm",
        types=TYPES,
        frame=frame([ADA, ("bob@x", "gold", 1, None, False, None, None)]),
        rows_read=2,
        rows_rejected=0,
    )
    assert (preview.sent, preview.updated, preview.unchanged) == (1, 1, 1)
    assert preview.sample[0]["changes"] == {"plan": ["free", "gold"]}
    assert attrs(store, "bob@x")["plan"] == "free"


def test_the_first_import_after_the_upgrade_fills_the_hashes_in(store_url) -> None:
    """A store of schema v3 (no hashes): the upgrade adds them empty, the next import stores them."""
    with open_store(store_url, migrate=True) as store:
        write(store, frame([ADA, BOB]))
        with store.transaction() as cur:  # back to what schema v3 left: the same table without `_hash`
            table = store._tables(cur)["crm"][0]
            cur.execute("DROP VIEW inbound_attributes_v1")
            cur.execute(f"ALTER TABLE {table} DROP COLUMN _hash")
            store._create_view(cur)
            cur.execute("DELETE FROM inbound_schema WHERE version >= 4")
    with pytest.raises(SchemaBehind, match="is at schema version 3"):
        open_store(store_url)
    with open_store(store_url, migrate=True) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert attrs(store, "ada@x")["seats"] == 12
        first = write(store, frame([ADA, BOB]), etag="e2")
        assert (first.sent, first.unchanged, first.values_written) == (2, 2, 0)  # compared in full, once
        assert write(store, frame([ADA, BOB]), etag="e3").sent == 0


@pytest.mark.parametrize("column", ["plan", "user_id"])
def test_a_value_with_a_nul_character_is_refused_with_its_row_and_nothing_is_written(store, column) -> None:
    write(store, frame([ADA]))
    bad = ("bob@x", "fr\x00ee", 1, None, False, None, None) if column == "plan" else ("b\x00b@x", *BOB[1:])
    with pytest.raises(BadFile, match=rf"row 3 of the attribute set: the {column} value contains a NUL"):
        write(store, pl.concat([frame([CAROL]), frame([ADA, bad])]), etag="e2")
    assert attrs(store, "ada@x")["plan"] == "premium" and store.user_count("crm") == 1
