"""The same behaviour on SQLite and PostgreSQL (every test runs against both)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl
import pytest

from inbound.store import open_store
from inbound.store.base import SCHEMA_VERSION

TYPES = {"plan": "string", "seats": "integer", "score": "number", "admin": "boolean", "since": "date", "seen": "timestamp"}


def frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"user_id": pl.String, "plan": pl.String, "seats": pl.Int64, "score": pl.Float64, "admin": pl.Boolean,
                "since": pl.Date, "seen": pl.Datetime("us", "UTC")},
        orient="row",
    )


def write(store, data: pl.DataFrame, integration: str = "crm", types=TYPES, source: str = "s3://b/crm/a.csv"):
    return store.write_file(
        integration=integration, types=types, frame=data, source_file=source, etag="e1", config_version="v1",
        triggered_by="test", rows_read=data.height, rows_rejected=0,
    )


SEEN = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=timezone.utc)
ADA = ("ada@x", "premium", 12, 4.5, True, date(2021, 10, 25), SEEN)


def test_schema_is_created_and_versioned(store_url) -> None:
    store = open_store(store_url)
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    again = open_store(store_url)  # a second open migrates nothing and keeps data
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_typed_round_trip_with_lineage(store) -> None:
    result = write(store, frame([ADA]))
    assert (result.inserted, result.updated, result.unchanged, result.values_written) == (1, 0, 0, 6)
    found = store.user_attributes("ada@x")
    assert found["attributes"] == {
        "admin": True, "plan": "premium", "score": 4.5, "seats": 12, "seen": "2026-01-02T03:04:05.600000+00:00",
        "since": "2021-10-25",
    }
    assert found["sources"]["plan"]["integration"] == "crm"
    assert found["sources"]["plan"]["file"] == "s3://b/crm/a.csv"
    assert datetime.fromisoformat(found["sources"]["plan"]["updated_at"]).tzinfo is not None


def test_unknown_user_has_no_attributes(store) -> None:
    assert store.user_attributes("nobody") == {"user_id": "nobody", "attributes": {}, "sources": {}}


def test_only_changes_are_written(store) -> None:
    write(store, frame([ADA, ("bob@x", "free", 1, None, False, None, None)]))
    before = store.user_attributes("ada@x")["sources"]["plan"]["updated_at"]
    again = write(store, frame([ADA, ("bob@x", "starter", 1, None, False, None, None)]), source="s3://b/crm/b.csv")
    assert (again.inserted, again.updated, again.unchanged, again.values_written, again.rows_written) == (0, 1, 1, 1, 1)
    assert store.user_attributes("bob@x")["attributes"]["plan"] == "starter"
    assert store.user_attributes("bob@x")["sources"]["plan"]["file"] == "s3://b/crm/b.csv"
    assert store.user_attributes("ada@x")["sources"]["plan"]["updated_at"] == before  # unchanged value keeps its lineage


def test_empty_cell_keeps_the_stored_value(store) -> None:
    write(store, frame([ADA]))
    write(store, frame([("ada@x", None, 13, None, None, None, None)]))
    attributes = store.user_attributes("ada@x")["attributes"]
    assert attributes["plan"] == "premium" and attributes["seats"] == 13 and attributes["score"] == 4.5


def test_failed_write_leaves_store_and_log_untouched(store, monkeypatch) -> None:
    write(store, frame([ADA]))

    def broken_log(*args, **kwargs):
        raise RuntimeError("disk full")  # after the values were upserted, inside the transaction

    monkeypatch.setattr(store, "_log", broken_log)
    with pytest.raises(RuntimeError, match="disk full"):
        write(store, frame([("ada@x", "changed", 1, None, None, None, None), ("new@x", "p", 1, None, None, None, None)]))
    monkeypatch.undo()
    assert store.user_attributes("new@x")["attributes"] == {}
    assert store.user_attributes("ada@x")["attributes"]["plan"] == "premium"
    assert len(store.imports("crm")) == 1


def test_import_log_and_last_success(store) -> None:
    ok = write(store, frame([ADA]))
    store.set_final_key(ok.import_id, "crm/success/x_a.csv")
    store.log_failure(integration="crm", source_file="s3://b/crm/c.csv", etag="e2", config_version="v1",
                      error="no user-ID column", triggered_by="test", final_key="crm/failed/x_c.csv")
    log = store.imports("crm")
    assert [r.outcome for r in log] == ["failed", "success"]
    assert log[0].error == "no user-ID column" and log[1].final_key == "crm/success/x_a.csv"
    last = store.last_success()["crm"]
    assert last.id == ok.import_id and last.attributes == len(TYPES) and last.rows_written == 1
    assert store.user_count("crm") == 1


def test_declared_filter_serves_only_current_attributes(store) -> None:
    write(store, frame([ADA]))
    assert set(store.user_attributes("ada@x", {"plan": "string"})["attributes"]) == {"plan"}


def test_values_with_csv_specials_survive(store) -> None:
    tricky = 'a "quoted", multi\nline; value'
    write(store, frame([("ada@x", tricky, None, None, None, None, None)]))
    assert store.user_attributes("ada@x")["attributes"]["plan"] == tricky


def test_clear_blanks_removes_stored_values(store) -> None:
    write(store, frame([ADA, ("bob@x", "free", 1, None, None, None, None)]))
    result = store.write_file(
        integration="crm", types=TYPES, frame=frame([("ada@x", None, 12, 4.5, True, date(2021, 10, 25), SEEN)]),
        source_file="s3://b/crm/c.csv", etag="e3", config_version="v1", triggered_by="test", rows_read=1,
        rows_rejected=0, clear_blanks=True,
    )
    assert (result.values_cleared, result.values_written, result.updated, result.unchanged) == (1, 0, 1, 0)
    assert "plan" not in store.user_attributes("ada@x")["attributes"]
    assert store.user_attributes("bob@x")["attributes"]["plan"] == "free"  # not in the file: untouched
