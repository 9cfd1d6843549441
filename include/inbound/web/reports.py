"""Report routes: which S3 keys are an integration's reports, their download, and the answers when S3 fails."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse, StreamingResponse
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.airflow.connections import s3_client, store
from inbound.config.model import Integration
from inbound.config.names import NAME_PATTERN
from inbound.errors import SourceUnavailable
from inbound.outcome import Outcome
from inbound.s3.layout import (
    ERROR_SUFFIX,
    READERS_SUFFIX,
    REJECTED_SUFFIX,
    REPORT_SUFFIXES,
    belongs_to,
    error_code,
    error_report_key,
    is_done,
    is_not_found,
    is_transient,
    original_key,
    rejected_report_key,
)
from inbound.store import ImportRecord
from inbound.web.access import READ, ReaderDep

# The reports the pipeline writes beside a moved file (`inbound.s3.layout`): suffix -> (what it is, media type).
REPORTS = {
    REJECTED_SUFFIX: ("rejected rows", "text/csv"),
    ERROR_SUFFIX: ("error report", "text/plain"),
    READERS_SUFFIX: ("readers' outcomes", "text/plain"),  # a shared file's
}
# `<moved file>.<reader>` of a shared file's per-reader report (an integration name, `inbound.config.model`).
_READER = re.compile(r"\.(" + NAME_PATTERN.strip("^$") + r")\Z")

router = APIRouter(dependencies=READ)


class Report(TypedDict):
    kind: str  # "rejected rows" or "error report"
    key: str
    uri: str


def past_retention(integration: Integration, record: ImportRecord, now: datetime | None = None) -> bool:
    """Whether the entry's moved file and reports are past the integration's retention (`retain_days`): the
    daily `inbound-retention` DAG removes them, so the page shows the entry without its links."""
    days = integration.retain_days
    if days is None or not record.final_key:
        return False
    finished = datetime.fromisoformat(record.finished_at)
    finished = finished if finished.tzinfo else finished.replace(tzinfo=UTC)
    return finished < (now or datetime.now(UTC)) - timedelta(days=days)


def reports_of(integration: Integration, record: ImportRecord) -> list[Report]:
    """The reports the pipeline put beside a moved file (rejected rows; the error of a failed file);
    none past retention (`past_retention`)."""
    if not record.final_key or past_retention(integration, record):
        return []
    found = []
    if record.rows_rejected:
        found.append((REPORTS[REJECTED_SUFFIX][0], rejected_report_key(record.final_key)))
    if record.outcome == Outcome.FAILED:
        found.append((REPORTS[ERROR_SUFFIX][0], error_report_key(record.final_key)))
    bucket = integration.source.bucket
    return [Report(kind=kind, key=key, uri=f"s3://{bucket}/{key}") for kind, key in found]


def _moved_file_of(integration: Integration, key: str) -> bool:
    """Whether `key` is one of this integration's files after a run moved it into success/ or failed/."""
    return is_done(key) and not is_done(original_key(key)) and belongs_to(integration.source.key, key)


def report_key_allowed(integration: Integration, key: str, others: Collection[str] = ()) -> bool:
    """Only the reports beside this integration's own moved files: nothing else of the bucket.

    The file a report belongs to is the key without the report's suffix (and, for a
    shared file's per-reader report `<file>.<reader>.rejected.csv`, without `.<reader>`);
    before it moved, it matched this integration's key pattern. Of a shared file, only
    this integration's own report and the readers' outcomes (`.readers.txt`) are served.
    `others`: the names of the other integrations, whose per-reader reports are never
    taken for a file of this one (`<file>.hr.error.txt` when the pattern also matches
    `<file>.hr`).
    """
    if ".." in key.split("/") or "\\" in key or any(ord(c) < 32 or c == "\x7f" for c in key):
        return False
    if key.endswith(READERS_SUFFIX):
        return _moved_file_of(integration, key.removesuffix(READERS_SUFFIX))
    suffix = next((s for s in REPORT_SUFFIXES if key.endswith(s)), None)
    if suffix is None:
        return False
    file = key.removesuffix(suffix)
    reader = _READER.search(file)
    if reader is not None and reader[1] in others:  # another reader's report (even where the pattern matched)
        return False
    if reader is not None and reader[1] == integration.name and _moved_file_of(integration, file[: reader.start()]):
        return True  # this integration's report of a shared file it reads
    return _moved_file_of(integration, file)


