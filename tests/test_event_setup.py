"""`inbound events NAME`: the bucket notification and queue policy, printed and applied (moto's S3 and SQS)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from conftest import integration_dict
from inbound.config.model import Integration
from inbound.errors import ConfigInvalid, UsageError
from inbound.events.notifications import created
from inbound.events.setup import (
    LazyClient,
    key_filter,
    merged_notifications,
    merged_policy,
    queue_arn_from_url,
    queue_configuration,
    queue_policy_statement,
    setup,
)

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


def test_an_overlapping_rule_to_another_destination_is_refused_and_kept() -> None:
    ours = queue_configuration(evented(), "arn:aws:sqs:us-east-1:1:inbound-events")
    theirs = {
        "Id": "analytics",
        "QueueArn": "arn:aws:sqs:us-east-1:1:analytics",
        "Events": ["s3:ObjectCreated:Put"],
        "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "crm/"}]}},  # S3 answers "Prefix"
    }
    expected = (
        r"bucket acme's notification rule 'analytics' already sends s3:ObjectCreated:Put on prefix 'crm/' to "
        r"arn:aws:sqs:us-east-1:1:analytics, and inbound-crm \(s3:ObjectCreated:\* on prefix 'crm/users_' and suffix "
        r"'.csv'\) would overlap it: .* Narrow source.key"
    )
    with pytest.raises(ConfigInvalid, match=expected):
        merged_notifications({"QueueConfigurations": [theirs]}, ours, bucket="acme")
    elsewhere = {**theirs, "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "hr/"}]}}}
    deletes = {**theirs, "Events": ["s3:ObjectRemoved:*"]}
    merge = merged_notifications(
        {"QueueConfigurations": [elsewhere, deletes], "ResponseMetadata": {}}, ours, bucket="acme"
    )
    assert merge.configuration == {"QueueConfigurations": [elsewhere, deletes, ours]}


def test_the_queue_policy_keeps_other_statements_and_adds_its_own() -> None:
    mine = queue_policy_statement("acme", "arn:aws:sqs:us-east-1:1:inbound-events")
    existing = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "admins"}]})
    assert merged_policy(existing, mine).policy["Statement"] == [{"Sid": "admins"}, mine]
    assert merged_policy(None, mine).policy == {"Version": "2012-10-17", "Statement": [mine]}
    with pytest.raises(UsageError, match="not JSON"):
        merged_policy("{", mine)


def test_our_statement_as_aws_echoes_it_back_is_ours_and_unchanged() -> None:
    mine = queue_policy_statement("acme", "arn:aws:sqs:us-east-1:1:inbound-events")
    echoed = {**mine, "Action": ["SQS:SendMessage"], "Condition": {"ArnLike": {"aws:SourceArn": ["arn:aws:s3:::acme"]}}}
    merge = merged_policy(json.dumps({"Statement": echoed}), mine)
    assert not merge.changed and merge.notes == ["queue policy unchanged: it has statement inbound-s3-acme"]


def test_a_statement_with_our_sid_that_differs_is_kept_and_said_so() -> None:
    mine = queue_policy_statement("acme", "arn:aws:sqs:us-east-1:1:inbound-events")
    denied = {**mine, "Effect": "Deny"}
    merge = merged_policy(json.dumps({"Statement": [denied]}), mine)
    assert not merge.changed and merge.policy["Statement"] == [denied]
    assert "not the one inbound writes (edited by hand?) and is kept as it is" in merge.notes[0]


@pytest.mark.parametrize(
    ("url", "arn"),
    [
        (
            "https://sqs.eu-west-1.amazonaws.com/123456789012/inbound-crm",
            "arn:aws:sqs:eu-west-1:123456789012:inbound-crm",
        ),
        ("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "arn:aws-cn:sqs:cn-north-1:123456789012:q"),
        ("https://sqs.us-gov-west-1.amazonaws.com/123456789012/q/", "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q"),
        ("https://sqs.eu-west-1.api.aws/123456789012/q", "arn:aws:sqs:eu-west-1:123456789012:q"),
        ("http://localhost:4566/000000000000/q", None),  # an emulator: only a live read knows
        ("https://sqs.eu-west-1.amazonaws.com/not-an-account/q", None),
        ("inbound-crm", None),
    ],
)
def test_the_queue_arn_follows_from_its_url(url: str, arn: str | None) -> None:
    assert queue_arn_from_url(url) == arn


def test_printing_without_aws_access_derives_the_arn_and_says_what_it_did_not_check() -> None:
    from botocore.exceptions import NoRegionError

    def no_region() -> Any:
        raise NoRegionError()

    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/inbound-events"
    found = setup(evented(queue=url), LazyClient(no_region), LazyClient(no_region))
    assert found.queue_arn == "arn:aws:sqs:eu-west-1:123456789012:inbound-events" and found.status == "unchecked"
    assert any(
        "not checked against bucket acme" in note and "You must specify a region" in note for note in found.notes
    )
    with pytest.raises(NoRegionError):  # a name needs SQS; --apply needs it all
        setup(evented(), LazyClient(no_region), LazyClient(no_region))
    with pytest.raises(NoRegionError):
        setup(evented(queue=url), LazyClient(no_region), LazyClient(no_region), apply=True)


def test_printing_with_access_says_whether_the_rule_is_in_place(aws) -> None:
    s3, sqs, _ = aws
    assert setup(evented(), s3, sqs).status == "not set"
    setup(evented(), s3, sqs, apply=True)
    assert setup(evented(), s3, sqs).status == "set"
    shared = setup(evented("crm_plans", key="crm/users_1.csv"), s3, sqs)
    assert shared.status == "set" and "rule inbound-crm already sends these objects to the queue" in shared.notes


def test_changing_our_rule_refuses_when_an_integration_it_carried_could_not_get_its_own() -> None:
    """hr rides on inbound-crm; crm's new key overlaps hr's file without covering it: no rule could carry both."""
    queue = "arn:aws:sqs:us-east-1:123456789012:inbound-events"
    old = queue_configuration(evented(key="crm/*.csv"), queue)
    new = queue_configuration(evented(key="crm/users_hr.csv.d/*.csv"), queue)
    hr = evented("hr", key="crm/users_hr.csv", queue="https://sqs.us-east-1.amazonaws.com/123456789012/inbound-events")
    with pytest.raises(ConfigInvalid, match=r"rule 'inbound-crm' would stop notifying integration 'hr' .* clash"):
        merged_notifications({"QueueConfigurations": [old]}, new, bucket="acme", neighbours=[hr])
    elsewhere = evented("fin", key="crm/users_hr.csv", queue="inbound-other")  # another queue: not carried
    merge = merged_notifications({"QueueConfigurations": [old]}, new, bucket="acme", neighbours=[elsewhere])
    assert merge.configuration["QueueConfigurations"] == [new]


def test_a_polled_integration_is_told_to_add_the_block(aws) -> None:
    s3, sqs, _ = aws
    with pytest.raises(UsageError, match=r"add a source\.events block"):
        setup(Integration.model_validate(integration_dict("crm")), s3, sqs)


# --- Issue 24, finding 4: --apply never drops or narrows what is not ours -------------------

ACCOUNT = "123456789012"


def _arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def _rule(rule_id: str, queue: str, prefix: str = "", suffix: str = "", events: list[str] | None = None) -> Any:
    rules = [{"Name": "prefix", "Value": prefix}] if prefix else []
    rules += [{"Name": "suffix", "Value": suffix}] if suffix else []
    rule: dict[str, Any] = {"Id": rule_id, "QueueArn": _arn(queue), "Events": events or ["s3:ObjectCreated:*"]}
    return {**rule, "Filter": {"Key": {"FilterRules": rules}}} if rules else rule


def _policy(sqs: Any, url: str) -> Any:
    text = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
    return json.loads(text) if text else None


def test_a_rule_with_our_id_to_another_queue_is_refused_and_kept(aws) -> None:
    """(a) `inbound-crm` of another deployment on the same bucket: never replaced, nothing set."""
    s3, sqs, url = aws
    sqs.create_queue(QueueName="other-deployment")
    theirs = _rule("inbound-crm", "other-deployment", "crm/users_", ".csv")
    s3.put_bucket_notification_configuration(Bucket="acme", NotificationConfiguration={"QueueConfigurations": [theirs]})
    with pytest.raises(
        ConfigInvalid, match=r"rule 'inbound-crm' sends to \S+:other-deployment, not to this integration"
    ):
        setup(evented(), s3, sqs, apply=True)
    assert s3.get_bucket_notification_configuration(Bucket="acme")["QueueConfigurations"] == [theirs]
    assert _policy(sqs, url) is None  # refused before anything was set


def test_another_integrations_narrower_rule_to_our_queue_is_refused_never_deleted(aws) -> None:
    """(b) `inbound-hr` on our queue, inside our key: S3 refuses the overlap; theirs is never deleted for ours."""
    s3, sqs, _ = aws
    hr = _rule("inbound-hr", "inbound-events", "crm/users_1", ".csv")
    s3.put_bucket_notification_configuration(Bucket="acme", NotificationConfiguration={"QueueConfigurations": [hr]})
    with pytest.raises(ConfigInvalid, match=r"rule 'inbound-hr' already sends .* never deletes"):
        setup(evented(), s3, sqs, apply=True)
    assert s3.get_bucket_notification_configuration(Bucket="acme")["QueueConfigurations"] == [hr]


def test_a_hand_edited_statement_with_our_sid_is_kept_as_it_is(aws) -> None:
    """(c) Our Sid, widened by hand to a second bucket: never narrowed back to ours."""
    s3, sqs, url = aws
    edited = {
        "Sid": "inbound-s3-acme",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": _arn("inbound-events"),
        "Condition": {"ArnLike": {"aws:SourceArn": ["arn:aws:s3:::acme", "arn:aws:s3:::acme-archive"]}},
    }
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [edited]})}
    )
    setup(evented(), s3, sqs, apply=True)
    assert _policy(sqs, url)["Statement"] == [edited]


def _matrix_statement(bucket: str = "acme", sources: Any = None) -> dict[str, Any]:
    return {
        "Sid": f"inbound-s3-{bucket}",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": _arn("inbound-events"),
        "Condition": {"ArnLike": {"aws:SourceArn": sources or f"arn:aws:s3:::{bucket}"}},
    }


TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:audit"
LAMBDA = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:thumbs"
ADMINS = {"Sid": "admins", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sqs:*"}

# (case, the bucket's notification configuration, the queue policy's statements, the outcome):
# "set" (our rule added), "shared" (a rule already carries our files: nothing changes), or the refusal.
MATRIX: list[tuple[str, dict[str, Any], list[Any], str]] = [
    (
        "another deployment's inbound-crm",
        {"QueueConfigurations": [_rule("inbound-crm", "other-deployment", "crm/users_", ".csv")]},
        [],
        r"rule 'inbound-crm' sends to \S+:other-deployment, not to this",
    ),
    (
        "another integration's narrower rule, our queue",
        {"QueueConfigurations": [_rule("inbound-hr", "inbound-events", "crm/users_1", ".csv")]},
        [],
        r"rule 'inbound-hr' already sends",
    ),
    (
        "another integration's wider rule, our queue",
        {"QueueConfigurations": [_rule("inbound-all", "inbound-events", "crm/")]},
        [],
        "shared",
    ),
    (
        "a crossing rule, our queue",
        {"QueueConfigurations": [_rule("inbound-x", "inbound-events", "crm/", "users_1.csv")]},
        [],
        r"rule 'inbound-x' already sends",
    ),
    (
        "a wider rule, another queue",
        {"QueueConfigurations": [_rule("analytics", "analytics", "crm/")]},
        [],
        r"rule 'analytics' already sends",
    ),
    (
        "a narrower rule, another queue",
        {"QueueConfigurations": [_rule("analytics", "analytics", "crm/users_1")]},
        [],
        r"rule 'analytics' already sends",
    ),
    ("a disjoint rule, another queue", {"QueueConfigurations": [_rule("analytics", "analytics", "hr/")]}, [], "set"),
    (
        "our keys, other events, another queue",
        {"QueueConfigurations": [_rule("analytics", "analytics", "crm/", events=["s3:ObjectRemoved:*"])]},
        [],
        "set",
    ),
    (
        "an overlapping topic",
        {"TopicConfigurations": [{"Id": "audit", "TopicArn": TOPIC, "Events": ["s3:ObjectCreated:Put"]}]},
        [],
        r"rule 'audit' already sends",
    ),
    (
        "a disjoint lambda",
        {
            "LambdaFunctionConfigurations": [
                {
                    "Id": "thumbs",
                    "LambdaFunctionArn": LAMBDA,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "images/"}]}},
                }
            ]
        },
        [],
        "set",
    ),
    ("EventBridge on", {"EventBridgeConfiguration": {}}, [], "set"),
    (
        "our Sid widened by hand",
        {},
        [_matrix_statement(sources=["arn:aws:s3:::acme", "arn:aws:s3:::acme-archive"])],
        "set",
    ),
    ("our Sid turned into a Deny", {}, [{**_matrix_statement(), "Effect": "Deny"}], "set"),
    ("other statements", {}, [ADMINS, _matrix_statement("acme-archive")], "set"),
    (
        "our own stale rule, our queue",
        {"QueueConfigurations": [_rule("inbound-crm", "inbound-events", "crm/old_", ".csv")]},
        [ADMINS],
        "set",
    ),
    (
        "a mix of disjoint rules",
        {
            "QueueConfigurations": [_rule("analytics", "analytics", "hr/")],
            "TopicConfigurations": [{"Id": "audit", "TopicArn": TOPIC, "Events": ["s3:ObjectRemoved:*"]}],
        },
        [ADMINS],
        "set",
    ),
]


@pytest.mark.parametrize(("existing", "statements", "outcome"), [m[1:] for m in MATRIX], ids=[m[0] for m in MATRIX])
def test_apply_against_existing_rules_and_policies_never_drops_or_narrows_a_foreign_one(
    aws, existing: dict[str, Any], statements: list[Any], outcome: str
) -> None:
    s3, sqs, url = aws
    for name in ("other-deployment", "analytics"):
        sqs.create_queue(QueueName=name)
    boto3.client("sns", region_name=REGION).create_topic(Name="audit")
    s3.put_bucket_notification_configuration(Bucket="acme", NotificationConfiguration=existing)
    if statements:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": statements})}
        )
    before, policy_before = s3.get_bucket_notification_configuration(Bucket="acme"), _policy(sqs, url)
    before.pop("ResponseMetadata")
    if outcome not in ("set", "shared"):
        with pytest.raises(ConfigInvalid, match=outcome):
            setup(evented(), s3, sqs, apply=True)
    else:
        setup(evented(), s3, sqs, apply=True)
    after, policy_after = s3.get_bucket_notification_configuration(Bucket="acme"), _policy(sqs, url)
    after.pop("ResponseMetadata")
    ours = ("inbound-crm", _arn("inbound-events"))
    for kind in ("QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations"):
        foreign = [r for r in before.get(kind, []) if (r["Id"], r.get("QueueArn")) != ours]
        assert [r for r in after.get(kind, []) if r in foreign] == foreign, (
            f"a foreign {kind} rule was dropped or changed"
        )
    assert ("EventBridgeConfiguration" in after) == ("EventBridgeConfiguration" in before)
    for statement in (policy_before or {}).get("Statement", []):
        assert statement in policy_after["Statement"], f"statement {statement.get('Sid')} was dropped or narrowed"
    if outcome not in ("set", "shared"):
        assert (after, policy_after) == (before, policy_before), "a refusal changes nothing"
    elif outcome == "shared":
        assert after == before
    else:
        carried = [r for r in after["QueueConfigurations"] if r["QueueArn"] == _arn("inbound-events")]
        assert [r["Id"] for r in carried] == ["inbound-crm"]
