"""`inbound.pipeline.lineage`: each import's OpenLineage datasets and facets, from a run's file results."""

from __future__ import annotations

import json
import socket
from typing import Any

import jsonschema
import pytest
from openlineage.client.serde import Serde

from conftest import ROOT
from inbound.config.model import Integration
from inbound.errors import Problem
from inbound.mapping.rejects import REJECT_KINDS
from inbound.pipeline import lineage
from inbound.results import FileResult
from inbound.s3.layout import S3File
from inbound.store import Location, WriteResult

FACETS = json.loads((ROOT / "docs" / "openlineage-facets.json").read_text())
POSTGRES = Location("postgresql", "db.internal", 5433, "analytics", "inbound", "inbound_values_3")
SQLITE = Location("sqlite", None, None, "/srv/airflow/inbound_store.db", "main", "inbound_values_3")


def file(key: str, etag: str = "e1") -> S3File:
    return S3File("acme-exports", key, etag, 2048, "2026-12-01T06:00:00Z")


def written(key: str, inserted: int, updated: int = 0, *, previewed: bool = False, **kw: Any) -> FileResult:
    write = WriteResult(
        import_id=1,
        rows_read=inserted + updated + 1,
        rows_rejected=1,
        inserted=inserted,
        updated=updated,
        unchanged=0,
        values_written=2 * (inserted + updated),
        sample=({"user_id": "ada@secret.example", "changes": {"crm_plan": [None, "premium"]}},),
    )
    return FileResult(
        s3_file=file(key),
        stage="file:///tmp/stage",
        rows_read=inserted + updated + 1,
        rows_rejected=1,
        rejected_by=(("invalid_value", "Open Tickets", 1),),
        write=write,
        previewed=previewed,
        **kw,
    )


def as_json(found: lineage.Lineage) -> dict[str, Any]:
    return {
        "inputs": [Serde.to_dict(d) for d in found.inputs],
        "outputs": [Serde.to_dict(d) for d in found.outputs],
        "run": {k: Serde.to_dict(v) for k, v in found.run_facets.items()},
    }


def names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


def test_postgres_and_sqlite_name_the_store_as_documented(crm: Integration) -> None:
    """PostgreSQL per OpenLineage's naming spec; SQLite (no spec entry) as the module documents."""
    pg = as_json(lineage.of_write(crm, [written("crm/users_1.csv", 3)], POSTGRES))
    assert names(pg["outputs"]) == [
        ("postgres://db.internal:5433", "analytics.inbound.inbound_values_3"),
        ("postgres://db.internal:5433", "analytics.inbound.inbound_attributes_v1"),
    ]
    lite = as_json(lineage.of_write(crm, [written("crm/users_1.csv", 3)], SQLITE))
    namespace = f"sqlite://{socket.gethostname()}/srv/airflow/inbound_store.db"
    assert names(lite["outputs"]) == [(namespace, "main.inbound_values_3"), (namespace, "main.inbound_attributes_v1")]
    assert names(lite["inputs"]) == [("s3://acme-exports", "crm/users_1.csv")]


def test_one_edge_per_import_and_every_file_in_the_run_facet(crm: Integration) -> None:
    failed = FileResult(file("crm/users_2.csv")).failed_with(
        "user-ID column 'Email' is not in the file's header", Problem.MISSING_COLUMN
    )
    skipped_write = WriteResult(1, 5, 0, 0, 0, 5, 0, skipped=True)
    skipped = FileResult(file("crm/users_3.csv"), rows_read=5, write=skipped_write)
    pending = FileResult(file("crm/users_4.csv"))
    results = [written("crm/users_1.csv", 3, 2), failed, skipped, pending, written("crm/users_5.csv", 4)]
    found = as_json(lineage.of_write(crm, results, POSTGRES))
    assert names(found["inputs"]) == [
        ("s3://acme-exports", "crm/users_1.csv"),
        ("s3://acme-exports", "crm/users_5.csv"),
    ]
    table, view = found["outputs"]
    assert table["outputFacets"]["outputStatistics"]["rowCount"] == 9
    write = table["outputFacets"]["inboundWrite"]
    assert (write["inserted"], write["updated"], write["valuesWritten"]) == (7, 2, 18)
    sources = table["facets"]["columnLineage"]["fields"]["open_tickets"]["inputFields"]
    assert [(f["name"], f["field"]) for f in sources] == [
        ("crm/users_1.csv", "Open Tickets"),
        ("crm/users_5.csv", "Open Tickets"),
    ]
    assert [f["name"] for f in view["facets"]["schema"]["fields"]][:4] == [
        "user_id",
        "integration",
        "attribute",
        "value",
    ]
    run = found["run"]["inbound"]
    assert (run["integration"], run["configVersion"], run["dryRun"]) == ("crm", crm.version, False)
    assert [(f["uri"].rsplit("/", 1)[1], f["outcome"], f["rowsWritten"]) for f in run["files"]] == [
        ("users_1.csv", "success", 5),
        ("users_2.csv", "failed", 0),
        ("users_3.csv", "skipped", 0),
        ("users_4.csv", "pending", 0),
        ("users_5.csv", "success", 4),
    ]
    assert "not in the file's header" in run["files"][1]["reason"]


