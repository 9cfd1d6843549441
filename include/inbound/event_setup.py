"""What an integration in event mode needs from AWS: a bucket notification and a queue policy.

`inbound events NAME` prints both as JSON, and with `--apply` sets them: the queue policy
first (S3 tests the destination when the notification is set, and refuses it until the
queue lets the bucket send), then the notification, merged into the bucket's existing
configuration. The merge never drops or narrows another rule: S3 refuses two rules whose
event types and key filters overlap, so a rule to the same queue that already covers the
source is kept as it is (two integrations reading one file share the rule and the queue),
and an overlapping rule to another destination is a clear refusal naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from inbound import layout
from inbound.config import Integration
from inbound.errors import ConfigInvalid, UsageError
from inbound.events import queue_url

EVENTS = ["s3:ObjectCreated:*"]
DESTINATIONS = ("QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations")
_ARN_KEYS = {"QueueConfigurations": "QueueArn", "TopicConfigurations": "TopicArn"}


def key_filter(pattern: str) -> dict[str, Any]:
    """The S3 key filter of a source: the literal prefix before the first wildcard, the literal suffix after the last.

    An exact key is its own prefix, and its name the suffix: no `users.csv.bak` or `users.csv/x` then.
    """
    prefix = layout.listing_prefix(pattern)
    if layout.has_wildcards(pattern):
        suffix = pattern[max(pattern.rfind(c) for c in "*?]") + 1 :]
    else:
        suffix = pattern.rsplit("/", 1)[-1]
    rules = [{"Name": "prefix", "Value": prefix}] if prefix else []
    rules += [{"Name": "suffix", "Value": suffix}] if suffix else []
    return {"Key": {"FilterRules": rules}}


def queue_configuration(integration: Integration, queue_arn: str) -> dict[str, Any]:
    """The bucket notification rule that sends the source's new objects to the queue."""
    return {
        "Id": f"inbound-{integration.name}",
        "QueueArn": queue_arn,
        "Events": list(EVENTS),
        "Filter": key_filter(integration.source.key),
    }


def queue_policy_statement(bucket: str, queue_arn: str) -> dict[str, Any]:
    """The statement that lets the bucket (and only it) send notifications to the queue."""
    return {
        "Sid": f"inbound-s3-{bucket}",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
    }


def merged_policy(existing: str | None, statement: dict[str, Any]) -> dict[str, Any]:
    """The queue policy with our statement added (or replaced, by its Sid); every other statement kept."""
    try:
        policy = json.loads(existing) if existing else {}
    except ValueError:
        raise UsageError("the queue's current policy is not JSON; fix it in SQS first") from None
    if not isinstance(policy, dict):
        raise UsageError("the queue's current policy is not a JSON object; fix it in SQS first")
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else list(statements)
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == statement["Sid"])]
    return {"Version": policy.get("Version", "2012-10-17"), **policy, "Statement": [*kept, statement]}


def _filter_values(rule: dict[str, Any]) -> tuple[str, str]:
    rules = rule.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    values = {str(r.get("Name", "")).lower(): str(r.get("Value", "")) for r in rules}
    return values.get("prefix", ""), values.get("suffix", "")


def _events_overlap(a: list[str], b: list[str]) -> bool:
    def covers(x: str, y: str) -> bool:
        return x == y or (x.endswith("*") and y.startswith(x[:-1]))

    return any(covers(x, y) or covers(y, x) for x in a for y in b)


def _covers(rule: dict[str, Any], ours: dict[str, Any]) -> bool:
    """Whether every object our rule notifies, `rule` notifies too (same events or more, a wider filter)."""
    prefix, suffix = _filter_values(rule)
    our_prefix, our_suffix = _filter_values(ours)
    events_cover = all(
        any(e == o or (e.endswith("*") and o.startswith(e[:-1])) for e in rule["Events"]) for o in ours["Events"]
    )
    return events_cover and our_prefix.startswith(prefix) and our_suffix.endswith(suffix)


