"""The re-import's routes: an integration's files in S3 (the UI's key picker) and one run's outcome.

Both sit on a router `inbound.web.app` includes, behind the same gate (`reader`: the caller
may read at least one integration's DAG) and the same per-integration check (an
integration the caller may not read answers like one that does not exist, 404):

- `GET /api/integrations/{name}/files`: the files a re-import may name, listed from S3 with
  the integration's own AWS connection: the ones waiting (what its key pattern matches,
  outside the done folders) and its moved files in `failed/` and `success/` (keys whose
  original key matched the pattern), never a report (`.rejected.csv`, `.error.txt`,
  `.readers.txt`), each with its last outcome from the import log; newest first. Bounded:
  at most `MAX_FILES` files, at most `MAX_KEYS_PER_LISTING` keys read per listing, with
  `truncated` when more may exist;
- `GET /api/integrations/{name}/runs/{run_id}`: a run of the integration's DAG, Airflow's
  state and the outcome its `finalize` task pushed (`inbound.airflow.runs.run_outcome`); 404 for a
  run of another DAG or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, HTTPException, status
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.airflow.connections import s3_client, store
from inbound.airflow.runs import run_outcome
from inbound.config.model import Integration
from inbound.errors import SourceUnavailable
from inbound.s3.layout import (
    DONE_FOLDERS,
    READERS_SUFFIX,
    REPORT_SUFFIXES,
    belongs_to,
    is_done,
    key_pattern,
    listing_prefix,
    original_key,
)
from inbound.store import ImportRecord
from inbound.web.access import READ, ReaderDep
from inbound.web.reports import s3_failure

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

MAX_FILES = 200  # files one answer lists, newest first
MAX_KEYS_PER_LISTING = 2000  # keys read per listing (waiting; failed/; success/), reports included
LOG_ENTRIES_READ = 1000  # import-log entries searched for the files' last outcomes (the newest)
# A done folder bigger than one listing page is read from its newest stamps on: the last
# 3 days, else 30, else 365, until `MAX_FILES` files are found (its keys sort by stamp).
WINDOWS_DAYS = (3, 30, 365)
PAGE = 1000  # S3's largest page
NOT_FILES = (*REPORT_SUFFIXES, READERS_SUFFIX)  # a shared file's per-reader reports end in these too

router = APIRouter(dependencies=READ)


class FileView(TypedDict):
    key: str
    folder: str  # waiting | failed | success
    last_modified: str  # ISO-8601, UTC
    size: int
    etag: str
    last_outcome: str | None  # the import log's latest entry for this file; None: never processed
    reason: str | None  # that entry's error (or "skipped: ..."), if any
    last_import_at: str | None


class FilesView(TypedDict):
    files: list[FileView]
    truncated: bool  # more files may exist than listed (see MAX_FILES, MAX_KEYS_PER_LISTING)
    max_files: int


@dataclass(frozen=True)
class Listed:
    key: str
    folder: str
    last_modified: datetime
    size: int
    etag: str


@dataclass
class Listing:
    """What one listing found, and whether it saw everything it was asked for."""

    files: list[Listed] = field(default_factory=list)
    complete: bool = True


class Classifier:
    """Which of an integration's files a key is: waiting, failed, success, or none (a report, another's file)."""

    def __init__(self, integration: Integration) -> None:
        self.pattern = integration.source.key
        self.regex = key_pattern(self.pattern)
        self.marker = integration.source.marker

    def folder(self, key: str) -> str | None:
        if key.endswith("/") or key.endswith(NOT_FILES):
            return None
        if is_done(key):
            moved = not is_done(original_key(key)) and belongs_to(self.pattern, key)
            return key.split("/")[-2] if moved else None
        if not self.regex.match(key) or key.rsplit("/", 1)[-1] == self.marker:
            return None
        return "waiting"


def _list(
    client: S3Client,
    bucket: str,
    prefix: str,
    classify: Classifier,
    *,
    budget: int | None = None,
    delimiter: bool = True,
    start_after: str | None = None,
) -> Listing:
    """The integration's files under `prefix` (in key order), reading at most `budget` keys."""
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:  # this folder only, not the folders below it
        request["Delimiter"] = "/"
    if start_after:
        request["StartAfter"] = start_after
    found = Listing()
    budget = MAX_KEYS_PER_LISTING if budget is None else budget
    while True:
        page = client.list_objects_v2(**request, MaxKeys=min(PAGE, budget))
        contents = page.get("Contents", [])
        for obj in contents:
            folder = classify.folder(obj["Key"])
            if folder is not None:
                found.files.append(
                    Listed(obj["Key"], folder, obj["LastModified"], int(obj["Size"]), obj["ETag"].strip('"'))
                )
        budget -= max(int(page.get("KeyCount", len(contents))), 1)
        if not page.get("IsTruncated"):
            return found
        if budget <= 0:
            found.complete = False
            return found
        request["ContinuationToken"] = page["NextContinuationToken"]


