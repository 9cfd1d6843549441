"""Shared fixtures: configs written to a temp folder, moto's in-process S3, both stores.

PostgreSQL tests use the server at INBOUND_TEST_POSTGRES_URL (default: the local one);
when it is unreachable they fail, they never skip.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

_home = tempfile.mkdtemp(prefix="inbound-tests-airflow-")
os.environ.setdefault("AIRFLOW_HOME", _home)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_ENDPOINT_URL", None)

import pytest  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "dags" / "integrations"
POSTGRES_URL = os.environ.get("INBOUND_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BUCKET = "acme-exports"


def integration_dict(name: str = "crm_users", **overrides: Any) -> dict[str, Any]:
    """A valid config as a dict; tests override what they exercise."""
    config: dict[str, Any] = {
        "name": name,
        "schedule": "@hourly",
        "source": {"bucket": BUCKET, "key": f"{name}/users_*.csv"},
        "user_id": {"column": "Email"},
        "attributes": [
            {"column": "Plan", "name": f"{name}_plan", "type": "string"},
            {"column": "Open Tickets", "name": f"{name}_open_tickets", "type": "integer"},
        ],
    }
    config.update(overrides)
    return config


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    folder = tmp_path / "integrations"
    folder.mkdir()

    def write(filename: str, content: dict[str, Any] | str) -> Path:
        path = folder / filename
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path

    write.folder = folder  # type: ignore[attr-defined]
    return write


@pytest.fixture(autouse=True)
def fresh_s3_clients() -> Iterator[None]:
    """Each test builds its own S3 clients: `inbound.airflow.connections` keeps them per process for
    ten minutes, and a client built inside another test's moto mock, with its credentials, would
    send this test's calls to AWS itself (a print that needs no AWS access waited 30 s on retries)."""
    from inbound.airflow import connections

    connections._clients.clear()
    yield
    connections._clients.clear()


@pytest.fixture
def queue(monkeypatch) -> Iterator[tuple[Any, Any, str]]:
    """moto's S3 and SQS in this process: (s3, sqs, queue URL) with bucket `acme` and queue `inbound-events`."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        s3, sqs = boto3.client("s3", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket="acme")
        yield s3, sqs, sqs.create_queue(QueueName="inbound-events")["QueueUrl"]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory) -> Iterator[str]:
    """A moto server on loopback (its URL): for clients moto's in-process mock cannot reach (aiobotocore)."""
    from e2e.cluster import start_moto, stop_group

    proc, url = start_moto(tmp_path_factory.mktemp("moto"))
    yield url
    stop_group(proc)


@pytest.fixture
def s3() -> Iterator[Any]:
    """moto's in-process S3 with the example bucket."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _postgres_url() -> Iterator[str]:
    import psycopg

    schema = f"inbound_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same tests against both backends."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _postgres_url()


def migrated(url: str) -> str:
    """`url`, its store migrated as `inbound migrate` (the deploy step) leaves it: nothing else migrates."""
    from inbound.store import open_store

    open_store(url, migrate=True).close()
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Any]:
    """An open store, migrated as `inbound migrate` would (the deploy step: nothing else migrates)."""
    from inbound.store import open_store

    attribute_store = open_store(store_url, migrate=True)
    yield attribute_store
    attribute_store.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch) -> Iterator[SmtpSink]:
    """A real SMTP server on 127.0.0.1 and the `smtp_default` connection pointing at it."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "inbound@acme.test"},
            }
        ),
    )
    yield sink
    controller.stop()


@pytest.fixture
def crm() -> Any:
    """The pipeline tests' integration: `Plan` as `plan`, `Open Tickets` as the integer `open_tickets`."""
    from inbound.config.model import Integration

    return Integration.model_validate(
        integration_dict(
            "crm",
            attributes=[
                {"column": "Plan", "name": "plan"},
                {"column": "Open Tickets", "name": "open_tickets", "type": "integer"},
            ],
        )
    )
