"""Files that several integrations read: each imports the file once; the last one moves it.

The *readers* of an object are the enabled integrations whose source (bucket and key
pattern) matches it. A reader's part is done when the import log holds an entry of it for
that exact object version (key and ETag): success, skipped as identical, or failed. Until
every reader's part is done the file stays where the producer put it, and a reader that has
done its part does not see it again (`look`). The file is *due* once every reader is done,
or the missing ones are absent: a reader that has not processed the file within its grace
(`INBOUND_SHARED_GRACE_INTERVALS`, default 2, of its own schedule intervals after the
upload) no longer blocks the others; the readers' report says so and a re-import with the
`key` param catches up.

Looking (`look`, `due`) only reads: S3 listings and the import log. It runs in the
sensor and its trigger. Moving (`settle`) writes, and runs in the finalize task of a
reader's run; moving is idempotent (`move_file`), so two readers settling at once end
with the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.errors import FileChanged
from inbound.outcome import Outcome
from inbound.s3 import layout
from inbound.s3.layout import S3File
from inbound.s3.source import move_file, write_text
from inbound.settings import grace_intervals
from inbound.store import AttributeStore, ImportRecord

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

log = logging.getLogger(__name__)


def readers_of(catalog: Catalog, file: S3File, current: Integration | None = None) -> list[Integration]:
    """Every enabled integration that reads this object (and `current`, which is running)."""
    readers = {
        i.name: i
        for i in catalog.integrations.values()
        if i.enabled and i.source.bucket == file.bucket and layout.belongs_to(i.source.key, file.key)
    }
    if current is not None:
        readers[current.name] = current
    return sorted(readers.values(), key=lambda i: i.name)


def shares_bucket(catalog: Catalog, integration: Integration) -> bool:
    """Whether another enabled integration reads the same bucket (so a file may be shared)."""
    return any(
        i.name != integration.name and i.enabled and i.source.bucket == integration.source.bucket
        for i in catalog.integrations.values()
    )


@dataclass(frozen=True)
class Look:
    """What one integration has to do now: files to import, and shared files due to be moved."""

    new: tuple[S3File, ...] = ()
    due: tuple[S3File, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.new or self.due)


def _grace(reader: Integration) -> timedelta:
    return grace_intervals() * reader.interval


def _missing(readers: Sequence[Integration], outcomes: dict[str, ImportRecord]) -> list[Integration]:
    return [r for r in readers if r.name not in outcomes]


def _waiting(missing: Sequence[Integration], file: S3File, now: datetime) -> tuple[str, ...]:
    uploaded = datetime.fromisoformat(file.last_modified)
    return tuple(r.name for r in missing if now - uploaded <= _grace(r))


def look(store: AttributeStore | None, catalog: Catalog, integration: Integration, files: Sequence[S3File]) -> Look:
    """Split a listing into the files this integration has still to import and the shared ones due.

    Reads the import log only (`store` is None when no other integration shares the bucket:
    then every listed file is new).
    """
    if store is None:
        return Look(new=tuple(files))
    new, due, now = [], [], datetime.now(UTC)
    for file in files:
        readers = readers_of(catalog, file, integration)
        if len(readers) < 2:
            new.append(file)
            continue
        outcomes = store.file_outcomes(file.uri, file.etag)
        if integration.name not in outcomes:
            new.append(file)
        elif not _waiting(_missing(readers, outcomes), file, now):
            due.append(file)
    return Look(new=tuple(new), due=tuple(due))


@dataclass(frozen=True)
class Settlement:
    """Where a shared file stands after `settle`."""

    final_key: str | None  # None: still waiting (or changed in S3 meanwhile)
    waiting_for: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()


def settle(
    client: S3Client, store: AttributeStore, readers: list[Integration], file: S3File, now: datetime | None = None
) -> Settlement:
    """Move a shared file once every reader has done its part (or is absent past its grace)."""
    now = now or datetime.now(UTC)
    outcomes = store.file_outcomes(file.uri, file.etag)
    missing = _missing(readers, outcomes)
    waiting = _waiting(missing, file, now)
    if waiting:
        return Settlement(None, waiting_for=waiting)
    absent = tuple(r.name for r in missing)
    done = [outcomes[r.name] for r in readers if r.name in outcomes]
    outcome = Outcome.SUCCESS if done and all(e.outcome == Outcome.SUCCESS for e in done) else Outcome.FAILED
    try:
        final_key = move_file(client, file, outcome)
    except FileChanged as exc:
        log.warning("%s", exc)
        return Settlement(None)
    report = readers_report(file, readers, outcomes, outcome)
    write_text(client, file.bucket, layout.readers_report_key(final_key), report)
    for entry in done:
        store.set_final_key(entry.id, final_key)
    names = ", ".join(r.name for r in readers)
    log.info("%s: every reader is done (%s): moved to s3://%s/%s", file.uri, names, file.bucket, final_key)
    return Settlement(final_key, absent=absent)


def _reader_line(reader: Integration, entry: ImportRecord | None) -> str:
    if entry is None:
        grace = grace_intervals()
        return (
            f"- {reader.name}: did not process it within {grace:g} schedule intervals "
            f"({grace * reader.interval}) after the upload (paused?). To import it now: trigger "
            f"inbound_{reader.name} with the param key=<this file's key>, or run `inbound run {reader.name} --key <key>`."
        )
    if entry.outcome == Outcome.SUCCESS:
        return (
            f"- {reader.name}: success: {entry.rows_read} rows read, {entry.rows_written} written, "
            f"{entry.rows_rejected} rejected (import {entry.id})"
        )
    return f"- {reader.name}: failed: {entry.error} (import {entry.id})"


def readers_report(
    file: S3File,
    readers: list[Integration],
    outcomes: dict[str, ImportRecord],
    outcome: Outcome,
) -> str:
    """`<file>.readers.txt`: each reader's outcome and reason (absent readers included)."""
    lines = [
        f"File:    {file.uri} (ETag {file.etag})",
        f"Outcome: {outcome} (read by {len(readers)} integrations; it moves when all are done)",
        "",
    ]
    lines.extend(_reader_line(reader, outcomes.get(reader.name)) for reader in readers)
    return "\n".join(lines) + "\n"
