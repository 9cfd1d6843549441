"""The event trigger of an integration in event mode: S3 notifications from an SQS queue.

Every integration on one queue shares one long poll per triggerer (`shared_stream_key`),
so two integrations that read the same file both hear of it, and their watchers never
compete for a queue's messages. The poll runs in Airflow's ack mode: a message is deleted
only after every integration's trigger has moved past it and Airflow stored the events it
gave (a triggerer that dies before that gets the message again after its visibility
timeout; a repeated event imports nothing twice, as imports are idempotent). With several
triggerers, Airflow spreads the watchers over them: a message no trigger of the triggerer
that received it takes is released to the queue at once for the others
(`QueueProducer.advance`), and a second delivery of one S3 event is dropped
(`QueueProducer._duplicate`). Each trigger
fires only for its own source's files (`inbound.events.notifications`): test events, other event types
and our own moves and reports start no DAG run.

`inbound.airflow.assets` attaches one to each event-mode integration's asset (`AssetWatcher`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Iterable, Sequence
from dataclasses import asdict
from typing import Any, NamedTuple

from airflow.triggers.base import BaseEventTrigger, TriggerEvent
from airflow.triggers.shared_stream import AdvanceItem, SharedStreamProducer, reject_shared_stream_event

from inbound.airflow.metrics import emit_queue
from inbound.events.notifications import Created, files_for, queue_url, read
from inbound.s3.layout import is_done

WAIT_SECONDS = 20  # one receive waits this long for a message (SQS's longest long poll)
VISIBILITY_SECONDS = 300  # a received message stays hidden this long unless deleted, then comes again
DELETE_BATCH = 10  # SQS deletes (and changes the visibility of) at most ten messages per call
RECENT_MESSAGES = 10_000  # announcements remembered to drop a second delivery of one S3 event (SQS repeats)
RELEASE_RECEIVES = 8  # a message no trigger here took goes back to the queue until received this often
RELEASE_MAX_DELAY_SECONDS = 60  # ... after 1, 2, 4, ... s (about two minutes in all: a dead triggerer's watchers move)
DELETE_ATTEMPTS = 4  # tries of one batch of deletes that SQS failed on its side
DELETE_BACKOFF_SECONDS = 0.5  # the first pause before a retry (doubling)
MAX_BACKOFF_SECONDS = 60.0  # the longest pause between two receives that failed
log = logging.getLogger(__name__)


def sqs_client(aws_conn_id: str) -> Any:
    """A boto3 SQS client from the Airflow connection (keys, role, or the default chain)."""
    from airflow.providers.amazon.aws.hooks.sqs import SqsHook

    return SqsHook(aws_conn_id=aws_conn_id).get_conn()


class Received(NamedTuple):
    """What `advance` needs of one received message: its receipt handle, how often SQS has
    delivered it, and whether it announces an object that may be some integration's file."""

    handle: str
    receives: int
    announces: bool


