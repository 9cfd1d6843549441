"""The SQS event trigger against moto's SQS, with real S3 notifications where moto sends them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from airflow.triggers.shared_stream import AdvanceItem, AdvanceOutcome

from inbound.airflow.queue_trigger import QueueEventsTrigger, QueueProducer

REGION = "us-east-1"


@pytest.fixture
def aws(queue) -> tuple[Any, Any, str]:
    """moto's S3 and SQS (`queue` in conftest), the bucket notifying the queue."""
    s3, sqs, url = queue
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket="acme",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return s3, sqs, url


def trigger(key: str) -> QueueEventsTrigger:
    return QueueEventsTrigger(queue="inbound-events", aws_conn_id="aws_default", bucket="acme", key=key)


async def take(stream: AsyncIterator[Any], count: int) -> list[Any]:
    taken = []
    async for item in stream:
        taken.append(item)
        if len(taken) == count:
            break
    return taken


def hidden(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def test_two_integrations_on_one_queue_each_get_only_their_files(aws) -> None:
    s3, sqs, _ = aws
    s3.put_object(Bucket="acme", Key="crm/users 1+2.csv", Body=b"Email\n")
    s3.put_object(Bucket="acme", Key="hr/staff.csv", Body=b"Email\n")
    s3.put_object(Bucket="acme", Key="crm/success/20261201T100000Z_users_0.csv", Body=b"Email\n")  # our move
    producer = QueueProducer("inbound-events", "aws_default", wait_seconds=0, client=sqs)
    raw = asyncio.run(take(producer.open_stream(), 4))  # S3's test event first, then the three objects
    assert raw[0][0] == ()  # the test event announces nothing
    items = [objects for objects, _ in raw]

    async def replay() -> AsyncIterator[Any]:
        for objects in items:
            yield objects

    crm = asyncio.run(take(trigger("crm/*.csv").filter_shared_stream(replay()), 1))
    hr = asyncio.run(take(trigger("hr/*.csv").filter_shared_stream(replay()), 1))
    assert [f["key"] for e in crm for f in e.payload["files"]] == ["crm/users 1+2.csv"]
    assert [f["key"] for e in hr for f in e.payload["files"]] == ["hr/staff.csv"]
    assert trigger("crm/*.csv").shared_stream_key() == trigger("hr/*.csv").shared_stream_key()


def test_a_test_event_and_our_own_writes_fire_nothing(aws) -> None:
    s3, sqs, url = aws
    sqs.send_message(QueueUrl=url, MessageBody="not an S3 notification")
    s3.put_object(Bucket="acme", Key="crm/failed/20261201T100000Z_users_0.csv.error.txt", Body=b"x")
    events = [trigger("crm/*.csv").event(objects) for objects in _received(sqs, url, 3)]  # with S3's test event
    assert events == [None, None, None]


def _received(sqs: Any, url: str, count: int) -> list[Any]:
    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=sqs)
    return [objects for objects, _ in asyncio.run(take(producer.open_stream(), count))]


def test_messages_are_deleted_only_when_every_subscriber_is_done(aws) -> None:
    s3, sqs, url = aws
    for i in range(3):
        s3.put_object(Bucket="acme", Key=f"crm/users_{i}.csv", Body=b"Email\n")
    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=sqs)
    received = asyncio.run(take(producer.open_stream(), 4))  # S3's test event and the three objects
    assert hidden(sqs, url) == 4  # received, not deleted: a crash now gets them again
    done = AdvanceOutcome(acked=1, failed=0, rejected=0)
    failed = AdvanceOutcome(acked=0, failed=1, rejected=0)
    outcomes = [done, done, failed, done]
    asyncio.run(producer.advance([AdvanceItem(handle, o) for (_, handle), o in zip(received, outcomes)]))
    assert hidden(sqs, url) == 1  # the failed one comes back after its visibility timeout


class FlakySqs:
    """moto's SQS whose deletes fail as told, call by call: "raise" (the whole call), "first"
    (its first entry, SQS's fault: not deleted), "expired" (its first entry, the caller's fault)."""

    def __init__(self, sqs: Any, failures: list[str]) -> None:
        self.sqs, self.failures, self.calls = sqs, failures, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls.append([e["Id"] for e in Entries])
        failure = self.failures.pop(0) if self.failures else None
        if failure == "raise":
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "DeleteMessageBatch")
        if failure in ("first", "expired"):
            first, rest = Entries[0], Entries[1:]
            answer = self.sqs.delete_message_batch(QueueUrl=QueueUrl, Entries=rest) if rest else {"Successful": []}
            code, sender = ("InternalError", False) if failure == "first" else ("ReceiptHandleIsInvalid", True)
            return {**answer, "Failed": [{"Id": first["Id"], "Code": code, "SenderFault": sender}]}
        return self.sqs.delete_message_batch(QueueUrl=QueueUrl, Entries=Entries)


