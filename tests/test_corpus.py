"""Every case of the corpus through a whole run: store, moved file and reports."""

from __future__ import annotations

import csv
import io
import time

import pytest

from conftest import BUCKET
from corpus import ATTRIBUTES, Case, cases
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.run import Run
from inbound.s3.source import list_new_files
from inbound.store import open_store


def config(case: Case) -> Integration:
    base = {
        "name": "corpus",
        "schedule": "@daily",
        "source": {"bucket": BUCKET, "key": case.key.rsplit("/", 1)[0] + "/*"},
        "user_id": {"column": "Email"},
        "attributes": ATTRIBUTES,
    }
    return Integration.model_validate({**base, **case.config})


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_corpus_case(case: Case, s3, tmp_path, caplog) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", migrate=True)
    integration = config(case)
    if case.name == "blank_clear":  # a value the empty cell must clear
        s3.put_object(
            Bucket=BUCKET,
            Key="exports/first.csv",
            Body=b"Email,Name,Plan,Open Tickets,Score,VIP,Since,Last Seen,Notes\ngrace@example.com,G,x,1,2.5,no,,,\n",
        )
        Run(integration, s3, store, "seed", "test", catalog=Catalog())(
            list_new_files(s3, BUCKET, integration.source.key)
        )
    s3.put_object(Bucket=BUCKET, Key=case.key, Body=case.data)
    files = list_new_files(s3, BUCKET, integration.source.key)
    summary = Run(integration, s3, store, f"run{time.time_ns()}", "test", catalog=Catalog())(files)
    (result,) = summary.files
    assert result.outcome == case.outcome, result.error
    moved = result.final_key
    folder = case.key.rsplit("/", 1)[0]
    assert moved.startswith(f"{folder}/{case.outcome}/") and moved.endswith(case.key.rsplit("/", 1)[1])
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{folder}/").get("Contents", [])}
    assert case.key not in keys and moved in keys

    if case.outcome == "failed":
        assert case.error in result.error
        reason = s3.get_object(Bucket=BUCKET, Key=f"{moved}.error.txt")["Body"].read().decode()
        assert case.error in reason
        assert store.imports("corpus")[0].outcome == "failed"
        assert all(
            not store.user_attributes(u, integration.attribute_types)["attributes"]
            for u in ("ada@example.com", "grace@example.com")
        )
        assert case.error in caplog.text  # the task log says the same
    for user, expected in case.users.items():
        found = store.user_attributes(user, integration.attribute_types)["attributes"]
        for name, value in expected.items():
            assert found.get(name) == value, (user, name, found)
        if not expected:
            assert found == {}
    if case.rejects:
        report = s3.get_object(Bucket=BUCKET, Key=f"{moved}.rejected.csv")["Body"].read().decode()
        rows = list(csv.DictReader(io.StringIO(report)))
        for line, reason in case.rejects:
            assert any(int(r["line"]) == line and reason in r["reason"] for r in rows), (line, reason, rows)
        assert sorted(int(r["line"]) for r in rows) == sorted(line for line, _ in case.rejects)  # one reason per row
    else:
        assert f"{moved}.rejected.csv" not in keys
    store.close()


def test_logs_carry_no_values(s3, tmp_path, caplog) -> None:
    """Counts, line numbers and column names in the log; personal data stays in the bucket."""
    case = next(c for c in cases() if c.name == "bad_rows_within_threshold")
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", migrate=True)
    s3.put_object(Bucket=BUCKET, Key=case.key, Body=case.data)
    integration = config(case)
    caplog.set_level("DEBUG", logger="inbound")
    Run(integration, s3, store, "r1", "test", catalog=Catalog())(list_new_files(s3, BUCKET, integration.source.key))
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("inbound"))
    assert "rejected" in logged
    for value in ("dup@example.com", "bad@example.com", "many", "u1@example.com"):
        assert value not in logged


@pytest.mark.parametrize("name", ["line", "value"])
def test_an_attribute_named_like_a_report_column_imports_with_rejected_rows(name: str, s3, tmp_path) -> None:
    """The config reserves `line`; should such a config get through, the run still works (mapping's columns are its own)."""
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", migrate=True)
    valid = Integration.model_validate(
        {
            "name": "corpus",
            "schedule": "@daily",
            "source": {"bucket": BUCKET, "key": "exports/*"},
            "user_id": {"column": "Email"},
            "attributes": [{"column": "N", "name": "n", "type": "integer"}],
            "max_rejected_ratio": 0.5,
        }
    )
    integration = valid.model_copy(update={"attributes": [valid.attributes[0].model_copy(update={"name": name})]})
    s3.put_object(Bucket=BUCKET, Key="exports/users.csv", Body=b"Email,N\na@x,1\nb@x,many\nc@x,3\n")
    summary = Run(integration, s3, store, "r1", "test", catalog=Catalog())(list_new_files(s3, BUCKET, "exports/*"))
    (result,) = summary.files
    assert (result.outcome, result.rows_rejected) == ("success", 1), result.error
    assert store.user_attributes("a@x", {name: "integer"})["attributes"] == {name: 1}
    store.close()
