"""Where a run's attribute sets wait between its tasks: a local folder, or a prefix in S3.

`validate_and_map` stages each file's attribute set (and its rejected rows) as Parquet;
`upsert_attributes` and `finalize` read them, possibly on another worker, and `finalize`
removes the run's objects. With Celery or Kubernetes workers on several hosts there is no
shared disk, so production stages in object storage: `INBOUND_STAGING_URL=s3://bucket/prefix`
with the AWS connection `INBOUND_STAGING_CONN_ID` (default `aws_default`). The default,
`file://` under `$AIRFLOW_HOME` (or `INBOUND_STAGING_DIR`), suits one machine.

Written with boto3 (the S3 client of `inbound.airflow.connections`), not Airflow's
`ObjectStoragePath`: that needs s3fs, whose aiobotocore pins botocore to a narrow range and
so holds back boto3 and the Amazon provider; three calls (upload, download, delete) do not
warrant it. A staged object goes through a local temporary file: Parquet is read and
written by polars there, and boto3's transfer manager streams it in parts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from inbound import settings
from inbound.errors import ConfigInvalid, StageGone
from inbound.s3.layout import is_not_found

if TYPE_CHECKING:
    import polars as pl
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import ObjectIdentifierTypeDef

DEFAULT_CONN_ID = "aws_default"


def staging_conn_id() -> str:
    """`INBOUND_STAGING_CONN_ID`: the AWS connection of an `s3://` staging location."""
    return os.environ.get("INBOUND_STAGING_CONN_ID", "").strip() or DEFAULT_CONN_ID


def encryption() -> dict[str, str]:
    """How a staged object is encrypted at rest: SSE-KMS with `INBOUND_STAGING_KMS_KEY_ID`, else SSE-S3.

    Staged sets are personal data: they are never left to a bucket without default encryption.
    """
    key = settings.staging_kms_key_id()
    if key is None:
        return {"ServerSideEncryption": "AES256"}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}


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


MANIFEST = "manifest.json"
GONE = (
    "the staged set of this run is gone or not whole ({why}): re-run the whole DAG run (clear it from its first task)"
)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def run_folder(run_id: str) -> str:
    """A run's own folder name: readable, and without loss (a hash of the exact run ID beside it).

    Airflow allows run IDs such as `.`, `..`, `scheduled:_x` and `scheduled__x`: cleaned alone
    they would meet in one folder (or climb out of it), and one run's finalize would remove
    another's staged sets.
    """
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", run_id)[:60]
    return f"{readable}-{hashlib.sha256(run_id.encode()).hexdigest()[:16]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        parts = [_safe(self.dag_id)] if self.dag_id else []
        if self.run_id:
            parts.append(run_folder(self.run_id))
        return "/".join([self.root.rstrip("/"), *parts])

    def holds(self, url: str) -> bool:
        """Whether `url` names something this run staged (a task checks the URLs XCom hands it)."""
        inside = url.removeprefix(f"{self.url}/")
        if inside == url or not inside:
            return False
        plain = unquote(inside)  # a file:// URL is read unquoted: `%2e%2e` is `..` there
        return ".." not in plain.split("/") and "\\" not in plain and "\x00" not in plain

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
            self._s3().upload_file(str(local), bucket, key, ExtraArgs=encryption())
        return url

    def put_parts(self, name: str, parts: Sequence[Path]) -> str:
        """Stage Parquet files, in order, as `<name>/part-NNNNNN.parquet`; returns the folder's URL (ending in "/").

        The parts are moved (a local staging folder) or uploaded one at a time: a set of any
        size is staged without being held. A manifest (`manifest.json`: each part's rows and
        SHA-256), written last, lets the reader take the set whole or not at all.
        """
        import polars as pl  # loaded where sets are staged or read, not by every importer of this module

        url = f"{self.url}/{_safe(name)}/"
        listed = []
        for i, part in enumerate(parts):
            target = f"{url}part-{i:06d}.parquet"
            listed.append(
                {
                    "name": target.rsplit("/", 1)[1],
                    "rows": pl.scan_parquet(part).select(pl.len()).collect().item(),
                    "sha256": _sha256(Path(part)),
                }
            )
            self._place(Path(part), target)
        manifest = {"parts": listed, "rows": sum(int(p["rows"]) for p in listed)}
        with tempfile.TemporaryDirectory(prefix="inbound-stage-") as tmp:
            local = Path(tmp) / MANIFEST
            local.write_text(json.dumps(manifest))
            self._place(local, f"{url}{MANIFEST}")
        return url

    def _place(self, path: Path, target: str) -> None:
        if target.startswith("file://"):
            local = _local(target)
            local.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, local)
        else:
            bucket, key = _object(target)
            self._s3().upload_file(str(path), bucket, key, ExtraArgs=encryption())

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


def staged_parts(url: str, client: S3Client | None, rows: int | None = None) -> Iterator[pl.DataFrame]:
    """A staged set one part at a time, in order: whole or not at all.

    A folder URL (`put_parts`) is read against its manifest: the parts it lists and no other,
    each with its SHA-256 and rows, and (`rows`) the rows the mapping step said it staged.
    Anything missing or different raises `StageGone` before the part concerned is yielded; a
    writer consuming the parts inside one transaction then rolls back. A plain file URL (one
    frame, `put`) is read as it is.
    """
    import polars as pl

    if not url.endswith("/"):
        yield read_staged(url, client)
        return
    if url.startswith("s3://") and client is None:
        raise ConfigInvalid(f"reading {url} needs an S3 client (INBOUND_STAGING_CONN_ID)")
    with tempfile.TemporaryDirectory(prefix="inbound-stage-") as tmp:
        manifest = _manifest(url, client, Path(tmp))
        listed = [str(p["name"]) for p in manifest["parts"]]
        found = _part_names(url, client)
        if found != listed:
            raise StageGone(GONE.format(why=f"{len(found)} of its {len(listed)} parts found at {url}"))
        if rows is not None and int(manifest["rows"]) != rows:
            raise StageGone(GONE.format(why=f"it holds {manifest['rows']} rows, the mapping staged {rows}"))
        for part in manifest["parts"]:
            local = _fetch(f"{url}{part['name']}", client, Path(tmp))
            if _sha256(local) != part["sha256"]:
                raise StageGone(GONE.format(why=f"{part['name']} is not the part that was staged"))
            frame = pl.read_parquet(local)
            if frame.height != int(part["rows"]):
                raise StageGone(GONE.format(why=f"{part['name']} holds {frame.height} rows, not {part['rows']}"))
            if url.startswith("s3://"):
                local.unlink()  # one downloaded part at a time on disk
            yield frame


def _manifest(url: str, client: S3Client | None, tmp: Path) -> dict[str, Any]:
    try:
        local = _fetch(f"{url}{MANIFEST}", client, tmp)
        manifest = json.loads(local.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        raise StageGone(GONE.format(why=f"no readable manifest at {url}")) from None
    except Exception as exc:
        if is_not_found(exc):
            raise StageGone(GONE.format(why=f"nothing at {url}")) from None
        raise
    if not isinstance(manifest, dict):
        raise StageGone(GONE.format(why=f"the manifest at {url} is not one this version wrote"))
    checked: dict[str, Any] = manifest
    parts = checked.get("parts")
    if not isinstance(parts, list) or not isinstance(checked.get("rows"), int) or not all(map(_listed, parts)):
        raise StageGone(GONE.format(why=f"the manifest at {url} is not one this version wrote"))
    return checked


def _listed(part: Any) -> bool:
    return (
        isinstance(part, dict)
        and isinstance(part.get("name"), str)
        and part["name"].startswith("part-")
        and isinstance(part.get("rows"), int)
        and isinstance(part.get("sha256"), str)
    )


def _part_names(url: str, client: S3Client | None) -> list[str]:
    if not url.startswith("s3://"):
        return sorted(p.name for p in _local(url).glob("part-*.parquet"))
    assert client is not None
    bucket, prefix = split_s3_url(url)
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    ]
    return sorted(k[len(prefix) :] for k in keys if k[len(prefix) :].startswith("part-"))


def _fetch(url: str, client: S3Client | None, tmp: Path) -> Path:
    """A staged object as a local file (a local one as it is; one in S3 downloaded into `tmp`)."""
    if not url.startswith("s3://"):
        return _local(url)
    assert client is not None
    bucket, key = _object(url)
    local = tmp / key.rsplit("/", 1)[-1]
    client.download_file(bucket, key, str(local))
    return local


def read_staged(url: str, client: S3Client | None) -> pl.DataFrame:
    """A staged frame by its URL (`file://`, `s3://`, or a plain path from before staging URLs); a folder whole."""
    import polars as pl

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
