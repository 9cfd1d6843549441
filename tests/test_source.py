from __future__ import annotations

import time

import pytest

from conftest import BUCKET
from inbound.errors import FileChanged, SourceUnavailable, UnknownKey
from inbound.outcome import Outcome
from inbound.s3.source import head_file, list_new_files, move_file, named_file, read_file, s3_errors, write_text


def test_lists_new_files_oldest_first_and_never_done_ones(s3) -> None:
    for key in ["crm/users_b.csv", "crm/users_a.csv"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"Email\n")
        time.sleep(1.1)  # S3 LastModified has one-second resolution
    s3.put_object(Bucket=BUCKET, Key="crm/success/20260101T000000Z_users_c.csv", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="crm/failed/20260101T000000Z_users_d.csv", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="crm/other.csv", Body=b"x")
    files = list_new_files(s3, BUCKET, "crm/users_*.csv")
    assert [f.key for f in files] == ["crm/users_b.csv", "crm/users_a.csv"]
    assert files[0].etag and files[0].size == 6
    assert {f.key for f in list_new_files(s3, BUCKET, "crm/*.csv")} == {
        "crm/users_a.csv",
        "crm/users_b.csv",
        "crm/other.csv",
    }


def test_move_is_repeatable_and_keeps_name(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email\na@x\n")
    file = head_file(s3, BUCKET, "crm/users_1.csv")
    target = move_file(s3, file, Outcome.SUCCESS)
    assert target.startswith("crm/success/") and target.endswith("Z_users_1.csv")
    assert s3.get_object(Bucket=BUCKET, Key=target)["Body"].read() == b"Email\na@x\n"
    assert list_new_files(s3, BUCKET, "crm/users_*.csv") == []
    assert move_file(s3, file, Outcome.SUCCESS) == target  # a retried task finds its own move


def test_a_file_rewritten_after_reading_is_not_moved(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"v1")
    file = head_file(s3, BUCKET, "crm/users_1.csv")
    assert read_file(s3, file) == b"v1"
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"v2")
    with pytest.raises(FileChanged):
        move_file(s3, file, Outcome.SUCCESS)
    assert s3.get_object(Bucket=BUCKET, Key="crm/users_1.csv")["Body"].read() == b"v2"


def test_a_file_reimported_from_failed_moves_to_its_home_success_folder(s3) -> None:
    failed = "crm/failed/20260101T000000Z_users_1.csv"
    s3.put_object(Bucket=BUCKET, Key=failed, Body=b"Email\nada@x\n")
    s3.put_object(Bucket=BUCKET, Key=f"{failed}.error.txt", Body=b"old reason")
    s3.put_object(Bucket=BUCKET, Key=f"{failed}.rejected.csv", Body=b"old rows")
    file = head_file(s3, BUCKET, failed)
    target = move_file(s3, file, Outcome.SUCCESS)
    assert target.startswith("crm/success/") and target.endswith("Z_users_1.csv") and target.count("Z_") == 1
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [target]  # the file and its stale reports left failed/


def test_completion_marker_holds_files_until_the_export_is_complete(s3) -> None:
    pattern = "hr/2026-11-28/part-*.csv"
    s3.put_object(Bucket=BUCKET, Key="hr/2026-11-28/part-1.csv", Body=b"Email\n")
    assert list_new_files(s3, BUCKET, pattern, "_SUCCESS") == []  # no marker yet
    assert len(list_new_files(s3, BUCKET, pattern)) == 1  # without a marker setting: read at once
    time.sleep(1.1)
    s3.put_object(Bucket=BUCKET, Key="hr/2026-11-28/part-2.csv", Body=b"Email\n")
    time.sleep(1.1)
    s3.put_object(Bucket=BUCKET, Key="hr/2026-11-28/_SUCCESS", Body=b"")
    assert [f.name for f in list_new_files(s3, BUCKET, pattern, "_SUCCESS")] == ["part-1.csv", "part-2.csv"]
    time.sleep(1.1)
    s3.put_object(Bucket=BUCKET, Key="hr/2026-11-28/part-3.csv", Body=b"Email\n")  # the next export begins
    assert [f.name for f in list_new_files(s3, BUCKET, pattern, "_SUCCESS")] == ["part-1.csv", "part-2.csv"]
    assert [f.name for f in list_new_files(s3, BUCKET, "hr/2026-11-28/*", "_SUCCESS")] == ["part-1.csv", "part-2.csv"]


