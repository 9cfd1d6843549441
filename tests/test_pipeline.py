"""The steps of a run against moto's in-process S3 and both stores."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from conftest import BUCKET, integration_dict
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.pipeline.steps import Identity, finalize, upsert_attributes, validate_and_map
from inbound.results import FileResult
from inbound.run import Run
from inbound.s3.source import head_file, list_new_files
from inbound.s3.staging import Staging

GOOD = "Email,Plan,Open Tickets,Extra\nada@x,premium,3,z\nbob@x,free,0,z\n"


def staging_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="inbound-staging-"))


def put(s3, key: str, body: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def keys(s3, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def make_run(s3, store, integration, run_id: str | None = None, **options) -> Run:
    """A run of one integration that no other reads (an empty catalog)."""
    return Run(
        integration,
        s3,
        store,
        run_id=run_id or f"run_{time.time_ns()}",
        triggered_by="test",
        catalog=Catalog(),
        **options,
    )


def run(s3, store, integration):
    files = list_new_files(s3, BUCKET, integration.source.key)
    return make_run(s3, store, integration)(files)


def test_good_file_is_imported_and_moved_to_success(s3, store, crm) -> None:
    put(s3, "crm/users_1.csv", GOOD)
    summary = run(s3, store, crm)
    assert summary.outcome == "success"
    assert (summary.rows_read, summary.rows_written, summary.rows_rejected) == (2, 2, 0)
    assert store.user_attributes("ada@x", crm.attribute_types)["attributes"] == {"open_tickets": 3, "plan": "premium"}
    (moved,) = keys(s3, "crm/")
    assert moved.startswith("crm/success/") and moved.endswith("_users_1.csv")
    assert summary.files[0].final_key == moved
    (entry,) = store.imports("crm")
    assert entry.outcome == "success" and entry.final_key == moved and entry.config_version == crm.version
    assert run(s3, store, crm).outcome == "no new file"


def test_file_without_user_id_column_fails_and_store_is_untouched(s3, store, crm) -> None:
    put(s3, "crm/users_1.csv", "Mail,Plan,Open Tickets\nada@x,premium,3\n")
    summary = run(s3, store, crm)
    assert summary.outcome == "failed"
    assert store.user_attributes("ada@x", crm.attribute_types)["attributes"] == {}
    moved, report = keys(s3, "crm/")
    assert moved.startswith("crm/failed/") and report == f"{moved}.error.txt"
    text = s3.get_object(Bucket=BUCKET, Key=report)["Body"].read().decode()
    assert "user-ID column 'Email' is not in the file's header" in text
    assert "s3://acme-exports/crm/users_1.csv" in text and "crm" in text
    (entry,) = store.imports("crm")
    assert entry.outcome == "failed" and "user-ID column" in entry.error and entry.final_key == moved


def test_rejected_rows_within_threshold_import_the_rest_with_a_report(s3, store, crm) -> None:
    rows = "".join(f"u{i}@x,p,{i}\n" for i in range(40)) + "bad@x,p,many\n"
    put(s3, "crm/users_1.csv", "Email,Plan,Open Tickets\n" + rows)
    summary = run(s3, store, crm)
    assert summary.outcome == "success" and summary.rows_rejected == 1 and summary.rows_written == 40
    moved, report = keys(s3, "crm/")
    assert report == f"{moved}.rejected.csv"
    text = s3.get_object(Bucket=BUCKET, Key=report)["Body"].read().decode()
    assert text.splitlines()[0] == "line,user_id,column,value,reason"
    assert text.splitlines()[1].startswith("42,bad@x,Open Tickets,many,not a whole number")


def test_too_many_rejected_rows_fail_the_whole_file(s3, store, crm) -> None:
    put(s3, "crm/users_1.csv", "Email,Plan,Open Tickets\nada@x,p,1\nbob@x,p,x\n")
    summary = run(s3, store, crm)
    assert summary.outcome == "failed" and "more than max_rejected_ratio" in summary.files[0].error
    assert store.user_attributes("ada@x", crm.attribute_types)["attributes"] == {}
    moved = summary.files[0].final_key
    assert keys(s3, "crm/") == [moved, f"{moved}.error.txt", f"{moved}.rejected.csv"]


def test_files_are_processed_oldest_first_each_on_its_own(s3, store, crm) -> None:
    put(s3, "crm/users_b.csv", "Email,Plan,Open Tickets\nada@x,free,1\n")
    time.sleep(1.1)
    put(s3, "crm/users_a.csv", "Email,Plan,Open Tickets\nada@x,premium,2\n")
    time.sleep(1.1)
    put(s3, "crm/users_c.csv", "nothing useful\n")
    summary = run(s3, store, crm)
    assert [f.s3_file.key for f in summary.files] == ["crm/users_b.csv", "crm/users_a.csv", "crm/users_c.csv"]
    assert [f.outcome for f in summary.files] == ["success", "success", "failed"]
    assert store.user_attributes("ada@x", crm.attribute_types)["attributes"] == {
        "open_tickets": 2,
        "plan": "premium",
    }  # the newest wins
    assert summary.outcome == "failed"


def test_a_file_whose_run_broke_off_stays_for_the_next_run(s3, store, crm) -> None:
    put(s3, "crm/users_1.csv", GOOD)
    pending = FileResult(s3_file=head_file(s3, BUCKET, "crm/users_1.csv"))
    assert finalize(s3, store, Identity(crm, "test"), pending).final_key is None
    assert keys(s3, "crm/") == ["crm/users_1.csv"]


def test_mirror_guard_fails_the_file_and_force_overrides(s3, store) -> None:
    mirror = Integration.model_validate(
        integration_dict("crm", mode="mirror", attributes=[{"column": "Plan", "name": "plan"}])
    )
    put(s3, "crm/users_1.csv", "Email,Plan\n" + "".join(f"u{i}@x,free\n" for i in range(10)))
    assert run(s3, store, mirror).outcome == "success"
    put(s3, "crm/users_2.csv", "Email,Plan\nu0@x,free\nu1@x,free\n")  # a truncated export
    summary = run(s3, store, mirror)
    assert summary.outcome == "failed" and "would remove 8 of 10 users" in summary.files[0].error
    assert store.user_count("crm") == 10
    put(s3, "crm/users_3.csv", "Email,Plan\nu0@x,free\nu1@x,free\n")
    files = list_new_files(s3, BUCKET, mirror.source.key)
    forced = make_run(s3, store, mirror, "forced", force=True)(files)
    assert forced.outcome == "success" and forced.total("removed") == 8 and store.user_count("crm") == 2


def test_dry_run_writes_nothing_and_leaves_the_file(s3, store, crm) -> None:
    put(s3, "crm/users_1.csv", GOOD)
    files = list_new_files(s3, BUCKET, crm.source.key)
    summary = make_run(s3, store, crm, "dry", dry_run=True)(files)
    assert summary.outcome == "previewed" and summary.total("inserted") == 2
    assert any("ada@x" in line for line in summary.lines())
    assert keys(s3, "crm/") == ["crm/users_1.csv"] and store.user_count("crm") == 0 and store.imports("crm") == []


def test_an_identical_file_is_skipped_without_download(s3, store, crm) -> None:
    put(s3, "crm/users_1.csv", GOOD)
    run(s3, store, crm)
    put(s3, "crm/users_2.csv", GOOD)  # the same content again, under another name
    summary = run(s3, store, crm)
    assert summary.outcome == "success" and summary.files[0].write.skipped is True
    assert summary.files[0].final_key.startswith("crm/success/")
    assert "skipped" in store.imports("crm")[0].error


def test_config_changes_removed_renamed_and_retyped_attributes(s3, store, crm) -> None:
    """Removed/renamed: not served at once, gone from the store with the next run; retyped: re-read."""
    put(s3, "crm/users_1.csv", GOOD)
    run(s3, store, crm)
    renamed = Integration.model_validate(
        integration_dict(
            "crm",
            attributes=[
                {"column": "Plan", "name": "tier"},
                {"column": "Open Tickets", "name": "open_tickets", "type": "number"},
            ],
        )
    )
    served = store.user_attributes("ada@x", renamed.attribute_types)["attributes"]
    assert served == {"open_tickets": 3.0}  # `plan` is no longer declared: not served, even before a run
    put(s3, "crm/users_2.csv", GOOD.replace("premium", "gold"))
    run(s3, store, renamed)
    assert store.user_attributes("ada@x")["attributes"] == {
        "tier": "gold",
        "open_tickets": "3.0",
    }  # `plan` is gone, re-typed
    assert store.user_attributes("ada@x", renamed.attribute_types)["attributes"] == {
        "tier": "gold",
        "open_tickets": 3.0,
    }


def test_a_run_that_died_after_the_commit_and_before_the_move_is_finished_without_a_second_import(
    s3, store, crm
) -> None:
    """The idempotency record (key, ETag, config version) even when a newer file was imported since."""
    put(s3, "crm/users_a.csv", "Email,Plan,Open Tickets\nada@x,old,1\n")
    (file,) = list_new_files(s3, BUCKET, crm.source.key)
    staged = validate_and_map(s3, crm, file, Staging.folder(staging_dir()))
    written = upsert_attributes(store, Identity(crm, "test"), staged)
    assert written.write.rows_written == 1  # committed; the process dies before finalize
    time.sleep(1.1)
    put(s3, "crm/users_b.csv", "Email,Plan,Open Tickets\nada@x,new,2\n")
    newer = head_file(s3, BUCKET, "crm/users_b.csv")
    make_run(s3, store, crm, "newer")([newer])  # a newer export is imported meanwhile
    summary = run(s3, store, crm)  # the next run finds the old file again
    (again,) = summary.files
    assert again.s3_file.key == "crm/users_a.csv" and again.write.skipped is True
    assert again.final_key.startswith("crm/success/")
    assert store.user_attributes("ada@x")["attributes"]["plan"] == "new"  # not overwritten by the older file
    written_rows = sorted((e.source_file.rsplit("/", 1)[-1], e.rows_written) for e in store.imports("crm"))
    assert written_rows == [("users_a.csv", 0), ("users_a.csv", 1), ("users_b.csv", 1)]  # one import + one skip


def test_a_file_overwritten_while_it_is_processed_stays_for_the_next_run(s3, store, crm) -> None:
    put(s3, "crm/users_1.csv", "Email,Plan,Open Tickets\nada@x,v1,1\n")
    (file,) = list_new_files(s3, BUCKET, crm.source.key)
    staged = validate_and_map(s3, crm, file, Staging.folder(staging_dir()))
    put(s3, "crm/users_1.csv", "Email,Plan,Open Tickets\nada@x,v2,2\n")  # the producer rewrites it
    who = Identity(crm, "test")
    done = finalize(s3, store, who, upsert_attributes(store, who, staged))
    assert done.final_key is None and keys(s3, "crm/") == ["crm/users_1.csv"]  # v2 is not moved away unread
    summary = run(s3, store, crm)
    assert summary.outcome == "success" and summary.files[0].final_key.startswith("crm/success/")
    assert store.user_attributes("ada@x")["attributes"]["plan"] == "v2"


def test_a_formula_in_a_rejected_value_is_neutralized_in_the_report(s3, store, crm) -> None:
    rows = "".join(f"u{i}@x,p,{i}\n" for i in range(40))
    put(s3, "crm/users_1.csv", "Email,Plan,Open Tickets\n" + rows + "bad@x,p,=cmd|' /C calc'!A0\n+x@x,p,@SUM(1)\n")
    summary = run(s3, store, crm)
    assert summary.outcome == "success" and summary.rows_rejected == 2
    moved = summary.files[0].final_key
    text = s3.get_object(Bucket=BUCKET, Key=f"{moved}.rejected.csv")["Body"].read().decode()
    lines = text.splitlines()
    assert lines[1].startswith("42,bad@x,Open Tickets,'=cmd|' /C calc'!A0,")
    assert lines[2].startswith("43,'+x@x,Open Tickets,'@SUM(1),")


def test_a_large_rejected_rows_report_streams_to_s3_in_parts(s3, store, crm, monkeypatch) -> None:
    """The report goes from a local file to S3 in parts (a multipart upload), never as one string."""
    from inbound.s3 import source

    monkeypatch.setattr(source, "REPORT_PART_BYTES", 5 * 1024 * 1024)
    crm = crm.model_copy(update={"max_rejected_ratio": 1.0})
    bad = "".join(f"user{i:06d}@example.com,plan,not-a-number-{'x' * 40}\n" for i in range(60_000))
    put(s3, "crm/users_1.csv", "Email,Plan,Open Tickets\nada@x,p,1\n" + bad)
    summary = run(s3, store, crm)
    assert summary.outcome == "success" and summary.rows_rejected == 60_000
    key = f"{summary.files[0].final_key}.rejected.csv"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] > 5 * 1024 * 1024 and head["ETag"].strip('"').endswith("-2")  # two parts
    assert head["ContentType"] == "text/csv; charset=utf-8"
    lines = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    assert len(lines) == 60_001 and lines[1].startswith("3,user000000@example.com,Open Tickets,")


def test_an_unexpected_error_fails_that_file_only_and_the_run_goes_on(s3, store, crm, monkeypatch) -> None:
    """Not a data problem we know, not a service down: the file goes to failed/ as an internal error."""
    from inbound.pipeline import batches

    put(s3, "crm/users_a.csv", "Email,Plan,Open Tickets\nada@x,boom,1\n")
    time.sleep(1.1)
    put(s3, "crm/users_b.csv", GOOD)
    real = batches.map_batch

    def flaky(table, integration, **options):
        if "boom" in str(table.frame.rows()):
            raise ValueError("secret value boom")
        return real(table, integration, **options)

    monkeypatch.setattr(batches, "map_batch", flaky)
    summary = run(s3, store, crm)
    failed, good = summary.files
    assert failed.outcome == "failed" and failed.problem == "internal"
    assert "internal error in validate_and_map (ValueError)" in failed.error and "boom" not in failed.error
    assert good.outcome == "success" and store.user_attributes("bob@x")["attributes"]["plan"] == "free"
    text = s3.get_object(Bucket=BUCKET, Key=f"{failed.final_key}.error.txt")["Body"].read().decode()
    assert "internal error" in text and "task log" in text


def test_an_unexpected_store_error_fails_the_file_and_an_unavailable_store_retries(s3, store, crm, monkeypatch) -> None:
    from inbound.errors import StoreUnavailable

    put(s3, "crm/users_1.csv", GOOD)

    def broken(*args, **kwargs):
        raise KeyError("x")

    monkeypatch.setattr(store, "write_file", broken)
    summary = run(s3, store, crm)
    assert summary.outcome == "failed" and "internal error in upsert_attributes (KeyError)" in summary.files[0].error
    put(s3, "crm/users_2.csv", GOOD)

    def down(*args, **kwargs):
        raise StoreUnavailable("the attribute store's database is unavailable")

    monkeypatch.setattr(store, "write_file", down)
    with pytest.raises(StoreUnavailable):
        run(s3, store, crm)
    assert "crm/users_2.csv" in keys(s3, "crm/")  # the file stays for the retry


def test_a_dry_runs_task_log_lines_carry_counts_not_values(s3, store, crm) -> None:
    put(s3, "crm/users_1.csv", GOOD)
    summary = make_run(s3, store, crm, "dry", dry_run=True)(list_new_files(s3, BUCKET, crm.source.key))
    assert any("ada@x" in line for line in summary.lines())  # the CLI shows the sample it was asked for
    logged = "\n".join(summary.lines(values=False))
    assert "ada@x" not in logged and "premium" not in logged and "2 inserted" in logged


def test_a_dry_runs_answer_for_xcom_carries_no_values(s3, store, crm) -> None:
    """What the DAG hands on and answers (XCom, and the log line Airflow writes of a return value)."""
    put(s3, "crm/users_1.csv", GOOD)
    summary = make_run(s3, store, crm, "dry", dry_run=True)(list_new_files(s3, BUCKET, crm.source.key))
    assert "ada@x" in str(summary.to_json())  # `inbound preview --json` shows the sample it was asked for
    handed = str(summary.to_json(values=False))
    assert "ada@x" not in handed and "premium" not in handed and "'inserted': 2" in handed
