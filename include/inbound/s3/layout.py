"""Where things are in a bucket: the S3 layout's rules, as pure functions (no I/O, no boto3).

A producer drops files into a folder; the key pattern of an integration's source picks
them (`key_pattern`: `*` and `?` never cross `/`, unlike fnmatch, which the Amazon
provider's sensor uses). A processed file moves into `success/` or `failed/` inside its
own folder, its name prefixed with its upload time (UTC) so it never overwrites an
earlier file of the same name; its reports sit beside it:

    crm/users.csv                                          dropped by the producer
    crm/success/20261128T053000Z_users.csv                 imported
    crm/failed/20261128T053000Z_users.csv                  refused ...
    crm/failed/20261128T053000Z_users.csv.error.txt        ... and why
    crm/failed/20261128T053000Z_users.csv.rejected.csv     the rows refused, each with its reason
    crm/success/20261128T053000Z_users.csv.readers.txt     a shared file: each reader's outcome
    crm/success/20261128T053000Z_users.csv.hr.rejected.csv a shared file: one reader's report

Matching never enters the done folders, so a moved file or a report is never a new file.
What S3 answered is classified here too (`error_code`, `is_not_found`, `is_transient`),
so "the key does not exist" means the same everywhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from inbound.outcome import Outcome

DONE_FOLDERS: tuple[str, ...] = (Outcome.SUCCESS.value, Outcome.FAILED.value)
REJECTED_SUFFIX = ".rejected.csv"
ERROR_SUFFIX = ".error.txt"
READERS_SUFFIX = ".readers.txt"
REPORT_SUFFIXES = (ERROR_SUFFIX, REJECTED_SUFFIX)  # a file's own reports (not a shared file's)
_WILDCARDS = re.compile(r"[*?\[]")
_DONE_STAMP = re.compile(r"^\d{8}T\d{6}Z_")

# What S3 answers, by what the caller does about it.
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
PRECONDITION_FAILED_CODES = frozenset({"412", "PreconditionFailed"})
TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "ServiceUnavailable",
        "InternalError",
        "500",
        "502",
        "503",
        "504",
    }
)
ACCESS_DENIED_CODES = frozenset({"403", "AccessDenied", "AllAccessDisabled", "Forbidden"})
CREDENTIALS_REFUSED_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)
WRONG_REGION_CODES = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)


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

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> S3File:
        return cls(**data)


# --------------------------------------------------------------------------- key patterns


@functools.lru_cache(maxsize=4096)
def key_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a key glob: `*` and `?` never cross `/`; `[...]` is a character class.

    Cached: a triggerer lists a thousand sources every half minute, more than `re`'s own
    cache holds, and compiling is most of what a listing costs besides the request.
    """
    return re.compile(glob_regex(pattern) + r"\Z")


def glob_regex(pattern: str) -> str:
    """The regular expression text of a key glob (see `key_pattern`)."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body.replace('/', '')}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def has_wildcards(pattern: str) -> bool:
    """Whether a key is a pattern (`*`, `?` or `[`) rather than one object's key."""
    return _WILDCARDS.search(pattern) is not None


def listing_prefix(pattern: str) -> str:
    """The literal part of a key pattern before its first wildcard: what S3 can filter on."""
    match = _WILDCARDS.search(pattern)
    return pattern if match is None else pattern[: match.start()]


def listing_delimiter(pattern: str) -> str | None:
    """`/` when every match sits directly in the listing prefix's folder, else None.

    Then S3 lists only that folder's own objects: its success/ and failed/ history (which
    grows with every file ever imported) is never read to find new files.
    """
    rest = pattern[len(listing_prefix(pattern)) :]
    return "/" if "/" not in rest else None


# --------------------------------------------------------------------------- done folders


def is_done(key: str) -> bool:
    """True for anything inside a success/ or failed/ folder (moved files and reports)."""
    parts = key.split("/")
    return len(parts) > 1 and parts[-2] in DONE_FOLDERS


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


def is_report(key: str) -> bool:
    """A report a run wrote beside a moved file (its own, a reader's, the readers' outcomes)."""
    return key.endswith((*REPORT_SUFFIXES, READERS_SUFFIX))


def is_export_of(pattern: str, key: str) -> bool:
    """Whether `key` names an export of a source: one of its files (also moved), never a report or a folder."""
    return bool(key) and not key.endswith("/") and not is_report(key) and belongs_to(pattern, key)


