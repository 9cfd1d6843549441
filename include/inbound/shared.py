"""Files that several integrations read: each imports the file once; the last one moves it.

The *readers* of an object are the enabled integrations whose source (bucket and key
pattern) matches it. A reader's part is done when the import log holds an entry of it for
that exact object version (key and ETag): success, skipped as identical, or failed. Until
every reader's part is done the file stays where the producer put it, and a reader that has
done its part does not see it again (`pending_files`). The reader that completes the set
moves it (`settle`): to `success/` when every reader succeeded, to `failed/` otherwise,
with `<file>.readers.txt` beside it giving each reader's outcome and reason.

A reader that is paused (or broken) must not block the others forever: a reader that has
not processed the file within two of its own schedule intervals after the upload counts as
absent, and the next reader to look settles the file without it (its report says so; a
re-import with the `key` param catches up). Moving is idempotent (`move_file`), so two
readers settling at once end with the same key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inbound.config import Catalog, Integration
from inbound.source import FileChanged, S3File, belongs_to, list_new_files, move_file, write_text
from inbound.store import AttributeStore, ImportRecord

log = logging.getLogger(__name__)
GRACE_INTERVALS = 2


def readers_of(catalog: Catalog, file: S3File, current: Integration | None = None) -> list[Integration]:
    """Every enabled integration that reads this object (and `current`, which is running)."""
    readers = {
        i.name: i
        for i in catalog.integrations.values()
        if i.enabled and i.source.bucket == file.bucket and belongs_to(i.source.key, file.key)
    }
    if current is not None:
        readers[current.name] = current
    return sorted(readers.values(), key=lambda i: i.name)


@dataclass(frozen=True)
class Settlement:
    """Where a shared file stands after `settle`."""

    final_key: str | None  # None: still waiting (or changed in S3 meanwhile)
    waiting_for: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()


def _late(reader: Integration, file: S3File, now: datetime) -> bool:
    uploaded = datetime.fromisoformat(file.last_modified)
    return (now - uploaded) > GRACE_INTERVALS * reader.interval


def settle(
    client: Any, store: AttributeStore, readers: list[Integration], file: S3File, now: datetime | None = None
) -> Settlement:
    """Move a shared file once every reader has done its part (or is absent past the grace)."""
    now = now or datetime.now(UTC)
    outcomes = store.file_outcomes(file.uri, file.etag)
    missing = [r for r in readers if r.name not in outcomes]
    waiting = tuple(r.name for r in missing if not _late(r, file, now))
    if waiting:
        return Settlement(None, waiting_for=waiting)
    absent = tuple(r.name for r in missing)
    done = [outcomes[r.name] for r in readers if r.name in outcomes]
    outcome = "success" if done and all(e.outcome == "success" for e in done) else "failed"
    try:
        final_key = move_file(client, file, outcome)
    except FileChanged as exc:
        log.warning("%s", exc)
        return Settlement(None)
    write_text(
        client, file.bucket, f"{final_key}.readers.txt", readers_report(file, readers, outcomes, absent, outcome)
    )
    for entry in done:
        store.set_final_key(entry.id, final_key)
    log.info(
        "%s: every reader is done (%s): moved to s3://%s/%s",
        file.uri,
        ", ".join(r.name for r in readers),
        file.bucket,
        final_key,
    )
    return Settlement(final_key, absent=absent)


def readers_report(
    file: S3File, readers: list[Integration], outcomes: dict[str, ImportRecord], absent: tuple[str, ...], outcome: str
) -> str:
    lines = [
        f"File:    {file.uri} (ETag {file.etag})",
        f"Outcome: {outcome} (read by {len(readers)} integrations; it moves when all are done)",
        "",
    ]
    for reader in readers:
        entry = outcomes.get(reader.name)
        if entry is None:
            lines.append(
                f"- {reader.name}: did not process it within {GRACE_INTERVALS} schedule intervals "
                f"({GRACE_INTERVALS * reader.interval}) after the upload (paused?). To import it now: trigger "
                f"inbound_{reader.name} with the param key=<this file's key>, or run `inbound run {reader.name} --key <key>`."
            )
        elif entry.outcome == "success":
            lines.append(
                f"- {reader.name}: success: {entry.rows_read} rows read, {entry.rows_written} written, "
                f"{entry.rows_rejected} rejected (import {entry.id})"
            )
        else:
            lines.append(f"- {reader.name}: failed: {entry.error} (import {entry.id})")
    return "\n".join(lines) + "\n"


def shares_bucket(catalog: Catalog, integration: Integration) -> bool:
    """Whether another enabled integration reads the same bucket (so a file may be shared)."""
    return any(
        i.name != integration.name and i.enabled and i.source.bucket == integration.source.bucket
        for i in catalog.integrations.values()
    )


def pending_files(
    client: Any,
    store: AttributeStore | None,
    catalog: Catalog,
    integration: Integration,
    files: list[S3File] | None = None,
) -> list[S3File]:
    """The files this integration has still to read, oldest first.

    A shared file this integration has done its part of is left out (it waits for the
    other readers); looking at it is also the moment to settle it when the others are done
    or absent, so a file never waits for a reader that is gone. `files`: the listing, when
    the caller has made it already.
    """
    source = integration.source
    if files is None:
        files = list_new_files(client, source.bucket, source.key, source.marker)
    if store is None or not files:
        return files
    pending = []
    for file in files:
        readers = readers_of(catalog, file, integration)
        if len(readers) < 2 or integration.name not in store.file_outcomes(file.uri, file.etag):
            pending.append(file)
            continue
        settlement = settle(client, store, readers, file)
        if settlement.waiting_for:
            log.info("%s: done here; waiting for %s", file.uri, ", ".join(settlement.waiting_for))
    return pending


__all__ = ["GRACE_INTERVALS", "Settlement", "pending_files", "readers_of", "readers_report", "settle", "shares_bucket"]
