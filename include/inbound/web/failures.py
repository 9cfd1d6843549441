"""Why an import failed, on the page: one import's rejected rows grouped, with the fix to paste.

`GET /api/integrations/{name}/rejections?key=<the moved file's key>` (an import's `final_key`,
as the integration page has it) reads the `.rejected.csv` beside that file (at most
`fixes.MAX_REPORT_BYTES`, its first `fixes.MAX_REPORT_ROWS` rows) and answers its groups by
column and reason kind (`inbound.discovery.fixes`); a failed file without a report (a missing
column) answers the import log's error, as a group with the closest header name where there is
one. The values and the counts follow the report download's rule (`inbound.web.reports`): only
an integration the caller may read (404 otherwise, alike for one that does not exist), only a
file of it moved into success/ or failed/, never a report (404 otherwise).
"""

from __future__ import annotations

from typing import Annotated

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, HTTPException, Query, Response, status
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.airflow.connections import s3_client, store
from inbound.config.model import Integration
from inbound.discovery import fixes
from inbound.discovery.fixes import RejectionGroup
from inbound.errors import SourceUnavailable
from inbound.s3.layout import error_code, is_not_found, is_report, rejected_report_key
from inbound.store import ImportRecord
from inbound.web.access import READ, ReaderDep
from inbound.web.reports import report_key_allowed, s3_failure

IMPORTS_LOOKED_UP = 1000  # import-log entries searched for the one that moved the file

router = APIRouter(dependencies=READ)


class Rejections(TypedDict):
    integration: str
    key: str  # the moved file
    report: str | None  # the .rejected.csv read; None when the file has none
    truncated: bool  # the report has more rows than were read
    counted: str  # which rows the counts are of, in words
    error: str | None  # why the file failed, from the import log (None for a success)
    groups: list[RejectionGroup]


@router.get("/api/integrations/{name}/rejections")
def rejections(
    name: str,
    caller: ReaderDep,
    response: Response,
    key: Annotated[str, Query(description="the S3 key of a file an import moved (its final_key)")],
) -> Rejections:
    """The rejected rows of one import by column and reason kind, with counts, first lines and values,
    and a verified fix where the values show one (`inbound.discovery.fixes`)."""
    integration = caller.integration(name)
    report = rejected_report_key(key)
    if is_report(key) or not report_key_allowed(integration, report, caller.others - {name}):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"not a file of {name}: the key must be one of its files moved into a success/ or failed/ folder, "
            f"a file that matched its key {integration.source.key!r}",
        )
    response.headers["Cache-Control"] = "no-store"  # values of personal data
    record = _import_of(integration, key)
    error = record.error if record else None
    found = _read(integration, report)
    if found is None:
        if record is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no rejected-rows report at s3://{integration.source.bucket}/{report}, and no import in "
                f"{name}'s import log moved a file to {key}",
            )
        if record.rows_rejected:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"the rejected-rows report s3://{integration.source.bucket}/{report} of this import "
                f"({record.rows_rejected} rows rejected) is gone: it was deleted, or the file was imported "
                "again since and its reports replaced",
            )
        missing = fixes.missing_column(error, integration) if error else None
        return Rejections(
            integration=name,
            key=key,
            report=None,
            truncated=False,
            counted="no rows rejected",
            error=error,
            groups=[missing] if missing else [],
        )
    data, whole = found
    try:
        part = fixes.read_report(data, whole=whole)
    except ValueError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"s3://{integration.source.bucket}/{report}: {exc}") from None
    rows = part.frame.height
    counted = f"all {rows:,} rows of the report"
    if part.truncated:
        counted = f"the first {rows:,} rows of the report (it has more): counts are of those"
    return Rejections(
        integration=name,
        key=key,
        report=report,
        truncated=part.truncated,
        counted=counted,
        error=error,
        groups=fixes.group_rejects(part.frame, integration),
    )


def _read(integration: Integration, report: str) -> tuple[bytes, bool] | None:
    """The report's first `MAX_REPORT_BYTES` (a ranged GET) and whether that is all of it; None if it is not there."""
    bucket, limit = integration.source.bucket, fixes.MAX_REPORT_BYTES
    try:
        obj = s3_client(integration.source.aws_conn_id).get_object(
            Bucket=bucket, Key=report, Range=f"bytes=0-{limit - 1}"
        )
        body = obj["Body"]
        try:
            data = body.read(limit)
        finally:
            body.close()
    except (ClientError, BotoCoreError, SourceUnavailable) as exc:
        if isinstance(exc, ClientError) and is_not_found(exc):
            return None
        if isinstance(exc, ClientError) and error_code(exc) == "InvalidRange":  # an empty object
            return b"", True
        raise s3_failure(exc, integration, "the report") from None
    total = str(obj.get("ContentRange") or "").rpartition("/")[2]
    size = int(total) if total.isdigit() else int(obj.get("ContentLength") or len(data))
    return data, size <= len(data)


def _import_of(integration: Integration, key: str) -> ImportRecord | None:
    """The import-log entry of the import that moved a file to `key` (its newest), if one of the last few."""
    try:
        with store() as s:
            return next((r for r in s.imports(integration.name, limit=IMPORTS_LOOKED_UP) if r.final_key == key), None)
    except Exception:  # the error is a courtesy beside the report: a store that does not answer leaves it out
        return None
