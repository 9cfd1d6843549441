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

from inbound.s3 import layout
from inbound.s3.layout import S3File

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


MAX_KEY_BYTES = 1024  # S3's own limit: a longer key is no S3 object's


@dataclass(frozen=True)
class Notice:
    """What one queue message says: the objects it announces, and why any part of it was ignored.

    `ignored` never holds a value from the message (its body may be anything anyone sent).
    """

    objects: tuple[Created, ...] = ()
    ignored: str | None = None


def created(body: str) -> list[Created]:
    """The objects one message says were created; [] for a test event, other events or other messages."""
    return list(read(body).objects)


def read(body: object) -> Notice:
    """One message, whatever its shape: never raises, and every string it keeps is valid UTF-8.

    The queue is anyone's who may send to it (another service, an SNS topic), and one
    event the triggerer cannot encode (a lone surrogate such as `\\ud800`, which JSON
    carries) once killed the whole triggerer. So every field is checked for its type and its
    encoding here, on the way in, and a record that fails is dropped on its own.
    """
    if not isinstance(body, str) or not _utf8(body):
        return Notice(ignored="its body is not UTF-8 text")
    if len(body) > MAX_MESSAGE_BYTES:
        return Notice(ignored=f"it is longer than SQS's {MAX_MESSAGE_BYTES // 1024} KiB")
    message = _json(body)
    if isinstance(message, dict) and message.get("Type") == "Notification" and "Records" not in message:
        inner = message.get("Message")  # an SNS envelope (fan-out to a queue per integration): one level only
        message = _json(inner) if isinstance(inner, str) else None
    if isinstance(message, dict) and message.get("Event") == "s3:TestEvent":
        return Notice()  # S3 checking that it may send: nothing to do, nothing wrong
    if not isinstance(message, dict) or not isinstance(message.get("Records"), list):
        return Notice(ignored="it is no S3 notification (no JSON object with a list of Records)")
    objects: list[Created] = []
    bad: list[int] = []
    for number, entry in enumerate(message["Records"], start=1):
        outcome = _created(entry)
        if isinstance(outcome, Created):
            objects.append(outcome)
        elif outcome is _BAD:
            bad.append(number)
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        reason = f"it is no S3 notification: record {shown} of {len(message['Records'])} is not one S3 writes"
        return Notice(tuple(objects), reason)
    return Notice(tuple(objects))


_BAD = object()  # a record that claims to be S3's and is not; other S3 events are simply not ours


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's recursion limit
        return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and _utf8(value) else None


def _created(record: Any) -> Created | object | None:
    """The object one record says was created; None for another event; `_BAD` for a forged record."""
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
        return _BAD
    name = _text(record.get("eventName"))
    if name is None:
        return _BAD
    if not name.startswith("ObjectCreated:"):
        return None
    s3, time = record.get("s3"), record.get("eventTime", "")
    bucket_part = s3.get("bucket") if isinstance(s3, dict) else None
    obj = s3.get("object") if isinstance(s3, dict) else None
    bucket = _text(bucket_part.get("name")) if isinstance(bucket_part, dict) else None
    raw_key = _text(obj.get("key")) if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or not bucket or not raw_key or _text(time) is None:
        return _BAD
    key = unquote_plus(raw_key)  # invalid %-escapes decode to U+FFFD, never to a surrogate
    if not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
        return _BAD
    etag = obj.get("eTag")
    if etag is not None and _text(etag) is None:
        return _BAD
    return Created(bucket, key, str(time), etag)


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
    """The listed files up to the newest one the events named (a marker names its whole folder).

    `files` are listed oldest first. The run also takes the older files still waiting: runs
    of one integration may overlap, and a run for a newer file must never write before an
    older one (the older value would win). The run for the older file then finds it in the
    import log and skips it. A file the events named that is no longer listed (imported and
    moved already, or deleted) is simply not there: an event for a done file imports nothing.
    """
    keys = set(named(payloads))
    marked = {(bucket, key[: key.rfind("/") + 1]) for bucket, key in keys if key.rsplit("/", 1)[-1] == marker}
    hits = [i for i, f in enumerate(files) if (f.bucket, f.key) in keys or (f.bucket, f.folder) in marked]
    return list(files[: hits[-1] + 1]) if hits else []
