from __future__ import annotations

import time

import pytest

from conftest import BUCKET
from inbound.source import (
    FileChanged,
    head_file,
    is_done,
    key_pattern,
    list_new_files,
    listing_prefix,
    move_file,
    read_file,
)


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("crm/users_*.csv", "crm/users_1.csv", True),
        ("crm/users_*.csv", "crm/success/users_1.csv", False),
        ("crm/*.csv", "crm/success/20260101T000000Z_users.csv", False),
        ("crm/*.csv", "crm/sub/x.csv", False),
        ("crm/users.csv", "crm/users.csv", True),
        ("crm/users.csv", "crm/users.csv.bak", False),
        ("crm/users_?.csv", "crm/users_1.csv", True),
        ("crm/users_[0-9].csv", "crm/users_7.csv", True),
        ("crm/users_[!0-9].csv", "crm/users_7.csv", False),
        ("a.b/*.csv", "aXb/x.csv", False),
    ],
)
def test_key_pattern(pattern: str, key: str, matches: bool) -> None:
    assert bool(key_pattern(pattern).match(key)) is matches


def test_listing_prefix() -> None:
    assert listing_prefix("crm/users_*.csv") == "crm/users_"
    assert listing_prefix("crm/users.csv") == "crm/users.csv"


def test_is_done() -> None:
    assert is_done("crm/success/x.csv") and is_done("failed/x.csv.error.txt")
    assert not is_done("crm/x.csv") and not is_done("success.csv")


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
    target = move_file(s3, file, "success")
    assert target.startswith("crm/success/") and target.endswith("Z_users_1.csv")
    assert s3.get_object(Bucket=BUCKET, Key=target)["Body"].read() == b"Email\na@x\n"
    assert list_new_files(s3, BUCKET, "crm/users_*.csv") == []
    assert move_file(s3, file, "success") == target  # a retried task finds its own move


def test_a_file_rewritten_after_reading_is_not_moved(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"v1")
    file = head_file(s3, BUCKET, "crm/users_1.csv")
    assert read_file(s3, file) == b"v1"
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"v2")
    with pytest.raises(FileChanged):
        move_file(s3, file, "success")
    assert s3.get_object(Bucket=BUCKET, Key="crm/users_1.csv")["Body"].read() == b"v2"


def test_a_moved_file_knows_its_home_folder_and_original_key() -> None:
    from inbound.source import belongs_to, home_folder, original_key

    assert home_folder("crm/users.csv") == "crm/" and home_folder("users.csv") == ""
    assert home_folder("crm/failed/20260101T000000Z_users.csv") == "crm/"
    assert home_folder("failed/20260101T000000Z_users.csv") == ""
    assert original_key("crm/failed/20260101T000000Z_users_1.csv") == "crm/users_1.csv"
    assert original_key("crm/success/20260101T000000Z_20251231T000000Z_x.csv") == "crm/20251231T000000Z_x.csv"
    assert original_key("crm/20260101T000000Z_users.csv") == "crm/20260101T000000Z_users.csv"  # not moved: kept
    assert belongs_to("crm/users_*.csv", "crm/failed/20260101T000000Z_users_1.csv")
    assert not belongs_to("crm/users_*.csv", "hr/failed/20260101T000000Z_users_1.csv")
    assert not belongs_to("crm/users_*.csv", "crm/failed/20260101T000000Z_people.csv")


def test_a_file_reimported_from_failed_moves_to_its_home_success_folder(s3) -> None:
    from conftest import BUCKET
    from inbound.source import head_file, move_file

    failed = "crm/failed/20260101T000000Z_users_1.csv"
    s3.put_object(Bucket=BUCKET, Key=failed, Body=b"Email\nada@x\n")
    s3.put_object(Bucket=BUCKET, Key=f"{failed}.error.txt", Body=b"old reason")
    s3.put_object(Bucket=BUCKET, Key=f"{failed}.rejected.csv", Body=b"old rows")
    file = head_file(s3, BUCKET, failed)
    target = move_file(s3, file, "success")
    assert target.startswith("crm/success/") and target.endswith("Z_users_1.csv") and target.count("Z_") == 1
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [target]  # the file and its stale reports left failed/


def test_completion_marker_holds_files_until_the_export_is_complete(s3) -> None:
    from conftest import BUCKET
    from inbound.source import list_new_files

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