def _received_by(producer: QueueProducer, s3: Any, count: int) -> list[Any]:
    for i in range(count - 1):
        s3.put_object(Bucket="acme", Key=f"crm/users_{i}.csv", Body=b"Email\n")
    return asyncio.run(take(producer.open_stream(), count))  # S3's test event and the objects


DONE = AdvanceOutcome(acked=1, failed=0, rejected=0)


@pytest.mark.parametrize("failures", [["first"], ["raise"], ["raise", "first", "first"]])
def test_deletes_that_sqs_failed_are_tried_again(aws, monkeypatch, failures) -> None:
    from inbound.airflow import queue_trigger

    monkeypatch.setattr(queue_trigger, "DELETE_BACKOFF_SECONDS", 0)
    s3, sqs, url = aws
    flaky = FlakySqs(sqs, list(failures))
    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=flaky)
    received = _received_by(producer, s3, 3)
    asyncio.run(producer.advance([AdvanceItem(handle, DONE) for _, handle in received]))
    assert hidden(sqs, url) == 0 and (producer.deleted, producer.undeleted) == (3, 0)
    assert len(flaky.calls) == len(failures) + 1 and flaky.calls[-1] == (
        ["0"] if failures[-1] == "first" else ["0", "1", "2"]
    )


def test_a_delete_that_cannot_succeed_is_counted_and_said_not_retried(aws, monkeypatch, caplog) -> None:
    from inbound.airflow import queue_trigger

    monkeypatch.setattr(queue_trigger, "DELETE_BACKOFF_SECONDS", 0)
    s3, sqs, url = aws
    flaky = FlakySqs(sqs, ["expired"] + ["raise"] * queue_trigger.DELETE_ATTEMPTS)
    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=flaky)
    received = _received_by(producer, s3, 3)
    with caplog.at_level("WARNING", logger="inbound.airflow.queue_trigger"):
        asyncio.run(producer.advance([AdvanceItem(handle, DONE) for _, handle in received[:2]]))  # expired: 1 of 2
        asyncio.run(producer.advance([AdvanceItem(received[2][1], DONE)]))  # SQS down for every attempt
    assert (producer.deleted, producer.undeleted) == (1, 2)
    assert len(flaky.calls) == 1 + queue_trigger.DELETE_ATTEMPTS  # the expired handle was not tried again
    said = [r.getMessage() for r in caplog.records]
    assert any("1 message(s)" in m and "ReceiptHandleIsInvalid" in m for m in said)
    assert any("ThrottlingException" in m and "2 not deleted since the poll started" in m for m in said)
    assert hidden(sqs, url) == 2  # they come back after their visibility timeout


