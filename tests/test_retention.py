"""Retention (`inbound.pipeline.retention`, the `inbound-retention` DAG): moved files and reports past
`reports.retain_days` are deleted from S3 (moto); the import log keeps its entries without the links.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import BUCKET, integration_dict
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.outcome import Outcome
from inbound.pipeline import retention
from inbound.pipeline.retention import remove_expired
from inbound.s3.source import list_new_files
from test_pipeline import keys, make_run, put

NOW = datetime.now(UTC)
DONE = [
    "crm/success/20261101T000000Z_users_1.csv",
    "crm/success/20261101T000000Z_users_1.csv.rejected.csv",
    "crm/failed/20261102T000000Z_users_2.csv",
    "crm/failed/20261102T000000Z_users_2.csv.error.txt",
]
OTHERS = ["crm/users_3.csv", "crm/notes/success/x.csv", "hr/success/20261101T000000Z_staff.csv", "crm/success/keep.txt"]


def _integration(name: str = "crm", key: str = "crm/users_*.csv", days: int | None = 30) -> Integration:
    return Integration.model_validate(
        integration_dict(name, source={"bucket": BUCKET, "key": key}, reports={"retain_days": days})
    )


def _catalog(*integrations: Integration) -> Catalog:
    return Catalog(integrations={i.name: i for i in integrations})


@pytest.fixture
def bucket(s3):
    for key in DONE + OTHERS:
        put(s3, key, "Email,Plan\n")
    return s3


def test_files_past_retention_go_and_nothing_else(bucket) -> None:
    crm = _integration()
    assert remove_expired(bucket, _catalog(crm), crm, NOW + timedelta(days=29)).removed == 0  # not yet
    preview = remove_expired(bucket, _catalog(crm), crm, NOW + timedelta(days=31), dry_run=True)
    assert preview.removed == 4 and preview.dry_run and "would remove 4" in preview.line()
    assert keys(bucket, "crm/") == sorted(DONE + OTHERS[:2] + OTHERS[3:])  # a dry run deletes nothing
    removal = remove_expired(bucket, _catalog(crm), crm, NOW + timedelta(days=31))
    assert removal.removed == 4 and sorted(removal.first_keys) == sorted(DONE)
    assert sorted(keys(bucket, "")) == sorted(OTHERS)  # the waiting file, other folders, other sources stay


def test_deletes_go_in_batches(bucket, monkeypatch) -> None:
    monkeypatch.setattr(retention, "BATCH", 3)
    crm = _integration()
    assert remove_expired(bucket, _catalog(crm), crm, NOW + timedelta(days=31)).removed == 4
    assert not keys(bucket, "crm/success/20") and not keys(bucket, "crm/failed/")


def test_a_shared_folder_keeps_files_for_its_longest_retention(bucket) -> None:
    crm, also = _integration(), _integration("crm_plans", days=90)
    catalog = _catalog(crm, also)
    assert remove_expired(bucket, catalog, crm, NOW + timedelta(days=31)).removed == 0
    assert remove_expired(bucket, catalog, crm, NOW + timedelta(days=91)).removed == 4
    forever = _integration("crm_forever", days=None)
    for key in DONE:
        put(bucket, key, "Email\n")
    assert remove_expired(bucket, _catalog(crm, forever), crm, NOW + timedelta(days=3650)).removed == 0


def test_no_retention_keeps_everything_and_the_default_comes_from_the_environment(bucket, monkeypatch) -> None:
    crm = _integration(days=None)
    assert crm.retain_days is None and remove_expired(bucket, _catalog(crm), crm, NOW + timedelta(days=9999)) is None
    monkeypatch.setenv("INBOUND_RETAIN_DAYS", "7")
    assert crm.retain_days == 7 and _integration(days=30).retain_days == 30
    assert remove_expired(bucket, _catalog(crm), crm, NOW + timedelta(days=8)).removed == 4
    monkeypatch.setenv("INBOUND_RETAIN_DAYS", "0")
    with pytest.raises(ValueError, match="INBOUND_RETAIN_DAYS"):
        _ = crm.retain_days
    with pytest.raises(ValueError, match="retain_days"):
        _integration(days=0)
    assert _integration(days=5).version == _integration(days=None).version  # not what a run imports


def test_the_dags_task_removes_per_integration_and_reports_counts_only(bucket, monkeypatch) -> None:
    from inbound.airflow.retention import RETENTION_DAG_ID, build_retention_dag, remove_expired_files

    dag = build_retention_dag()
    assert dag.dag_id == RETENTION_DAG_ID and [t.task_id for t in dag.tasks] == ["remove_expired_files"]
    crm, hr = _integration(), _integration("hr", key="hr/staff*.csv", days=None)
    done = remove_expired_files(_catalog(crm, hr), NOW + timedelta(days=31))
    assert done == [{"integration": "crm", "retain_days": 30, "removed": 4}]
    assert keys(bucket, "hr/")  # no retention: kept


def test_the_import_log_keeps_its_entries_without_the_links_past_retention(s3, store) -> None:
    from inbound.web.reports import past_retention, reports_of

    crm = Integration.model_validate(
        integration_dict(
            "crm", attributes=[{"column": "Plan", "name": "plan"}], reports={"retain_days": 30}, max_rejected_ratio=1
        )
    )
    put(s3, "crm/users_1.csv", "Email,Plan\nada@x,pro\nada@x,free\nbob@x,pro\n")
    run = make_run(s3, store, crm, "run_1")
    assert run(list_new_files(s3, BUCKET, crm.source.key)).outcome == Outcome.SUCCESS
    (entry,) = store.imports("crm")
    assert entry.final_key and reports_of(crm, entry)  # the rejected rows' report
    assert not past_retention(crm, entry, NOW + timedelta(days=29))
    assert past_retention(crm, entry, NOW + timedelta(days=31))
    later = retention.remove_expired(s3, _catalog(crm), crm, NOW + timedelta(days=31))
    assert later is not None and later.removed == 2 and not keys(s3, "crm/success/")
    (kept,) = store.imports("crm")  # the entry stays, with its counts
    assert (kept.rows_read, kept.rows_rejected, kept.outcome) == (3, 2, Outcome.SUCCESS)
