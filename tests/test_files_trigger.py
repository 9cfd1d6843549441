"""The thin waiting trigger against a moto server (aiobotocore cannot reach moto's in-process mock)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import integration_dict
from inbound.airflow.files_trigger import NewFilesTrigger
from inbound.config.model import Integration
from inbound.s3.source import list_new_files, listing_digest


@pytest.fixture
def bucket(moto_server, monkeypatch) -> tuple[Any, str]:
    """A fresh bucket on the moto server, and the AWS connection the trigger lists it with."""
    import boto3

    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps({"conn_type": "aws", "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"}}),
    )
    keys = {"AWS_ACCESS_KEY_ID": "e2e", "AWS_SECRET_ACCESS_KEY": "e2e-secret", "AWS_DEFAULT_REGION": "us-east-1"}
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    name = f"trigger-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name


def _trigger(bucket: str, seconds: float = 5, seen: str | None = None, marker: str | None = None) -> NewFilesTrigger:
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    return NewFilesTrigger(
        integration="crm",
        version="v1",
        source={"bucket": bucket, "key": "crm/users_*.csv", "marker": marker},
        poke_interval=0.2,
        deadline=deadline.isoformat(),
        seen=seen,
    )


def _first_event(trigger: NewFilesTrigger, during: Any = None) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        side = asyncio.create_task(during()) if during else None
        async for event in trigger.run():
            if side:
                await side
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(first(), timeout=60))


def test_the_trigger_row_holds_where_to_list_and_no_config() -> None:
    trigger = _trigger("b")
    classpath, kwargs = trigger.serialize()
    assert classpath == "inbound.airflow.files_trigger.NewFilesTrigger"
    assert NewFilesTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert set(kwargs) == {"integration", "version", "source", "poke_interval", "deadline", "seen"}
    assert kwargs["source"] == {"bucket": "b", "key": "crm/users_*.csv", "aws_conn_id": "aws_default", "marker": None}


def test_a_trigger_row_of_an_earlier_inbound_with_the_whole_config_still_loads() -> None:
    """Rows written before the trigger was thin carry `snapshot`; the triggerer must still run them."""
    integration = Integration.model_validate(integration_dict("crm", source={"bucket": "acme", "key": "crm/u_*.csv"}))
    old = NewFilesTrigger(snapshot=integration.snapshot(), poke_interval=1.0, deadline="2026-01-01T00:00:00+00:00")
    _, kwargs = old.serialize()
    assert kwargs["integration"] == "crm" and kwargs["version"] == integration.version and kwargs["seen"] is None
    assert kwargs["source"] == {"bucket": "acme", "key": "crm/u_*.csv", "aws_conn_id": "aws_default", "marker": None}


def test_it_fires_with_the_listing_of_new_files_never_the_done_ones(bucket) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="crm/success/20260101T000000Z_users_0.csv", Body=b"x")
    s3.put_object(Bucket=name, Key="crm/users_2.csv", Body=b"Email\n")
    s3.put_object(Bucket=name, Key="crm/other.csv", Body=b"Email\n")
    event = _first_event(_trigger(name))
    listed = list_new_files(s3, name, "crm/users_*.csv")
    assert [f.key for f in listed] == ["crm/users_2.csv"]
    assert event["status"] == "listed" and event["integration"] == "crm" and event["version"] == "v1"
    assert event["files"] == 1 and event["listing"] == listing_digest(listed)  # the worker's digest, byte for byte


def test_it_keeps_listing_until_a_file_arrives(bucket) -> None:
    s3, name = bucket

    async def drop_later() -> None:
        await asyncio.sleep(0.7)
        s3.put_object(Bucket=name, Key="crm/users_late.csv", Body=b"Email\n")

    event = _first_event(_trigger(name, seconds=20), during=drop_later)
    assert event["status"] == "listed" and event["files"] == 1


def test_a_listing_the_worker_judged_already_does_not_fire_again_until_it_changes(bucket) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="crm/users_1.csv", Body=b"Email\n")
    seen = listing_digest(list_new_files(s3, name, "crm/users_*.csv"))
    assert _first_event(_trigger(name, seconds=1, seen=seen)) == {"status": "timeout"}

    async def another() -> None:
        await asyncio.sleep(0.5)
        s3.put_object(Bucket=name, Key="crm/users_2.csv", Body=b"Email\n")

    event = _first_event(_trigger(name, seconds=20, seen=seen), during=another)
    assert event["status"] == "listed" and event["files"] == 2 and event["listing"] != seen


def test_with_a_completion_marker_only_complete_folders_count(bucket) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="crm/users_1.csv", Body=b"Email\n")
    assert _first_event(_trigger(name, seconds=1, marker="_SUCCESS")) == {"status": "timeout"}
    s3.put_object(Bucket=name, Key="crm/_SUCCESS", Body=b"")
    event = _first_event(_trigger(name, marker="_SUCCESS"))
    assert event["status"] == "listed" and event["files"] == 1


def test_it_times_out_at_its_own_deadline(bucket) -> None:
    _, name = bucket
    assert _first_event(_trigger(name, seconds=0.5)) == {"status": "timeout"}


def test_a_listing_error_is_reported_instead_of_waiting(bucket) -> None:
    event = _first_event(_trigger("no-such-bucket"))
    assert event["status"] == "error"
    assert "s3://no-such-bucket/crm/users_*.csv" in event["message"] and "NoSuchBucket" in event["message"]