def test_a_dry_run_reports_what_it_read_and_nothing_written(crm: Integration) -> None:
    found = as_json(lineage.of_write(crm, [written("crm/users_1.csv", 3, previewed=True)], POSTGRES))
    assert names(found["inputs"]) == [("s3://acme-exports", "crm/users_1.csv")] and found["outputs"] == []
    assert found["inputs"][0]["inputFacets"]["dataQualityMetrics"]["rowCount"] == 4
    assert found["run"]["inbound"]["dryRun"] is True and found["run"]["inbound"]["files"][0]["rowsWritten"] == 0


def test_an_unknown_store_location_keeps_the_inputs(crm: Integration) -> None:
    found = as_json(lineage.of_write(crm, [written("crm/users_1.csv", 3)], None))
    assert len(found["inputs"]) == 1 and found["outputs"] == []


def test_input_facets_carry_schema_version_counts_and_rejections_by_reason(crm: Integration) -> None:
    result = written("crm/users_1.csv", 3)
    result = FileResult(
        **{
            **result.__dict__,
            "rows_rejected": 4,
            "rejected_by": (
                ("duplicate_user_id", "Email", 2),
                ("invalid_value", "Open Tickets", 1),
                ("invalid_value", "Plan", 1),  # a kind no standard check names: still counted
            ),
        }
    )
    (read,) = as_json(lineage.of_write(crm, [result], POSTGRES))["inputs"]
    assert [(f["name"], f["type"]) for f in read["facets"]["schema"]["fields"]] == [
        ("Email", "string"),
        ("Plan", "string"),
        ("Open Tickets", "integer"),
    ]
    assert read["facets"]["version"]["datasetVersion"] == "e1"
    metrics = read["inputFacets"]["dataQualityMetrics"]
    assert (metrics["rowCount"], metrics["bytes"], metrics["fileCount"]) == (4, 2048, 1)
    assert read["inputFacets"]["inboundRejections"]["byReason"] == [
        {"kind": "duplicate_user_id", "column": "Email", "rows": 2},
        {"kind": "invalid_value", "column": "Open Tickets", "rows": 1},
        {"kind": "invalid_value", "column": "Plan", "rows": 1},
    ]
    assertions = {(a["name"], a.get("column")): a for a in read["inputFacets"]["dataQualityAssertions"]["assertions"]}
    assert (
        not assertions["duplicate_user_id", "Email"]["success"]
        and assertions["duplicate_user_id", "Email"]["actual"] == "2"
    )
    assert assertions["duplicate_user_id", "Email"]["assertion"] == "unique"
    assert (
        assertions["empty_user_id", "Email"]["success"]
        and assertions["empty_user_id", "Email"]["assertion"] == "not_null"
    )
    assert assertions["wrong_field_count", None]["success"]
    assert not assertions["invalid_value", "Plan"]["success"]
    assert {kind for kind, _ in assertions} == set(lineage.ASSERTIONS) == set(REJECT_KINDS)


def test_start_and_failure_report_the_files_about_to_be_written(crm: Integration) -> None:
    staged = FileResult(file("crm/users_1.csv"), stage="file:///tmp/stage", rows_read=4)
    failed = FileResult(file("crm/users_2.csv")).failed_with("too many rejected", Problem.TOO_MANY_REJECTED)
    start = as_json(lineage.of_start(crm, [staged, failed]))
    assert names(start["inputs"]) == [("s3://acme-exports", "crm/users_1.csv")] and start["outputs"] == []
    assert "dataQualityMetrics" not in start["inputs"][0].get("inputFacets", {})  # counts come with COMPLETE
    failure = as_json(lineage.of_failure(crm, [staged, failed]))
    assert names(failure["inputs"]) == names(start["inputs"]) and failure["outputs"] == []
    assert [f["outcome"] for f in failure["run"]["inbound"]["files"]] == ["pending", "failed"]


