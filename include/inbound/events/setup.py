"""What an integration in event mode needs from AWS: a bucket notification and a queue policy.

`inbound events NAME` prints both as JSON and needs no AWS access for it (a bucket owner
applies it; the queue's ARN follows from its URL); with access it also says whether the
rule is in place or what `--apply` would refuse. `--apply` reads first and refuses before
it changes anything, then sets the queue policy (S3 tests the destination) and merges our
rule `inbound-<name>` into the bucket's rules. It never deletes or changes a rule not ours
and never narrows a statement it did not write: S3 refuses overlapping rules, so an overlap
is a refusal naming the other rule and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from inbound.config.model import Integration
from inbound.errors import ConfigInvalid, UsageError
from inbound.events.notifications import queue_url
from inbound.s3 import layout

EVENTS = ["s3:ObjectCreated:*"]
DESTINATIONS = ("QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations")
_ARN_KEYS = {"QueueConfigurations": "QueueArn", "TopicConfigurations": "TopicArn"}
_SQS_HOST = re.compile(r"^sqs\.(?P<region>[a-z0-9-]+)\.(?:amazonaws\.com(?P<cn>\.cn)?|api\.aws)$")
_SQS_PATH = re.compile(r"^/(?P<account>\d{12})/(?P<name>[A-Za-z0-9_-]{1,80}(?:\.fifo)?)/?$")


def _console(bucket: str) -> str:
    return f"the S3 console: bucket {bucket} → Properties → Event notifications"


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


def queue_arn_from_url(url: str) -> str | None:
    """The queue's ARN off its URL (printing needs no AWS access), or None: a name, a legacy or emulator host."""
    host, _, path = url.partition("://")[2].partition("/")
    host_match, path_match = _SQS_HOST.match(host.lower()), _SQS_PATH.match(f"/{path}")
    if host_match is None or path_match is None:
        return None
    region = host_match["region"]
    partition = "aws-cn" if host_match["cn"] else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:sqs:{region}:{path_match['account']}:{path_match['name']}"


@dataclass
class PolicyMerge:
    """The queue policy to set, whether it differs from the queue's, and why."""

    policy: dict[str, Any]
    changed: bool
    notes: list[str] = field(default_factory=list)


def _canonical(value: Any, key: str = "") -> Any:
    """A statement as AWS may echo it back (one-element lists as their element, any order, `SQS:` actions)."""
    if isinstance(value, list):
        items = [_canonical(v, key) for v in value]
        return items[0] if len(items) == 1 else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {k: _canonical(v, k) for k, v in value.items()}
    return value.lower() if key == "Action" and isinstance(value, str) else value


def merged_policy(existing: str | None, statement: dict[str, Any]) -> PolicyMerge:
    """The queue policy with our statement added; every other statement, and one of ours edited by hand, kept.

    A statement that carries our Sid but differs from ours was written by someone else (a
    second bucket, a tighter condition): replacing it would narrow what they set up.
    """
    try:
        policy = json.loads(existing) if existing else {}
    except ValueError:
        raise UsageError("the queue's current policy is not JSON; fix it in SQS first") from None
    if not isinstance(policy, dict):
        raise UsageError("the queue's current policy is not a JSON object; fix it in SQS first")
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else list(statements)
    sid = statement["Sid"]
    mine = [s for s in statements if isinstance(s, dict) and s.get("Sid") == sid]
    if any(_canonical(s) == _canonical(statement) for s in mine):
        return PolicyMerge(policy, False, [f"queue policy unchanged: it has statement {sid}"])
    if mine:
        note = (
            f"queue policy unchanged: its statement {sid} is not the one inbound writes (edited by hand?) and is "
            "kept as it is; if it does not let the bucket send, S3 refuses the notification: fix it, or rename "
            "its Sid and run again (inbound then adds its own)"
        )
        return PolicyMerge(policy, False, [note])
    merged = {"Version": policy.get("Version", "2012-10-17"), **policy, "Statement": [*statements, statement]}
    return PolicyMerge(merged, True, ["queue policy set"])


