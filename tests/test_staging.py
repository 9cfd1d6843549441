"""Staging between a run's tasks: a local folder, or S3 that workers on other hosts read back."""

from __future__ import annotations

import polars as pl
import pytest

from conftest import BUCKET, integration_dict
from inbound.config.catalog import Catalog, load_folder
from inbound.config.model import Integration
from inbound.errors import ConfigInvalid, StageGone
from inbound.run import Run
from inbound.s3.source import list_new_files
from inbound.s3.staging import Staging, check_url, run_folder, split_s3_url, staged_parts
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
    assert url == f"s3://{STAGE_BUCKET}/inbound/inbound_crm/{run_folder('run_1')}/crm_users_1.csv.e1.parquet"
    (key,) = keys(s3, STAGE_BUCKET)
    assert s3.head_object(Bucket=STAGE_BUCKET, Key=key)["ServerSideEncryption"] == "AES256"
    second = Staging(f"s3://{STAGE_BUCKET}/inbound", "inbound_crm", "run_1", s3)
    assert second.get(url).equals(FRAME)
    Staging(f"s3://{STAGE_BUCKET}/inbound", "inbound_crm", "run_2", s3).put("other", FRAME)
    second.clear()
    assert keys(s3, STAGE_BUCKET) == [f"inbound/inbound_crm/{run_folder('run_2')}/other.parquet"]  # only this run's


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
    with open_store(f"sqlite:///{tmp_path / 'store.db'}", migrate=True) as store:
        monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "host_a"))
        mapped = Run(crm, s3, store, "run_1", "test", catalog=Catalog(), staging_client=s3).map(files)
        assert mapped[0].stage.startswith(f"s3://{STAGE_BUCKET}/staging/inbound_crm/{run_folder('run_1')}/")
        assert len(keys(s3, STAGE_BUCKET)) == 4  # the attribute set and the rejected rows, each with its manifest
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


@pytest.mark.parametrize(
    "ids",
    [(".", ".."), ("scheduled:_x", "scheduled__x"), ("manual__a/b", "manual__a_b"), ("a" * 80 + "1", "a" * 80 + "2")],
)
def test_run_ids_that_clean_alike_get_folders_of_their_own(tmp_path, ids) -> None:
    """A run's finalize removes its own staged sets, never those of a run whose ID only looks alike."""
    first, second = (Staging(tmp_path.as_uri(), "inbound_crm", run_id) for run_id in ids)
    assert first.url != second.url
    assert all(s.url.startswith(f"{tmp_path.as_uri()}/inbound_crm/") and "/../" not in s.url for s in (first, second))
    part = tmp_path / "p.parquet"
    FRAME.write_parquet(part)
    url = second.put_parts("crm/users_1.csv.e1", [part])
    first.clear()
    assert pl.concat(list(staged_parts(url, None, rows=2))).equals(FRAME)
    assert second.holds(url) and not first.holds(url)


def _staged(tmp_path, parts: int = 2) -> str:
    staging = Staging(tmp_path.as_uri(), "inbound_crm", "run_1")
    paths = []
    for i in range(parts):
        paths.append(tmp_path / f"in-{i}.parquet")
        FRAME.write_parquet(paths[-1])
    return staging.put_parts("crm/users_1.csv.e1", paths)


def test_a_staged_set_is_read_back_whole(tmp_path) -> None:
    url = _staged(tmp_path)
    assert sum(p.height for p in staged_parts(url, None, rows=4)) == 4


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        ("remove_folder", "no readable manifest"),
        ("remove_part", "1 of its 2 parts found"),
        ("remove_manifest", "no readable manifest"),
        ("swap_part", "is not the part that was staged"),
        ("extra_part", "3 of its 2 parts found"),
        ("rows", "it holds 4 rows, the mapping staged 5"),
        ("bad_manifest", "is not one this version wrote"),
    ],
)
def test_a_staged_set_that_is_gone_or_not_whole_is_refused_before_a_row_is_read(tmp_path, damage, why) -> None:
    import shutil

    from inbound.s3.staging import _local

    url = _staged(tmp_path)
    folder = _local(url)
    rows = 4
    if damage == "remove_folder":
        shutil.rmtree(folder)
    elif damage == "remove_part":
        (folder / "part-000001.parquet").unlink()
    elif damage == "remove_manifest":
        (folder / "manifest.json").unlink()
    elif damage == "swap_part":
        pl.DataFrame({"user_id": ["eve@x", "mal@x"], "plan": ["x", "y"]}).write_parquet(folder / "part-000001.parquet")
    elif damage == "bad_manifest":
        (folder / "manifest.json").write_text('{"parts": [{"name": "../x"}], "rows": 4}')
    elif damage == "extra_part":
        FRAME.write_parquet(folder / "part-000002.parquet")
    else:
        rows = 5
    parts = staged_parts(url, None, rows=rows)
    with pytest.raises(StageGone, match=why) as caught:
        next(parts) if damage != "swap_part" else list(parts)
    assert "re-run the whole DAG run" in str(caught.value)


def test_a_staged_set_gone_from_s3_is_refused(s3) -> None:
    s3.create_bucket(Bucket=STAGE_BUCKET)
    staging = Staging(f"s3://{STAGE_BUCKET}/inbound", "inbound_crm", "run_1", s3)
    url = staging.put_parts("crm/users_1.csv.e1", [])
    assert list(staged_parts(url, s3, rows=0)) == []
    staging.clear()
    with pytest.raises(StageGone, match=r"no readable manifest|nothing at"):
        list(staged_parts(url, s3, rows=0))