class QueueProducer(SharedStreamProducer):
    """One long poll of an SQS queue; deletes the messages every subscriber is done with.

    :param queue: the queue's URL or name.
    :param aws_conn_id: the Airflow connection for SQS.
    :param wait_seconds: how long one receive waits for a message.
    :param client: a boto3 SQS client (default: one from `aws_conn_id`, made when the poll opens).
    """

    def __init__(self, queue: str, aws_conn_id: str, wait_seconds: int = WAIT_SECONDS, client: Any = None) -> None:
        self.queue, self.aws_conn_id, self.wait_seconds = queue, aws_conn_id, wait_seconds
        self.client, self.url = client, ""
        self.deleted = self.undeleted = self.released = self.duplicates = 0  # messages, since the poll started
        self.recent: OrderedDict[tuple[Created, ...], str] = OrderedDict()  # what a message announced -> its id
        self.metrics_backend: Any = None  # Airflow's stats module (tests give another)

    async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
        """Yield (the objects a message announces, its receipt handle), for ever; boto3 runs on a thread.

        Each message is read here, once for all the queue's subscribers: a message that is no
        S3 notification is logged once (its id and size, never its body) and announces
        nothing, so no subscriber ever sees what it held, and it is deleted like any other.

        An SQS error (no such queue yet, no right to it, an outage) never ends the poll: it is
        logged and retried with back-off up to `MAX_BACKOFF_SECONDS`, and the sweep imports
        what lands meanwhile.
        """
        failures = 0
        while True:
            try:
                answer = await asyncio.to_thread(self._receive)
            except Exception as exc:  # boto3's and botocore's errors, and a connection that cannot be made
                failures += 1
                delay = min(2.0**failures, MAX_BACKOFF_SECONDS)
                log.error(
                    "receiving S3 notifications from SQS queue %s failed (%s); retrying in %.0f s",
                    self.queue,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            messages = answer.get("Messages", [])
            announced = [self.objects(message) for message in messages]
            self._count(
                received=len(messages),
                ignored=sum(1 for objects in announced if not objects),
                redelivered=sum(
                    1 for m in messages if int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)) > 1
                ),
            )
            for message, objects in zip(messages, announced, strict=True):
                if await self._duplicate(message, objects):
                    continue
                receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
                possible = any(not is_done(obj.key) for obj in objects)
                yield objects, Received(message["ReceiptHandle"], receives, possible)

    async def _duplicate(self, message: dict[str, Any], objects: tuple[Created, ...]) -> bool:
        """A second SQS message for S3 events this poll already passed on: deleted, never broadcast.

        SQS delivers at least once, and S3 may send one event twice: the copies are distinct
        messages announcing the same objects (bucket, key, ETag and event time). A message
        received again (the same message id: its visibility timeout ran out) is no duplicate.
        Copies that reach another triggerer are harmless too: the write of an object version
        already imported is skipped as done.
        """
        if not objects:
            return False
        message_id = str(message.get("MessageId", ""))
        first = self.recent.get(objects)
        if first is None or first == message_id:
            self.recent[objects] = message_id
            self.recent.move_to_end(objects)
            while len(self.recent) > RECENT_MESSAGES:
                self.recent.popitem(last=False)
            return False
        self.duplicates += 1
        deleted, undeleted = self.deleted, self.undeleted
        await self._delete([message["ReceiptHandle"]])
        self._count(duplicate=1, deleted=self.deleted - deleted, undeleted=self.undeleted - undeleted)
        return True

    def objects(self, message: dict[str, Any]) -> tuple[Created, ...]:
        """The objects one received message announces; why not, logged without its body."""
        body = message.get("Body")
        notice = read(body)
        if notice.ignored:
            size = len(body.encode("utf-8", "replace")) if isinstance(body, str) else 0
            log.warning(
                "ignored (part of) message %s on SQS queue %s (%d bytes): %s",
                str(message.get("MessageId", "?"))[:100],
                self.queue,
                size,
                notice.ignored,
            )
        return notice.objects

    def _receive(self) -> dict[str, Any]:
        if self.client is None:
            self.client = sqs_client(self.aws_conn_id)
        if not self.url:
            self.url = queue_url(self.client, self.queue)
        return dict(
            self.client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=VISIBILITY_SECONDS,
                AttributeNames=["ApproximateReceiveCount"],  # above 1: a message received before
            )
        )

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        """Delete what a trigger here took or nobody can take; release what no trigger here took.

        - A message some trigger here fired for (`acked`), that announces no possible file,
          or that SQS delivered `RELEASE_RECEIVES` times already, is deleted.
        - One that no trigger here fired for (each refused it, or none was subscribed yet)
          is *released*: made visible again soon (`_release`), so that another triggerer, whose
          triggers may be the integrations it names (Airflow spreads triggers over
          triggerers), receives it. What none ever takes is found by the sweep.
        - One a trigger failed on is left alone: it comes back after its visibility timeout.

        Each delete's answer is checked, as the Amazon provider's `SqsSensorTrigger` does: the
        entries SQS failed for its own reasons (throttling, a fault of its own) and a call that
        failed whole are tried again, `DELETE_ATTEMPTS` times with back-off. What is still not
        deleted, or was refused as the caller's fault (a receipt handle expired: the message
        was shown again meanwhile), is logged and counted (`undeleted`): it comes back, and
        its files' imports are skipped as done. Never raises: the shared poll goes on.
        """
        delete: list[str] = []
        release: list[Received] = []
        for item in batch:
            outcome, received = item.outcome, _received(item.broker_payload)
            if outcome.failed:
                continue
            taken = outcome.acked > 0
            if taken or not received.announces or received.receives >= RELEASE_RECEIVES:
                delete.append(received.handle)
            else:
                release.append(received)
        deleted, undeleted = self.deleted, self.undeleted
        for start in range(0, len(delete), DELETE_BATCH):
            await self._delete(delete[start : start + DELETE_BATCH])
        released = 0
        for start in range(0, len(release), DELETE_BATCH):
            released += await self._release(release[start : start + DELETE_BATCH])
        self._count(deleted=self.deleted - deleted, undeleted=self.undeleted - undeleted, released=released)

    async def _release(self, messages: Sequence[Received]) -> int:
        """Show messages again after 1, 2, 4, ... s (by how often they were received), up to a minute.

        The back-off spans the time Airflow takes to move a dead triggerer's watchers to a
        live one (a message released at once would use up its receives in seconds meanwhile).
        One that fails to change comes back after its visibility timeout anyway.
        """
        entries = [
            {
                "Id": str(i),
                "ReceiptHandle": m.handle,
                "VisibilityTimeout": min(2 ** (max(m.receives, 1) - 1), RELEASE_MAX_DELAY_SECONDS),
            }
            for i, m in enumerate(messages)
        ]
        try:
            answer = await asyncio.to_thread(
                self.client.change_message_visibility_batch, QueueUrl=self.url, Entries=entries
            )
        except Exception as exc:
            log.warning("releasing %d message(s) of %s failed (%s)", len(messages), self.url, type(exc).__name__)
            return 0
        released = len(answer.get("Successful", []))
        self.released += released
        return released

    def _count(self, **counts: int) -> None:
        """Airflow's metrics for this queue (`inbound.airflow.metrics.emit_queue`); never breaks the poll."""
        try:
            emit_queue(self.queue, counts, self.metrics_backend)
        except Exception:  # a metrics backend that fails must not stop the events
            log.warning("metrics for SQS queue %s not sent", self.queue, exc_info=True)

    async def _delete(self, handles: Sequence[str]) -> None:
        pending = {str(i): handle for i, handle in enumerate(handles)}
        why = ""
        for attempt in range(DELETE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(min(DELETE_BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
            entries = [{"Id": i, "ReceiptHandle": handle} for i, handle in pending.items()]
            try:
                answer = await asyncio.to_thread(self.client.delete_message_batch, QueueUrl=self.url, Entries=entries)
            except Exception as exc:  # the call failed whole (network, throttling): all of it again
                response = getattr(exc, "response", None)
                code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
                why = str(code or type(exc).__name__)  # botocore's error code, never the message's text
                continue
            self.deleted += len(answer.get("Successful", []))
            retry = {}
            for failure in answer.get("Failed", []):
                why = str(failure.get("Code", "unknown"))
                if failure.get("SenderFault"):  # will not succeed on a retry
                    self._undeleted(1, why)
                else:
                    retry[failure["Id"]] = pending[failure["Id"]]
            pending = retry
            if not pending:
                return
        self._undeleted(len(pending), why)

    def _undeleted(self, count: int, why: str) -> None:
        self.undeleted += count
        log.warning(
            "%d message(s) of %s not deleted (%s): they come back after their visibility timeout, and "
            "an import of a file already done is skipped; %d not deleted since the poll started",
            count,
            self.url,
            why,
            self.undeleted,
        )


def _received(payload: Any) -> Received:
    """A broker payload as `advance` gets it (a bare receipt handle from a poll before `Received`)."""
    return payload if isinstance(payload, Received) else Received(str(payload), 1, True)


class QueueEventsTrigger(BaseEventTrigger):
    """Fires with this source's new files each time the queue announces some.

    :param queue: the SQS queue's URL or name (`source.events.queue`).
    :param aws_conn_id: the Airflow connection for SQS.
    :param bucket: the integration's bucket.
    :param key: the integration's key glob.
    :param marker: the source's completion marker, whose own events count too.
    """

    def __init__(self, *, queue: str, aws_conn_id: str, bucket: str, key: str, marker: str | None = None) -> None:
        super().__init__()
        self.queue, self.aws_conn_id, self.bucket, self.key, self.marker = queue, aws_conn_id, bucket, key, marker

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {"queue": self.queue, "aws_conn_id": self.aws_conn_id, "bucket": self.bucket, "key": self.key}
        return f"{__name__}.QueueEventsTrigger", {**kwargs, "marker": self.marker}

    def shared_stream_key(self) -> Hashable:
        """Every integration on one queue (and connection) shares its one poll."""
        return ("inbound-s3-notifications", self.queue, self.aws_conn_id)

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> SharedStreamProducer:
        return QueueProducer(kwargs["queue"], kwargs["aws_conn_id"])

    def event(self, objects: Iterable[Created]) -> TriggerEvent | None:
        """The event one message gives this trigger: its source's files, oldest first; None if none.

        Never raises: one trigger's exception ends every subscriber of the shared poll, and the
        messages of that receive come back only after their visibility timeout.
        """
        try:
            files = files_for(objects, self.bucket, self.key, self.marker)
        except Exception:  # a bug here must not stop the queue: drop, and say so (no message content)
            log.exception("matching a message on SQS queue %s to s3://%s/%s failed", self.queue, self.bucket, self.key)
            return None
        return TriggerEvent({"files": [asdict(f) for f in files]}) if files else None

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        async for objects in shared_stream:
            event = self.event(objects)
            if event is not None:
                yield event
            else:  # not ours: the producer releases what no trigger here takes (`QueueProducer.advance`)
                reject_shared_stream_event()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Alone (the triggerer could not share the stream): the same poll, deleting each message once read."""
        producer = QueueProducer(self.queue, self.aws_conn_id)
        async for objects, handle in producer.open_stream():
            event = self.event(objects)
            if event is not None:
                yield event
            await asyncio.to_thread(producer.client.delete_message, QueueUrl=producer.url, ReceiptHandle=handle.handle)
