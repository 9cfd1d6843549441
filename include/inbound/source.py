"""The S3 side: which files are new, their bytes, and where they go when done.

Works on a plain boto3 S3 client, so it runs the same in an Airflow task (the client
comes from the integration's AWS connection), in the CLI and in tests.

A processed file moves to `success/` or `failed/` inside its own folder, with a UTC time
stamp in front of its name so it never overwrites an earlier file of the same name.
Matching never enters those folders: in a key pattern `*` and `?` stop at `/` (unlike
fnmatch, which the Amazon provider's sensor uses), and a key whose folder is `success`
or `failed` is never a candidate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

DONE_FOLDERS = ("success", "failed")
REPORT_SUFFIXES = (".error.txt", ".rejected.csv")
_WILDCARDS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class S3File:
    """One object as it was listed: the ETag pins the exact content a run reads."""

    bucket: str
    key: str
    etag: str
    size: int
    last_modified: str  # ISO-8601, UTC

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The key's folder with a trailing '/', or '' at the bucket root."""
        return self.key[: len(self.key) - len(self.name)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> S3File:
        return cls(**data)


class SourceUnavailable(RuntimeError):
    """S3 kept failing (throttling, 5xx, no connection) after the client's retries with back-off."""


# How boto3 clients for sources retry: "standard" mode backs off exponentially with jitter
# on throttling (503 SlowDown), 5xx answers and connection errors.
S3_RETRIES = {"mode": "standard", "total_max_attempts": 8}  # the first request and 7 retries
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "ServiceUnavailable",
    "InternalError",
    "503",
    "500",
    "502",
    "504",
}


@contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Turn S3 failures that outlived the retries into one clear `SourceUnavailable`."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        yield
    except ClientError as exc:
        meta = exc.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or 0)
        code = _error_code(exc)
        if status < 500 and code not in _TRANSIENT_CODES:
            raise
        attempts = int(meta.get("RetryAttempts") or 0) + 1
        raise SourceUnavailable(
            f"{what}: S3 answered {code or status} ({exc.response.get('Error', {}).get('Message', '')}) "
            f"{attempts} times, with back-off in between; nothing was moved or written, the task retries later"
        ) from None
    except (BotoConnectionError, HTTPClientError) as exc:
        raise SourceUnavailable(
            f"{what}: S3 could not be reached ({exc}); nothing was moved or written, the task retries later"
        ) from None


def key_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a key glob: `*` and `?` never cross `/`; `[...]` is a character class."""
    return re.compile(glob_regex(pattern) + r"\Z")


def glob_regex(pattern: str) -> str:
    """The regular expression text of a key glob (see `key_pattern`)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace('/', '')}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def listing_prefix(pattern: str) -> str:
    """The literal part of a key pattern before its first wildcard: what S3 can filter on."""
    match = _WILDCARDS.search(pattern)
    return pattern if match is None else pattern[: match.start()]


def is_done(key: str) -> bool:
    """True for anything inside a success/ or failed/ folder (moved files and reports)."""
    parts = key.split("/")
    return len(parts) > 1 and parts[-2] in DONE_FOLDERS


_DONE_STAMP = re.compile(r"^\d{8}T\d{6}Z_")


def home_folder(key: str) -> str:
    """The folder a file was dropped in: for a moved file, the one above success/ or failed/."""
    folder = key[: len(key) - len(key.rsplit("/", 1)[-1])]
    if is_done(key):
        folder = folder[: len(folder) - len(folder.rstrip("/").rsplit("/", 1)[-1]) - 1]
    return folder


def original_key(key: str) -> str:
    """The key a file had before a run moved it (`crm/failed/<stamp>_users.csv` -> `crm/users.csv`)."""
    if not is_done(key):
        return key
    return home_folder(key) + _DONE_STAMP.sub("", key.rsplit("/", 1)[-1], count=1)


def belongs_to(pattern: str, key: str) -> bool:
    """Whether a key is one of a source's files: it matches, or it did before it was moved."""
    return bool(key_pattern(pattern).match(original_key(key)))


def list_new_files(client: Any, bucket: str, pattern: str, marker: str | None = None) -> list[S3File]:
    """Files matching the pattern that no run has moved yet, oldest first (then by key).

    With a completion `marker`, only files of folders whose marker object is at least as
    new as the file: an export written as several objects is read once it is complete.
    """
    with s3_errors(f"listing s3://{bucket}/{pattern}"):
        files = _list_matching(client, bucket, pattern)
        if marker:
            files = _complete(client, bucket, [f for f in files if f.name != marker], marker)
    return files


def _complete(client: Any, bucket: str, files: list[S3File], marker: str) -> list[S3File]:
    markers: dict[str, str | None] = {}
    for folder in {f.folder for f in files}:
        try:
            head = client.head_object(Bucket=bucket, Key=f"{folder}{marker}")
            markers[folder] = head["LastModified"].astimezone(UTC).isoformat()
        except Exception as exc:
            if _error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise
            markers[folder] = None
    ready = []
    for file in files:
        written = markers[file.folder]
        if written is not None and datetime.fromisoformat(written) >= datetime.fromisoformat(file.last_modified):
            ready.append(file)
    return ready


