"""`inbound.mapping.drift`: an export's header against its last import's, and what a run does with it.

The pure comparison first, then runs through `inbound.run.Run` on moto's S3 and both stores: the
header is recorded in the import log, new columns are reported (and carried until mapped or
ignored), `on_new_columns: fail` fails the file with nothing written, and a renamed read column
fails it with the new header name as the suggestion.
"""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import BUCKET, integration_dict
from inbound.config.model import Integration
from inbound.errors import BadFile, Problem
from inbound.mapping.drift import (
    MAX_HEADER_COLUMNS_ENV,
    NAME_CHARS,
    Known,
    Shape,
    compare,
    config_lines,
    kept,
    note,
)
from inbound.mapping.header import check_header
from inbound.outcome import Outcome
from inbound.s3.source import list_new_files
from test_pipeline import keys, make_run, put

HEADER = ["Email", "Plan", "Open Tickets", "Notes"]


def _crm(**overrides) -> Integration:
    attributes = [
        {"column": "Plan", "name": "plan"},
        {"column": "Open Tickets", "name": "open_tickets", "type": "integer"},
    ]
    return Integration.model_validate(integration_dict("crm", **{"attributes": attributes, **overrides}))


def _known(columns, new=(), day="2026-12-01") -> Known:
    return Known(Shape(columns=tuple(columns), new=tuple(new)), day)


def test_the_first_import_only_records_its_header() -> None:
    shape = compare(HEADER, None, _crm(), "2026-12-07")
    assert shape == Shape(columns=tuple(HEADER)) and not shape.drifted and note(shape) is None


def test_a_new_unread_column_is_reported_with_the_day_it_appeared_and_carried_until_mapped() -> None:
    crm = _crm()
    first = compare([*HEADER, "Region"], _known(HEADER), crm, "2026-12-02")
    assert first.new == (("Region", "2026-12-02"),) and first.appeared == ("Region",)
    assert first.compared_with == "2026-12-01" and not first.gone and not first.reordered
    assert note(first) == (
        "header changed: 1 new column since 2026-12-02 not read by the config ('Region'): "
        "map them or list them under `ignore_columns`"
    )
    # The next import has it again: still new (since the day it appeared), but no longer appearing.
    second = compare([*HEADER, "Region"], Known(first, "2026-12-02"), crm, "2026-12-05")
    assert second.new == (("Region", "2026-12-02"),) and second.appeared == ()
    # Mapped, or listed under ignore_columns: no longer new.
    mapped = _crm(
        attributes=[{"column": "Plan", "name": "plan"}, {"column": "Region", "name": "region"}],
    )
    assert compare([*HEADER, "Region"], Known(second, "2026-12-05"), mapped, "2026-12-06").new == ()
    ignored = _crm(ignore_columns=["Region"])
    assert compare([*HEADER, "Region"], Known(second, "2026-12-05"), ignored, "2026-12-06").new == ()


def test_a_gone_unread_column_and_a_reordered_header_are_reported_not_a_read_one() -> None:
    shape = compare(["Open Tickets", "Email", "Plan"], _known(HEADER), _crm(), "2026-12-07")
    assert shape.gone == ("Notes",) and shape.reordered and shape.new == ()
    assert note(shape) == (
        "header changed: no longer in the export, not read by the config: 'Notes'; "
        "the columns are in another order than at the import of 2026-12-01"
    )
    same_order = compare(["Email", "Plan", "Open Tickets"], _known(HEADER), _crm(), "2026-12-07")
    assert not same_order.reordered and same_order.gone == ("Notes",)


def test_ignore_records_the_header_but_reports_no_new_column() -> None:
    shape = compare([*HEADER, "Region"], _known(HEADER), _crm(on_new_columns="ignore"), "2026-12-07")
    assert shape.columns[-1] == "Region" and shape.new == () and not shape.drifted


