"""The discovery report as the CLI prints it and the config it proposes, from a report built by hand."""

from __future__ import annotations

from pathlib import Path

from inbound.config.catalog import load_file
from inbound.discovery.report import ColumnProfile, Report, render, to_yaml


def report(**changes: object) -> Report:
    fields: dict[str, object] = {
        "bucket": "acme-exports",
        "key": "crm/users_2026-11-28.csv",
        "aws_conn_id": "exports",
        "size": 2048,
        "read_bytes": 2048,
        "complete": True,
        "compressed": False,
        "encoding": "utf-8",
        "bom": False,
        "encoding_hint": None,
        "delimiter": ";",
        "decimal": ",",
        "rows": 2,
        "columns": [
            ColumnProfile("E-Mail", "string", None, ["a@x", "b@x"], 0.0, 1.0, "e_mail"),
            ColumnProfile("Kunde seit", "date", "%d.%m.%Y", ["01.03.1980"], 0.5, 0.5, "kunde_seit"),
        ],
        "user_id_candidates": ["E-Mail"],
    }
    return Report(**{**fields, **changes})  # type: ignore[arg-type]


def test_to_yaml_proposes_a_config_that_loads(tmp_path: Path) -> None:
    text = to_yaml(report())
    assert 'key: "crm/users_*.csv"  # sampled: crm/users_2026-11-28.csv' in text
    path = tmp_path / "crm_users.yaml"
    path.write_text(text, encoding="utf-8")
    integration, errors = load_file(path)
    assert errors == [] and integration is not None
    assert integration.name == "crm_users" and integration.user_id.column == "E-Mail"
    assert [(a.column, a.attribute, a.type, a.format) for a in integration.attributes] == [
        ("Kunde seit", "kunde_seit", "date", "%d.%m.%Y")
    ]


def test_without_a_candidate_the_first_column_is_a_todo() -> None:
    text = to_yaml(report(user_id_candidates=[]), name="crm_people")
    assert "name: crm_people" in text
    assert 'column: "E-Mail"  # TODO: no column was filled and unique in the sample' in text


def test_render() -> None:
    out = render(report(complete=False, compressed=True, notes=["a note"]))
    assert out.startswith("s3://acme-exports/crm/users_2026-11-28.csv  (2.0 KiB, gzip; sampled the first 2.0 KiB)")
    assert 'delimiter  ";"' in out and 'decimal    ","  (decimal commas such as 1.234,56)' in out
    assert "Kunde seit -> kunde_seit  date %d.%m.%Y  50%" in out
    assert "E-Mail -> " not in out  # the user ID is no attribute: no rename shown
    assert "note: a note" in out and "inbound run crm_users --key crm/users_2026-11-28.csv" in out
    assert report().to_dict()["config"] == to_yaml(report()) and report().to_dict()["uri"] == report().uri
