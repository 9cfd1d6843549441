"""S3 throttling and 5xx for real: a fault-injecting HTTP proxy in front of the moto server.

The client is the one tasks use (`inbound.airflow.connections.s3_client`, through an Airflow
connection whose endpoint is the proxy), so the retry settings under test are the real ones.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from inbound.airflow.connections import s3_client
from inbound.config.model import Integration
from inbound.errors import SourceUnavailable
from inbound.pipeline.steps import Identity, finalize, validate_and_map
from inbound.results import FileResult
from inbound.s3.source import S3_RETRIES, head_file, list_new_files
from inbound.s3.staging import Staging

BUCKET = "faults-exports"
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class FaultyProxy:
    """Answers 503 SlowDown to the next `fail_next` requests (or all, with -1); forwards the rest."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fail_next = 0
        self.requests: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.fail_next:
                    proxy.fail_next -= 1 if proxy.fail_next > 0 else 0
                    proxy.requests.append((self.command, self.path, 503))
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(SLOW_DOWN)))
                    self.end_headers()
                    self.wfile.write(SLOW_DOWN)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(
                    f"{proxy.upstream}{self.path}", data=body or None, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, answer_headers, payload = answer.status, answer.headers, answer.read()
                except urllib.error.HTTPError as error:
                    status, answer_headers, payload = error.code, error.headers, error.read()
                proxy.requests.append((self.command, self.path, status))
                self.send_response(status)
                for key, value in answer_headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def proxy(moto_server, monkeypatch) -> Iterator[FaultyProxy]:
    faulty = FaultyProxy(moto_server)
    monkeypatch.setenv(
        "AIRFLOW_CONN_FAULTY_S3",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "e2e",
                "password": "e2e-secret",
                "extra": {"endpoint_url": faulty.url, "region_name": "us-east-1"},
            }
        ),
    )
    client = s3_client("faulty_s3")
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    yield faulty
    faulty.server.shutdown()


def test_throttling_is_retried_with_back_off_until_s3_answers(proxy) -> None:
    client = s3_client("faulty_s3")
    client.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email\n")
    proxy.requests.clear()
    proxy.fail_next = 3
    files = list_new_files(client, BUCKET, "crm/users_*.csv")
    assert [f.key for f in files] == ["crm/users_1.csv"]
    assert [status for *_, status in proxy.requests] == [503, 503, 503, 200]


@pytest.fixture
def fewer_attempts(monkeypatch) -> int:
    """The production settings, with 3 attempts instead of 8 (whose back-off takes up to a minute)."""
    monkeypatch.setattr("inbound.airflow.connections.S3_RETRIES", {**S3_RETRIES, "total_max_attempts": 3})
    monkeypatch.setattr("inbound.airflow.connections._clients", {})  # no client built with the 8-attempt settings
    return 3


def test_s3_that_keeps_failing_is_a_clear_error_after_the_retries(proxy, fewer_attempts) -> None:
    client = s3_client("faulty_s3")
    proxy.requests.clear()
    proxy.fail_next = -1
    with pytest.raises(SourceUnavailable) as error:
        list_new_files(client, BUCKET, "crm/users_*.csv")
    message = str(error.value)
    assert message.startswith("listing s3://faults-exports/crm/users_*.csv: S3 answered SlowDown")
    assert f"{fewer_attempts} times, with back-off" in message and "the task retries later" in message
    assert len(proxy.requests) == fewer_attempts


def test_a_read_that_keeps_failing_moves_nothing(proxy, fewer_attempts, tmp_path) -> None:
    from conftest import integration_dict

    client = s3_client("faulty_s3")
    client.put_object(Bucket=BUCKET, Key="crm/users_2.csv", Body=b"Email,Plan,Open Tickets\nada@x,p,1\n")
    file = head_file(client, BUCKET, "crm/users_2.csv")
    client = s3_client("faulty_s3")  # with fewer attempts
    crm = Integration.model_validate(integration_dict("crm", source={"bucket": BUCKET, "key": "crm/users_*.csv"}))
    proxy.fail_next = -1
    with pytest.raises(SourceUnavailable, match=r"reading s3://faults-exports/crm/users_2.csv: S3 answered SlowDown"):
        validate_and_map(client, crm, file, Staging.folder(tmp_path))
    pending = FileResult(s3_file=file)
    assert (
        finalize(client, None, Identity(crm, "test"), pending).final_key is None
    )  # a file not processed is never moved
    proxy.fail_next = 0
    assert "crm/users_2.csv" in [f.key for f in list_new_files(client, BUCKET, "crm/users_*.csv")]
