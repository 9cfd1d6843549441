"""The sections of an integration config: `source` (with `events`), `format`, `user_id`,
`attributes`, `alerts`; each a pydantic model that checks itself.

`inbound.config.model.Integration` composes them and checks the rules across sections.
"""

from __future__ import annotations

import codecs
import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from inbound.config.names import (
    ATTRIBUTE_NAME_PATTERN,
    RESERVED_ATTRIBUTE_NAMES,
    ColumnName,
)
from inbound.config.schedules import iso_duration
from inbound.s3.layout import key_pattern
from inbound.suggest import echo
from inbound.values.datetimes import format_problem

AttributeType = Literal["string", "integer", "number", "boolean", "date", "timestamp"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class Events(_Model):
    """Event mode: S3 event notifications on an SQS queue start a run the moment a file lands.

    The schedule stays as the sweep that imports what an event missed.
    """

    queue: Annotated[str, StringConstraints(min_length=1, max_length=512)] = Field(
        description="The SQS queue the bucket notifies: its URL (https://sqs.eu-west-1.amazonaws.com/123456789012/"
        "inbound-crm) or its name. Integrations on one queue share one poll. `inbound events NAME` prints (and "
        "with --apply sets) the bucket notification and queue policy it needs."
    )
    aws_conn_id: str | None = Field(
        None, description="Airflow connection for SQS; default: the source's `aws_conn_id`."
    )

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str) -> str:
        name = value.rstrip("/").rsplit("/", 1)[-1] if "://" in value else value
        if "://" in value and not value.startswith(("https://", "http://")):
            raise ValueError(f"a queue URL starts with https:// (got {echo(value)})")
        if name.endswith(".fifo"):
            raise ValueError("S3 cannot notify a FIFO queue: give a standard queue (a name without .fifo)")
        if not QUEUE_NAME.match(name):
            raise ValueError(
                f"not an SQS queue URL or name: {echo(value)}; a name is 1-80 letters, digits, - or _, "
                "a URL looks like https://sqs.eu-west-1.amazonaws.com/123456789012/inbound-crm"
            )
        return value


class Source(_Model):
    """Where the files are. Credentials live in the Airflow connection, never here."""

    bucket: Annotated[str, StringConstraints(min_length=3, max_length=63)] = Field(description="S3 bucket name.")
    key: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Exact object key or a glob (`*`, `?`, `[...]`); `*` never crosses a `/`. "
        "Files already moved into `success/` or `failed/` are never matched."
    )
    aws_conn_id: str = Field(
        "aws_default",
        description="Airflow connection with the credentials: access key and secret, "
        "`role_arn` in the extra for an assumed role, or empty for the default AWS chain.",
    )
    marker: Annotated[str, StringConstraints(min_length=1, pattern=r"^[^/*?\[]+$")] | None = Field(
        None,
        description="Completion marker: the name of an object (e.g. `_SUCCESS`) the producer writes into "
        "the files' folder after the last file of an export. A file is read only when the marker exists "
        "and is at least as new as the file, so half-written exports wait.",
    )
    events: Events | None = Field(
        None,
        description="Event mode: import a file seconds after it lands, from the bucket's S3 event "
        "notifications on an SQS queue; `schedule` stays as the sweep. Left out, the source is polled.",
    )

    @field_validator("key")
    @classmethod
    def _relative_key(cls, value: str) -> str:
        if value.startswith(("/", "s3://")):
            raise ValueError("give the key inside the bucket, without a leading '/' or 's3://'")
        parts = value.split("/")
        if "success" in parts[:-1] or "failed" in parts[:-1]:
            raise ValueError("the key must not point into a success/ or failed/ folder")
        try:
            key_pattern(value)  # as every run compiles it
        except re.error as exc:
            raise ValueError(
                f"the key is not a valid glob: {exc.msg} at position {exc.pos}; a [...] class lists "
                "characters or ranges in order, such as [a-z] or [0-9]"
            ) from None
        return value

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def events_conn_id(self) -> str:
        """The connection SQS is read with: the events block's, else the source's."""
        return (self.events.aws_conn_id if self.events else None) or self.aws_conn_id


class Format(_Model):
    """How the CSV is written. Left out, the reader detects what it can."""

    delimiter: Annotated[str, StringConstraints(min_length=1, max_length=1)] | None = Field(
        None, description="Field separator; detected from the header line when left out."
    )
    encoding: str = Field("utf-8", description="Any Python codec name, e.g. utf-8, cp1252.")
    decimal: Literal[".", ","] = Field(".", description="Decimal mark of number columns.")

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except (LookupError, ValueError):  # ValueError: a name with a NUL
            raise ValueError(
                f"unknown encoding {echo(value)}; use a Python codec name such as utf-8 or cp1252"
            ) from None
        return value


