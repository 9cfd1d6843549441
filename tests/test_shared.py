"""One file, several integrations: each imports it once, the last one moves it (both stores)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from conftest import BUCKET, integration_dict
from inbound.config.catalog import Catalog
from inbound.config.model import Integration
from inbound.pipeline.shared_files import readers_of, settle
from inbound.run import Run
from inbound.s3.source import head_file

KEY = "exports/people.csv"
BODY = "Email,Plan,Department,Seats\nada@x,premium,R&D,3\ngrace@x,free,Ops,1\n"


def reader(name: str, column: str = "Plan", **overrides) -> Integration:
    config = {
        "schedule": "@daily",
        "source": {"bucket": BUCKET, "key": "exports/*.csv"},
        "attributes": [{"column": column, "name": f"{name}_value"}],
        **overrides,
    }
    return Integration.model_validate(integration_dict(name, **config))


@pytest.fixture
def catalog() -> Catalog:
    catalog = Catalog()
    for integration in (reader("crm", "Plan"), reader("hr", "Department")):
        catalog.integrations[integration.name] = integration
    return catalog


def keys(s3, prefix: str = "exports/") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def make_run(s3, store, catalog: Catalog, name: str, run_id: str | None = None) -> Run:
    integration = catalog.integrations[name]
    return Run(integration, s3, store, run_id or f"run_{time.time_ns()}", f"test:{name}", catalog=catalog)


def run(s3, store, catalog: Catalog, name: str):
    this = make_run(s3, store, catalog, name)
    return this(this.look().new)


def body(s3, key: str) -> str:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def test_each_reader_imports_once_and_the_last_one_moves_the_file(s3, store, catalog) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY.encode())
    first = run(s3, store, catalog, "crm")
    assert first.outcome == "success" and first.rows_written == 2
    assert first.files[0].final_key is None and first.files[0].waiting_for == ("hr",)
    assert "it stays until hr read it" in "\n".join(first.lines())
    assert keys(s3) == [KEY]  # still there for hr
    again = run(s3, store, catalog, "crm")  # crm did its part: it does not see the file again
    assert again.files == () and len(store.imports("crm")) == 1

    second = run(s3, store, catalog, "hr")
    assert second.outcome == "success" and second.rows_written == 2
    final = second.files[0].final_key
    assert final.startswith("exports/success/") and final.endswith("_people.csv")
    assert keys(s3) == [final, f"{final}.readers.txt"]
    report = body(s3, f"{final}.readers.txt")
    assert "- crm: success: 2 rows read, 2 written" in report and "- hr: success: 2 rows read, 2 written" in report
    assert [e.final_key for e in store.imports("crm")] == [final] and [e.final_key for e in store.imports("hr")] == [
        final
    ]
    assert store.user_attributes("ada@x")["attributes"] == {"crm_value": "premium", "hr_value": "R&D"}


def test_a_failure_in_one_reader_does_not_hide_the_file_from_the_other(s3, store, catalog) -> None:
    catalog.integrations["crm"] = reader("crm", "Plan", user_id={"column": "Mail"})  # broken config
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY.encode())
    failed = run(s3, store, catalog, "crm")
    assert failed.outcome == "failed" and "user-ID column 'Mail'" in failed.files[0].error
    assert failed.files[0].waiting_for == ("hr",)
    assert KEY in keys(s3)  # not moved away from hr
    (own_report,) = failed.files[0].report_keys
    assert own_report.startswith("exports/failed/") and own_report.endswith("_people.csv.crm.error.txt")

    done = run(s3, store, catalog, "hr")
    assert done.outcome == "success"
    final = done.files[0].final_key
    assert final.startswith("exports/failed/")  # not every reader succeeded
    assert sorted(keys(s3)) == sorted([final, f"{final}.readers.txt", own_report])
    report = body(s3, f"{final}.readers.txt")
    assert "- crm: failed: " in report and "user-ID column 'Mail'" in report and "- hr: success" in report
    assert store.user_attributes("ada@x")["attributes"] == {"hr_value": "R&D"}


def test_a_disabled_integration_is_not_a_reader(s3, catalog) -> None:
    catalog.integrations["paused"] = reader("paused", "Seats", enabled=False)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY.encode())
    file = head_file(s3, BUCKET, KEY)
    assert [r.name for r in readers_of(catalog, file)] == ["crm", "hr"]
    assert [r.name for r in readers_of(catalog, file, catalog.integrations["paused"])] == ["crm", "hr", "paused"]
    other = reader("other", source={"bucket": BUCKET, "key": "other/*.csv"})
    assert [r.name for r in readers_of(catalog, file, other)] == ["crm", "hr", "other"]  # it runs, so it counts


def test_a_reader_that_never_comes_blocks_only_until_its_grace_ends(s3, store, catalog) -> None:
    catalog.integrations["billing"] = reader("billing", "Seats", schedule="@hourly")  # paused in the UI, say
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY.encode())
    run(s3, store, catalog, "crm")
    assert run(s3, store, catalog, "hr").files[0].waiting_for == ("billing",)
    file = head_file(s3, BUCKET, KEY)
    readers = readers_of(catalog, file)
    assert settle(s3, store, readers, file, now=datetime.now(UTC) + timedelta(minutes=90)).waiting_for == ("billing",)
    later = settle(s3, store, readers, file, now=datetime.now(UTC) + timedelta(hours=2, minutes=1))
    assert later.absent == ("billing",) and later.final_key.startswith("exports/success/")
    report = body(s3, f"{later.final_key}.readers.txt")
    assert "- billing: did not process it within 2 schedule intervals (2:00:00)" in report
    assert "inbound run billing --key" in report
    # settling again (a second reader at the same moment) lands on the same key
    assert settle(s3, store, readers, file, now=datetime.now(UTC) + timedelta(hours=3)).final_key == later.final_key


def test_the_next_run_moves_a_file_whose_last_reader_died_before_moving_it(s3, store, catalog) -> None:
    """Both readers logged their part, but the move never happened: a look sees it due, the run moves it."""
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY.encode())
    run(s3, store, catalog, "crm")
    hr = catalog.integrations["hr"]
    alone = Run(hr, s3, store, "crashed", "test:hr", catalog=Catalog(integrations={"hr": hr}))
    alone(alone.look().new)  # moves it: the only reader it knows
    # undo the move to stand for "the process died after the store commit, before the move"
    (final,) = [k for k in keys(s3) if k.endswith("people.csv")]
    s3.copy_object(Bucket=BUCKET, Key=KEY, CopySource={"Bucket": BUCKET, "Key": final})
    s3.delete_object(Bucket=BUCKET, Key=final)
    for name in ("crm", "hr"):  # the copy is a new object version (ETag the same): both are done
        found = make_run(s3, store, catalog, name).look()
        assert found.new == () and [f.key for f in found.due] == [KEY]
    assert KEY in keys(s3)  # looking moved nothing
    summary = make_run(s3, store, catalog, "crm").finalize([])  # a run that found no new file
    assert summary.outcome == "no new file" and summary.settled[0].startswith("exports/success/")
    assert KEY not in keys(s3) and any(k.startswith("exports/success/") for k in keys(s3))
    assert len(store.imports("crm")) == 1 and len(store.imports("hr")) == 1
