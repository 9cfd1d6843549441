"""An integration's Airflow assets: its attributes (and the alias a write goes through), its events, the write's event."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, AssetAlias, AssetWatcher, get_current_context

from inbound.airflow.queue_trigger import QueueEventsTrigger
from inbound.config.model import Integration
from inbound.results import COUNTS, FileResult, RunSummary


def attributes_asset(integration: Integration) -> Asset:
    """The Airflow Asset of an integration's attributes: downstream DAGs schedule on it."""
    return Asset(name=f"inbound_{integration.name}", uri=f"inbound://attributes/{integration.name}")


def writes_alias(integration: Integration) -> AssetAlias:
    """Through an alias, an event is emitted only when a run actually changed attributes."""
    return AssetAlias(f"inbound_{integration.name}_writes")


def events_asset(integration: Integration) -> Asset | None:
    """In event mode, the asset the queue's S3 events update for this integration; None when polled.

    Its watcher runs `QueueEventsTrigger` in the triggerer; each event it fires (the source's
    new files) becomes an asset event that starts (or joins) a run of the integration's DAG.
    """
    source = integration.source
    if source.events is None:
        return None
    trigger = QueueEventsTrigger(
        queue=source.events.queue,
        aws_conn_id=source.events_conn_id,
        bucket=source.bucket,
        key=source.key,
        marker=source.marker,
    )
    return Asset(
        name=f"inbound_{integration.name}_files",
        uri=f"inbound://files/{integration.name}",
        watchers=[AssetWatcher(name=f"inbound_{integration.name}_queue", trigger=trigger)],
    )


def emit_asset_event(integration: Integration, results: list[FileResult]) -> None:
    """One asset event per run that changed attributes, with the run's counts as its extra."""
    writes = RunSummary(integration.name, tuple(r for r in results if r.write and not r.previewed and not r.skipped))
    if not writes.rows_written:
        return
    counts: dict[str, Any] = {
        "rows_read": writes.rows_read,
        "rows_rejected": writes.rows_rejected,
        "rows_written": writes.rows_written,
        **{count: writes.total(count) for count in COUNTS},
        "files": len(writes.files),
    }
    get_current_context()["outlet_events"][writes_alias(integration)].add(attributes_asset(integration), extra=counts)
