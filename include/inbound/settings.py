"""Deployment settings read from the environment: one home, each with its default and why.

Settings of the configs themselves (`INBOUND_CONFIG_DIR`, `INBOUND_MAX_ATTRIBUTES`) live
with the loader (`inbound.catalog`); the store's location is the Airflow connection
`inbound_store` (`inbound.connections`).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_GRACE_INTERVALS = 2.0


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")


def staging_root() -> Path:
    """Where attribute sets wait between a run's tasks: `INBOUND_STAGING_DIR`, else under $AIRFLOW_HOME.

    With workers on several machines this must be a shared volume.
    """
    env = os.environ.get("INBOUND_STAGING_DIR")
    return Path(env) if env else airflow_home() / "inbound_staging"


def grace_intervals() -> float:
    """`INBOUND_SHARED_GRACE_INTERVALS` (default 2): how many of its own schedule intervals after the
    upload a reader of a shared file may take before the file moves without it."""
    value = os.environ.get("INBOUND_SHARED_GRACE_INTERVALS")
    if not value:
        return DEFAULT_GRACE_INTERVALS
    try:
        grace = float(value)
    except ValueError:
        raise ValueError(f"INBOUND_SHARED_GRACE_INTERVALS={value!r} is not a number (e.g. 2 or 0.5)") from None
    if grace < 0:
        raise ValueError(f"INBOUND_SHARED_GRACE_INTERVALS={value!r} must not be negative")
    return grace