class Recorder:
    """Airflow's stats module as `emit_queue` calls it."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def incr(self, stat: str, count: int = 1, tags: dict[str, str] | None = None) -> None:
        assert tags is None  # plain StatsD (the default): the queue is in the name
        self.counts[stat] = self.counts.get(stat, 0) + count


def test_the_poll_counts_received_ignored_redelivered_deleted_and_undeleted_messages(aws, monkeypatch) -> None:
    from inbound.airflow import queue_trigger

    monkeypatch.setattr(queue_trigger, "DELETE_BACKOFF_SECONDS", 0)
    s3, sqs, url = aws
    sqs.send_message(QueueUrl=url, MessageBody="not an S3 notification")
    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=FlakySqs(sqs, ["expired"]))
    producer.metrics_backend = stats = Recorder()
    s3.put_object(Bucket="acme", Key="crm/users.csv", Body=b"Email\n")
    received = asyncio.run(take(producer.open_stream(), 3))  # the stray message, S3's test event, one object
    again = next(handle for objects, handle in received if not objects)  # one that announced nothing
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again.handle, VisibilityTimeout=0)  # shown again
    redelivered = asyncio.run(take(producer.open_stream(), 1))
    rest = [handle for _, handle in received if handle != again] + [handle for _, handle in redelivered]
    asyncio.run(producer.advance([AdvanceItem(handle, DONE) for handle in rest]))
    prefix = "inbound.queue.inbound-events."
    assert stats.counts == {
        prefix + "received": 4,
        prefix + "ignored": 3,  # the stray message (twice) and S3's test event announce no object
        prefix + "redelivered": 1,
        prefix + "deleted": 2,
        prefix + "undeleted": 1,  # the first of the batch: its handle "expired"
    }


def visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


NOT_HERE = AdvanceOutcome(acked=0, failed=0, rejected=2)  # every trigger of this triggerer refused it
NOBODY = AdvanceOutcome(acked=0, failed=0, rejected=0)  # broadcast while no trigger was subscribed


@pytest.mark.parametrize("outcome", [NOT_HERE, NOBODY], ids=["refused by every trigger here", "no trigger online"])
def test_a_file_no_trigger_here_takes_is_released_for_the_other_triggerers(aws, outcome) -> None:
    """Airflow spreads watchers over triggerers: the integration it names may listen on another one.
    Released after 1, 2, 4, ... s by receive: long enough in all for a dead triggerer's watchers to move."""
    s3, sqs, url = aws
    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=sqs)
    producer.metrics_backend = stats = Recorder()
    test_event, created = _received_by(producer, s3, 2)  # S3's test event, one object
    asyncio.run(producer.advance([AdvanceItem(test_event[1], outcome), AdvanceItem(created[1], outcome)]))
    assert (visible(sqs, url), hidden(sqs, url)) == (0, 1)  # the test event gone; the object's message ...
    time.sleep(1.5)
    assert (visible(sqs, url), hidden(sqs, url)) == (1, 0)  # ... back after a second (its first receive)
    assert producer.released == 1 and producer.deleted == 1
    assert stats.counts["inbound.queue.inbound-events.released"] == 1


def test_a_message_released_often_enough_is_deleted_and_left_to_the_sweep(aws, monkeypatch) -> None:
    from inbound.airflow import queue_trigger

    monkeypatch.setattr(queue_trigger, "RELEASE_RECEIVES", 2)
    s3, sqs, url = aws
    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=sqs)
    test_event, created = _received_by(producer, s3, 2)
    asyncio.run(producer.advance([AdvanceItem(test_event[1], DONE), AdvanceItem(created[1], NOT_HERE)]))
    (again,) = asyncio.run(take(producer.open_stream(), 1))
    assert again[1].receives == 2 and again[0] == created[0]
    asyncio.run(producer.advance([AdvanceItem(again[1], NOT_HERE)]))
    assert (visible(sqs, url), hidden(sqs, url)) == (0, 0) and producer.released == 1


def test_a_second_delivery_of_one_s3_event_is_dropped_and_a_redelivery_is_not(aws) -> None:
    """SQS is at-least-once: the same notification as a second message starts nothing."""
    s3, sqs, url = aws
    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=sqs)
    producer.metrics_backend = stats = Recorder()
    s3.put_object(Bucket="acme", Key="crm/users_1.csv", Body=b"Email\n")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    body = next(m["Body"] for m in messages if "users_1" in m["Body"])
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody=body)
    (first,) = asyncio.run(take(producer.open_stream(), 1))
    assert [o.key for o in first[0]] == ["crm/users_1.csv"]
    for _ in range(2):  # the same S3 event, delivered twice more
        sqs.send_message(QueueUrl=url, MessageBody=body)
    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(take(producer.open_stream(), 1), timeout=3))
    assert (visible(sqs, url), hidden(sqs, url)) == (0, 1)  # the copies deleted, never passed on
    assert producer.duplicates == 2
    assert stats.counts["inbound.queue.inbound-events.duplicate"] == 2
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[1].handle, VisibilityTimeout=0)
    (again,) = asyncio.run(take(producer.open_stream(), 1))  # the same message again: not a copy
    assert again[0] == first[0] and again[1].receives == 2


def test_a_trigger_refuses_a_message_that_names_none_of_its_files(monkeypatch) -> None:
    from inbound.airflow import queue_trigger
    from inbound.events.notifications import Created

    refused: list[int] = []
    monkeypatch.setattr(queue_trigger, "reject_shared_stream_event", lambda: refused.append(1))
    mine = (Created("acme", "crm/users_1.csv", "2026-12-01T10:00:00Z"),)
    other = (Created("acme", "hr/staff.csv", "2026-12-01T10:00:00Z"),)

    async def stream() -> AsyncIterator[Any]:
        for objects in (other, mine, ()):
            yield objects

    events = asyncio.run(take(trigger("crm/*.csv").filter_shared_stream(stream()), 1))
    assert [f["key"] for e in events for f in e.payload["files"]] == ["crm/users_1.csv"]
    assert len(refused) == 1  # hr's file; the stream was left before the empty one


