"""The import log (`inbound.store.importlog`) on both backends: entries, outcomes, identity."""

from __future__ import annotations

import json

import polars as pl

from inbound.outcome import Outcome
from inbound.store import FileImport, WriteResult

TYPES = {"plan": "string"}


def crm_file(key: str = "a.csv", etag: str = "e1", config: str = "v1", rows: int = 1) -> FileImport:
    return FileImport("crm", f"s3://b/crm/{key}", etag, config, "test", rows)


def write(store, entry: FileImport, users: tuple[str, ...] = ("ada@x",)) -> WriteResult:
    frame = pl.DataFrame({"user_id": list(users), "plan": ["premium"] * len(users)})
    return store.write_file(entry, types=TYPES, frame=frame)


def test_outcomes_read_back_as_the_one_vocabulary(store) -> None:
    write(store, crm_file())
    store.log_failure(crm_file("b.csv", "e2"), "no user-ID column")
    store.forget("ada@x", "test")
    store.purge("crm", "test")
    log = store.imports("crm")
    assert [r.outcome for r in log] == [Outcome.PURGED, Outcome.FORGOTTEN, Outcome.FAILED, Outcome.SUCCESS]
    assert all(isinstance(r.outcome, Outcome) for r in log)
    assert json.loads(json.dumps(log[-1].to_dict()))["outcome"] == "success"  # the same text as always
    assert [(r.source_file, r.etag, r.removed) for r in log[:2]] == [("-", None, 0), ("-", None, 1)]


def test_an_entry_keeps_the_file_identity(store) -> None:
    entry = FileImport("crm", "s3://b/crm/a.csv", "e1", "v7", "manual__1", rows_read=5, rows_rejected=2)
    store.write_file(entry, types=TYPES, frame=pl.DataFrame({"user_id": ["a", "b", "c"], "plan": ["x"] * 3}))
    (record,) = store.imports("crm")
    assert (record.integration, record.source_file, record.etag, record.config_version, record.triggered_by) == (
        "crm",
        "s3://b/crm/a.csv",
        "e1",
        "v7",
        "manual__1",
    )
    assert (record.rows_read, record.rows_rejected, record.rows_written, record.inserted) == (5, 2, 3, 3)
    assert record.attributes == 1 and record.final_key is None


def test_a_skip_repeats_the_earlier_import_without_writing(store) -> None:
    first = write(store, crm_file(rows=3), users=("a", "b", "c"))
    previous = store.already_imported("crm", "e1", "v1")
    assert previous is not None and previous.id == first.import_id
    again = FileImport("crm", "s3://b/crm/again.csv", "e1", "v1", "airflow:inbound_crm/scheduled__2", 3)
    skip_id = store.log_skip(previous.id, again)
    skipped = store.imports("crm")[0]
    assert (skipped.id, skipped.outcome, skipped.rows_written, skipped.unchanged) == (skip_id, Outcome.SUCCESS, 0, 3)
    assert skipped.error == f"skipped: same content, config and data as import {first.import_id}"
    assert skipped.triggered_by == "airflow:inbound_crm/scheduled__2" and skipped.attributes == previous.attributes
    assert store.log_skip(previous.id, again) == skip_id  # a retried write logs it once
    assert store.import_count("crm") == 2


def test_a_file_that_moved_is_found_where_it_went_last(store) -> None:
    store.log_failure(FileImport("crm", "s3://b/crm/u.csv", "e1", "v1", "run_1"), "bad", final_key="crm/failed/T_u.csv")
    assert store.moved_to("s3://b/crm/u.csv") == ("crm/failed/T_u.csv", "run_1")
    entry = store.log_failure(FileImport("crm", "s3://b/crm/failed/T_u.csv", "e1", "v2", "run_2"), "x")
    store.set_final_key(entry, "crm/success/T_u.csv")
    assert store.moved_to("s3://b/crm/u.csv") == ("crm/success/T_u.csv", "run_2")
    assert store.moved_to("s3://b/crm/never.csv") is None


def test_file_outcomes_name_each_reader_of_one_object_version(store) -> None:
    shared = "s3://b/shared/x.csv"
    store.write_file(
        FileImport("crm", shared, "e1", "v1", "t", 1),
        types=TYPES,
        frame=pl.DataFrame({"user_id": ["a"], "plan": ["x"]}),
    )
    store.log_failure(FileImport("hr", shared, "e1", "v1", "t"), "bad")
    store.log_failure(FileImport("hr", shared, "e2", "v1", "t"), "another version")
    found = store.file_outcomes(shared, "e1")
    assert {name: r.outcome for name, r in found.items()} == {"crm": Outcome.SUCCESS, "hr": Outcome.FAILED}