def _done_folder(client: S3Client, bucket: str, folder: str, classify: Classifier, now: datetime) -> Listing:
    """A `success/` or `failed/` folder's newest files: one page, or the last days' stamps of a big folder."""
    first = _list(client, bucket, folder, classify, budget=PAGE)
    if first.complete:
        return first
    newest: list[Listed] = []
    for days in WINDOWS_DAYS:
        stamp = (now - timedelta(days=days)).strftime("%Y%m%dT%H%M%SZ")
        window = _list(client, bucket, folder, classify, start_after=folder + stamp)
        if not window.complete:  # more keys in this window than a listing reads: keep the newer window's
            return Listing(newest or window.files, complete=False)
        newest = window.files
        if len(newest) >= MAX_FILES:
            break
    return Listing(newest, complete=False)  # the older files are not listed


def list_files(client: S3Client, integration: Integration, now: datetime | None = None) -> Listing:
    """The integration's files in S3, newest first (see the module docstring for the bounds)."""
    bucket, pattern = integration.source.bucket, integration.source.key
    classify = Classifier(integration)
    prefix = listing_prefix(pattern)
    home = prefix[: prefix.rfind("/") + 1]
    listings: list[Listing]
    if "/" in pattern[len(prefix) :]:  # a wildcard in a folder: the folders are not known, one listing
        listings = [_list(client, bucket, prefix, classify, budget=3 * MAX_KEYS_PER_LISTING, delimiter=False)]
    else:
        now = now or datetime.now(UTC)
        listings = [_list(client, bucket, prefix, classify)]
        listings += [_done_folder(client, bucket, f"{home}{done}/", classify, now) for done in DONE_FOLDERS]
    files = sorted(
        (f for listing in listings for f in listing.files), key=lambda f: (f.last_modified, f.key), reverse=True
    )
    complete = all(listing.complete for listing in listings) and len(files) <= MAX_FILES
    return Listing(files[:MAX_FILES], complete=complete)


def last_outcomes(records: list[ImportRecord], bucket: str, files: list[Listed]) -> dict[str, ImportRecord]:
    """Per listed key, its latest import-log entry among `records` (newest first).

    A moved file by the entry that moved it there (`final_key`); any file by the entry that
    read this very object (its `s3://` URI and ETag): the run that read a file in `failed/`
    and failed again, or an earlier import of content uploaded again.
    """
    by_final: dict[str, ImportRecord] = {}
    by_source: dict[tuple[str, str | None], ImportRecord] = {}
    for record in records:
        if record.final_key:
            by_final.setdefault(record.final_key, record)
        by_source.setdefault((record.source_file, record.etag), record)
    found = {}
    for f in files:
        last = by_final.get(f.key) if f.folder != "waiting" else None
        last = last or by_source.get((f"s3://{bucket}/{f.key}", f.etag))
        if last is not None:
            found[f.key] = last
    return found


@router.get("/api/integrations/{name}/files")
def integration_files(name: str, caller: ReaderDep) -> FilesView:
    """The files a re-import may name: waiting, in `failed/` and in `success/`, newest first, with their last outcome."""
    integration = caller.integration(name)
    bucket = integration.source.bucket
    try:
        listing = list_files(s3_client(integration.source.aws_conn_id), integration)
    except (ClientError, BotoCoreError, SourceUnavailable) as exc:
        raise s3_failure(exc, integration, "the listing") from None
    with store() as s:
        records = s.imports(integration.name, limit=LOG_ENTRIES_READ)
    outcomes = last_outcomes(records, bucket, listing.files)
    files = []
    for f in listing.files:
        record = outcomes.get(f.key)
        files.append(
            FileView(
                key=f.key,
                folder=f.folder,
                last_modified=f.last_modified.astimezone(UTC).isoformat(),
                size=f.size,
                etag=f.etag,
                last_outcome=str(record.outcome) if record else None,
                reason=record.error if record else None,
                last_import_at=record.finished_at if record else None,
            )
        )
    return FilesView(files=files, truncated=not listing.complete, max_files=MAX_FILES)


@router.get("/api/integrations/{name}/runs/{run_id}")
def integration_run(name: str, run_id: str, caller: ReaderDep) -> dict[str, Any]:
    """One run of the integration's DAG: Airflow's state and the outcome `finalize` pushed (null until then)."""
    integration = caller.integration(name)
    found = run_outcome(integration.dag_id, run_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no run {run_id!r} of {integration.dag_id}: the run does not exist (or is another DAG's)",
        )
    return found.to_dict()
