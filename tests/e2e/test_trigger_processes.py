"""The trigger's looks in worker processes (as in `airflow triggerer`), against a moto server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from conftest import integration_dict
from inbound.airflow import files_trigger as trigger
from inbound.config.model import Integration

pytestmark = pytest.mark.slow
BUCKET = "trigger-exports"


def test_looks_run_in_worker_processes_and_find_the_file(moto_server, s3_server, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": {"endpoint_url": moto_server}})
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "e2e")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "e2e-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("INBOUND_CONFIG_DIR", str(tmp_path))  # no other reader: the store is never opened
    monkeypatch.setenv("INBOUND_LOOK_PROCESSES", "1")
    monkeypatch.setattr(trigger, "_pool", None)
    s3_server.create_bucket(Bucket=BUCKET)
    s3_server.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email\n")
    integration = Integration.model_validate(
        integration_dict("crm", source={"bucket": BUCKET, "key": "crm/users_*.csv"})
    )
    deadline = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    waiting = trigger.NewFilesTrigger(snapshot=integration.snapshot(), poke_interval=0.5, deadline=deadline)

    async def first() -> dict:
        async for event in waiting.run():
            return event.payload
        raise AssertionError("no event")

    try:
        event = asyncio.run(asyncio.wait_for(first(), timeout=120))
        assert isinstance(trigger._processes(), trigger.ProcessPoolExecutor)
    finally:
        if trigger._pool is not None:
            trigger._pool.shutdown()
    assert event["status"] == "found" and [f["key"] for f in event["files"]] == ["crm/users_1.csv"]
