"""S3 listing for the triggerer's event loop: aiobotocore clients from Airflow's AWS connections.

A waiting trigger must never block the loop it shares with every other waiting task, so
it lists S3 asynchronously (as the Amazon provider's own S3 triggers do) rather than
running boto3 on a thread or in a process pool. Clients come from the provider's
`S3Hook.get_async_conn` (the connection's keys, role, endpoint and session factory, read
as the hook reads them) and are shared per connection and event loop by the triggers
waiting on it, for up to `CLIENT_TTL_S`: a triggerer holding a thousand waiting
integrations lists each of them every half minute or so, over one pool of connections.

Everything that is not an S3 call (which keys count, the completion marker, the digest)
is `inbound.s3.source`'s, shared with the sync listing the worker uses.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from inbound.s3.layout import S3File
from inbound.s3.source import S3_RETRIES, complete_files, listing_request, matching_files

CLIENT_TTL_S = 600.0  # a client is rebuilt after this long: credentials of an assumed role expire
MAX_POOL_CONNECTIONS = 64  # HTTP connections one client keeps to S3 (looks of many triggers at once)


@dataclass
class _Shared:
    """One client and how many triggers hold it (it closes when the last lets go)."""

    made: float
    context: Any
    client: Any
    users: int = 0


# Per event loop (weakly: a loop that ends takes its entries with it), per connection.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Shared]] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def s3_client(aws_conn_id: str) -> AsyncIterator[Any]:
    """The aiobotocore S3 client of an Airflow connection, shared by the triggers of one event loop.

    A trigger holds it for as long as it waits; the client closes when the last holder lets
    go (so `airflow dags test`, which runs a loop per trigger, leaves no open connection),
    and a client older than `CLIENT_TTL_S` is replaced for the next holder.
    """
    loop = asyncio.get_running_loop()
    lock = _locks.setdefault(loop, asyncio.Lock())
    async with lock:
        clients = _clients.setdefault(loop, {})
        shared = clients.get(aws_conn_id)
        if shared is None or time.monotonic() - shared.made > CLIENT_TTL_S:
            # The provider and botocore's service model load in about 0.3 s of CPU the first
            # time: on a thread, so the other triggers on this loop go on meanwhile.
            hook = await asyncio.to_thread(_hook, aws_conn_id)
            context = await hook.get_async_conn()
            shared = _Shared(time.monotonic(), context, await context.__aenter__())
            clients[aws_conn_id] = shared
        shared.users += 1
    try:
        yield shared.client
    finally:
        shared.users -= 1
        if not shared.users:
            if clients.get(aws_conn_id) is shared:
                del clients[aws_conn_id]
            await shared.context.__aexit__(None, None, None)


def _hook(aws_conn_id: str) -> Any:
    from aiobotocore.config import AioConfig
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    config = AioConfig(
        retries=dict(S3_RETRIES),
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )
    hook = S3Hook(aws_conn_id=aws_conn_id, config=config)
    asyncio.run(_warm(hook))
    return hook


async def _warm(hook: Any) -> None:
    """Make and close a client on this thread's own loop: the provider's sessions share one
    botocore loader, so the service model (about 0.2 s of JSON parsing, which holds the GIL)
    is parsed here, not when the triggerer's loop makes its client."""
    async with await hook.get_async_conn():
        pass


async def list_new_files(client: Any, bucket: str, pattern: str, marker: str | None) -> list[S3File]:
    """`inbound.s3.source.list_new_files` with an aiobotocore client: the same files, oldest first."""
    objects: list[dict[str, Any]] = []
    request: dict[str, Any] = listing_request(bucket, pattern)
    while True:  # pages by hand: a paginator costs more CPU to make than the request it sends
        page = await client.list_objects_v2(**request)
        objects.extend(page.get("Contents", []))
        if not page.get("IsTruncated"):
            break
        request["ContinuationToken"] = page["NextContinuationToken"]
    files = matching_files(bucket, pattern, objects)
    if not marker:
        return files
    files = [f for f in files if f.name != marker]
    folders = sorted({f.folder for f in files})
    times = await asyncio.gather(*(_marked(client, bucket, f"{folder}{marker}") for folder in folders))
    return complete_files(files, dict(zip(folders, times, strict=True)))


async def _marked(client: Any, bucket: str, key: str) -> Any:
    from inbound.s3 import layout

    try:
        return (await client.head_object(Bucket=bucket, Key=key))["LastModified"]
    except Exception as exc:
        if not layout.is_not_found(exc):
            raise
        return None
