"""Where a run's attribute sets wait between its tasks: a local folder, or a prefix in S3.

`validate_and_map` stages each file's attribute set (and its rejected rows) as Parquet;
`upsert_attributes` and `finalize` read them, possibly on another worker, and `finalize`
removes the run's objects. With Celery or Kubernetes workers on several hosts there is no
shared disk, so production stages in object storage: `INBOUND_STAGING_URL=s3://bucket/prefix`
with the AWS connection `INBOUND_STAGING_CONN_ID` (default `aws_default`). The default,
`file://` under `$AIRFLOW_HOME` (or `INBOUND_STAGING_DIR`), suits one machine.

Written with boto3 (the S3 client of `inbound.connections`), not Airflow's
`ObjectStoragePath`: that needs s3fs, whose aiobotocore pins botocore to a narrow range and
so holds back boto3 and the Amazon provider; three calls (upload, download, delete) do not
warrant it. A staged object goes through a local temporary file: Parquet is read and
written by polars there, and boto3's transfer manager streams it in parts.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import polars as pl

from inbound.errors import ConfigInvalid

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import ObjectIdentifierTypeDef

DEFAULT_CONN_ID = "aws_default"


def staging_conn_id() -> str:
    """`INBOUND_STAGING_CONN_ID`: the AWS connection of an `s3://` staging location."""
    return os.environ.get("INBOUND_STAGING_CONN_ID", "").strip() or DEFAULT_CONN_ID


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, "prefix/") (the prefix empty or ending in "/")."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigInvalid(f"INBOUND_STAGING_URL {url!r}: an S3 location is s3://bucket/prefix")
    prefix = parsed.path.strip("/")
    return parsed.netloc, f"{prefix}/" if prefix else ""


def check_url(url: str) -> str:
    """The staging URL if it is one we can use: `file:///folder` or `s3://bucket/prefix`."""
    scheme = urlparse(url).scheme
    if scheme == "s3":
        split_s3_url(url)
    elif scheme != "file":
        raise ConfigInvalid(
            f"INBOUND_STAGING_URL {url!r}: use file:///a/folder (one machine) or s3://bucket/prefix "
            "(workers on several hosts)"
        )
    return url


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@dataclass(frozen=True)
class Staging:
    """One run's staging place: `root` (a `file://` or `s3://` URL) / the DAG / the run.

    :param root: `INBOUND_STAGING_URL` (see `inbound.settings.staging_url`).
    :param dag_id: the integration's DAG.
    :param run_id: the run (its staged objects live under a prefix of their own).
    :param client: an S3 client for an `s3://` root (`INBOUND_STAGING_CONN_ID`'s).
    """

    root: str
    dag_id: str
    run_id: str
    client: S3Client | None = None

    @property
    def url(self) -> str:
        return "/".join([self.root.rstrip("/"), *(_safe(part) for part in (self.dag_id, self.run_id) if part)])

    @classmethod
    def folder(cls, path: Path) -> Staging:
        """A local folder as the staging place (tests, one-off tools)."""
        return cls(root=path.resolve().as_uri(), dag_id="", run_id="")

    def put(self, name: str, frame: pl.DataFrame) -> str:
        """Stage `frame` as `<name>.parquet` of this run; returns its URL (what XCom carries)."""
        url = f"{self.url}/{_safe(name)}.parquet"
        if url.startswith("file://"):
            path = _local(url)
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(path)
            return url
        bucket, key = _object(url)
        with tempfile.TemporaryDirectory(prefix="inbound-stage-") as tmp:
            local = Path(tmp) / "set.parquet"
            frame.write_parquet(local)
            self._s3().upload_file(str(local), bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"})
        return url

    def put_parts(self, name: str, parts: Sequence[Path]) -> str:
        """Stage Parquet files, in order, as `<name>/part-NNNNNN.parquet`; returns the folder's URL (ending in "/").

        The parts are moved (a local staging folder) or uploaded one at a time: a set of any
        size is staged without being held.
        """
        url = f"{self.url}/{_safe(name)}/"
        for i, part in enumerate(parts):
            target = f"{url}part-{i:06d}.parquet"
            if target.startswith("file://"):
                path = _local(target)
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(part, path)
            else:
                bucket, key = _object(target)
                self._s3().upload_file(str(part), bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"})
        if not parts and url.startswith("file://"):
            _local(url).mkdir(parents=True, exist_ok=True)
        return url

    def get(self, url: str) -> pl.DataFrame:
        """A staged frame back, from this worker or any other."""
        return read_staged(url, self.client)

    def clear(self) -> None:
        """Remove everything this run staged (finalize; a run that never finishes expires by lifecycle)."""
        if self.url.startswith("file://"):
            shutil.rmtree(_local(self.url), ignore_errors=True)
            return
        bucket, prefix = split_s3_url(self.url)
        client = self._s3()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys: list[ObjectIdentifierTypeDef] = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})

    def _s3(self) -> S3Client:
        if self.client is None:
            raise ConfigInvalid(f"staging at {self.root} needs an S3 client (INBOUND_STAGING_CONN_ID)")
        return self.client


def staged_parts(url: str, client: S3Client | None) -> Iterator[pl.DataFrame]:
    """A staged set one part at a time, in order: the parts of a folder URL (`put_parts`), else the one frame."""
    if not url.endswith("/"):
        yield read_staged(url, client)
        return
    if not url.startswith("s3://"):
        for path in sorted(_local(url).glob("part-*.parquet")):
            yield pl.read_parquet(path)
        return
    if client is None:
        raise ConfigInvalid(f"reading {url} needs an S3 client (INBOUND_STAGING_CONN_ID)")
    bucket, prefix = split_s3_url(url)
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    ]
    for key in sorted(keys):
        with tempfile.TemporaryDirectory(prefix="inbound-stage-") as tmp:
            local = Path(tmp) / "part.parquet"
            client.download_file(bucket, key, str(local))
            yield pl.read_parquet(local)


def read_staged(url: str, client: S3Client | None) -> pl.DataFrame:
    """A staged frame by its URL (`file://`, `s3://`, or a plain path from before staging URLs); a folder whole."""
    if url.endswith("/"):
        return pl.concat(list(staged_parts(url, client)))
    if not url.startswith("s3://"):
        return pl.read_parquet(_local(url) if url.startswith("file://") else Path(url))
    if client is None:
        raise ConfigInvalid(f"reading {url} needs an S3 client (INBOUND_STAGING_CONN_ID)")
    bucket, key = _object(url)
    with tempfile.TemporaryDirectory(prefix="inbound-stage-") as tmp:
        local = Path(tmp) / "set.parquet"
        client.download_file(bucket, key, str(local))
        return pl.read_parquet(local)


def _local(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _object(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    return parsed.netloc, parsed.path.lstrip("/")
