"""Staging between a run's tasks: a local folder, or S3 that workers on other hosts read back."""

from __future__ import annotations

import polars as pl
import pytest

from conftest import BUCKET, integration_dict
from inbound.catalog import Catalog, load_folder
from inbound.config import Integration
from inbound.errors import ConfigInvalid
from inbound.run import Run
from inbound.source import list_new_files
from inbound.staging import Staging, check_url, split_s3_url
from inbound.store import open_store

STAGE_BUCKET = "inbound-staging"
FRAME = pl.DataFrame({"user_id": ["ada@x", "bob@x"], "plan": ["pro", None]})


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def test_a_folder_stages_reads_back_and_clears(tmp_path) -> None:
    staging = Staging(tmp_path.as_uri(), "inbound_crm", "manual__2026-12-01T00:00:00+00:00")
    url = staging.put("crm/users_1.csv.e1", FRAME)
    assert url.startswith(tmp_path.as_uri()) and url.endswith(".parquet")
    assert staging.get(url).equals(FRAME)
    staging.clear()
    assert not any(tmp_path.rglob("*.parquet"))


def test_s3_staging_is_read_back_by_another_worker_and_cleared(s3) -> None:
    """One worker stages, a second (its own Staging, no shared disk) reads; finalize clears the run's prefix."""
    s3.create_bucket(Bucket=STAGE_BUCKET)
    first = Staging(f"s3://{STAGE_BUCKET}/inbound", "inbound_crm", "run_1", s3)
    url = first.put("crm/users_1.csv.e1", FRAME)
    assert url == f"s3://{STAGE_BUCKET}/inbound/inbound_crm/run_1/crm_users_1.csv.e1.parquet"
    (key,) = keys(s3, STAGE_BUCKET)
    assert s3.head_object(Bucket=STAGE_BUCKET, Key=key)["ServerSideEncryption"] == "AES256"
    second = Staging(f"s3://{STAGE_BUCKET}/inbound", "inbound_crm", "run_1", s3)
    assert second.get(url).equals(FRAME)
    Staging(f"s3://{STAGE_BUCKET}/inbound", "inbound_crm", "run_2", s3).put("other", FRAME)
    second.clear()
    assert keys(s3, STAGE_BUCKET) == ["inbound/inbound_crm/run_2/other.parquet"]  # only this run's


@pytest.mark.parametrize("url", ["http://x/y", "s3://", "s3:///prefix", "gs://bucket/p", "/plain/path"])
def test_a_staging_url_we_cannot_use_is_refused(url: str) -> None:
    with pytest.raises(ConfigInvalid, match="INBOUND_STAGING_URL"):
        check_url(url)


def test_s3_urls_split_into_bucket_and_prefix() -> None:
    assert split_s3_url("s3://b/inbound/staging/") == ("b", "inbound/staging/")
    assert split_s3_url("s3://b") == ("b", "")


def test_a_run_whose_tasks_run_on_two_hosts_imports_through_s3_staging(s3, tmp_path, monkeypatch) -> None:
    """map on one "host", write and finalize on another: nothing on a shared disk, the staged set in S3."""
    s3.create_bucket(Bucket=STAGE_BUCKET)
    monkeypatch.setenv("INBOUND_STAGING_URL", f"s3://{STAGE_BUCKET}/staging")
    crm = Integration.model_validate(integration_dict("crm", max_rejected_ratio=0.5))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email,Plan,Open Tickets\nada@x,pro,3\nbob@x,free,x\n")
    files = list_new_files(s3, BUCKET, crm.source.key)
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "host_a"))
        mapped = Run(crm, s3, store, "run_1", "test", catalog=Catalog(), staging_client=s3).map(files)
        assert mapped[0].stage.startswith(f"s3://{STAGE_BUCKET}/staging/inbound_crm/run_1/")
        assert len(keys(s3, STAGE_BUCKET)) == 2  # the attribute set and the rejected rows
        monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "host_b"))
        other_host = Run(crm, s3, store, "run_1", "test", catalog=Catalog(), staging_client=s3)
        summary = other_host.finalize(other_host.write(mapped))
        assert summary.outcome == "success" and summary.rows_written == 1 and summary.rows_rejected == 1
        assert store.user_attributes("ada@x", crm.attribute_types)["attributes"] == {
            "crm_plan": "pro",
            "crm_open_tickets": 3,
        }
    report = [k for k in keys(s3, BUCKET, "crm/success/") if k.endswith(".rejected.csv")]
    assert report and b"bob@x" in s3.get_object(Bucket=BUCKET, Key=report[0])["Body"].read()
    assert keys(s3, STAGE_BUCKET) == []  # finalize removed the run's staged objects
    assert not (tmp_path / "host_a").exists() and not (tmp_path / "host_b").exists()


@pytest.mark.parametrize(
    ("staging", "refused"),
    [
        (f"s3://{BUCKET}/crm/staging", True),  # inside crm's source folder `crm/`
        (f"s3://{BUCKET}/crm", True),
        (f"s3://{BUCKET}/inbound-staging", False),  # same bucket, another folder
        ("s3://another-bucket/crm/staging", False),
        ("file:///tmp/inbound-staging", False),
    ],
)
def test_validate_refuses_staging_inside_a_source_folder(write_config, monkeypatch, staging, refused) -> None:
    monkeypatch.setenv("INBOUND_STAGING_URL", staging)
    write_config("crm.yaml", integration_dict("crm"))
    catalog = load_folder(write_config.folder)
    assert bool(catalog.errors) is refused
    if refused:
        (error,) = catalog.errors
        assert "INBOUND_STAGING_URL" in error.message and error.path == "source.key" and error.line


def test_a_source_at_the_bucket_root_refuses_staging_anywhere_in_its_bucket(write_config, monkeypatch) -> None:
    monkeypatch.setenv("INBOUND_STAGING_URL", f"s3://{BUCKET}/inbound-staging")
    write_config("crm.yaml", integration_dict("crm", source={"bucket": BUCKET, "key": "users_*.csv"}))
    assert load_folder(write_config.folder).errors