def test_a_failing_metrics_backend_does_not_stop_the_poll(aws) -> None:
    s3, sqs, url = aws

    class Broken:
        def incr(self, *args: object, **kwargs: object) -> None:
            raise OSError("statsd is down")

    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=sqs)
    producer.metrics_backend = Broken()
    received = _received_by(producer, s3, 2)
    asyncio.run(producer.advance([AdvanceItem(handle, DONE) for _, handle in received]))
    assert hidden(sqs, url) == 0 and producer.deleted == 2


def test_the_trigger_serializes_to_what_builds_it_again() -> None:
    original = trigger("crm/users_*.csv")
    path, kwargs = original.serialize()
    assert path == "inbound.airflow.queue_trigger.QueueEventsTrigger"
    again = QueueEventsTrigger(**kwargs)
    assert again.serialize() == original.serialize() and again.shared_stream_key() == original.shared_stream_key()


HELLO = json.dumps(
    {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-12-01T10:00:00.000Z",
                "s3": {"bucket": {"name": "acme"}, "object": {"key": "crm/hello.csv"}},
            }
        ]
    }
)


def test_the_poll_outlives_a_queue_that_does_not_exist_yet(aws, monkeypatch, caplog) -> None:
    from inbound.airflow import queue_trigger as notifications

    monkeypatch.setattr(notifications, "MAX_BACKOFF_SECONDS", 0.05)
    _, sqs, _ = aws
    producer = QueueProducer("created-later", "aws_default", wait_seconds=0, client=sqs)

    async def scenario() -> list[Any]:
        async def create_later() -> None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(sqs.create_queue, QueueName="created-later")
            await asyncio.to_thread(
                sqs.send_message, QueueUrl=sqs.get_queue_url(QueueName="created-later")["QueueUrl"], MessageBody=HELLO
            )

        creator = asyncio.create_task(create_later())
        taken = await asyncio.wait_for(take(producer.open_stream(), 1), timeout=30)
        await creator
        return taken

    assert [o.key for objects, _ in asyncio.run(scenario()) for o in objects] == ["crm/hello.csv"]
    assert "receiving S3 notifications from SQS queue created-later failed" in caplog.text


POISON = [
    json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "acme"}, "object": {"key": "crm/users_\ud800.csv"}},
                }
            ]
        }
    ),
    "[" * 100_000 + "]" * 100_000,
    json.dumps(
        {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"object": {"key": 5}}}]}
    ),
]


def test_a_poison_message_on_the_queue_is_dropped_once_and_the_good_ones_beside_it_still_fire(aws, caplog) -> None:
    """The messages of one receive: a forged one between two good ones (issue 24: it killed the triggerer)."""
    from airflow.sdk.execution_time.comms import _new_encoder

    s3, sqs, url = aws
    s3.put_object(Bucket="acme", Key="crm/users_1.csv", Body=b"Email\n")
    for body in POISON:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    s3.put_object(Bucket="acme", Key="crm/users_2.csv", Body=b"Email\n")
    producer = QueueProducer(url, "aws_default", wait_seconds=0, client=sqs)
    received = asyncio.run(take(producer.open_stream(), 6))  # S3's test event, 2 files, 3 poisons

    async def replay() -> AsyncIterator[Any]:
        for item, _ in received:
            yield item

    crm, hr = trigger("crm/*.csv"), trigger("hr/*.csv")
    events = asyncio.run(take(crm.filter_shared_stream(replay()), 2))
    assert [f["key"] for e in events for f in e.payload["files"]] == ["crm/users_1.csv", "crm/users_2.csv"]
    assert asyncio.run(take(hr.filter_shared_stream(replay()), 1)) == []
    encoder = _new_encoder()  # what the triggerer sends its events to the supervisor with
    for event in events:
        encoder.encode(event)
    dropped = [r.getMessage() for r in caplog.records if "is no S3 notification" in r.getMessage()]
    assert len(dropped) == 3, dropped  # once per message, not once per subscriber
    assert not any("\ud800" in line or "[[[" in line for line in dropped)  # never the body