def test_what_is_kept_is_bounded_and_a_stored_shape_that_is_not_one_reads_as_none(monkeypatch) -> None:
    monkeypatch.setenv(MAX_HEADER_COLUMNS_ENV, "3")
    assert kept(["a" * 1000, "b", "c", "d"]) == ("a" * NAME_CHARS, "b", "c")
    shape = compare(["Email", "Plan", "Open Tickets", "X", "Y"], _known(["Email", "Plan", "Gone"]), _crm(), "d")
    assert shape.cut and shape.gone == ()  # a name past the limit is not known to be gone
    for text in (None, "", "not json", "[1, 2]", '{"columns": 5}', '{"new": [{"x": 1}]}'):
        assert Shape.loads(text) is None or Shape.loads(text) == Shape(columns=())
    huge = json.dumps({"columns": ["z" * 10_000] * 50, "new": [{"column": "q" * 5000, "since": "2026-12-01xx"}]})
    loaded = Shape.loads(huge)
    assert loaded is not None and len(loaded.columns) == 3 and len(loaded.columns[0]) == NAME_CHARS
    assert loaded.new == (("q" * NAME_CHARS, "2026-12-01"),)


def test_the_config_lines_map_the_new_columns_and_read_back_as_config() -> None:
    crm = _crm()
    lines = config_lines(crm, ["Region", "plan", "Last Login: EU", "yes", "user_id"])
    entries = yaml.safe_load(lines)["attributes"]
    assert entries == [
        {"column": "Region", "type": "string"},
        {"column": "plan", "name": "plan_2", "type": "string"},  # `plan` is taken by the Plan column
        {"column": "Last Login: EU", "name": "last_login_eu", "type": "string"},
        {"column": "yes", "type": "string"},
        {"column": "user_id", "name": "user_id_2", "type": "string"},  # a name the store keeps for itself
    ]
    config = integration_dict("crm", attributes=[*integration_dict("crm")["attributes"], *entries])
    Integration.model_validate(config)  # the lines make a valid config


def test_a_read_column_renamed_in_the_export_is_refused_with_the_new_name_as_the_suggestion() -> None:
    with pytest.raises(BadFile) as caught:
        check_header(["Email", "Plan", "Tickets Open", "Notes"], _crm(), known=HEADER)
    assert caught.value.problem == Problem.MISSING_COLUMN
    assert "this one has 'Tickets Open', which that one did not" in str(caught.value)
    assert "set `column: Tickets Open`" in str(caught.value)
    # Without the last import's header (or another export altogether): no guess at a name.
    with pytest.raises(BadFile) as caught:
        check_header(["Email", "Plan", "Tickets Open", "Notes"], _crm())
    assert "Tickets Open" not in str(caught.value)
    with pytest.raises(BadFile) as caught:
        check_header(["Email", "Plan", "Tickets Open"], _crm(), known=[*HEADER, "a", "b", "c", "d", "e"])
    assert "Tickets Open" not in str(caught.value)


def test_the_config_validates_its_drift_settings() -> None:
    with pytest.raises(ValueError, match=r"ignore_columns\[0\] 'Plan' is a column the config reads"):
        _crm(ignore_columns=["Plan"])
    with pytest.raises(ValueError, match="on_new_columns"):
        _crm(on_new_columns="sometimes")
    assert _crm().version == _crm(on_new_columns="warn", ignore_columns=[]).version  # defaults keep the version
    assert _crm().version != _crm(on_new_columns="fail").version


# -- runs on both stores -------------------------------------------------------------------------

OLD = "Email,Plan,Open Tickets,Notes\nada@x,premium,3,n\nbob@x,free,0,n\n"
NEW = "Email,Region,Plan,Open Tickets,Notes\nada@x,EU,basic,3,n\nbob@x,US,free,1,n\n"


def _run(s3, store, integration, run_id, **options):
    run = make_run(s3, store, integration, run_id, **options)
    return run(list_new_files(s3, BUCKET, integration.source.key))


