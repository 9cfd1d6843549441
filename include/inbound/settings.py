"""Deployment settings read from the environment: one home, each with its default and why.

Settings of the configs themselves (`INBOUND_CONFIG_DIR`, `INBOUND_MAX_ATTRIBUTES`) live
with the loader (`inbound.config.catalog`); the store's location is the Airflow connection
`inbound_store` (`inbound.airflow.connections`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from inbound.suggest import echo

DEFAULT_GRACE_INTERVALS = 2.0


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")


def staging_root() -> Path:
    """The local staging folder: `INBOUND_STAGING_DIR`, else under $AIRFLOW_HOME."""
    env = os.environ.get("INBOUND_STAGING_DIR")
    return Path(env) if env else airflow_home() / "inbound_staging"


def staging_url() -> str:
    """Where attribute sets wait between a run's tasks (`inbound.s3.staging`): `INBOUND_STAGING_URL`.

    Default: the local folder `staging_root()` as a `file://` URL, for one machine. Workers on
    several hosts share no disk: there it is `s3://bucket/prefix`.
    """
    return os.environ.get("INBOUND_STAGING_URL", "").strip() or staging_root().resolve().as_uri()


def staging_kms_key_id() -> str | None:
    """`INBOUND_STAGING_KMS_KEY_ID`: the KMS key (ID, ARN or alias) staged objects in S3 are encrypted with.

    Unset: SSE-S3 (AES-256). Set it where the staging bucket's policy requires SSE-KMS, or to
    keep staged personal data under a customer key; the staging connection's role then needs
    `kms:GenerateDataKey` (writes) and `kms:Decrypt` (reads) on it.
    """
    return os.environ.get("INBOUND_STAGING_KMS_KEY_ID", "").strip() or None


def number_setting(name: str, default: float, *, minimum: float, whole: bool = True) -> float:
    """A number from the environment variable `name`, else `default`; a clear error for a bad one.

    Every numeric setting is read here, so each says the same thing when it is wrong.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        kind = "whole number" if whole else "number"
        raise ValueError(f"{name}={echo(value)} is not a {kind} of at least {minimum:g}")
    return number


def grace_intervals() -> float:
    """`INBOUND_SHARED_GRACE_INTERVALS` (default 2): how many of its own schedule intervals after the
    upload a reader of a shared file may take before the file moves without it."""
    return number_setting("INBOUND_SHARED_GRACE_INTERVALS", DEFAULT_GRACE_INTERVALS, minimum=0, whole=False)


_S3_FOLDER = re.compile(r"s3://([^/]+)(?:/(.*))?")


def discovery_prefixes() -> list[tuple[str, str]]:
    """`INBOUND_DISCOVERY_PREFIXES`: the landing folders the wizard's discovery may read besides the
    buckets of the caller's integrations, as (bucket, folder ending in "/" or "") pairs; default none.

    A new vendor's first export often lands where no integration reads yet. Discovery samples
    other people's data with a connection that may reach far more (other buckets, the staging
    location), so it reads only where integrations land files, and an admin opens another
    landing place here, comma-separated `s3://bucket/folder/` (`s3://bucket` for the whole
    bucket). Other integrations' folders, done folders and the staging location stay closed.
    """
    places = []
    for raw in os.environ.get("INBOUND_DISCOVERY_PREFIXES", "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        match = _S3_FOLDER.fullmatch(entry)
        folder = (match.group(2) or "").strip("/") if match else ""
        if match is None or (folder and {".", "..", ""} & set(folder.split("/"))):
            raise ValueError(
                f"INBOUND_DISCOVERY_PREFIXES: {echo(entry)} is not a landing folder; give "
                "comma-separated s3://bucket/folder/ (s3://bucket for the whole bucket), without '.' or '..'"
            )
        places.append((match.group(1), f"{folder}/" if folder else ""))
    return places


DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024  # room for any realistic rule (the bounds of `inbound.rules`)


def max_request_bytes() -> int:
    """`INBOUND_MAX_REQUEST_BYTES` (default 1 MiB): the largest request body the plugin's API reads.

    A larger one is answered 413 before it is parsed (`inbound.web.guard`): a segment rule's
    own bounds (`inbound.rules`) answer only once the whole body is JSON in memory.
    """
    return int(number_setting("INBOUND_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES, minimum=1))


RETAIN_DAYS_ENV = "INBOUND_RETAIN_DAYS"


def retain_days() -> int | None:
    """`INBOUND_RETAIN_DAYS`: the days moved files and their reports stay, for every integration whose config
    sets no `reports.retain_days`; unset (the default): they stay until someone deletes them."""
    if not os.environ.get(RETAIN_DAYS_ENV, "").strip():
        return None
    return int(number_setting(RETAIN_DAYS_ENV, 0, minimum=1))


def config_url_template() -> str | None:
    """`INBOUND_CONFIG_URL_TEMPLATE`: where a config file lives in git, for the integration page's link; default none.

    An `http(s)://` URL with `{path}`, the file's path relative to the configs folder
    (`INBOUND_CONFIG_DIR`), e.g. `https://github.com/acme/configs/blob/main/{path}`. Unset, the
    page shows that relative path (never the server's absolute path).
    """
    value = os.environ.get("INBOUND_CONFIG_URL_TEMPLATE", "").strip()
    if not value:
        return None
    if "{path}" not in value or not value.startswith(("https://", "http://")):
        raise ValueError(
            f"INBOUND_CONFIG_URL_TEMPLATE={echo(value)} is no link template: give an http(s):// URL with {{path}}, "
            "e.g. https://github.com/acme/configs/blob/main/{path}"
        )
    return value