def _filter_values(rule: dict[str, Any]) -> tuple[str, str]:
    rules = rule.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    values = {str(r.get("Name", "")).lower(): str(r.get("Value", "")) for r in rules}
    return values.get("prefix", ""), values.get("suffix", "")


def _event_covers(x: str, y: str) -> bool:
    return x == y or (x.endswith("*") and y.startswith(x[:-1]))


def _covers(rule: dict[str, Any], ours: dict[str, Any]) -> bool:
    """Whether every object `ours` notifies, `rule` notifies too (same events or more, a wider filter)."""
    prefix, suffix = _filter_values(rule)
    our_prefix, our_suffix = _filter_values(ours)
    events = list(rule.get("Events", []))
    events_cover = all(any(_event_covers(e, o) for e in events) for o in ours.get("Events", []))
    return events_cover and our_prefix.startswith(prefix) and our_suffix.endswith(suffix)


def _overlaps(rule: dict[str, Any], ours: dict[str, Any]) -> bool:
    """Whether one object could match both rules: what S3 refuses ("Configuration is ambiguously defined")."""
    prefix, suffix = _filter_values(rule)
    our_prefix, our_suffix = _filter_values(ours)
    keys = (prefix.startswith(our_prefix) or our_prefix.startswith(prefix)) and (
        suffix.endswith(our_suffix) or our_suffix.endswith(suffix)
    )
    a, b = list(rule.get("Events", [])), list(ours.get("Events", []))
    return keys and any(_event_covers(x, y) or _event_covers(y, x) for x in a for y in b)


def _same_rule(rule: dict[str, Any], ours: dict[str, Any]) -> bool:
    return _covers(rule, ours) and _covers(ours, rule) and rule.get("QueueArn") == ours["QueueArn"]


def _describe(rule: dict[str, Any]) -> str:
    prefix, suffix = _filter_values(rule)
    keys = " and ".join([f"prefix {prefix!r}"] * bool(prefix) + [f"suffix {suffix!r}"] * bool(suffix))
    return f"{', '.join(rule.get('Events', []))} on {keys or 'every key'}"


def _destination(kind: str, rule: dict[str, Any]) -> str:
    return str(rule.get(_ARN_KEYS.get(kind, "LambdaFunctionArn"), "another destination"))


def _same_queue(arn: str, configured: str) -> bool:
    """Whether a config's queue (a URL or a name) is the queue of this ARN; by name when the URL says no more."""
    derived = queue_arn_from_url(configured)
    if derived is not None:
        return derived == arn
    return configured.rstrip("/").rsplit("/", 1)[-1] == arn.rsplit(":", 1)[-1]


@dataclass
class Merge:
    """The bucket's notification configuration with ours merged in, and what changed."""

    configuration: dict[str, Any]
    changed: bool
    notes: list[str] = field(default_factory=list)


def _own_rule(configuration: dict[str, Any], ours: dict[str, Any], bucket: str) -> dict[str, Any] | None:
    """The bucket's rule with our Id; refused when it goes elsewhere: the same name in another deployment."""
    for kind in DESTINATIONS:
        for rule in configuration.get(kind, []):
            if rule.get("Id") != ours["Id"]:
                continue
            if kind == "QueueConfigurations" and rule.get("QueueArn") == ours["QueueArn"]:
                return dict(rule)
            raise ConfigInvalid(
                f"bucket {bucket}'s notification rule {ours['Id']!r} sends to {_destination(kind, rule)}, not to this "
                f"integration's queue {ours['QueueArn']}: it is another deployment's integration of the same name, or "
                "this integration's old queue. inbound never replaces it: if that queue is this integration's old "
                f"one, delete the rule ({_console(bucket)}) and run again; otherwise rename one of the two integrations"
            )
    return None


