"""`inbound events NAME`: the bucket notification and queue policy, printed and applied (moto's S3 and SQS)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from conftest import integration_dict
from inbound.config import Integration
from inbound.errors import ConfigInvalid, UsageError
from inbound.event_setup import key_filter, merged_notifications, merged_policy, queue_configuration, setup
from inbound.events import created

REGION = "us-east-1"


def evented(name: str = "crm", key: str = "crm/users_*.csv", queue: str = "inbound-events") -> Integration:
    config = integration_dict(name)
    return Integration.model_validate({**config, "source": {"bucket": "acme", "key": key, "events": {"queue": queue}}})


@pytest.fixture
def aws(queue) -> tuple[Any, Any, str]:
    """moto's S3 and SQS (`queue` in conftest), no notification set yet."""
    return queue


def _bodies(sqs: Any, url: str) -> list[str]:
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    return bodies


@pytest.mark.parametrize(
    ("pattern", "rules"),
    [
        ("crm/users_*.csv", [{"Name": "prefix", "Value": "crm/users_"}, {"Name": "suffix", "Value": ".csv"}]),
        ("crm/users.csv", [{"Name": "prefix", "Value": "crm/users.csv"}, {"Name": "suffix", "Value": "users.csv"}]),
        ("exports/*/users_[0-9].csv", [{"Name": "prefix", "Value": "exports/"}, {"Name": "suffix", "Value": ".csv"}]),
        ("*", []),
    ],
)
def test_the_key_filter_is_the_patterns_literal_prefix_and_suffix(pattern: str, rules: list[Any]) -> None:
    assert key_filter(pattern) == {"Key": {"FilterRules": rules}}


def test_printing_changes_nothing_and_names_the_queue_by_its_arn(aws) -> None:
    s3, sqs, url = aws
    found = setup(evented(), s3, sqs).to_json()
    assert found["applied"] is False and found["queue_url"] == url
    (rule,) = found["bucket_notification"]["QueueConfigurations"]
    assert rule["QueueArn"] == found["queue_arn"] and found["queue_arn"].endswith(":inbound-events")
    (statement,) = found["queue_policy"]["Statement"]
    assert statement["Condition"] == {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::acme"}}
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket="acme")
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})


def test_apply_sets_the_policy_and_a_notification_that_delivers_and_is_idempotent(aws) -> None:
    s3, sqs, url = aws
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="other")["TopicArn"]
    other = {"Id": "someone-else", "TopicArn": topic, "Events": ["s3:ObjectRemoved:*"]}
    s3.put_bucket_notification_configuration(Bucket="acme", NotificationConfiguration={"TopicConfigurations": [other]})
    first = setup(evented(), s3, sqs, apply=True)
    assert first.applied and "set rule inbound-crm" in first.notes
    again = setup(evented(), s3, sqs, apply=True)  # twice: the same configuration, nothing added
    assert "rule inbound-crm already sends these objects to the queue" in again.notes
    configuration = s3.get_bucket_notification_configuration(Bucket="acme")
    assert [r["Id"] for r in configuration["QueueConfigurations"]] == ["inbound-crm"]
    assert [r["Id"] for r in configuration["TopicConfigurations"]] == ["someone-else"]  # never dropped
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["inbound-s3-acme"]
    _bodies(sqs, url)  # moto's s3:TestEvent
    s3.put_object(Bucket="acme", Key="crm/users_1.csv", Body=b"Email\n")
    s3.put_object(Bucket="acme", Key="hr/users_1.csv", Body=b"Email\n")
    assert [c.key for body in _bodies(sqs, url) for c in created(body)] == ["crm/users_1.csv"]


def test_a_second_integration_on_the_same_file_shares_the_rule(aws) -> None:
    s3, sqs, _ = aws
    setup(evented("crm"), s3, sqs, apply=True)
    shared = setup(evented("crm_plans", key="crm/users_1.csv"), s3, sqs, apply=True)
    assert "rule inbound-crm already sends these objects to the queue" in shared.notes
    assert [r["Id"] for r in s3.get_bucket_notification_configuration(Bucket="acme")["QueueConfigurations"]] == [
        "inbound-crm"
    ]


def test_a_wider_rule_to_the_same_queue_takes_the_narrower_ones_place(aws) -> None:
    s3, sqs, _ = aws
    setup(evented("crm_plans", key="crm/users_1.csv"), s3, sqs, apply=True)
    wider = setup(evented("crm"), s3, sqs, apply=True)
    assert "rule inbound-crm_plans is covered by the wider inbound-crm (same queue)" in wider.notes
    rules = s3.get_bucket_notification_configuration(Bucket="acme")["QueueConfigurations"]
    assert [r["Id"] for r in rules] == ["inbound-crm"]


def test_an_overlapping_rule_to_another_destination_is_refused_and_kept() -> None:
    ours = queue_configuration(evented(), "arn:aws:sqs:us-east-1:1:inbound-events")
    theirs = {
        "Id": "analytics",
        "QueueArn": "arn:aws:sqs:us-east-1:1:analytics",
        "Events": ["s3:ObjectCreated:Put"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "crm/"}]}},
    }
    with pytest.raises(ConfigInvalid, match="'analytics' already sends objects under crm/users_ to arn:aws:sqs"):
        merged_notifications({"QueueConfigurations": [theirs]}, ours)
    elsewhere = {**theirs, "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "hr/"}]}}}
    deletes = {**theirs, "Events": ["s3:ObjectRemoved:*"]}
    merge = merged_notifications({"QueueConfigurations": [elsewhere, deletes], "ResponseMetadata": {}}, ours)
    assert merge.configuration == {"QueueConfigurations": [elsewhere, deletes, ours]}


def test_the_queue_policy_keeps_other_statements_and_replaces_only_its_own() -> None:
    mine = {"Sid": "inbound-s3-acme", "Effect": "Allow"}
    existing = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "admins"}, {**mine, "Effect": "Deny"}]})
    assert merged_policy(existing, mine)["Statement"] == [{"Sid": "admins"}, mine]
    assert merged_policy(None, mine) == {"Version": "2012-10-17", "Statement": [mine]}
    with pytest.raises(UsageError, match="not JSON"):
        merged_policy("{", mine)


def test_a_polled_integration_is_told_to_add_the_block(aws) -> None:
    s3, sqs, _ = aws
    with pytest.raises(UsageError, match=r"add a source\.events block"):
        setup(Integration.model_validate(integration_dict("crm")), s3, sqs)