class UserId(_Model):
    column: ColumnName = Field(description="The CSV column that uniquely identifies a user.")


class Attribute(_Model):
    column: ColumnName = Field(description="CSV header name.")
    name: Annotated[str, StringConstraints(pattern=ATTRIBUTE_NAME_PATTERN)] | None = Field(
        None,
        description="The attribute name people target with; defaults to the column name.",
    )
    type: AttributeType = Field("string", description="Declared type of the values.")
    format: str | None = Field(
        None,
        description="For date and timestamp: the strftime format of the values, e.g. '%d.%m.%Y' "
        "or '%d.%m.%Y %H:%M'. Default: ISO-8601.",
    )

    @model_validator(mode="after")
    def _usable_name(self) -> Attribute:
        if self.format is not None:
            if self.type not in ("date", "timestamp"):
                raise ValueError(f"`format` applies to date and timestamp attributes, not {self.type}")
            if "%" not in self.format:
                raise ValueError(f"format {echo(self.format)} has no % directive; use strftime codes such as %d.%m.%Y")
            if problem := format_problem(self.format):
                raise ValueError(problem)
        if self.name is None and not re.match(ATTRIBUTE_NAME_PATTERN, self.column):
            suggestion = re.sub(r"[^a-z0-9]+", "_", self.column[:200].lower()).strip("_")[:40] or "attribute"
            if not suggestion[0].isalpha():
                suggestion = f"a_{suggestion}"
            raise ValueError(
                f"column {echo(self.column)} is not usable as an attribute name "
                f"(letters, digits, '_'); add `name: {suggestion}`"
            )
        if self.attribute.lower() in RESERVED_ATTRIBUTE_NAMES:
            raise ValueError(
                f"attribute name {self.attribute!r} is reserved (the store and the rejected-rows report use "
                f"{' and '.join(sorted(RESERVED_ATTRIBUTE_NAMES))} for their own columns); "
                f"rename it with `name:`, e.g. `name: {self.attribute.lower()}_value`"
            )
        return self

    @property
    def attribute(self) -> str:
        """The attribute name as people see it (the rename, else the column)."""
        return self.name or self.column


class Reports(_Model):
    """What happens to the moved files and the reports beside them (they hold personal data)."""

    retain_days: Annotated[int, Field(ge=1, le=36500)] | None = Field(
        None,
        description="Days a moved file and its reports stay in success/ or failed/ before the daily "
        "`inbound-retention` DAG removes them; default INBOUND_RETAIN_DAYS, else they stay. The import "
        "log keeps its entries, without the links.",
    )


class DeleteWhen(_Model):
    """Rows that delete their user: this integration's values of the user go, in the same transaction."""

    column: ColumnName = Field(description="The column that says a user is deleted (e.g. Status).")
    values: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=200)]], Field(min_length=1, max_length=100)
    ] = Field(description="The values (compared trimmed, ignoring case) that mark a deleted user, e.g. [deleted].")


class Alerts(_Model):
    """Who hears about trouble, through Airflow's notifiers (SMTP e-mail, an HTTP webhook)."""

    email: list[Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list, description="Recipients; sent through the Airflow SMTP connection `smtp_conn_id`."
    )
    smtp_conn_id: str = Field("smtp_default", description="Airflow SMTP connection (host, login, from address).")
    webhook: str | None = Field(
        None,
        description="Airflow HTTP connection id; alerts are POSTed as JSON with a `text` field (a Slack or "
        "Teams incoming webhook takes it as is). The URL and any token live in the connection.",
    )
    on_failure: bool = Field(True, description="Alert when a run fails (a file failed, or a task gave up).")
    rejected_ratio_over: float | None = Field(
        None, ge=0, le=1, description="Alert when a run rejected more than this share of its rows (e.g. 0.01)."
    )
    stale_after: str | None = Field(
        None,
        description="ISO-8601 duration (e.g. P2D): alert when no new file arrived for longer than this "
        "since the last import; checked each time `wait_for_file` gives up.",
    )
    on_new_columns: bool = Field(
        True,
        description="Alert when an imported file has columns the config does not read that the last import's "
        "header did not have (once per column; with `on_new_columns: warn`).",
    )

    @field_validator("stale_after")
    @classmethod
    def _valid_duration(cls, value: str | None) -> str | None:
        if value is not None:
            iso_duration(value, "stale_after")
        return value

    @model_validator(mode="after")
    def _has_a_channel(self) -> Alerts:
        if not self.email and not self.webhook:
            raise ValueError(
                "alerts need a channel: `email: [someone@example.com]` and/or `webhook: <http connection id>`"
            )
        return self

    @property
    def stale_interval(self) -> timedelta | None:
        return iso_duration(self.stale_after, "stale_after") if self.stale_after else None