def done_key(s3_file: S3File, outcome: Outcome) -> str:
    """Where a processed file goes: `<home folder><outcome>/<upload time>_<original name>`.

    The stamp is the object's upload time, so the target of one upload is fixed (a
    retried task finds its own earlier move) while a later upload of the same name gets
    its own.
    """
    if outcome not in DONE_FOLDERS:
        raise ValueError(f"outcome must be one of {DONE_FOLDERS}, not {outcome!r}")
    stamp = datetime.fromisoformat(s3_file.last_modified).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = original_key(s3_file.key).rsplit("/", 1)[-1]
    return f"{home_folder(s3_file.key)}{outcome}/{stamp}_{name}"


# --------------------------------------------------------------------------- reports


def rejected_report_key(final_key: str, reader: str | None = None) -> str:
    """The rejected rows beside a moved file; for a shared file, one per reader (`<key>.<reader>.rejected.csv`)."""
    return _report_key(final_key, REJECTED_SUFFIX, reader)


def error_report_key(final_key: str, reader: str | None = None) -> str:
    """Why a file failed, beside it; for a shared file, one per reader (`<key>.<reader>.error.txt`)."""
    return _report_key(final_key, ERROR_SUFFIX, reader)


def readers_report_key(final_key: str) -> str:
    """A shared file's report of each reader's outcome, written by the reader that moves it."""
    return f"{final_key}{READERS_SUFFIX}"


def own_report_keys(key: str) -> list[str]:
    """The reports a run put beside a moved file (what a re-import of that file removes)."""
    return [f"{key}{suffix}" for suffix in REPORT_SUFFIXES]


def moved_file_of(key: str, readers: Collection[str] = ()) -> str:
    """The moved file a key of a done folder is or reports on: the key itself, or a report's key
    without its suffix (and without `.<reader>` for one of `readers`, a shared file's per-reader report)."""
    if key.endswith(READERS_SUFFIX):
        return key.removesuffix(READERS_SUFFIX)
    suffix = next((s for s in REPORT_SUFFIXES if key.endswith(s)), None)
    if suffix is None:
        return key
    file = key.removesuffix(suffix)
    reader = next((r for r in readers if file.endswith(f".{r}")), None)
    return file.removesuffix(f".{reader}") if reader else file


def _report_key(final_key: str, suffix: str, reader: str | None) -> str:
    return f"{final_key}.{reader}{suffix}" if reader else f"{final_key}{suffix}"


# --------------------------------------------------------------------------- S3 answers


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore `ClientError` (`NoSuchKey`, `404`, `SlowDown`, ...); '' otherwise."""
    error = _response(exc).get("Error")
    return str(error.get("Code") or "") if isinstance(error, Mapping) else ""


def error_message(exc: BaseException) -> str:
    """S3's own words for a `ClientError` ('' otherwise)."""
    error = _response(exc).get("Error")
    return str(error.get("Message") or "") if isinstance(error, Mapping) else ""


def http_status(exc: BaseException) -> int | None:
    """The HTTP status S3 answered with, when the exception carries one."""
    meta = _response(exc).get("ResponseMetadata")
    status = meta.get("HTTPStatusCode") if isinstance(meta, Mapping) else None
    return int(status) if status else None


def retry_attempts(exc: BaseException) -> int:
    """How many times the client retried before giving up."""
    meta = _response(exc).get("ResponseMetadata")
    return int(meta.get("RetryAttempts") or 0) if isinstance(meta, Mapping) else 0


def is_not_found(exc: BaseException) -> bool:
    """The object (key) does not exist: a HEAD answers 404, a GET NoSuchKey."""
    return error_code(exc) in NOT_FOUND_CODES


def is_precondition_failed(exc: BaseException) -> bool:
    """An `If-Match` did not hold: the object changed since it was listed."""
    return error_code(exc) in PRECONDITION_FAILED_CODES


def is_transient(exc: BaseException) -> bool:
    """Throttling or a server-side failure: worth retrying later, nothing is wrong with the request."""
    return error_code(exc) in TRANSIENT_CODES or (http_status(exc) or 0) >= 500


def is_access_denied(exc: BaseException) -> bool:
    """The identity may not do this (a missing IAM permission, or a bucket policy)."""
    return error_code(exc) in ACCESS_DENIED_CODES or http_status(exc) == 403


def _response(exc: BaseException) -> Mapping[str, Any]:
    """The parsed answer a botocore `ClientError` carries (empty for anything else)."""
    response = getattr(exc, "response", None)
    return response if isinstance(response, Mapping) else {}