def _list_matching(client: Any, bucket: str, pattern: str) -> list[S3File]:
    regex = key_pattern(pattern)
    files = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=listing_prefix(pattern)):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/") or is_done(key) or not regex.match(key):
                continue
            files.append(
                S3File(
                    bucket=bucket,
                    key=key,
                    etag=obj["ETag"].strip('"'),
                    size=int(obj["Size"]),
                    last_modified=obj["LastModified"].astimezone(UTC).isoformat(),
                )
            )
    return sorted(files, key=lambda f: (f.last_modified, f.key))


def head_file(client: Any, bucket: str, key: str) -> S3File:
    """The current version of one key (for `--key` runs); raises if it does not exist."""
    obj = client.head_object(Bucket=bucket, Key=key)
    return S3File(
        bucket=bucket,
        key=key,
        etag=obj["ETag"].strip('"'),
        size=int(obj["ContentLength"]),
        last_modified=obj["LastModified"].astimezone(UTC).isoformat(),
    )


class UnknownKey(ValueError):
    """A key asked for by name (a re-import) that is not one of the source's files."""


def named_file(client: Any, bucket: str, pattern: str, key: str) -> S3File:
    """One file asked for by key (`inbound run --key`, the DAG's `key` param).

    It may sit in `failed/` or `success/` (a re-import after a fix); it must be one of
    this source's files, so a typo never imports another integration's export.
    """
    if not belongs_to(pattern, key):
        raise UnknownKey(
            f"s3://{bucket}/{key} is not a file of this source: {original_key(key)!r} does not match "
            f"source.key {pattern!r}"
        )
    try:
        return head_file(client, bucket, key)
    except Exception as exc:
        if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            raise UnknownKey(
                f"s3://{bucket}/{key} does not exist (list the folder: aws s3 ls s3://{bucket}/{home_folder(key)} --recursive)"
            ) from None
        raise


def read_file(client: Any, file: S3File) -> bytes:
    """The bytes of exactly the listed version: a file rewritten since fails (IfMatch)."""
    with s3_errors(f"reading {file.uri}"):
        response = client.get_object(Bucket=file.bucket, Key=file.key, IfMatch=file.etag)
        return response["Body"].read()


class FileChanged(Exception):
    """The object was rewritten after it was read: it is left for the next run."""


def _stamp(last_modified: str) -> str:
    when = datetime.fromisoformat(last_modified).astimezone(UTC)
    return when.strftime("%Y%m%dT%H%M%SZ")


def done_key(file: S3File, outcome: str) -> str:
    """Where a processed file goes: `<folder><outcome>/<upload time>_<name>`.

    The stamp is the object's upload time, so the target of one upload is fixed (a
    retried task finds its own earlier move) while a later upload of the same name gets
    its own.
    """
    if outcome not in DONE_FOLDERS:
        raise ValueError(f"outcome must be one of {DONE_FOLDERS}, not {outcome!r}")
    name = original_key(file.key).rsplit("/", 1)[-1]
    return f"{home_folder(file.key)}{outcome}/{_stamp(file.last_modified)}_{name}"


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _etag(client: Any, bucket: str, key: str) -> str | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except Exception as exc:
        if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def move_file(client: Any, file: S3File, outcome: str) -> str:
    """Copy to success/ or failed/, then delete the original; returns the new key.

    See `_move`; S3 failures that outlive the client's retries raise `SourceUnavailable`.
    """
    with s3_errors(f"moving {file.uri} to {outcome}/"):
        return _move(client, file, outcome)


def _move(client: Any, file: S3File, outcome: str) -> str:
    """Copy, then delete.

    Safe to repeat: when the original is gone and the target holds the same content, the
    move happened before (a retried task). Only the version that was read is moved: a
    file rewritten during the run raises `FileChanged` and stays for the next run (checked
    before the copy, and by the copy itself on S3, which honours CopySourceIfMatch).
    """
    from botocore.exceptions import ClientError

    target = done_key(file, outcome)
    current = _etag(client, file.bucket, file.key)
    if current is None:
        if _etag(client, file.bucket, target) == file.etag:
            return target
        raise FileChanged(f"{file.uri} was removed after it was read")
    if current != file.etag:
        raise FileChanged(f"{file.uri} changed after it was read; it stays for the next run")
    try:
        client.copy_object(
            Bucket=file.bucket,
            Key=target,
            CopySource={"Bucket": file.bucket, "Key": file.key},
            CopySourceIfMatch=file.etag,
        )
    except ClientError as exc:
        if _error_code(exc) in ("PreconditionFailed", "412"):
            raise FileChanged(f"{file.uri} changed after it was read; it stays for the next run") from None
        raise
    client.delete_object(Bucket=file.bucket, Key=file.key)
    if is_done(file.key):  # a re-imported file: its old reports describe a file that is gone
        for suffix in REPORT_SUFFIXES:
            client.delete_object(Bucket=file.bucket, Key=f"{file.key}{suffix}")
    return target


def write_text(client: Any, bucket: str, key: str, text: str, content_type: str = "text/plain") -> None:
    client.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=f"{content_type}; charset=utf-8")
