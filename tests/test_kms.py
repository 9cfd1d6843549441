"""Buckets encrypted with a customer KMS key (SSE-KMS with a bucket key): imports, moves, reports, staging.

On moto's in-process S3 and KMS, with both stores. The exports' bucket and the staging bucket
encrypt by default with one customer key; staged sets are written under
`INBOUND_STAGING_KMS_KEY_ID`. Every object inbound writes (the moved file, its reports, the
staged sets) must be encrypted with that key, and the import must be whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import BUCKET, integration_dict
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.run import Run
from inbound.s3.source import list_new_files
from inbound.s3.staging import encryption
from inbound.store import open_store

STAGE_BUCKET = "inbound-staging"
GOOD_AND_ONE_BAD = b"Email,Plan,Open Tickets\nada@x,pro,3\nbob@x,free,x\n"


@pytest.fixture
def kms(monkeypatch) -> Iterator[tuple[Any, str]]:
    """(s3 client, key ARN): both buckets encrypt with the key by default, with a bucket key."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        key = boto3.client("kms", region_name="us-east-1").create_key(Description="exports")["KeyMetadata"]["Arn"]
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
        for bucket in (BUCKET, STAGE_BUCKET):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={"Rules": [{**rule, "BucketKeyEnabled": True}]},
            )
        monkeypatch.setenv("INBOUND_STAGING_URL", f"s3://{STAGE_BUCKET}/staging")
        monkeypatch.setenv("INBOUND_STAGING_KMS_KEY_ID", key)
        yield s3, key


def _keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def _under_key(s3, bucket: str, key: str) -> dict[str, str]:
    head = s3.head_object(Bucket=bucket, Key=key)
    return {"sse": head.get("ServerSideEncryption"), "key": head.get("SSEKMSKeyId")}


def _run(s3, store, integration: Integration, run_id: str) -> Run:
    return Run(integration, s3, store, run_id, "test", catalog=Catalog(), staging_client=s3)


def test_an_export_in_a_kms_bucket_is_imported_moved_reported_and_staged_under_its_key(kms, store_url) -> None:
    s3, key = kms
    crm = Integration.model_validate(integration_dict("crm", max_rejected_ratio=0.5))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=GOOD_AND_ONE_BAD)
    assert _under_key(s3, BUCKET, "crm/users_1.csv") == {"sse": "aws:kms", "key": key}
    with open_store(store_url, migrate=True) as store:
        run = _run(s3, store, crm, "run_1")
        mapped = run.map(list_new_files(s3, BUCKET, crm.source.key))
        staged = _keys(s3, STAGE_BUCKET)
        assert len(staged) == 4  # the attribute set and the rejected rows, each with its manifest
        for name in staged:
            assert _under_key(s3, STAGE_BUCKET, name) == {"sse": "aws:kms", "key": key}, name
        summary = run.finalize(run.write(mapped))
        assert (summary.outcome, summary.rows_written, summary.rows_rejected) == ("success", 1, 1)
        assert store.user_attributes("ada@x", crm.attribute_types)["attributes"] == {
            "crm_plan": "pro",
            "crm_open_tickets": 3,
        }
    written = _keys(s3, BUCKET)
    assert [k for k in written if not k.startswith("crm/success/")] == []
    assert any(k.endswith("_users_1.csv") for k in written) and any(k.endswith(".rejected.csv") for k in written)
    for name in written:  # the moved file and its reports
        assert _under_key(s3, BUCKET, name) == {"sse": "aws:kms", "key": key}, name
    assert _keys(s3, STAGE_BUCKET) == []


def test_a_failed_export_in_a_kms_bucket_moves_to_failed_with_its_reason_under_its_key(kms, store_url) -> None:
    s3, key = kms
    crm = Integration.model_validate(integration_dict("crm"))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Name,Plan\nada,pro\n")  # no Email column
    with open_store(store_url, migrate=True) as store:
        run = _run(s3, store, crm, "run_1")
        summary = run(run.look().new)
        assert summary.outcome == "failed" and store.user_count("crm") == 0
    written = _keys(s3, BUCKET)
    assert written and all(k.startswith("crm/failed/") for k in written)
    assert any(k.endswith(".error.txt") for k in written)
    for name in written:
        assert _under_key(s3, BUCKET, name) == {"sse": "aws:kms", "key": key}, name


def test_staged_objects_are_sse_s3_unless_a_kms_key_is_set(monkeypatch) -> None:
    monkeypatch.delenv("INBOUND_STAGING_KMS_KEY_ID", raising=False)
    assert encryption() == {"ServerSideEncryption": "AES256"}
    monkeypatch.setenv("INBOUND_STAGING_KMS_KEY_ID", " alias/inbound-staging ")
    assert encryption() == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/inbound-staging"}