@router.get("/api/integrations/{name}/reports", response_model=None)
def integration_report(
    name: str,
    caller: ReaderDep,
    key: Annotated[str, Query(description="the S3 key of a .rejected.csv or .error.txt report")],
    check: Annotated[bool, Query(description="only whether it is there: JSON, no download")] = False,
) -> StreamingResponse | JSONResponse:
    """A rejection or error report of this integration, streamed from S3 with its AWS connection.

    With `check`, only whether it is there: `{"key", "exists", "size", "reason"}` (200 either
    way; `reason` is what a download would answer with 404). The UI asks first, so a report that
    is gone is said so on the page, not as a JSON 404.
    """
    integration = caller.integration(name)
    if not report_key_allowed(integration, key, caller.others - {name}):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"not a report of {name}: the key must be a report (.rejected.csv, .error.txt, .readers.txt) beside "
            f"one of its files in a success/ or failed/ folder, a file that matched its key {integration.source.key!r}",
        )
    bucket = integration.source.bucket
    try:
        client = s3_client(integration.source.aws_conn_id)
        if check:
            head = client.head_object(Bucket=bucket, Key=key)
            return JSONResponse({"key": key, "exists": True, "size": int(head["ContentLength"]), "reason": None})
        obj = client.get_object(Bucket=bucket, Key=key)
        body = obj["Body"]
        stream = body.iter_chunks(64 * 1024)
        first = next(stream, b"")  # an S3 that drops the connection answers 503 here, not halfway through
    except (ClientError, BotoCoreError, SourceUnavailable) as exc:
        if isinstance(exc, ClientError) and is_not_found(exc):
            gone = f"s3://{bucket}/{key} does not exist{_moved_on(integration, key)}"
            if check:
                return JSONResponse({"key": key, "exists": False, "size": None, "reason": gone})
            raise HTTPException(status.HTTP_404_NOT_FOUND, gone) from None
        raise s3_failure(exc, integration, "the report") from None
    media = next(m for s, (_, m) in REPORTS.items() if key.endswith(s))

    def chunks() -> Iterator[bytes]:
        try:
            yield first
            yield from stream
        finally:
            body.close()

    return StreamingResponse(
        chunks(),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": attachment(key.rsplit("/", 1)[-1]), "X-Content-Type-Options": "nosniff"},
    )


def s3_failure(exc: Exception, integration: Integration, what: str) -> HTTPException:
    """What the API answers when S3 failed it: 503 (unreachable, throttling: try later), 502 (S3 refused)."""
    bucket = integration.source.bucket
    if isinstance(exc, ClientError):
        if is_transient(exc):
            return HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"S3 is unavailable ({error_code(exc) or 'error'}); try again later",
            )
        return HTTPException(status.HTTP_502_BAD_GATEWAY, f"S3 refused {what}: {error_code(exc) or 'error'}")
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"S3 is unreachable for s3://{bucket} ({type(exc).__name__}); try again later, "
        f"or check the AWS connection {integration.source.aws_conn_id!r}",
    )


def _moved_on(integration: Integration, report: str) -> str:
    """Where the file a missing report was beside went since, from the import log ('' if not known)."""
    file = next((report.removesuffix(s) for s in (*REPORT_SUFFIXES, READERS_SUFFIX) if report.endswith(s)), report)
    uri = f"s3://{integration.source.bucket}/{file}"
    try:
        with store() as s:
            later = next((r for r in s.imports(integration.name, limit=1000) if r.source_file == uri), None)
    except Exception:  # the hint is a courtesy: a store that does not answer leaves the plain 404
        return ""
    if later is None or not later.final_key or later.final_key == file:
        return ""
    return (
        f": its file was imported again since ({later.outcome}) and is now at {later.final_key}, with its own reports"
    )


def attachment(filename: str) -> str:
    """`Content-Disposition` for a download: an ASCII fallback name and the exact one (RFC 6266, RFC 5987)."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
