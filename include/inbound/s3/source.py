"""The S3 side's calls: which files are new, their bytes, where they go when done, the reports.

Works on a plain boto3 S3 client, so it runs the same in an Airflow task (the client
comes from the integration's AWS connection), in the CLI and in tests. Where things are
in the bucket (done folders, moved-file names, report names, what S3's error codes mean)
is `inbound.s3.layout`; this module only makes the calls.

Every call that reads or writes goes through `s3_errors`: what still fails after the
client's own retries (`S3_RETRIES`) becomes one `SourceUnavailable` naming the object, so
the task retries and the file stays where it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inbound.errors import FileChanged, MissingKey, SourceUnavailable, UnknownKey
from inbound.outcome import Outcome
from inbound.s3 import layout
from inbound.s3.layout import S3File

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

# How boto3 clients for sources retry: "standard" mode backs off exponentially with jitter
# on throttling (503 SlowDown), 5xx answers and connection errors.
S3_RETRIES = {"mode": "standard", "total_max_attempts": 8}  # the first request and 7 retries


@contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Turn S3 failures that outlived the retries into one clear `SourceUnavailable`.

    A request S3 refused for a reason of its own (a missing key, access denied) passes
    through unchanged: retrying would not help.
    """
    # Imported here, not at the top: botocore costs ~35 ms, and the DAG files, the sensor and
    # `inbound.airflow.connections` (so every CLI command that opens the store) import this module.
    from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        yield
    except ClientError as exc:
        if not layout.is_transient(exc):
            raise
        answer = layout.error_code(exc) or layout.http_status(exc)
        raise SourceUnavailable(
            f"{what}: S3 answered {answer} ({layout.error_message(exc)}) {layout.retry_attempts(exc) + 1} times, "
            "with back-off in between; nothing was moved or written, the task retries later"
        ) from None
    except (BotoConnectionError, HTTPClientError, IncompleteReadError) as exc:
        raise SourceUnavailable(
            f"{what}: S3 could not be reached ({exc}); nothing was moved or written, the task retries later"
        ) from None


def list_new_files(client: S3Client, bucket: str, pattern: str, marker: str | None = None) -> list[S3File]:
    """Files matching the pattern that no run has moved yet, oldest first (then by key).

    With a completion `marker`, only files of folders whose marker object is at least as
    new as the file: an export written as several objects is read once it is complete.
    """
    with s3_errors(f"listing s3://{bucket}/{pattern}"):
        s3_files = matching_files(bucket, pattern, _listed(client, bucket, pattern))
        if marker:
            s3_files = [f for f in s3_files if f.name != marker]
            marked = {folder: _marked(client, bucket, f"{folder}{marker}") for folder in {f.folder for f in s3_files}}
            s3_files = complete_files(s3_files, marked)
    return s3_files


def listing_request(bucket: str, pattern: str) -> dict[str, str]:
    """The ListObjectsV2 arguments that find a pattern's files (the async trigger sends the same)."""
    request = {"Bucket": bucket, "Prefix": layout.listing_prefix(pattern)}
    delimiter = layout.listing_delimiter(pattern)
    if delimiter:
        request["Delimiter"] = delimiter
    return request


def _listed(client: S3Client, bucket: str, pattern: str) -> Iterator[Mapping[str, Any]]:
    for page in client.get_paginator("list_objects_v2").paginate(**listing_request(bucket, pattern)):  # type: ignore[arg-type]
        yield from page.get("Contents", [])


def _marked(client: S3Client, bucket: str, key: str) -> datetime | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)["LastModified"]
    except Exception as exc:
        if not layout.is_not_found(exc):
            raise
        return None


def matching_files(bucket: str, pattern: str, objects: Iterable[Mapping[str, Any]]) -> list[S3File]:
    """The listed objects (ListObjectsV2 `Contents` entries) that are new files of the pattern, oldest first."""
    regex = layout.key_pattern(pattern)
    s3_files = [
        S3File(bucket, obj["Key"], obj["ETag"].strip('"'), obj["Size"], _iso(obj["LastModified"]))
        for obj in objects
        if not obj["Key"].endswith("/") and not layout.is_done(obj["Key"]) and regex.match(obj["Key"])
    ]
    return sorted(s3_files, key=lambda f: (f.last_modified, f.key))


def complete_files(s3_files: Iterable[S3File], marked: Mapping[str, datetime | None]) -> list[S3File]:
    """The files whose folder holds a marker written at or after them (`marked`: folder -> its marker's time)."""
    return [
        f
        for f in s3_files
        if (written := marked.get(f.folder)) is not None and written >= datetime.fromisoformat(f.last_modified)
    ]


def listing_digest(s3_files: Iterable[S3File]) -> str:
    """A short digest of a listing (each file's key and ETag): equal digests, same files.

    The waiting trigger fires only when the listing differs from the one the worker last
    found nothing to do in, so a source holding only files this integration is done with
    (a shared file the other readers still read) does not wake the worker on every poll.
    """
    digest = hashlib.blake2b(digest_size=12)
    for f in sorted(s3_files, key=lambda f: f.key):
        digest.update(f"{f.key}\0{f.etag}\n".encode())
    return digest.hexdigest()


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def head_file(client: S3Client, bucket: str, key: str) -> S3File:
    """The current version of one key (for `--key` runs); raises if it does not exist."""
    obj = client.head_object(Bucket=bucket, Key=key)
    return S3File(bucket, key, obj["ETag"].strip('"'), obj["ContentLength"], _iso(obj["LastModified"]))