def _overlap_error(bucket: str, kind: str, rule: dict[str, Any], ours: dict[str, Any]) -> ConfigInvalid:
    same_queue = kind == "QueueConfigurations" and rule.get("QueueArn") == ours["QueueArn"]
    name = rule.get("Id", "(no id)")
    where = "this integration's queue" if same_queue else _destination(kind, rule)
    head = (
        f"bucket {bucket}'s notification rule {name!r} already sends {_describe(rule)} to {where}, and "
        f"{ours['Id']} ({_describe(ours)}) would overlap it: S3 refuses overlapping rules, and inbound never deletes "
        "another integration's rule. "
    )
    if same_queue and _covers(ours, rule):
        fix = (
            f"To let one rule carry both, delete {name!r} ({_console(bucket)}) and run again ({ours['Id']} then "
            "carries its files too); or narrow source.key so the two do not overlap"
        )
    elif kind == "QueueConfigurations" and not same_queue and _covers(rule, ours):
        fix = "Put this integration on that queue (source.events.queue: the two then share the rule), or narrow one"
    else:
        fix = "Narrow source.key (or that rule) so the two do not overlap"
    return ConfigInvalid(head + fix)


def _rehomed(
    own: dict[str, Any], configuration: dict[str, Any], neighbours: Sequence[Integration], bucket: str
) -> list[dict[str, Any]]:
    """Rules of their own for this deployment's integrations our old rule carried, so changing it cuts no one off."""
    added: list[dict[str, Any]] = []
    queue_rules = configuration["QueueConfigurations"]
    for other in sorted(neighbours, key=lambda i: len("".join(_filter_values(queue_configuration(i, ""))))):
        events = other.source.events
        if events is None or not _same_queue(own["QueueArn"], events.queue):
            continue
        theirs = queue_configuration(other, own["QueueArn"])
        if not _covers(own, theirs) or any(
            r.get("QueueArn") == own["QueueArn"] and _covers(r, theirs) for r in [*queue_rules, *added]
        ):
            continue
        for kind in DESTINATIONS:
            for rule in [*configuration.get(kind, []), *(added if kind == "QueueConfigurations" else [])]:
                if rule.get("Id") == theirs["Id"] or _overlaps(rule, theirs):
                    raise ConfigInvalid(
                        f"changing bucket {bucket}'s rule {own['Id']!r} would stop notifying integration "
                        f"{other.name!r} ({_describe(theirs)}), whose files it carries, and a rule of its own would "
                        f"clash with rule {rule.get('Id', '(no id)')!r}. Change the keys so the rules do not overlap, "
                        f"or keep this integration's key covering {other.source.key}"
                    )
        added.append(theirs)
    return added


def merged_notifications(
    existing: dict[str, Any], ours: dict[str, Any], *, bucket: str, neighbours: Sequence[Integration] = ()
) -> Merge:
    """Our queue rule merged into the bucket's configuration: idempotent, never dropping or changing another rule.

    Raises `ConfigInvalid` naming the rule when ours would overlap another (S3 refuses that)
    or when our Id already sends elsewhere. `neighbours` are this deployment's other
    event-mode integrations on the bucket: if our old rule carried their files, they get a
    rule of their own in the same change.
    """
    configuration = {k: v for k, v in existing.items() if k in (*DESTINATIONS, "EventBridgeConfiguration")}
    own = _own_rule(configuration, ours, bucket)
    if own is not None and _same_rule(own, ours):
        return Merge(configuration, False, [f"rule {ours['Id']} already sends these objects to the queue"])
    queues = [r for r in configuration.get("QueueConfigurations", []) if r.get("Id") != ours["Id"]]
    carrier = next((r for r in queues if r.get("QueueArn") == ours["QueueArn"] and _covers(r, ours)), None)
    if carrier is not None and own is None:
        return Merge(
            configuration, False, [f"rule {carrier.get('Id', '(no id)')} already sends these objects to the queue"]
        )
    for kind in DESTINATIONS:
        for rule in configuration.get(kind, []):
            if rule.get("Id") != ours["Id"] and rule is not carrier and _overlaps(rule, ours):
                raise _overlap_error(bucket, kind, rule, ours)
    merged = {**configuration, "QueueConfigurations": queues if carrier is not None else [*queues, ours]}
    added = _rehomed(own, merged, neighbours, bucket) if own is not None else []
    merged["QueueConfigurations"] = [*merged["QueueConfigurations"], *added]
    notes = [f"set rule {r['Id']}: its files came by the old {ours['Id']}" for r in added]
    done = (
        f"removed the old {ours['Id']}: {carrier.get('Id')} carries these objects"
        if carrier
        else f"set rule {ours['Id']}"
    )
    return Merge(merged, True, [done, *notes])


