"""Retention: moved files and their reports older than the integration's `retain_days` are removed.

A moved export and its reports hold personal data (the rejected rows quote values), so they must
not stay in `success/` and `failed/` forever. The daily `inbound-retention` DAG lists each source's
done folders and deletes what is older (by the object's last-modified time: when the run moved or
wrote it) than its retention, `reports.retain_days` or `INBOUND_RETAIN_DAYS`. A file several
integrations read stays for the longest retention among them (and for ever if one of them keeps
everything). The import log keeps its entries: the pages show them without the links.

Listing is paged and deletion goes in batches of 1,000 keys, so memory stays bounded whatever the
folders hold.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.s3.layout import DONE_FOLDERS, belongs_to, is_done, listing_prefix, moved_file_of

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

log = logging.getLogger(__name__)

BATCH = 1000  # keys per DeleteObjects request (S3's most)
SHOWN = 20  # keys a result names; the count is whole


@dataclass(frozen=True)
class Removal:
    """What one integration's retention removed (or, in a dry run, would remove)."""

    integration: str
    retain_days: int
    removed: int
    first_keys: tuple[str, ...]  # the first `SHOWN` of them
    dry_run: bool = False

    def line(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{self.integration}: {verb} {self.removed} moved file(s) and report(s) older than {self.retain_days} days"
        )


def readers_of(catalog: Catalog, integration: Integration, moved: str) -> list[Integration]:
    """Every integration of the catalog that reads the moved file (it is among them)."""
    bucket = integration.source.bucket
    found = [i for i in catalog.integrations.values() if i.source.bucket == bucket and belongs_to(i.source.key, moved)]
    return found or [integration]


def kept_for(readers: list[Integration]) -> int | None:
    """The days a file stays: the longest retention of its readers (None: one of them keeps it for ever)."""
    days = [r.retain_days for r in readers]
    return None if any(d is None for d in days) else max(d for d in days if d is not None)


def expired(client: S3Client, catalog: Catalog, integration: Integration, now: datetime) -> Iterator[str]:
    """The keys in the source's done folders (moved files and reports) past their retention."""
    source = integration.source
    names = [i.name for i in catalog.integrations.values()] or [integration.name]
    prefix = listing_prefix(source.key)
    if "/" in source.key[len(prefix) :]:  # a wildcard in a folder: the done folders are not known, one listing
        prefixes = [prefix]
    else:
        home = prefix[: prefix.rfind("/") + 1]
        prefixes = [f"{home}{done}/" for done in DONE_FOLDERS]
    paginator = client.get_paginator("list_objects_v2")
    pages = (page for p in prefixes for page in paginator.paginate(Bucket=source.bucket, Prefix=p))
    for page in pages:
        for item in page.get("Contents", ()):
            key = item["Key"]
            if not is_done(key):
                continue
            moved = moved_file_of(key, names)
            if not belongs_to(source.key, moved):
                continue
            days = kept_for(readers_of(catalog, integration, moved))
            if days is not None and item["LastModified"] < now - timedelta(days=days):
                yield key


def remove_expired(
    client: S3Client, catalog: Catalog, integration: Integration, now: datetime, *, dry_run: bool = False
) -> Removal | None:
    """Delete the integration's expired moved files and reports (None: it keeps them for ever).

    A key S3 refuses to delete raises (`RuntimeError` naming it and S3's code): the task fails and
    the next day's run tries again; what was deleted stays deleted.
    """
    days = integration.retain_days
    if days is None:
        return None
    removed, first, batch = 0, list[str](), list[str]()
    for key in expired(client, catalog, integration, now):
        if len(first) < SHOWN:
            first.append(key)
        batch.append(key)
        if len(batch) >= BATCH:
            removed += _delete(client, integration, batch, dry_run)
            batch = []
    removed += _delete(client, integration, batch, dry_run)
    result = Removal(integration.name, days, removed, tuple(first), dry_run)
    log.info("%s", result.line())
    return result


def _delete(client: S3Client, integration: Integration, keys: list[str], dry_run: bool) -> int:
    if not keys or dry_run:
        return len(keys)
    bucket = integration.source.bucket
    answer = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
    errors = answer.get("Errors", [])
    if errors:
        error = errors[0]
        raise RuntimeError(
            f"{integration.name}: S3 refused to delete {len(errors)} of {len(keys)} expired keys, e.g. "
            f"s3://{bucket}/{error.get('Key')} ({error.get('Code')}: {error.get('Message')}); "
            f"{len(keys) - len(errors)} of this batch were deleted, the next run tries the rest"
        )
    return len(keys)