def test_each_import_records_its_header_and_the_drift_since_the_last(s3, store) -> None:
    crm = _crm()
    put(s3, "crm/users_1.csv", OLD)
    first = _run(s3, store, crm, "run_1")
    assert first.outcome == Outcome.SUCCESS and first.drift_note() == ""
    put(s3, "crm/users_2.csv", NEW)
    second = _run(s3, store, crm, "run_2")
    assert second.outcome == Outcome.SUCCESS  # warn: imported, without the new column
    assert "1 new column since" in second.message() and "'Region'" in second.message()
    assert store.user_attributes("ada@x")["attributes"]["plan"] == "basic"
    latest = store.last_success(["crm"])["crm"]
    shape = Shape.loads(latest.shape)
    assert shape is not None and shape.columns == ("Email", "Region", "Plan", "Open Tickets", "Notes")
    assert [c for c, _ in shape.new] == ["Region"] and shape.appeared == ("Region",) and shape.reordered is False
    result = second.to_json()["results"][0]
    assert result["shape"]["new"][0]["column"] == "Region" and "Region" in result["drift"]
    # A third file with the same header: still reported, no longer appearing (an alert tells once).
    put(s3, "crm/users_3.csv", NEW.replace("basic", "pro"))
    third = Shape.loads(_run(s3, store, crm, "run_3") and store.last_success(["crm"])["crm"].shape)
    assert third is not None and [c for c, _ in third.new] == ["Region"] and third.appeared == ()


def test_an_identical_file_skipped_keeps_the_header_of_the_import_it_repeats(s3, store) -> None:
    crm = _crm()
    put(s3, "crm/users_1.csv", OLD)
    _run(s3, store, crm, "run_1")
    put(s3, "crm/users_2.csv", NEW)
    _run(s3, store, crm, "run_2")
    put(s3, "crm/users_2.csv", NEW)  # the same content again: skipped by its ETag
    skipped = _run(s3, store, crm, "run_3")
    assert skipped.files[0].skipped
    shape = Shape.loads(store.last_success(["crm"])["crm"].shape)
    assert shape is not None and [c for c, _ in shape.new] == ["Region"]


def test_on_new_columns_fail_fails_the_file_with_the_config_lines_and_writes_nothing(s3, store) -> None:
    crm = _crm(on_new_columns="fail")
    put(s3, "crm/users_1.csv", OLD)
    _run(s3, store, crm, "run_1")
    before = store.user_attributes("ada@x")
    put(s3, "crm/users_2.csv", NEW)
    failed = _run(s3, store, crm, "run_2")
    assert failed.outcome == Outcome.FAILED
    result = failed.files[0]
    assert result.problem == Problem.NEW_COLUMNS and result.final_key and "/failed/" in result.final_key
    assert "on_new_columns is fail: nothing was imported" in (result.error or "")
    assert "  - column: Region\n    type: string\n" in (result.error or "")
    assert store.user_attributes("ada@x") == before
    report = s3.get_object(Bucket=BUCKET, Key=result.report_keys[-1])["Body"].read().decode()
    assert "column: Region" in report
    entry = store.imports("crm", limit=1)[0]
    assert entry.outcome == Outcome.FAILED and Shape.loads(entry.shape) is not None
    # Forced, the same file imports; the drift is still recorded and reported.
    run = make_run(s3, store, crm, "run_3", force=True)
    forced = run([run.named(result.final_key or "")])
    assert forced.outcome == Outcome.SUCCESS and "'Region'" in forced.message()
    assert store.user_attributes("ada@x")["attributes"]["plan"] == "basic"


def test_a_renamed_read_column_fails_the_file_with_the_new_name_as_the_suggestion(s3, store) -> None:
    crm = _crm()
    put(s3, "crm/users_1.csv", OLD)
    _run(s3, store, crm, "run_1")
    put(s3, "crm/users_2.csv", OLD.replace("Open Tickets", "Tickets (open)"))
    failed = _run(s3, store, crm, "run_2")
    result = failed.files[0]
    assert result.problem == Problem.MISSING_COLUMN
    assert "set `column: Tickets (open)`" in (result.error or "")
    assert keys(s3, "crm/failed/")


def test_a_run_of_several_files_compares_each_with_the_one_before(s3, store) -> None:
    crm = _crm()
    put(s3, "crm/users_1.csv", OLD)
    put(s3, "crm/users_2.csv", NEW)
    summary = _run(s3, store, crm, "run_1")
    first, second = (f.shape for f in summary.files)
    assert first is not None and first.compared_with is None
    assert second is not None and [c for c, _ in second.new] == ["Region"]
