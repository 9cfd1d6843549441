"""The S3 side of `inbound discover`: the head of one object, and what to do when S3 says no.

Discovery is often the first thing a person runs against a new bucket, so a refusal is
explained with its likely cause and fix (the endpoint, the credentials, the IAM
permission, the region, a key that is close to the one asked for). In the web API's wizard
a key is suggested only when the caller may sample it (`readable`, `inbound.discovery.scope`):
the listing never shows another integration's files, a report or a staged set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from inbound.errors import DiscoveryError
from inbound.reading.compression import GZIP_MAGIC, gunzip
from inbound.s3 import layout
from inbound.suggest import closest

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

_UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError)
_STREAM_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Head:
    """The first bytes of an object, inflated when it is gzip."""

    data: bytes
    size: int  # the object's size in S3 (compressed)
    complete: bool  # `data` is the whole file
    compressed: bool


def fetch_head(client: S3Client, bucket: str, key: str, limit: int) -> Head:
    """The first `limit` bytes of the file (a ranged GET).

    A gzip file is inflated here: the head of its compressed bytes is not the head of the
    file, so the object is streamed and inflated until `limit` bytes came out (never more:
    a gzip bomb stays small).
    """
    try:
        response = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{limit - 1}")
    except ClientError as exc:
        if layout.error_code(exc) == "InvalidRange":  # an empty object
            return Head(b"", 0, complete=True, compressed=False)
        raise
    data = response["Body"].read()
    content_range = response.get("ContentRange") or ""
    size = len(data)
    if "/" in content_range and not content_range.endswith("*"):
        size = max(size, int(content_range.rsplit("/", 1)[1]))
    if not data.startswith(GZIP_MAGIC):
        return Head(data, size, complete=len(data) >= size, compressed=False)
    if len(data) >= size:
        inflated = gunzip([data], limit)
    else:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            inflated = gunzip(body.iter_chunks(_STREAM_CHUNK), limit)
        finally:
            body.close()
    return Head(inflated.data, size, complete=inflated.ended and not inflated.over_limit, compressed=True)


def explain(
    exc: Exception,
    client: S3Client,
    bucket: str,
    key: str,
    aws_conn_id: str,
    readable: Callable[[str], bool] | None = None,
) -> DiscoveryError:
    """A message that names the object, the cause and the fix (`readable`: the keys it may suggest)."""
    uri = f"s3://{bucket}/{key}"
    conn = f"Airflow connection {aws_conn_id!r}"
    if isinstance(exc, _UNREACHABLE):
        endpoint = client.meta.endpoint_url
        return DiscoveryError(
            f"{uri}: cannot reach the S3 endpoint {endpoint or ''}".rstrip()
            + f" ({type(exc).__name__}); check `endpoint_url` in the extra of the {conn} "
            "(MinIO or another S3 API) and that the network allows the connection"
        )
    if isinstance(exc, NoCredentialsError):
        return DiscoveryError(
            f"{uri}: no AWS credentials found for the {conn}; set the access key and secret as its "
            "login and password, `role_arn` in its extra, or configure the default AWS credential chain"
        )
    if not isinstance(exc, ClientError):
        return DiscoveryError(f"{uri}: {type(exc).__name__}: {exc}")
    return _refusal(exc, client, bucket, key, conn, readable)


def _refusal(
    exc: ClientError, client: S3Client, bucket: str, key: str, conn: str, readable: Callable[[str], bool] | None
) -> DiscoveryError:
    """S3 answered, and said no."""
    uri = f"s3://{bucket}/{key}"
    code, status = layout.error_code(exc), layout.http_status(exc)
    if code == "NoSuchBucket":
        return DiscoveryError(
            f"{uri}: the bucket {bucket!r} does not exist (NoSuchBucket); check the bucket name, "
            f"and the account, region and `endpoint_url` the {conn} points at"
        )
    if layout.is_not_found(exc):
        return DiscoveryError(
            f"{uri}: no object with the key {key!r} in the bucket {bucket!r} (NoSuchKey)"
            + _similar_keys(client, bucket, key, readable)
        )
    if code in layout.CREDENTIALS_REFUSED_CODES:
        return DiscoveryError(
            f"{uri}: the credentials were refused ({code}); check the access key (login) and secret "
            f"(password) of the {conn}, or its `role_arn` / session token if it assumes a role"
        )
    if layout.is_access_denied(exc):
        return DiscoveryError(
            f"{uri}: access denied ({code or status}); the identity of the {conn} needs "
            f"s3:GetObject on arn:aws:s3:::{bucket}/{key} to read the file (and s3:ListBucket on "
            f"arn:aws:s3:::{bucket} to list it; without s3:ListBucket S3 also answers AccessDenied "
            "for a key that does not exist, so check the key too). A bucket encrypted with a KMS key "
            "also needs kms:Decrypt"
        )
    if code in layout.WRONG_REGION_CODES:
        return DiscoveryError(
            f"{uri}: the bucket is in another region ({code}); set `region_name` in the extra of the {conn}"
        )
    return DiscoveryError(f"{uri}: S3 error {code or status}: {layout.error_message(exc) or exc}")


def _similar_keys(client: S3Client, bucket: str, key: str, readable: Callable[[str], bool] | None = None) -> str:
    """Keys near a missing one (`"; keys with the same prefix: ..."`), when listing is allowed.

    With `readable`, only keys the caller may sample are named, and "no files" reads the same
    whether the folder is empty or holds only keys they may not see.
    """
    folder = key[: key.rfind("/") + 1]
    try:
        response = client.list_objects_v2(Bucket=bucket, Prefix=folder, MaxKeys=1000)
    except Exception as exc:  # a suggestion never stands in the way of the message
        if layout.is_access_denied(exc):
            return f"; listing the folder to suggest keys was denied (needs s3:ListBucket on arn:aws:s3:::{bucket})"
        return ""
    keys = [
        o["Key"]
        for o in response.get("Contents", [])
        if not o["Key"].endswith("/") and not layout.is_done(o["Key"]) and (readable is None or readable(o["Key"]))
    ]
    if not keys:
        where = f"under {folder!r}" if folder else "in the bucket"
        return f"; there are no files {where}" if readable is None else f"; no file you may sample is {where}"
    stem = key.rsplit("/", 1)[-1]
    stem = stem[: max(1, min(len(stem), 4))]
    close = closest(key, keys, n=5, cutoff=0.5)
    same = [k for k in keys if k.startswith(folder + stem) and k not in close]
    suggestions = (close + same)[:5] or keys[:5]
    return "; keys with the same prefix: " + ", ".join(suggestions)
