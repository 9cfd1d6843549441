from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, integration_dict
from inbound.config import Integration, json_schema, load_file, load_folder, schedule_interval


def test_examples_are_valid() -> None:
    catalog = load_folder(EXAMPLES)
    assert catalog.errors == []
    assert set(catalog.integrations) == {"crm_users", "support_tickets"}
    crm = catalog.integrations["crm_users"]
    assert crm.dag_id == "inbound_crm_users"
    assert crm.attribute_types["seats"] == "integer"
    assert crm.source.bucket == "acme-exports"  # the !env default


def test_defaults(write_config) -> None:
    path = write_config("a.yaml", integration_dict(attributes=[{"column": "Plan"}]))
    integration, errors = load_file(path)
    assert errors == []
    assert integration.enabled is True
    assert integration.source.aws_conn_id == "aws_default"
    assert integration.attributes[0].attribute == "Plan"
    assert integration.attributes[0].type == "string"
    assert integration.max_rejected_ratio == 0.05
    assert integration.file == str(path)


def test_unknown_key_names_file_line_and_suggests(write_config) -> None:
    config = integration_dict()
    config["sorce"] = config.pop("source")
    path = write_config("crm.yaml", config)
    integration, errors = load_file(path)
    assert integration is None
    messages = [e.one_line() for e in errors]
    assert any("unknown key 'sorce'; did you mean 'source'?" in m for m in messages), messages
    assert any("required key 'source' is missing" in m for m in messages), messages
    sorce = next(e for e in errors if "sorce" in e.message)
    assert sorce.file == str(path)
    assert Path(path).read_text().splitlines()[sorce.line - 1].startswith("sorce:")
    assert "> " in sorce.context and "sorce:" in sorce.context


def test_bad_type_value_suggests_the_closest(write_config) -> None:
    path = write_config(
        "crm.yaml",
        "name: crm\nschedule: '@hourly'\nsource: {bucket: abc, key: a.csv}\nuser_id: {column: Email}\n"
        "attributes:\n  - column: Plan\n    type: strng\n",
    )
    _, errors = load_file(path)
    assert len(errors) == 1
    error = errors[0]
    assert error.line == 7
    assert error.path == "attributes[0].type"
    assert "did you mean 'string'?" in error.message
    assert str(error).startswith(f"{path}:7: attributes[0].type:")


def test_nested_unknown_key(write_config) -> None:
    config = integration_dict()
    config["attributes"][1]["nmae"] = "x"
    _, errors = load_file(write_config("a.yaml", config))
    assert [e.path for e in errors] == ["attributes[1].nmae"]
    assert "did you mean 'name'?" in errors[0].message


def test_column_that_is_not_a_name_needs_a_rename(write_config) -> None:
    _, errors = load_file(write_config("a.yaml", integration_dict(attributes=[{"column": "Open Tickets"}])))
    assert "add `name: open_tickets`" in errors[0].message


@pytest.mark.parametrize(
    ("schedule", "interval"),
    [
        ("@hourly", timedelta(hours=1)),
        ("*/15 * * * *", timedelta(minutes=15)),
        ("PT30M", timedelta(minutes=30)),
        ("P1D", timedelta(days=1)),
    ],
)
def test_schedules(schedule: str, interval: timedelta) -> None:
    assert schedule_interval(schedule) == interval


@pytest.mark.parametrize(
    ("schedule", "hint"),
    [("@houryl", "did you mean '@hourly'"), ("every hour", "five-field cron"), ("PT0S", "at least one minute")],
)
def test_bad_schedules(write_config, schedule: str, hint: str) -> None:
    _, errors = load_file(write_config("a.yaml", integration_dict(schedule=schedule)))
    assert len(errors) == 1 and hint in errors[0].message and errors[0].path == "schedule"


def test_yaml_is_loaded_safely(write_config) -> None:
    path = write_config("a.yaml", "name: !!python/object/apply:os.system ['echo hacked']\n")
    integration, errors = load_file(path)
    assert integration is None
    assert "invalid YAML" in errors[0].message and errors[0].line == 1


def test_env_tag(write_config, monkeypatch) -> None:
    config = "name: crm\nschedule: '@daily'\nsource:\n  bucket: !env CRM_BUCKET\n  key: a.csv\nuser_id: {column: Email}\nattributes: [{column: Plan}]\n"
    path = write_config("a.yaml", config)
    monkeypatch.delenv("CRM_BUCKET", raising=False)
    integration, errors = load_file(path)
    assert integration is None
    assert errors[0].line == 4 and "CRM_BUCKET is not set" in errors[0].message
    monkeypatch.setenv("CRM_BUCKET", "prod-exports")
    integration, errors = load_file(path)
    assert integration.source.bucket == "prod-exports"