def named_file(client: S3Client, bucket: str, pattern: str, key: str) -> S3File:
    """One file asked for by key (`inbound run --key`, the DAG's `key` param).

    It may sit in `failed/` or `success/` (a re-import after a fix); it must be one of
    this source's exports, so a typo never imports another integration's export, and a
    report beside a moved file (or a folder) is never read as one.
    """
    if key.endswith("/") or not key:
        raise UnknownKey(f"s3://{bucket}/{key} is a folder, not a file: name one export of source.key {pattern!r}")
    if layout.is_report(key):
        raise UnknownKey(
            f"s3://{bucket}/{key} is a report a run wrote beside a moved file, not an export: re-import the file "
            "it belongs to (the key without the report's suffix)"
        )
    if not layout.belongs_to(pattern, key):
        raise UnknownKey(
            f"s3://{bucket}/{key} is not a file of this source: {layout.original_key(key)!r} does not match "
            f"source.key {pattern!r}"
        )
    try:
        with s3_errors(f"looking up s3://{bucket}/{key}"):
            return head_file(client, bucket, key)
    except Exception as exc:
        if layout.is_not_found(exc):
            raise MissingKey(
                f"s3://{bucket}/{key} does not exist (list the folder: "
                f"aws s3 ls s3://{bucket}/{layout.home_folder(key)} --recursive)"
            ) from None
        raise


READ_PIECE_BYTES = 8 * 1024 * 1024


def read_pieces(client: S3Client, s3_file: S3File) -> Iterator[bytes]:
    """The bytes of exactly the listed version as they arrive, 8 MiB at a time (never held whole).

    A version rewritten since fails (IfMatch); a connection that breaks mid-file is
    `SourceUnavailable` (the task retries), never a short file.
    """
    with s3_errors(f"reading {s3_file.uri}"):
        body = client.get_object(Bucket=s3_file.bucket, Key=s3_file.key, IfMatch=s3_file.etag)["Body"]
        try:
            yield from body.iter_chunks(READ_PIECE_BYTES)
        finally:
            body.close()


def read_file(client: S3Client, s3_file: S3File) -> bytes:
    """The bytes of exactly the listed version: a file rewritten since fails (IfMatch)."""
    with s3_errors(f"reading {s3_file.uri}"):
        response = client.get_object(Bucket=s3_file.bucket, Key=s3_file.key, IfMatch=s3_file.etag)
        return response["Body"].read()


def _etag(client: S3Client, bucket: str, key: str) -> str | None:
    """The ETag of the key's current version; None when there is no such key."""
    try:
        return client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except Exception as exc:
        if layout.is_not_found(exc):
            return None
        raise


def move_file(client: S3Client, s3_file: S3File, outcome: Outcome) -> str:
    """Copy to success/ or failed/ (`layout.done_key`), then delete the original; returns the new key.

    See `_move`; S3 failures that outlive the client's retries raise `SourceUnavailable`.
    """
    with s3_errors(f"moving {s3_file.uri} to {outcome}/"):
        return _move(client, s3_file, outcome)


def _move(client: S3Client, s3_file: S3File, outcome: Outcome) -> str:
    """Copy, then delete.

    Safe to repeat: when the original is gone and the target holds the same content, the
    move happened before (a retried task). Only the version that was read is moved: a
    file rewritten during the run raises `FileChanged` and stays for the next run (checked
    before the copy, and by the copy itself on S3, which honours CopySourceIfMatch).
    """
    bucket, key = s3_file.bucket, s3_file.key
    target = layout.done_key(s3_file, outcome)
    current = _etag(client, bucket, key)
    if current is None:
        return _moved_before(client, s3_file, target)
    changed = FileChanged(f"{s3_file.uri} changed after it was read; it stays for the next run")
    if current != s3_file.etag:
        raise changed
    try:
        client.copy_object(
            Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key}, CopySourceIfMatch=s3_file.etag
        )
    except Exception as exc:
        if layout.is_precondition_failed(exc):
            raise changed from None
        if layout.is_not_found(exc):  # gone between the look and the copy: another reader moved it
            return _moved_before(client, s3_file, target)
        raise
    client.delete_object(Bucket=bucket, Key=key)
    if layout.is_done(key):  # a re-imported file: its old reports describe a file that is gone
        for report in layout.own_report_keys(key):
            client.delete_object(Bucket=bucket, Key=report)
    return target


def _moved_before(client: S3Client, s3_file: S3File, target: str) -> str:
    """The original is gone: moved already when `target` holds the version read (a retried task, or
    another reader of a shared file moving it at the same moment), else removed by someone."""
    if _etag(client, s3_file.bucket, target) == s3_file.etag:
        return target
    raise FileChanged(f"{s3_file.uri} was removed after it was read")


def write_text(client: S3Client, bucket: str, key: str, text: str, content_type: str = "text/plain") -> None:
    """A report (UTF-8 text) at `key`; its name comes from `layout` (`error_report_key`, ...)."""
    client.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=f"{content_type}; charset=utf-8")


REPORT_PART_BYTES = 8 * 1024 * 1024  # S3's parts are 5 MB at least


def write_text_file(client: S3Client, bucket: str, key: str, path: Path, content_type: str) -> None:
    """A report written to a local file first (UTF-8), streamed to `key` in parts: never held whole."""
    # boto3's transfer manager loads only when a run has rejected rows to report (this module is
    # imported by every store command through `inbound.airflow.connections`).
    from boto3.s3.transfer import TransferConfig

    client.upload_file(
        str(path),
        bucket,
        key,
        ExtraArgs={"ContentType": f"{content_type}; charset=utf-8"},
        Config=TransferConfig(multipart_threshold=REPORT_PART_BYTES, multipart_chunksize=REPORT_PART_BYTES),
    )
