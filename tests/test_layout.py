"""The bucket layout's rules: key patterns, done folders, moved-file and report names, S3 error codes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from inbound.outcome import Outcome
from inbound.s3.layout import (
    S3File,
    belongs_to,
    done_key,
    error_code,
    error_report_key,
    has_wildcards,
    home_folder,
    http_status,
    is_access_denied,
    is_done,
    is_not_found,
    is_precondition_failed,
    is_transient,
    key_pattern,
    listing_prefix,
    original_key,
    own_report_keys,
    readers_report_key,
    rejected_report_key,
)

USERS = S3File("b", "crm/users_1.csv", "etag", 10, "2026-11-28T05:30:07.123456+00:00")


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
        ("crm/users_[.csv", "crm/users_[.csv", True),  # an unclosed class is a literal '['
        ("a.b/*.csv", "aXb/x.csv", False),
    ],
)
def test_key_pattern(pattern: str, key: str, matches: bool) -> None:
    assert bool(key_pattern(pattern).match(key)) is matches


def test_listing_prefix_and_wildcards() -> None:
    assert listing_prefix("crm/users_*.csv") == "crm/users_"
    assert listing_prefix("crm/users.csv") == "crm/users.csv"
    assert has_wildcards("crm/users_*.csv") and has_wildcards("crm/users_[0-9].csv")
    assert not has_wildcards("crm/users.csv")


def test_is_done() -> None:
    assert is_done("crm/success/x.csv") and is_done("failed/x.csv.error.txt")
    assert not is_done("crm/x.csv") and not is_done("success.csv")


def test_a_moved_file_knows_its_home_folder_and_original_key() -> None:
    assert home_folder("crm/users.csv") == "crm/" and home_folder("users.csv") == ""
    assert home_folder("crm/failed/20260101T000000Z_users.csv") == "crm/"
    assert home_folder("failed/20260101T000000Z_users.csv") == ""
    assert original_key("crm/failed/20260101T000000Z_users_1.csv") == "crm/users_1.csv"
    assert original_key("crm/success/20260101T000000Z_20251231T000000Z_x.csv") == "crm/20251231T000000Z_x.csv"
    assert original_key("crm/20260101T000000Z_users.csv") == "crm/20260101T000000Z_users.csv"  # not moved: kept
    assert belongs_to("crm/users_*.csv", "crm/failed/20260101T000000Z_users_1.csv")
    assert not belongs_to("crm/users_*.csv", "hr/failed/20260101T000000Z_users_1.csv")
    assert not belongs_to("crm/users_*.csv", "crm/failed/20260101T000000Z_people.csv")


def test_done_key_is_stamped_with_the_upload_time_in_utc() -> None:
    assert done_key(USERS, Outcome.SUCCESS) == "crm/success/20261128T053007Z_users_1.csv"
    local = S3File("b", "users.csv", "etag", 1, "2026-11-28T06:30:07+01:00")
    assert done_key(local, Outcome.FAILED) == "failed/20261128T053007Z_users.csv"
    moved = S3File("b", "crm/failed/20260101T000000Z_users_1.csv", "e", 1, USERS.last_modified)
    assert done_key(moved, Outcome.SUCCESS) == "crm/success/20261128T053007Z_users_1.csv"  # one stamp, home folder
    with pytest.raises(ValueError, match="outcome must be one of"):
        done_key(USERS, Outcome.PREVIEWED)


def test_report_keys_sit_beside_the_moved_file() -> None:
    final = done_key(USERS, Outcome.FAILED)
    assert rejected_report_key(final) == f"{final}.rejected.csv"
    assert error_report_key(final) == f"{final}.error.txt"
    assert readers_report_key(final) == f"{final}.readers.txt"
    assert rejected_report_key(final, "hr") == f"{final}.hr.rejected.csv"  # a shared file: one per reader
    assert error_report_key(final, "hr") == f"{final}.hr.error.txt"
    assert own_report_keys(final) == [f"{final}.error.txt", f"{final}.rejected.csv"]
    assert all(is_done(key) for key in own_report_keys(final))


def client_error(code: str, status: int = 400, retries: int = 0) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries},
    }
    return ClientError(response, "HeadObject")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "NotFound"])
def test_not_found(code: str) -> None:
    assert is_not_found(client_error(code, 404)) and not is_transient(client_error(code, 404))


def test_error_classification() -> None:
    assert error_code(client_error("SlowDown", 503)) == "SlowDown" and http_status(client_error("x", 503)) == 503
    assert is_transient(client_error("SlowDown", 503)) and is_transient(client_error("", 500))
    assert is_transient(client_error("RequestTimeout", 400))
    assert is_precondition_failed(client_error("PreconditionFailed", 412))
    assert is_access_denied(client_error("AccessDenied", 403)) and is_access_denied(client_error("", 403))
    assert not is_access_denied(client_error("NoSuchKey", 404))
    plain = RuntimeError("no response")
    assert error_code(plain) == "" and http_status(plain) is None
    assert not (is_not_found(plain) or is_transient(plain) or is_access_denied(plain))
