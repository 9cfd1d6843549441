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
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from inbound import layout
from inbound.layout import S3File

MAX_MESSAGE_BYTES = 256 * 1024  # SQS's own limit: a longer body is not one of its messages


@dataclass(frozen=True)
class Created:
    """One object an event says was created."""

    bucket: str
    key: str
    time: str  # the event's time (ISO 8601), to take files oldest first
    etag: str | None = None


def queue_url(sqs: Any, queue: str) -> str:
    """The queue's URL: as given, or looked up by its name (`sqs` is a boto3 SQS client)."""
    if queue.startswith(("https://", "http://")):
        return queue
    return str(sqs.get_queue_url(QueueName=queue)["QueueUrl"])


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


def files_for(objects: Iterable[Created], bucket: str, pattern: str, marker: str | None = None) -> list[Created]:
    """The objects that are this source's files: its bucket, its key pattern, never a done folder.

    With a completion `marker`, the marker objects of the pattern's folders count too: a
    marker is what makes the files before it readable. Each key once (its latest event),
    oldest first, as a run takes files.
    """
    regex = layout.key_pattern(pattern)
    folders = re.compile(layout.glob_regex(pattern[: pattern.rfind("/") + 1]) + r"\Z")
    latest: dict[str, Created] = {}
    for obj in objects:
        if obj.bucket != bucket or layout.is_done(obj.key):
            continue
        folder, name = obj.key[: obj.key.rfind("/") + 1], obj.key.rsplit("/", 1)[-1]
        ours = regex.match(obj.key) or (marker is not None and name == marker and folders.match(folder))
        if ours and (obj.key not in latest or obj.time >= latest[obj.key].time):
            latest[obj.key] = obj
    return sorted(latest.values(), key=lambda c: (c.time, c.key))


def named(payloads: Iterable[Any]) -> list[tuple[str, str]]:
    """The (bucket, key) pairs the triggers' event payloads (`{"files": [Created as a dict, ...]}`) name.

    They come from the run's triggering asset events; anything else in them is ignored.
    """
    pairs: dict[tuple[str, str], None] = {}
    for payload in payloads:
        files = payload.get("files") if isinstance(payload, Mapping) else None
        for entry in files if isinstance(files, list) else []:
            if (
                isinstance(entry, Mapping)
                and isinstance(entry.get("bucket"), str)
                and isinstance(entry.get("key"), str)
            ):
                pairs[(entry["bucket"], entry["key"])] = None
    return list(pairs)


def announced(files: Sequence[S3File], payloads: Iterable[Any], marker: str | None = None) -> list[S3File]:
    """The listed files that events named: exactly their keys, and a marker's whole folder.

    A file the events named that is no longer listed (imported and moved already, or
    deleted) is simply not there: an event for a done file imports nothing.
    """
    keys = set(named(payloads))
    marked = {(bucket, key[: key.rfind("/") + 1]) for bucket, key in keys if key.rsplit("/", 1)[-1] == marker}
    return [f for f in files if (f.bucket, f.key) in keys or (f.bucket, f.folder) in marked]