def test_custom_facets_follow_their_documented_schema_and_never_carry_a_value(crm: Integration) -> None:
    failed = FileResult(file("crm/users_2.csv")).failed_with("too many rejected", Problem.TOO_MANY_REJECTED)
    found = as_json(lineage.of_write(crm, [written("crm/users_1.csv", 3), failed], POSTGRES))
    checked = {
        "InboundRunFacet": found["run"]["inbound"],
        "InboundRejectionsInputDatasetFacet": found["inputs"][0]["inputFacets"]["inboundRejections"],
        "InboundWriteOutputDatasetFacet": found["outputs"][0]["outputFacets"]["inboundWrite"],
    }
    for name, facet in checked.items():
        assert facet["_schemaURL"] == f"{lineage.SCHEMA_URN}#/$defs/{name}"
        jsonschema.validate(facet, {**FACETS, "$ref": f"#/$defs/{name}"})
    text = json.dumps(found)
    assert "ada@secret.example" not in text and "premium" not in text  # the dry-run sample stays out


def test_an_event_lists_at_most_the_configured_number_of_files(crm: Integration, monkeypatch) -> None:
    """A backlog of files in one run: the event stays bounded; the counts still cover every file."""
    monkeypatch.setenv(lineage.MAX_FILES_ENV, "2")
    results = [written(f"crm/users_{i}.csv", 1) for i in range(5)]
    found = as_json(lineage.of_write(crm, results, POSTGRES))
    assert [name for _, name in names(found["inputs"])] == ["crm/users_0.csv", "crm/users_1.csv"]
    assert found["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 5
    run = found["run"]["inbound"]
    assert len(run["files"]) == 2 and run["filesNotListed"] == 3
    jsonschema.validate(run, {**FACETS, "$ref": "#/$defs/InboundRunFacet"})
    monkeypatch.setenv(lineage.MAX_FILES_ENV, "0")
    with pytest.raises(ValueError, match=r"INBOUND_LINEAGE_MAX_FILES=.*0.* is not a whole number of at least 1"):
        lineage.of_write(crm, results, POSTGRES)


def test_a_long_reason_is_cut_in_the_event(crm: Integration) -> None:
    """A reason may quote header names of a hostile file; the event keeps it short (the report has it all)."""
    failed = FileResult(file("crm/users_1.csv")).failed_with("x" * 100_000, Problem.MISSING_COLUMN)
    (listed,) = as_json(lineage.of_write(crm, [failed], POSTGRES))["run"]["inbound"]["files"]
    assert len(listed["reason"]) == lineage.MAX_REASON_CHARS and listed["reason"].endswith("…")


def test_a_file_whose_header_changed_says_how_in_its_input_and_the_run_facet(crm: Integration) -> None:
    from dataclasses import replace

    from inbound.mapping.drift import Shape

    many = tuple(f"Col {i}" for i in range(15))
    shape = Shape(
        columns=("Email", "Plan", *many),
        new=tuple((c, "2026-12-01") for c in many),
        appeared=many[:2],
        gone=("Notes",),
        compared_with="2026-11-30",
    )
    drifted = replace(written("crm/users_1.csv", 3), shape=shape)
    same = replace(written("crm/users_2.csv", 3), shape=Shape(columns=("Email", "Plan")))
    found = as_json(lineage.of_write(crm, [drifted, same], POSTGRES))
    facet = found["inputs"][0]["inputFacets"]["inboundSchemaDrift"]
    jsonschema.validate(facet, {**FACETS, "$ref": "#/$defs/InboundSchemaDriftInputDatasetFacet"})
    assert facet["newColumnCount"] == 15 and len(facet["newColumns"]) == 10  # bounded, counted whole
    assert facet["newColumns"][0] == {"column": "Col 0", "since": "2026-12-01"} and facet["goneColumns"] == ["Notes"]
    assert "inboundSchemaDrift" not in found["inputs"][1].get("inputFacets", {})
    run = found["run"]["inbound"]
    jsonschema.validate(run, {**FACETS, "$ref": "#/$defs/InboundRunFacet"})
    assert run["files"][0]["drift"].startswith("header changed: 15 new columns since 2026-12-01")
    assert run["files"][1].get("drift") is None
