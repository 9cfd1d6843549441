"""Credentials from Airflow connections, resolved only at run time (never at parse time).

The one place besides `dag.py` that imports Airflow: the core modules take a boto3 client
and a store URL, so they run and test without a scheduler.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from inbound.source import S3_RETRIES
from inbound.store import AttributeStore, open_store, store_url_from_connection

STORE_CONN_ID = "inbound_store"
log = logging.getLogger(__name__)


CLIENT_TTL_S = 600.0
_clients: dict[tuple[str, str | None], tuple[float, Any]] = {}
_clients_lock = threading.Lock()


def s3_client(aws_conn_id: str) -> Any:
    """A boto3 S3 client from the integration's AWS connection (keys, role, or default chain).

    It retries throttling, 5xx answers and dropped connections with exponential back-off
    (`S3_RETRIES`); what still fails becomes a `SourceUnavailable` naming the file.
    Clients are reused for ten minutes per connection (boto3 clients are thread-safe):
    building one loads the S3 service model, about 0.2 s of CPU, which a triggerer polling
    for a thousand waiting sensors cannot pay on every look.
    """
    key = (aws_conn_id, os.environ.get(f"AIRFLOW_CONN_{aws_conn_id.upper()}"))
    with _clients_lock:
        created, client = _clients.get(key, (0.0, None))
        if client is None or time.monotonic() - created > CLIENT_TTL_S:
            client = _new_s3_client(aws_conn_id)
            _clients[key] = (time.monotonic(), client)
    return client


def _new_s3_client(aws_conn_id: str) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config

    config = Config(retries=dict(S3_RETRIES), connect_timeout=10, read_timeout=120)  # type: ignore[arg-type]
    return S3Hook(aws_conn_id=aws_conn_id, config=config).get_conn()


def store_url() -> str | None:
    """The `inbound_store` connection as a URL, or None for the embedded SQLite default."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(STORE_CONN_ID)
    except AirflowNotFoundException:
        return None
    return store_url_from_connection(conn)


def store() -> AttributeStore:
    return open_store(store_url())