def _overlaps(rule: dict[str, Any], ours: dict[str, Any]) -> bool:
    prefix, suffix = _filter_values(rule)
    our_prefix, our_suffix = _filter_values(ours)
    keys = (prefix.startswith(our_prefix) or our_prefix.startswith(prefix)) and (
        suffix.endswith(our_suffix) or our_suffix.endswith(suffix)
    )
    return keys and _events_overlap(list(rule.get("Events", [])), ours["Events"])


@dataclass
class Merge:
    """The bucket's notification configuration with ours merged in, and what changed."""

    configuration: dict[str, Any]
    changed: bool
    notes: list[str] = field(default_factory=list)


def merged_notifications(existing: dict[str, Any], ours: dict[str, Any]) -> Merge:
    """Our queue rule merged into the bucket's configuration: idempotent, never dropping another rule.

    Raises `ConfigInvalid` when another destination already gets (some of) these objects:
    S3 would refuse the overlap, and replacing that rule would cut someone else off.
    """
    configuration = {k: v for k, v in existing.items() if k in (*DESTINATIONS, "EventBridgeConfiguration")}
    queues = list(configuration.get("QueueConfigurations", []))
    for rule in queues:
        if rule.get("QueueArn") == ours["QueueArn"] and _covers(rule, ours):
            name = rule.get("Id", "(no id)")
            return Merge(configuration, False, [f"rule {name} already sends these objects to the queue"])
    # A narrower rule to the same queue gives way to ours: its objects still reach the queue.
    widened = [r for r in queues if r.get("QueueArn") == ours["QueueArn"] and _covers(ours, r)]
    for kind in DESTINATIONS:
        for rule in configuration.get(kind, []):
            if rule.get("Id") != ours["Id"] and rule not in widened and _overlaps(rule, ours):
                target = rule.get(_ARN_KEYS.get(kind, "LambdaFunctionArn"), "another destination")
                raise ConfigInvalid(
                    f"the bucket's notification rule {rule.get('Id', '(no id)')!r} already sends objects under "
                    f"{_filter_values(ours)[0] or 'the bucket root'} to {target}; S3 refuses overlapping rules. "
                    "Put this integration on that queue (source.events.queue), or narrow one of the rules"
                )
    kept = [r for r in queues if r.get("Id") != ours["Id"] and r not in widened]
    configuration["QueueConfigurations"] = [*kept, ours]
    notes = [f"rule {r.get('Id', '(no id)')} is covered by the wider {ours['Id']} (same queue)" for r in widened]
    return Merge(configuration, True, [*notes, f"set rule {ours['Id']}"])


@dataclass
class Setup:
    """What `inbound events NAME` prints (and `--apply` sets)."""

    bucket: str
    queue_url: str
    queue_arn: str
    notification: dict[str, Any]
    queue_policy: dict[str, Any]
    applied: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "queue_url": self.queue_url,
            "queue_arn": self.queue_arn,
            "bucket_notification": {"QueueConfigurations": [self.notification]},
            "queue_policy": self.queue_policy,
            "applied": self.applied,
            "notes": self.notes,
        }


def setup(integration: Integration, s3: Any, sqs: Any, *, apply: bool = False) -> Setup:
    """The notification and queue policy the integration needs; with `apply`, set both (policy first)."""
    events = integration.source.events
    if events is None:
        raise UsageError(f"integration {integration.name!r} is polled: add a source.events block with its queue first")
    bucket = integration.source.bucket
    url = queue_url(sqs, events.queue)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "Policy"])["Attributes"]
    arn = str(attributes["QueueArn"])
    policy = merged_policy(attributes.get("Policy"), queue_policy_statement(bucket, arn))
    ours = queue_configuration(integration, arn)
    found = Setup(bucket, url, arn, ours, policy)
    if not apply:
        return found
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    merge = merged_notifications(s3.get_bucket_notification_configuration(Bucket=bucket), ours)
    if merge.changed:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=merge.configuration)
    found.applied, found.notes = True, ["queue policy set", *merge.notes]
    return found
