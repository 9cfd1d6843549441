"""The config model: what one integration may say, schedules, snapshots and the JSON Schema."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from conftest import EXAMPLES, ROOT, integration_dict
from inbound.config import Integration, json_schema, schedule_interval


def test_defaults() -> None:
    integration = Integration.model_validate(integration_dict(attributes=[{"column": "Plan"}]))
    assert integration.enabled is True
    assert integration.source.aws_conn_id == "aws_default"
    assert integration.attributes[0].attribute == "Plan"
    assert integration.attributes[0].type == "string"
    assert integration.max_rejected_ratio == 0.05
    assert integration.file is None  # built from a dict, not loaded from a file


def test_from_file_data_remembers_the_file() -> None:
    integration = Integration.from_file_data(integration_dict(), "/configs/crm.yaml")
    assert integration.file == "/configs/crm.yaml"
    assert integration.model_dump() == Integration.model_validate(integration_dict()).model_dump()


def test_column_that_is_not_a_name_needs_a_rename() -> None:
    with pytest.raises(ValidationError, match="add `name: open_tickets`"):
        Integration.model_validate(integration_dict(attributes=[{"column": "Open Tickets"}]))


def test_duplicate_attribute_within_file() -> None:
    config = integration_dict(attributes=[{"column": "A", "name": "x"}, {"column": "B", "name": "x"}])
    with pytest.raises(ValidationError, match="'x' is used twice"):
        Integration.model_validate(config)


def test_key_cannot_point_into_done_folders() -> None:
    config = integration_dict()
    config["source"]["key"] = "crm/success/*.csv"
    with pytest.raises(ValidationError, match="success/ or failed/"):
        Integration.model_validate(config)


@pytest.mark.parametrize(
    ("zone", "hint"),
    [("Europe/Berln", "did you mean 'Europe/Berlin'?"), ("Nowhere", "use an IANA name such as Europe/Berlin")],
)
def test_unknown_time_zone_suggests(zone: str, hint: str) -> None:
    with pytest.raises(ValidationError, match=f"unknown time zone '{zone}'; {hint}"):
        Integration.model_validate(integration_dict(timezone=zone))


def test_unknown_encoding() -> None:
    config = integration_dict()
    config["format"] = {"encoding": "utf-9"}
    with pytest.raises(ValidationError, match="unknown encoding 'utf-9'"):
        Integration.model_validate(config)


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
    [
        ("@houryl", "did you mean '@hourly'"),
        ("@sometimes", "unknown schedule preset '@sometimes'$"),
        ("every hour", "five-field cron"),
        ("PT0S", "at least one minute"),
        ("Pxx", "not an ISO-8601 duration"),
    ],
)
def test_bad_schedules(schedule: str, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        schedule_interval(schedule)


def test_snapshot_round_trip_and_version() -> None:
    integration = Integration.model_validate(integration_dict())
    copy = Integration.from_snapshot(json.loads(json.dumps(integration.snapshot())))
    assert copy == integration and copy.version == integration.version
    changed = Integration.model_validate(integration_dict(schedule="@daily"))
    assert changed.version != integration.version


def test_a_tampered_snapshot_is_refused() -> None:
    snapshot = Integration.model_validate(integration_dict()).snapshot()
    snapshot["config"]["schedule"] = "@daily"
    with pytest.raises(ValueError, match="does not match its version"):
        Integration.from_snapshot(snapshot)


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
