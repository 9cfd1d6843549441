"""Deletions from the export (`delete_when`): runs through `inbound.run.Run` on moto's S3 and both stores.

A row whose rule column says the user is deleted removes this integration's values of that user in
the file's own transaction, counted in the summary, the import log and the lineage; a file that would
delete more than `max_deleted` of the users fails, nothing written, unless forced; a user the file
both deletes and updates is rejected, never guessed.
"""

from __future__ import annotations

import pytest

from conftest import BUCKET, integration_dict
from inbound.config.model import Integration
from inbound.errors import Problem
from inbound.outcome import Outcome
from inbound.pipeline import lineage
from inbound.s3.source import list_new_files
from test_pipeline import make_run, put

RULE = {"column": "Status", "values": ["deleted", "Erased"]}
FIRST = "Email,Plan,Status\n" + "".join(f"u{i}@x,pro,active\n" for i in range(10))


def _crm(**overrides) -> Integration:
    config = integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}], delete_when=RULE)
    return Integration.model_validate({**config, **overrides})


def _run(s3, store, integration, run_id, **options):
    run = make_run(s3, store, integration, run_id, **options)
    return run(list_new_files(s3, BUCKET, integration.source.key))


def _plan(store, user: str):
    return store.user_attributes(user)["attributes"].get("plan")


def test_rows_marked_deleted_remove_the_users_values_counted_everywhere(s3, store) -> None:
    crm = _crm()
    put(s3, "crm/users_1.csv", FIRST)
    assert _run(s3, store, crm, "run_1").outcome == Outcome.SUCCESS
    # u1 deleted (any case, spaces around), u2 erased (its Plan cell is no plan at all), u3 updated,
    # and a deletion of a user the integration never had (nothing to delete: not counted).
    put(
        s3,
        "crm/users_2.csv",
        "Email,Plan,Status\nu1@x,pro, DELETED \nu2@x,,erased\nu3@x,free,active\nnobody@x,,deleted\n",
    )
    summary = _run(s3, store, crm, "run_2")
    assert summary.outcome == Outcome.SUCCESS and summary.rows_rejected == 0
    write = summary.files[0].write
    assert write is not None and (write.deleted, write.updated, write.unchanged) == (2, 1, 0)
    assert "2 deleted" in summary.message()
    assert _plan(store, "u1@x") is None and _plan(store, "u2@x") is None and _plan(store, "u3@x") == "free"
    assert _plan(store, "u4@x") == "pro"  # upsert mode: a user the file does not name keeps its values
    entry = store.imports("crm", limit=1)[0]
    assert entry.deleted == 2 and entry.rows_written == 3
    event = lineage.of_write(crm, summary.files, store.location("crm"))
    assert event.run_facets["inbound"].files[0]["rowsWritten"] == 3
    assert event.outputs[0].outputFacets["inboundWrite"].deleted == 2


def test_a_file_that_would_delete_too_many_fails_writing_nothing_and_force_writes_it(s3, store) -> None:
    crm = _crm(max_deleted=0.2)
    put(s3, "crm/users_1.csv", FIRST)
    _run(s3, store, crm, "run_1")
    put(s3, "crm/users_2.csv", "Email,Plan,Status\n" + "".join(f"u{i}@x,,deleted\n" for i in range(3)) + "u9@x,x,a\n")
    preview = _run(s3, store, crm, "run_p", dry_run=True)
    assert preview.files[0].problem == Problem.DELETION_GUARD and preview.message().startswith("dry run: would fail")
    summary = _run(s3, store, crm, "run_2")
    result = summary.files[0]
    assert result.problem == Problem.DELETION_GUARD
    assert "would delete 3 of 10 users (30%) by its delete_when rule, more than max_deleted 20%" in (result.error or "")
    assert _plan(store, "u0@x") == "pro" and _plan(store, "u9@x") == "pro"  # nothing written, not even u9
    assert store.imports("crm", limit=1)[0].outcome == Outcome.FAILED
    run = make_run(s3, store, crm, "run_3", force=True)
    forced = run([run.named(result.final_key or "")])
    assert forced.outcome == Outcome.SUCCESS and forced.files[0].write.deleted == 3
    assert _plan(store, "u0@x") is None and _plan(store, "u9@x") == "x"


def test_a_user_the_file_both_deletes_and_updates_is_rejected_not_guessed(s3, store) -> None:
    crm = _crm(max_rejected_ratio=1)
    put(s3, "crm/users_1.csv", FIRST)
    _run(s3, store, crm, "run_1")
    put(s3, "crm/users_2.csv", "Email,Plan,Status\nu1@x,,deleted\nu2@x,gold,active\nu1@x,gold,active\n")
    summary = _run(s3, store, crm, "run_2")
    result = summary.files[0]
    assert result.outcome == Outcome.SUCCESS and result.rows_rejected == 2
    assert result.rejected_lines == (("duplicate_user_id", "Email", 2, (2, 4)),)
    assert result.write is not None and (result.write.deleted, result.write.updated) == (0, 1)
    assert _plan(store, "u1@x") == "pro" and _plan(store, "u2@x") == "gold"  # u1: neither applied


def test_a_file_without_the_rule_column_fails_and_the_config_rules_are_checked(s3, store) -> None:
    crm = _crm(max_rejected_ratio=1)
    put(s3, "crm/users_1.csv", "Email,Plan\nu1@x,pro\n")
    result = _run(s3, store, crm, "run_1").files[0]
    assert result.problem == Problem.MISSING_COLUMN and "delete_when column 'Status'" in (result.error or "")
    with pytest.raises(ValueError, match="delete_when is for mode: upsert"):
        _crm(mode="mirror")
    with pytest.raises(ValueError, match=r"delete_when\.column 'Email' is the user-ID column"):
        _crm(delete_when={"column": "Email", "values": ["x"]})
    with pytest.raises(ValueError, match="values"):
        _crm(delete_when={"column": "Status", "values": []})
    assert (
        _crm().version
        != Integration.model_validate(integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}])).version
    )