class LazyClient:
    """A boto3 client made at its first call: printing must work where no client can be made (no region, no keys)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make, self._client = make, None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


@dataclass
class Setup:
    """What `inbound events NAME` prints (and `--apply` sets).

    `status`: "set" (a rule sends the source's new objects to the queue), "not set", "conflict"
    (`--apply` would refuse: `problems` says why) or "unchecked" (no access to read the bucket).
    """

    name: str
    bucket: str
    queue_url: str
    queue_arn: str
    notification: dict[str, Any]
    queue_policy: dict[str, Any]
    applied: bool = False
    status: str = "unchecked"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "queue_url": self.queue_url,
            "queue_arn": self.queue_arn,
            "bucket_notification": {"QueueConfigurations": [self.notification]},
            "queue_policy": self.queue_policy,
            "applied": self.applied,
            "status": self.status,
            "problems": self.problems,
            "notes": self.notes,
        }

    def warnings(self) -> list[str]:
        """One line per thing a person must act on (stderr): a refusal to come, or a rule that is missing."""
        if self.status == "not set":
            return [
                f"no rule of bucket {self.bucket} sends {_describe(self.notification)} to queue {self.queue_arn}: "
                f"run `inbound events {self.name} --apply` (or have the bucket owner add bucket_notification)"
            ]
        return list(self.problems)


def _queue(integration: Integration, sqs: Any, apply: bool) -> tuple[str, str, str | None, str | None]:
    """(URL, ARN, the queue's policy, why SQS could not be read): printing takes the ARN off the URL if it must."""
    configured = integration.source.events.queue if integration.source.events else ""
    try:
        url = queue_url(sqs, configured)
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "Policy"])["Attributes"]
    except (BotoCoreError, ClientError) as exc:
        arn = queue_arn_from_url(configured)
        if apply or arn is None:
            raise
        return configured, arn, None, str(exc)
    return url, str(attributes["QueueArn"]), attributes.get("Policy"), None


def setup(
    integration: Integration, s3: Any, sqs: Any, *, apply: bool = False, neighbours: Sequence[Integration] = ()
) -> Setup:
    """The notification and queue policy the integration needs; with `apply`, set both (policy first).

    Printing reads what it can and says what it could not check; applying reads everything
    and refuses before it changes anything. `neighbours`: see `merged_notifications`.
    """
    if integration.source.events is None:
        raise UsageError(f"integration {integration.name!r} is polled: add a source.events block with its queue first")
    bucket = integration.source.bucket
    url, arn, policy_text, sqs_error = _queue(integration, sqs, apply)
    ours, statement = queue_configuration(integration, arn), queue_policy_statement(bucket, arn)
    policy = merged_policy(policy_text, statement)
    if sqs_error is not None:
        policy.notes = [
            f"queue_policy holds inbound's statement only, to add to the queue's policy (not read: {sqs_error})"
        ]
    found = Setup(integration.name, bucket, url, arn, ours, policy.policy, notes=policy.notes)
    try:
        existing = s3.get_bucket_notification_configuration(Bucket=bucket)
        merge = merged_notifications(existing, ours, bucket=bucket, neighbours=neighbours)
    except (BotoCoreError, ClientError) as exc:
        if apply:
            raise
        found.notes.append(f"not checked against bucket {bucket}'s notification configuration: {exc}")
        return _printed(found)
    except ConfigInvalid as exc:
        if apply:
            raise
        found.status, found.problems = "conflict", [str(exc)]
        return _printed(found)
    if not apply:
        found.status = "not set" if merge.changed else "set"
        found.notes += [f"--apply would: {note}" for note in merge.notes] if merge.changed else merge.notes
        return _printed(found)
    if policy.changed:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy.policy)})
    if merge.changed:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=merge.configuration)
    found.applied, found.status, found.notes = True, "set", [*found.notes, *merge.notes]
    return found


def _printed(found: Setup) -> Setup:
    found.notes.append(
        "bucket_notification is the rule to add: PutBucketNotificationConfiguration replaces the bucket's whole "
        f"configuration (`inbound events {found.name} --apply` merges)"
    )
    return found
