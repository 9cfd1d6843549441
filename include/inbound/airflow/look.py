"""What `wait_for_file` looks at: one integration's source and, for shared files, the import log.

Read-only by design (a test records every S3 call and store write): the sensor on a worker and
its trigger in the triggerer both call `look`; moving a shared file that is due is the
finalize task's work (`inbound.run.Run.settle_due`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from inbound.airflow.connections import s3_client, store
from inbound.config.catalog import current_catalog
from inbound.config.model import Integration
from inbound.events import notifications as events
from inbound.pipeline import shared_files as shared
from inbound.s3.source import list_new_files, listing_digest


def look(snapshot: dict[str, Any], announced: Iterable[Any] | None = None) -> dict[str, Any]:
    """What the integration has to do now, as JSON: `{"files": [...], "due": [...], "listing": digest}`.

    `listing` is the digest of the source's listing (`inbound.s3.source.listing_digest`):
    a waiting trigger wakes the worker again only when the listing is no longer this one.

    A run started by S3 events passes their payloads as `announced`: it takes the files they
    name that are still listed (a done file is a no-op, the read is pinned to the listed ETag)
    and the older files still waiting, so no run writes a newer file before an older one.

    The import log is read only when another integration reads the same bucket: only then
    can a file be one this integration already did its part of.
    """
    integration = Integration.from_snapshot(snapshot)
    source = integration.source
    files = list_new_files(s3_client(source.aws_conn_id), source.bucket, source.key, source.marker)
    listing = listing_digest(files)
    if announced is not None:
        files = events.announced(files, announced, source.marker)
    found = shared.Look(new=tuple(files))
    if files:
        catalog = current_catalog()
        if shared.shares_bucket(catalog, integration):
            with store(migrate=False) as attribute_store:
                # A store without a schema yet has imported nothing: every file is new.
                log = attribute_store if attribute_store.schema_version() else None
                found = shared.look(log, catalog, integration, files)
    return {"files": [f.to_dict() for f in found.new], "due": [f.to_dict() for f in found.due], "listing": listing}