def test_env_values_are_not_templates(write_config, monkeypatch) -> None:
    monkeypatch.setenv("CRM_BUCKET", "prod-exports")
    config = integration_dict()
    config["source"]["bucket"] = "${CRM_BUCKET}"
    integration, _ = load_file(write_config("a.yaml", config))
    assert integration.source.bucket == "${CRM_BUCKET}"


def test_duplicate_attribute_within_file(write_config) -> None:
    config = integration_dict(attributes=[{"column": "A", "name": "x"}, {"column": "B", "name": "x"}])
    _, errors = load_file(write_config("a.yaml", config))
    assert "'x' is used twice" in errors[0].message


def test_key_cannot_point_into_done_folders(write_config) -> None:
    config = integration_dict()
    config["source"]["key"] = "crm/success/*.csv"
    _, errors = load_file(write_config("a.yaml", config))
    assert "success/ or failed/" in errors[0].message


def test_cross_file_rules_refuse_the_later_file(write_config) -> None:
    write_config("a.yaml", integration_dict("crm"))
    write_config("b.yaml", integration_dict("crm", attributes=[{"column": "X", "name": "other"}]))
    write_config("c.yaml", integration_dict("zendesk", attributes=[{"column": "Plan", "name": "crm_plan"}]))
    write_config("d.yaml", integration_dict("hr"))
    catalog = load_folder(write_config.folder)
    assert list(catalog.integrations) == ["crm", "hr"]
    by_file = {Path(e.file).name: e for e in catalog.errors}
    assert "name 'crm' is already used by" in by_file["b.yaml"].message and "a.yaml" in by_file["b.yaml"].message
    assert "'crm_plan' is already used by integration 'crm'" in by_file["c.yaml"].message
    assert by_file["c.yaml"].line is not None


def test_attribute_cap_names_the_files(write_config) -> None:
    write_config(
        "a_crm.yaml", integration_dict("crm", attributes=[{"column": f"c{i}", "name": f"crm_{i}"} for i in range(60)])
    )
    write_config(
        "b_hr.yaml", integration_dict("hr", attributes=[{"column": f"c{i}", "name": f"hr_{i}"} for i in range(41)])
    )
    catalog = load_folder(write_config.folder)
    assert list(catalog.integrations) == ["crm"]
    (error,) = catalog.errors
    assert error.file.endswith("b_hr.yaml")
    assert "at most 100 attributes" in error.message and "would make 101" in error.message
    assert "a_crm.yaml: 60" in error.message and "b_hr.yaml: 41" in error.message


def test_cap_is_a_setting(write_config, monkeypatch) -> None:
    write_config("a.yaml", integration_dict("crm"))
    monkeypatch.setenv("INBOUND_MAX_ATTRIBUTES", "1")
    assert "at most 1 attributes" in load_folder(write_config.folder).errors[0].message


def test_snapshot_round_trip_and_version() -> None:
    integration = Integration.model_validate(integration_dict())
    copy = Integration.from_snapshot(json.loads(json.dumps(integration.snapshot())))
    assert copy == integration and copy.version == integration.version
    changed = Integration.model_validate(integration_dict(schedule="@daily"))
    assert changed.version != integration.version


def test_committed_json_schema_is_current() -> None:
    committed = json.loads((ROOT / "integration.schema.json").read_text())
    assert committed == json_schema(), "run `inbound schema --write`"


def test_json_schema_checks_examples() -> None:
    import jsonschema
    import yaml

    schema = json_schema()
    for path in EXAMPLES.glob("*.yaml"):
        data = yaml.load(path.read_text().replace("!env", ""), Loader=yaml.SafeLoader)
        data["source"]["bucket"] = "acme-exports"
        jsonschema.validate(data, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**integration_dict(), "sorce": {}}, schema)


def test_current_catalog_is_reused_until_a_config_file_changes(write_config) -> None:
    import os

    from inbound.config import current_catalog

    path = write_config("crm.yaml", integration_dict("crm"))
    first = current_catalog(write_config.folder)
    assert current_catalog(write_config.folder) is first
    path.write_text(path.read_text().replace("@hourly", "@daily"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    changed = current_catalog(write_config.folder)
    assert changed is not first and changed.integrations["crm"].schedule == "@daily"
    write_config("hr.yaml", integration_dict("hr"))
    assert set(current_catalog(write_config.folder).integrations) == {"crm", "hr"}
