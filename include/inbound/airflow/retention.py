"""The maintenance DAG `inbound-retention`: once a day, the moved files and reports past retention go.

Thin: the decisions are `inbound.pipeline.retention`. Each integration with a retention
(`reports.retain_days`, else `INBOUND_RETAIN_DAYS`) is handled through its own AWS connection;
one that fails (S3 refuses, a connection is wrong) does not keep the others from theirs, and
fails the task at the end with every reason, so the next day's run (or a retry) tries again.
The task's XCom holds counts only: no key, no value.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, task

from inbound.airflow.connections import s3_client
from inbound.airflow.dag import RETRY_DEFAULTS, START_DATE
from inbound.config.catalog import Catalog, load_folder
from inbound.pipeline.retention import remove_expired

log = logging.getLogger(__name__)

RETENTION_DAG_ID = "inbound-retention"  # a hyphen: no integration's DAG (`inbound_<name>`) can take it


def remove_expired_files(catalog: Catalog | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each integration with a retention: its expired moved files and reports deleted; counts."""
    catalog = catalog if catalog is not None else load_folder()
    now = now or datetime.now(UTC)
    done: list[dict[str, Any]] = []
    failed: list[str] = []
    for integration in sorted(catalog.integrations.values(), key=lambda i: i.name):
        if integration.retain_days is None:
            continue
        try:
            removal = remove_expired(s3_client(integration.source.aws_conn_id), catalog, integration, now)
        except Exception as exc:  # one integration's trouble is reported, the others go on
            log.exception("%s: retention failed", integration.name)
            failed.append(f"{integration.name}: {type(exc).__name__}: {exc}")
            continue
        if removal is not None:
            done.append(
                {"integration": removal.integration, "retain_days": removal.retain_days, "removed": removal.removed}
            )
    if failed:
        raise RuntimeError(f"retention failed for {len(failed)} integration(s): " + "; ".join(failed))
    return done


def build_retention_dag() -> DAG:
    with DAG(
        dag_id=RETENTION_DAG_ID,
        description="inbound: remove moved files and reports past their retention (reports.retain_days)",
        schedule="@daily",
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=False,  # it deletes only where a retention is configured
        tags=["inbound-maintenance"],
        default_args=RETRY_DEFAULTS,
        doc_md=(
            "### inbound retention\n\nOnce a day, deletes the moved files and their reports in each "
            "integration's `success/` and `failed/` folders that are older than its `reports.retain_days` "
            "(default `INBOUND_RETAIN_DAYS`; unset: nothing is deleted). A file several integrations read "
            "stays for the longest of their retentions. The import log keeps its entries."
        ),
    ) as dag:

        @task(task_id="remove_expired_files")
        def remove() -> list[dict[str, Any]]:
            return remove_expired_files()

        remove()
    return dag
