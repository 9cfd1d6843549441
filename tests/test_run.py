"""`inbound.run`: what a run's steps accept from the outside, and what they leave behind.

XCom carries a run's config snapshot, files and staged sets between tasks, and users may
edit XCom: each step checks what it receives against its own integration and run.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import BUCKET, integration_dict
from inbound.config.model import Integration
from inbound.errors import ReceivedInvalid, StageGone
from inbound.results import FileResult
from inbound.run import received
from inbound.s3.layout import S3File
from inbound.s3.source import list_new_files
from inbound.s3.staging import _local
from test_pipeline import GOOD, keys, make_run, put


def _mapped(s3, store, crm, run_id: str = "manual__1"):
    put(s3, "crm/users_1.csv", GOOD)
    run = make_run(s3, store, crm, run_id)
    return run, run.map(list_new_files(s3, BUCKET, crm.source.key))


def test_a_snapshot_of_another_integration_or_config_is_refused(crm) -> None:
    hr = Integration.model_validate(integration_dict("hr"))
    assert received(crm, crm.snapshot()).name == "crm"
    with pytest.raises(ReceivedInvalid, match="was handed the config of 'hr'"):
        received(crm, hr.snapshot())
    changed = Integration.model_validate({**integration_dict("crm"), "max_rejected_ratio": 0.5})
    with pytest.raises(ReceivedInvalid, match="the config changed during the run, or the XCom was edited"):
        received(crm, changed.snapshot())
    forged = {**crm.snapshot(), "config": {**crm.snapshot()["config"], "name": "crm", "max_rejected_ratio": 0.5}}
    with pytest.raises(ReceivedInvalid, match="cannot be read"):  # the version no longer proves the content
        received(crm, forged)
    for garbage in (None, {}, {"config": 3}, "x"):
        with pytest.raises(ReceivedInvalid):
            received(crm, garbage)


@pytest.mark.parametrize(
    "file",
    [
        S3File("other-bucket", "crm/users_1.csv", "e", 1, "2026-12-01T00:00:00+00:00"),
        S3File(BUCKET, "hr/users_1.csv", "e", 1, "2026-12-01T00:00:00+00:00"),
        S3File(BUCKET, "crm/success/20260101T000000Z_users_1.csv.rejected.csv", "e", 1, "2026-12-01T00:00:00+00:00"),
        S3File(BUCKET, "crm/success/", "e", 1, "2026-12-01T00:00:00+00:00"),
    ],
)
def test_a_file_that_is_no_export_of_the_source_is_refused_by_every_step(s3, store, crm, file) -> None:
    run = make_run(s3, store, crm)
    with pytest.raises(ReceivedInvalid, match="not an export of its source"):
        run.map([file])
    with pytest.raises(ReceivedInvalid, match="not an export of its source"):
        run.write([FileResult(s3_file=file)])
    with pytest.raises(ReceivedInvalid, match="not an export of its source"):
        run.finalize([FileResult(s3_file=file)])
    assert store.imports("crm") == []


def test_a_staged_url_outside_this_runs_staging_is_refused_and_nothing_is_written(s3, store, crm, tmp_path) -> None:
    run, (result,) = _mapped(s3, store, crm, "manual__1")
    other = make_run(s3, store, crm, "manual__2")
    assert result.stage is not None
    elsewhere = [
        other.staging.url + "/x/",  # another run's
        result.stage.replace("/manual__1-", "/../manual__1-"),
        result.stage + "%2e%2e/%2e%2e/%2e%2e/elsewhere/",  # `..` once unquoted
        (tmp_path / "anything").as_uri() + "/",
        "s3://other-bucket/anything/",
    ]
    for url in elsewhere:
        with pytest.raises(ReceivedInvalid, match="is not in this run's staging"):
            run.write([replace(result, stage=url)])
    with pytest.raises(ReceivedInvalid, match="is not in this run's staging"):
        other.write([result])  # this run's set, handed to another run
    assert store.imports("crm") == [] and store.user_count("crm") == 0


def test_a_staged_set_that_is_gone_writes_nothing_and_the_file_stays(s3, store, crm) -> None:
    """The store was down at the write; finalize ran; the operator clears upsert_attributes."""
    run, mapped = _mapped(s3, store, crm)
    summary = run.finalize(mapped)  # the write never happened: the set must stay for a re-run
    assert summary.files[0].outcome == "pending" and keys(s3, "crm/") == ["crm/users_1.csv"]
    written = run.write(mapped)  # the cleared task: the set is still there
    assert written[0].write is not None and written[0].write.inserted == 2
    run.finalize(written)
    assert store.user_count("crm") == 2 and keys(s3, "crm/")[0].startswith("crm/success/")

    put(s3, "crm/users_2.csv", GOOD.replace("premium", "pro"))
    run2 = make_run(s3, store, crm, "manual__3")
    mapped2 = run2.map(list_new_files(s3, BUCKET, crm.source.key))
    run2.staging.clear()  # expired by lifecycle, wiped volume, or a finalize of old
    with pytest.raises(StageGone, match="re-run the whole DAG run"):
        run2.write(mapped2)
    assert store.import_count("crm") == 1 and "crm/users_2.csv" in keys(s3, "crm/")


@pytest.mark.parametrize("retried", [True, False])
def test_a_finalize_that_fails_keeps_the_staged_sets_only_for_its_retry(s3, store, crm, retried) -> None:
    """S3 fails under the move (not an error of ours): Airflow retries finalize, which needs the sets."""
    run, mapped = _mapped(s3, store, crm)
    written = run.write(mapped)
    staged = _local(run.staging.url)

    def s3_fails(**_: object) -> None:
        s3.meta.events.unregister("before-call.s3.CopyObject", s3_fails)
        raise ConnectionResetError("S3 went away")

    s3.meta.events.register("before-call.s3.CopyObject", s3_fails)
    with pytest.raises(ConnectionResetError):
        run.finalize(written, retried=retried)
    assert keys(s3, "crm/") == ["crm/users_1.csv"]  # nothing moved
    assert staged.exists() == retried  # the last try leaves nothing behind
    if retried:
        summary = run.finalize(written)
        assert summary.files[0].final_key and keys(s3, "crm/")[0].startswith("crm/success/")
        assert not staged.exists() and store.user_count("crm") == 2


def test_a_skip_is_logged_by_the_write_step_once_with_the_runs_identity(s3, store, crm) -> None:
    run, mapped = _mapped(s3, store, crm, "manual__1")
    run.finalize(run.write(mapped))
    put(s3, "crm/users_2.csv", GOOD)  # the same content again
    again = make_run(s3, store, crm, "manual__2")
    mapped = again.map(list_new_files(s3, BUCKET, crm.source.key))
    assert mapped[0].repeat_of is not None and store.import_count("crm") == 1  # mapping writes nothing
    first, retried = again.write(mapped), again.write(mapped)  # the task ran twice
    assert first[0].write.import_id == retried[0].write.import_id
    again.finalize(retried)
    entries = store.imports("crm")
    assert len(entries) == 2 and entries[0].triggered_by == "test" and entries[0].error.startswith("skipped")
    assert entries[0].final_key.startswith("crm/success/") and entries[0].final_key.endswith("_users_2.csv")
