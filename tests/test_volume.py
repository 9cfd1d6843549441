"""`inbound.mapping.volume`: an export that parses but is plainly broken fails, with nothing written.

The decision alone first, then runs through `inbound.run.Run` on moto's S3 and both stores.
"""

from __future__ import annotations

import pytest

from conftest import BUCKET
from inbound.errors import Problem
from inbound.mapping.drift import Known, Shape
from inbound.mapping.volume import suspicious
from inbound.outcome import Outcome
from inbound.s3.source import list_new_files
from test_drift import _crm
from test_pipeline import make_run, put


def _known(rows, filled=(("plan", 10), ("open_tickets", 10))) -> Known:
    return Known(Shape(columns=("Email", "Plan", "Open Tickets"), filled=filled), "2026-12-01", tuple(rows))


FULL = Shape(columns=("Email", "Plan", "Open Tickets"), filled=(("plan", 4), ("open_tickets", 4)))


def test_a_drop_past_max_row_drop_against_the_median_is_suspicious() -> None:
    crm = _crm()
    assert suspicious(49, FULL, _known([100, 100, 100]), crm) == (
        "suspicious export: 49 rows, 51% fewer than the median of the last 3 imports (100 rows); "
        "max_row_drop is 50%; nothing was imported. If the export really is this way, re-import the file with "
        "force: trigger the DAG with the params key (the file's key in failed/) and force, or "
        "`inbound run <name> --key <key> --force`"
    )
    assert suspicious(50, FULL, _known([100, 100, 100]), crm) is None  # exactly the limit: imported
    assert suspicious(49, FULL, _known([100, 1000, 10, 100, 100, 5000]), crm) is not None  # median of the last 5
    assert suspicious(1, FULL, _known([100, 100]), crm) is None  # too little history yet
    assert suspicious(1, FULL, None, crm) is None
    assert suspicious(1, FULL, _known([100, 100, 100]), _crm(max_row_drop=None)) is None
    assert suspicious(1, FULL, _known([100, 100, 100]), _crm(max_row_drop=1)) is None
    assert suspicious(90, FULL, _known([100, 100, 100]), _crm(max_row_drop=0.05)) is not None


def test_a_read_column_emptied_in_every_row_is_suspicious() -> None:
    crm = _crm()
    emptied = Shape(columns=FULL.columns, filled=(("plan", 0), ("open_tickets", 4)))
    reason = suspicious(4, emptied, _known([4]), crm)
    assert reason is not None and "column empty in every row: 'Plan' (attribute plan: 10 rows had a value" in reason
    assert suspicious(4, emptied, _known([4], filled=(("plan", 0), ("open_tickets", 1))), crm) is None
    assert suspicious(4, emptied, _known([4], filled=()), crm) is None  # nothing known of the column
    assert suspicious(4, emptied, _known([4]), _crm(guard_empty_columns=False)) is None


def _run(s3, store, integration, run_id, **options):
    run = make_run(s3, store, integration, run_id, **options)
    return run(list_new_files(s3, BUCKET, integration.source.key))


def _csv(users: int, plan: str = "pro") -> str:
    return "Email,Plan,Open Tickets\n" + "".join(f"u{i}@x,{plan},{i}\n" for i in range(users))


def test_a_half_export_fails_as_suspicious_writing_nothing_and_force_imports_it(s3, store) -> None:
    crm = _crm()
    for i in range(3):
        put(s3, f"crm/users_{i}.csv", _csv(10 + i, plan=f"p{i}"))
        assert _run(s3, store, crm, f"run_{i}").outcome == Outcome.SUCCESS
    before = store.user_attributes("u0@x")["attributes"]
    put(s3, "crm/users_9.csv", _csv(4, plan="half"))
    summary = _run(s3, store, crm, "run_9")
    result = summary.files[0]
    assert summary.outcome == Outcome.FAILED and result.problem == Problem.SUSPICIOUS_VOLUME
    assert "4 rows, 64% fewer than the median of the last 3 imports (11 rows)" in (result.error or "")
    assert result.final_key and "/failed/" in result.final_key
    assert store.user_attributes("u0@x")["attributes"] == before  # nothing written
    assert store.imports("crm", limit=1)[0].outcome == Outcome.FAILED
    run = make_run(s3, store, crm, "run_10", force=True)
    forced = run([run.named(result.final_key)])
    assert forced.outcome == Outcome.SUCCESS and store.user_attributes("u0@x")["attributes"]["plan"] == "half"


def test_a_dry_run_says_it_would_fail_and_leaves_the_file(s3, store) -> None:
    crm = _crm()
    for i in range(3):
        put(s3, f"crm/users_{i}.csv", _csv(10))
        _run(s3, store, crm, f"run_{i}", force=True)
    put(s3, "crm/users_9.csv", _csv(2))
    preview = _run(s3, store, crm, "run_9", dry_run=True)
    assert (preview.outcome == Outcome.FAILED and preview.dry_run is False) or preview.files[0].previewed
    assert "would fail" in preview.message() and "suspicious export" in preview.message()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="crm/users_9")["Contents"]]


@pytest.mark.parametrize("mode", ["upsert", "mirror"])
def test_a_column_exported_blank_fails_as_suspicious(s3, store, mode) -> None:
    crm = _crm(mode=mode)
    put(s3, "crm/users_1.csv", _csv(5))
    assert _run(s3, store, crm, "run_1").outcome == Outcome.SUCCESS
    put(s3, "crm/users_2.csv", _csv(5, plan=""))
    summary = _run(s3, store, crm, "run_2")
    assert summary.files[0].problem == Problem.SUSPICIOUS_VOLUME
    assert "'Plan' (attribute plan: 5 rows had a value at the import of" in (summary.files[0].error or "")
    assert store.user_attributes("u1@x")["attributes"]["plan"] == "pro"