def test_last_success_and_final_key(store) -> None:
    ok = write(store, crm_file())
    store.set_final_key(ok.import_id, "crm/success/x_a.csv")
    store.log_failure(crm_file("b.csv", "e2"), "broken", final_key="crm/failed/x_b.csv")
    last = store.last_success()
    assert list(last) == ["crm"] and last["crm"].final_key == "crm/success/x_a.csv"


def test_a_write_result_crosses_the_xcom_boundary_intact(store) -> None:
    frame = pl.DataFrame({"user_id": ["a", "b"], "plan": ["x", "y"]})
    write(store, crm_file(rows=2), users=("a",))
    preview = store.preview(integration="crm", types=TYPES, frame=frame, rows_read=2, rows_rejected=0)
    data = json.loads(json.dumps(preview.to_dict()))
    assert data["rows_written"] == preview.rows_written == 2
    assert WriteResult.from_dict(data) == preview
    assert preview.sample == (
        {"user_id": "a", "changes": {"plan": ["premium", "x"]}},
        {
            "user_id": "b",
            "changes": {"plan": [None, "y"]},
        },
    )


def test_the_latest_entries_are_per_integration_asked_and_the_count_is_kept_by_each_append(store) -> None:
    """`last_imports`/`last_success` of the integrations asked (every one without a list); `import_count`
    is the row each append keeps (schema v5), equal to the entries counted."""
    ok = write(store, crm_file())
    store.log_failure(crm_file("b.csv", "e2"), "broken")
    store.log_failure(FileImport("hr", "s3://b/hr/a.csv", "e9", "v1", "t"), "never imported")
    write(store, FileImport("ops", "s3://b/ops/a.csv", "e8", "v1", "t", 1))
    store.purge("ops", "test")
    assert {n: r.outcome for n, r in store.last_imports().items()} == {
        "crm": Outcome.FAILED,
        "hr": Outcome.FAILED,
        "ops": Outcome.PURGED,
    }
    assert {n: r.id for n, r in store.last_success(["crm", "hr", "nobody"]).items()} == {"crm": ok.import_id}
    assert set(store.last_success()) == {"crm", "ops"} and set(store.last_imports(["hr"])) == {"hr"}
    assert store.last_success([]) == {} and store.last_imports(iter(["crm", "crm"]))["crm"].error == "broken"
    assert [store.import_count(n) for n in ("crm", "hr", "ops", "nobody")] == [2, 1, 2, 0]
    many = [f"x{i:04d}" for i in range(1200)] + ["crm"]  # more than one statement's worth of names
    assert set(store.last_imports(many)) == {"crm"}


def test_a_change_after_failures_is_found_without_the_failures(store) -> None:
    """`already_imported` reads the latest entry that changed the data: failures after it do not hide it."""
    first = write(store, crm_file())
    for n in range(3):
        store.log_failure(crm_file(f"bad{n}.csv", f"x{n}"), "broken")
    found = store.already_imported("crm", "e1", "v1")
    assert found is not None and found.id == first.import_id
    store.purge("crm", "test")
    assert store.already_imported("crm", "e1", "v1") is None  # a purge breaks the chain


def test_the_upgrade_to_v5_counts_the_log_and_can_run_again(store) -> None:
    """Schema v5 (indexes and the log sizes) on a v4 store with history; its steps are idempotent."""
    from inbound.store.schema import LOG_SIZE_TABLE, SCHEMA_VERSION

    write(store, crm_file())
    store.log_failure(crm_file("b.csv", "e2"), "broken")
    store.log_failure(FileImport("hr", "s3://b/hr/a.csv", "e9", "v1", "t"), "x")
    with store.transaction() as cur:  # what v4 left: no log sizes (the indexes may stay: IF NOT EXISTS)
        cur.execute(f"DROP TABLE {LOG_SIZE_TABLE}")
        cur.execute("DELETE FROM inbound_schema WHERE version >= 5")
    assert store.migrate() == SCHEMA_VERSION
    assert (store.import_count("crm"), store.import_count("hr")) == (2, 1)
    with store.transaction() as cur:
        for statement in store._migrations()[5]:
            cur.execute(statement)  # a second time: nothing changes, nothing fails
        for step in store._migrations()[6]:
            step(cur) if callable(step) else cur.execute(step)  # v6 (the shape column) again: no error
    assert (store.import_count("crm"), store.import_count("hr")) == (2, 1)
    write(store, crm_file("c.csv", "e3"))
    assert store.import_count("crm") == 3 == len(store.imports("crm"))