def test_named_file_must_be_one_of_the_sources_files(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/failed/20260101T000000Z_users_1.csv", Body=b"Email\n")
    found = named_file(s3, BUCKET, "crm/users_*.csv", "crm/failed/20260101T000000Z_users_1.csv")
    assert found.key == "crm/failed/20260101T000000Z_users_1.csv" and found.size == 6
    with pytest.raises(UnknownKey, match=r"'hr/users_1.csv' does not match source.key 'crm/users_\*.csv'"):
        named_file(s3, BUCKET, "crm/users_*.csv", "hr/users_1.csv")
    with pytest.raises(UnknownKey, match=r"does not exist \(list the folder: aws s3 ls s3://acme-exports/crm/"):
        named_file(s3, BUCKET, "crm/users_*.csv", "crm/users_2.csv")


def test_a_file_removed_after_reading_is_not_moved(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"v1")
    file = head_file(s3, BUCKET, "crm/users_1.csv")
    s3.delete_object(Bucket=BUCKET, Key="crm/users_1.csv")
    with pytest.raises(FileChanged, match="was removed after it was read"):
        move_file(s3, file, Outcome.FAILED)


def test_a_file_another_reader_moves_at_the_same_moment_is_found_moved_not_failed(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email\na@x\n")
    file = head_file(s3, BUCKET, "crm/users_1.csv")
    raced: list[str] = []

    def other_reader_moves_first(**_: object) -> None:  # between our look at the file and our copy
        s3.meta.events.unregister("before-call.s3.CopyObject", other_reader_moves_first)
        raced.append(move_file(s3, file, Outcome.SUCCESS))

    s3.meta.events.register("before-call.s3.CopyObject", other_reader_moves_first)
    target = move_file(s3, file, Outcome.SUCCESS)
    assert raced == [target]
    assert s3.get_object(Bucket=BUCKET, Key=target)["Body"].read() == b"Email\na@x\n"
    assert list_new_files(s3, BUCKET, "crm/users_*.csv") == []


def test_a_file_removed_between_the_look_and_the_copy_is_not_moved(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"v1")
    file = head_file(s3, BUCKET, "crm/users_1.csv")

    def removed(**_: object) -> None:
        s3.meta.events.unregister("before-call.s3.CopyObject", removed)
        s3.delete_object(Bucket=BUCKET, Key="crm/users_1.csv")

    s3.meta.events.register("before-call.s3.CopyObject", removed)
    with pytest.raises(FileChanged, match="was removed after it was read"):
        move_file(s3, file, Outcome.SUCCESS)


def test_write_text_is_utf8_with_its_content_type(s3) -> None:
    write_text(s3, BUCKET, "crm/failed/x.csv.error.txt", "Grund: Umlaut ä")
    obj = s3.get_object(Bucket=BUCKET, Key="crm/failed/x.csv.error.txt")
    assert obj["Body"].read().decode("utf-8") == "Grund: Umlaut ä"
    assert obj["ContentType"] == "text/plain; charset=utf-8"


def test_s3_errors_turns_what_outlived_the_retries_into_source_unavailable() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    def fail(code: str, status: int) -> ClientError:
        meta = {"HTTPStatusCode": status, "RetryAttempts": 7}
        error = {"Code": code, "Message": "Reduce your request rate"}
        return ClientError({"Error": error, "ResponseMetadata": meta}, "GetObject")  # type: ignore[arg-type]

    slow_down = r"reading s3://b/k: S3 answered SlowDown \(Reduce your request rate\) 8 times"
    with pytest.raises(SourceUnavailable, match=slow_down), s3_errors("reading s3://b/k"):
        raise fail("SlowDown", 503)
    unreachable = "listing s3://b/x: S3 could not be reached"
    with pytest.raises(SourceUnavailable, match=unreachable), s3_errors("listing s3://b/x"):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ClientError), s3_errors("reading s3://b/k"):  # not worth retrying: the caller decides
        raise fail("AccessDenied", 403)
