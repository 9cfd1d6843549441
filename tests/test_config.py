"""The config model: what one integration may say, schedules, snapshots and the JSON Schema."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from conftest import EXAMPLES, ROOT, integration_dict
from inbound.config.model import Integration, json_schema
from inbound.config.schedules import schedule_interval
from inbound.errors import ConfigInvalid


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
    with pytest.raises(ConfigInvalid, match="differs from the one this run started with"):
        Integration.from_snapshot(snapshot)


ENV_CONFIG = (
    "name: crm\nschedule: '@daily'\nuser_id: {column: Email}\nattributes: [{column: Plan}]\n"
    "source: {bucket: !env INBOUND_CONFIG_BUCKET, key: !env [INBOUND_CONFIG_KEY, 'crm/*.csv']}\n"
)


def test_a_snapshot_carries_variable_names_not_values(write_config, monkeypatch) -> None:
    """The snapshot lands in the serialized DAG and in XCom: `!env` values are read again where used."""
    from inbound.config.catalog import load_file

    monkeypatch.setenv("INBOUND_CONFIG_BUCKET", "private-bucket-name")
    monkeypatch.delenv("INBOUND_CONFIG_KEY", raising=False)
    integration, _ = load_file(write_config("crm.yaml", ENV_CONFIG))
    snapshot = json.loads(json.dumps(integration.snapshot()))
    assert "private-bucket-name" not in json.dumps(snapshot)
    assert snapshot["config"]["source"] == {**snapshot["config"]["source"], "bucket": "!env INBOUND_CONFIG_BUCKET"}
    assert snapshot["config"]["source"]["key"] == "crm/*.csv"  # a default is the author's own literal: shown
    copy = Integration.from_snapshot(snapshot)
    assert copy == integration and copy.source.bucket == "private-bucket-name"
    assert copy.version == integration.version and copy.env_settings == {"source.bucket": "INBOUND_CONFIG_BUCKET"}


def test_a_snapshot_whose_variable_differs_or_is_missing_here_is_refused(write_config, monkeypatch) -> None:
    from inbound.config.catalog import load_file

    monkeypatch.setenv("INBOUND_CONFIG_BUCKET", "bucket-a")
    integration, _ = load_file(write_config("crm.yaml", ENV_CONFIG))
    snapshot = integration.snapshot()
    monkeypatch.setenv("INBOUND_CONFIG_BUCKET", "bucket-b")
    with pytest.raises(ConfigInvalid, match="INBOUND_CONFIG_BUCKET has another value here"):
        Integration.from_snapshot(snapshot)
    monkeypatch.delenv("INBOUND_CONFIG_BUCKET")
    with pytest.raises(ConfigInvalid, match=r"reads INBOUND_CONFIG_BUCKET with !env \(at source.bucket\)"):
        Integration.from_snapshot(snapshot)


def test_a_snapshot_naming_a_variable_not_meant_for_configs_is_refused(monkeypatch) -> None:
    """A snapshot edited in XCom cannot make a task read a secret into the config."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-secret")
    snapshot = Integration.model_validate(integration_dict()).snapshot()
    snapshot["env"] = [[["description"], "AWS_SECRET_ACCESS_KEY"]]
    with pytest.raises(ConfigInvalid) as caught:
        Integration.from_snapshot(snapshot)
    assert "not a variable meant for configs" in str(caught.value) and "the-secret" not in str(caught.value)


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


# -- names the mapping and the store reserve; names that differ only by case (issue 12) --
@pytest.mark.parametrize(
    "attribute",
    [
        {"column": "Plan", "name": "user_id"},
        {"column": "Plan", "name": "User_ID"},
        {"column": "user_id"},
        {"column": "Plan", "name": "line"},
        {"column": "LINE"},
    ],
)
def test_reserved_attribute_names_are_refused(attribute: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="is reserved"):
        Integration.model_validate(integration_dict(attributes=[attribute]))


def test_every_column_the_mapping_and_store_add_is_refused_as_an_attribute_name() -> None:
    """The columns that sit beside attribute columns: in the mapped frame, the diff and the store's tables."""
    from inbound.mapping.rejects import USER_ID
    from inbound.reading.records import FIELD_COUNT_COLUMN, SOURCE_LINE_COLUMN
    from inbound.store.diff import state_schema

    bookkeeping = {USER_ID, "line", SOURCE_LINE_COLUMN, FIELD_COUNT_COLUMN, "__bad", "_updated_at", "_user_id"}
    bookkeeping |= set(state_schema([]))
    for name in sorted(bookkeeping):
        for spelling in (name, name.upper()):
            with pytest.raises(ValidationError):
                Integration.model_validate(integration_dict(attributes=[{"column": "Plan", "name": spelling}]))


