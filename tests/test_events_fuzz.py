"""Any SQS message through the event trigger: never an exception, never an event the triggerer cannot send.

Issue 24: one forged message (a key with a lone surrogate) made an event the triggerer
could not encode, and its runner died with every trigger in it; a deeply nested body or a
key that is no string ended every subscriber of the shared poll. Whatever anyone sends to
the queue, the trigger fires only with this source's keys, and the event encodes with the
encoder the triggerer itself uses to send events to its supervisor (msgspec).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk.execution_time.comms import _new_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbound.airflow.queue_trigger import QueueEventsTrigger, QueueProducer
from inbound.events.notifications import MAX_MESSAGE_BYTES
from inbound.s3 import layout

PATTERN, MARKER = "crm/*.csv", "_SUCCESS"
any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates included
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
keys = st.one_of(
    st.builds(lambda name: f"crm/{name}.csv", any_text),  # ours, with any name, percent-encoded or not
    st.builds(lambda name: f"crm/{name}", any_text),
    st.sampled_from(["crm/a.csv", "crm/a+b%2B.csv", "crm/success/x.csv", "crm/failed/x.csv", "crm/_SUCCESS"]),
    st.sampled_from(["crm/%ED%A0%80.csv", "crm/%FF.csv", "crm/%00.csv", "crm/" + "a" * 1100 + ".csv"]),
    json_values,
)


def _maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, json_values)  # mostly the right shape, so the search reaches deep


records = st.fixed_dictionaries(
    {
        "eventSource": _maybe(st.just("aws:s3")),
        "eventName": _maybe(st.sampled_from(["ObjectCreated:Put", "ObjectCreated:Copy", "ObjectRemoved:Delete"])),
        "eventTime": _maybe(st.sampled_from(["2026-12-01T10:00:00.000Z", "2026-12-01T09:00:00Z", ""])),
        "s3": _maybe(
            st.fixed_dictionaries(
                {
                    "bucket": _maybe(st.fixed_dictionaries({"name": _maybe(st.sampled_from(["acme", "other"]))})),
                    "object": _maybe(
                        st.fixed_dictionaries({"key": keys}, optional={"eTag": _maybe(st.just("e1")), "size": scalars})
                    ),
                }
            )
        ),
    }
)
notifications = st.fixed_dictionaries({"Records": _maybe(st.lists(records, max_size=5))})


def _sns(message: Any) -> str:
    return json.dumps({"Type": "Notification", "Message": json.dumps(message)})


bodies = st.one_of(
    notifications.map(json.dumps),
    notifications.map(_sns),
    notifications.map(lambda m: json.dumps(m, ensure_ascii=False)),  # raw surrogates in the body itself
    json_values.map(json.dumps),
    json_values.map(_sns),
    st.builds(lambda n, c: c * n, st.integers(0, 200_000), st.sampled_from(["[", "{", '{"Records":['])),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(900, 120_000)),
    st.just("x" * (MAX_MESSAGE_BYTES + 1)),
    st.just(json.dumps({"Records": [], "pad": "x" * MAX_MESSAGE_BYTES})),
    st.just(""),
    any_text,
)


async def _through(trigger: QueueEventsTrigger, items: list[Any]) -> list[Any]:
    async def stream() -> AsyncIterator[Any]:
        for item in items:
            yield item

    return [event async for event in trigger.filter_shared_stream(stream())]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(batch=st.lists(bodies, min_size=1, max_size=3))
def test_any_message_gives_only_this_sources_files_in_an_event_the_triggerer_can_send(batch: list[str]) -> None:
    producer = QueueProducer("inbound-events", "aws_default")
    items = [producer.objects({"Body": body, "MessageId": str(i)}) for i, body in enumerate(batch)]
    trigger = QueueEventsTrigger(queue="inbound-events", aws_conn_id="aws_default", bucket="acme", key=PATTERN)
    marked = QueueEventsTrigger(
        queue="inbound-events", aws_conn_id="aws_default", bucket="acme", key=PATTERN, marker=MARKER
    )
    encoder = _new_encoder()  # what the triggerer encodes each event with before it reaches the supervisor
    ours = layout.key_pattern(PATTERN)
    for each in (trigger, marked):
        for event in asyncio.run(_through(each, items)):
            encoder.encode(event)
            json.dumps(event.payload, ensure_ascii=False).encode("utf-8")  # stored as JSON
            for file in event.payload["files"]:
                assert file["bucket"] == "acme" and not layout.is_done(file["key"])
                assert ours.match(file["key"]) or (each is marked and file["key"] == "crm/" + MARKER)
