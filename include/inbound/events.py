"""S3 event notifications, as SQS (or SNS into SQS) delivers them, to the files an integration imports.

A bucket notifies every object it creates, including the moves to `success/` and
`failed/`, the reports beside them and S3's own `s3:TestEvent`. Only objects created in
the integration's bucket whose key matches its `source.key` (and is in no done folder)
count: everything else is ignored here, so it can never start a run. Keys arrive
form-encoded (a space is `+`, a `+` is `%2B`) and are decoded with `unquote_plus`.

A message that is no S3 notification at all (a stray message on the queue) is ignored
too, never an error: the queue is shared with whatever else its owner sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from inbound import layout

MAX_MESSAGE_BYTES = 256 * 1024  # SQS's own limit: a longer body is not one of its messages


@dataclass(frozen=True)
class Created:
    """One object an event says was created."""

    bucket: str
    key: str
    time: str  # the event's time (ISO 8601), to take files oldest first
    etag: str | None = None


def created(body: str) -> list[Created]:
    """The objects one message says were created; [] for a test event, other events or other messages."""
    if len(body) > MAX_MESSAGE_BYTES:
        return []
    try:
        message = json.loads(body)
    except ValueError:
        return []
    if isinstance(message, dict) and message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        return created(message["Message"])  # an SNS envelope (fan-out to a queue per integration)
    if not isinstance(message, dict) or not isinstance(message.get("Records"), list):
        return []  # `s3:TestEvent` and anything that is no S3 notification
    return [c for record in message["Records"] if (c := _created(record)) is not None]


def _created(record: Any) -> Created | None:
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
        return None
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    s3: Any = record.get("s3")
    try:
        bucket, obj = s3["bucket"]["name"], s3["object"]
        key = unquote_plus(obj["key"])
    except (KeyError, TypeError):
        return None
    if not isinstance(bucket, str) or not key:
        return None
    etag = obj.get("eTag")
    return Created(bucket, key, str(record.get("eventTime", "")), etag if isinstance(etag, str) else None)


def files_for(objects: Iterable[Created], bucket: str, pattern: str) -> list[Created]:
    """The objects that are this source's files: its bucket, its key pattern, never a done folder.

    Each key once (its latest event), oldest first, as a run takes files.
    """
    regex = layout.key_pattern(pattern)
    latest: dict[str, Created] = {}
    for obj in objects:
        ours = obj.bucket == bucket and not layout.is_done(obj.key) and regex.match(obj.key)
        if ours and (obj.key not in latest or obj.time >= latest[obj.key].time):
            latest[obj.key] = obj
    return sorted(latest.values(), key=lambda c: (c.time, c.key))