def test_attribute_names_that_differ_only_by_case_are_refused() -> None:
    config = integration_dict(attributes=[{"column": "Plan"}, {"column": "plan"}])
    with pytest.raises(ValidationError, match=r"'plan' \(attributes\[1\]\) differs from 'Plan' .* only by case"):
        Integration.model_validate(config)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("in/users_[z-a]*.csv", "bad character range z-a"),
        ("in/users_[\\d-a]*.csv", "bad character range \\d-a"),
        ("in/[!]x].csv", "not a valid glob"),
    ],
)
def test_a_key_that_is_not_a_valid_glob_is_refused(key: str, reason: str) -> None:
    config = integration_dict()
    config["source"]["key"] = key
    with pytest.raises(ValidationError, match=re.escape(reason)):
        Integration.model_validate(config)


def test_every_accepted_key_compiles() -> None:
    from inbound.s3.layout import key_pattern

    for key in ("in/users_[a-z]*.csv", "in/[!x]?.csv", "a[", "a]b", "in/[-]x.csv"):
        config = integration_dict()
        config["source"]["key"] = key
        integration = Integration.model_validate(config)
        key_pattern(integration.source.key)


@pytest.mark.parametrize("column", ["Plan\nName", "Plan\rX", "Pl\x00an", "Plan\t", "A\u202eB", "A\u2028B", "\x1b[31mX"])
def test_control_characters_in_column_names_are_refused(column: str) -> None:
    with pytest.raises(ValidationError, match=r"control or invisible character \(U\+"):
        Integration.model_validate(integration_dict(attributes=[{"column": column, "name": "plan"}]))
    with pytest.raises(ValidationError, match=r"control or invisible character \(U\+"):
        Integration.model_validate(integration_dict(user_id={"column": column}))


def test_echoed_values_are_short() -> None:
    from inbound.suggest import echo

    assert echo("abc") == "'abc'"
    long = echo("x" * 100_000)
    assert long.startswith("'xxx") and len(long) < 80 and "100000 characters" in long
    nested: list[object] = ["lol"] * 10
    for _ in range(8):
        nested = [nested] * 10
    assert len(echo(nested)) < 80


def _with_events(events: Any) -> dict[str, Any]:
    config = integration_dict()
    return {**config, "source": {**config["source"], "events": events}}


@pytest.mark.parametrize(
    "queue",
    ["https://sqs.eu-west-1.amazonaws.com/123456789012/inbound-crm", "inbound-crm", "http://127.0.0.1:5055/1/q_1"],
)
def test_an_events_block_takes_a_queue_url_or_name(queue: str) -> None:
    integration = Integration.model_validate(_with_events({"queue": queue}))
    assert integration.source.events is not None and integration.source.events.queue == queue
    assert integration.start == "events" and queue in integration.start_words
    assert integration.source.events_conn_id == integration.source.aws_conn_id  # the source's by default
    other = Integration.model_validate(_with_events({"queue": queue, "aws_conn_id": "aws_events"}))
    assert other.source.events_conn_id == "aws_events"


@pytest.mark.parametrize(
    ("queue", "hint"),
    [
        ("inbound-crm.fifo", "S3 cannot notify a FIFO queue"),
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/inbound.fifo", "S3 cannot notify a FIFO queue"),
        ("inbound crm", "not an SQS queue URL or name"),
        ("x" * 81, "not an SQS queue URL or name"),
        ("ftp://host/q", "a queue URL starts with https://"),
        ("", "at least 1 character"),
    ],
)
def test_a_bad_queue_is_refused_with_how_to_fix_it(queue: str, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        Integration.model_validate(_with_events({"queue": queue}))


def test_an_events_block_refuses_unknown_keys_and_is_not_part_of_the_version() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        Integration.model_validate(_with_events({"queue": "q", "url": "x"}))
    polled = Integration.model_validate(integration_dict())
    evented = Integration.model_validate(_with_events({"queue": "inbound-crm"}))
    assert polled.start == "polling" and "waits for a file" in polled.start_words
    # Events change when a run starts, not what it imports: the import log sees one config.
    assert evented.version == polled.version
    copy = Integration.from_snapshot(json.loads(json.dumps(evented.snapshot())))
    assert copy == evented and copy.source.events == evented.source.events
