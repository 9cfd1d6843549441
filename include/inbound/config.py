"""The integration config as a model: what one YAML file may say, checked by pydantic.

One `Integration` per file (`Source`, `Format`, `UserId`, `Attribute`, optional `Alerts`),
the schedule rules (`schedule_interval`, `SCHEDULE_PRESETS`) and the JSON Schema editors
use. Reading files, `!env`, errors with file and line, and the rules across files live in
`inbound.catalog`; this module knows nothing of files, so a snapshot or a test builds an
`Integration` from a dict alone.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from inbound.suggest import did_you_mean

AttributeType = Literal["string", "integer", "number", "boolean", "date", "timestamp"]

SCHEDULE_PRESETS: dict[str, timedelta] = {
    "@hourly": timedelta(hours=1),
    "@daily": timedelta(days=1),
    "@midnight": timedelta(days=1),
    "@weekly": timedelta(weeks=1),
    "@monthly": timedelta(days=31),
    "@quarterly": timedelta(days=92),
    "@yearly": timedelta(days=366),
    "@annually": timedelta(days=366),
}

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
ATTRIBUTE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,62}$"

_TIMEDELTA = TypeAdapter(timedelta)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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

    @field_validator("key")
    @classmethod
    def _relative_key(cls, value: str) -> str:
        if value.startswith(("/", "s3://")):
            raise ValueError("give the key inside the bucket, without a leading '/' or 's3://'")
        parts = value.split("/")
        if "success" in parts[:-1] or "failed" in parts[:-1]:
            raise ValueError("the key must not point into a success/ or failed/ folder")
        return value

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


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
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}; use a Python codec name such as utf-8 or cp1252") from None
        return value


class UserId(_Model):
    column: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="The CSV column that uniquely identifies a user."
    )


class Attribute(_Model):
    column: Annotated[str, StringConstraints(min_length=1)] = Field(description="CSV header name.")
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
                raise ValueError(f"format {self.format!r} has no % directive; use strftime codes such as %d.%m.%Y")
        if self.name is None and not re.match(ATTRIBUTE_NAME_PATTERN, self.column):
            suggestion = re.sub(r"[^a-z0-9]+", "_", self.column.lower()).strip("_") or "attribute"
            if not suggestion[0].isalpha():
                suggestion = f"a_{suggestion}"
            raise ValueError(
                f"column {self.column!r} is not usable as an attribute name "
                f"(letters, digits, '_'); add `name: {suggestion}`"
            )
        return self

    @property
    def attribute(self) -> str:
        """The attribute name as people see it (the rename, else the column)."""
        return self.name or self.column


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

    @field_validator("stale_after")
    @classmethod
    def _valid_duration(cls, value: str | None) -> str | None:
        if value is not None:
            _duration(value, "stale_after")
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
        return _duration(self.stale_after, "stale_after") if self.stale_after else None


def _duration(value: str, field: str) -> timedelta:
    """A positive ISO-8601 duration; pydantic alone would also take plain seconds ("3600")."""
    try:
        if not value.upper().startswith("P"):
            raise ValueError
        duration = _TIMEDELTA.validate_python(value)
    except (ValidationError, ValueError):
        raise ValueError(f"{field} {value!r} is not an ISO-8601 duration such as PT6H or P2D") from None
    if duration <= timedelta(0):
        raise ValueError(f"{field} {value!r} must be a positive duration in days, hours or minutes (P2D, PT6H)")
    return duration


class Integration(_Model):
    """One inbound integration: one YAML file, one Airflow DAG `inbound_<name>`."""

    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)] = Field(
        description="Unique name: lower case, digits, '_'. The DAG id is `inbound_<name>`."
    )
    description: str | None = None
    schedule: str = Field(
        description="Sync interval: a preset (@hourly, @daily, ...), a cron expression, "
        "or an ISO-8601 duration such as PT30M."
    )
    enabled: bool = Field(
        True,
        description="State when the integration first appears; after that the UI toggle rules.",
    )
    source: Source
    format: Format = Format()
    user_id: UserId
    attributes: Annotated[list[Attribute], Field(min_length=1)]
    max_rejected_ratio: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Largest share of rejected rows a file may have and still be imported "
        "(its good rows); above it nothing of the file is imported and it goes to failed/.",
    )
    mode: Literal["upsert", "mirror"] = Field(
        "upsert",
        description="upsert: a file adds and changes values. mirror: the file is the full list; "
        "users missing from it lose this integration's values.",
    )
    mirror_max_removed: float = Field(
        0.2,
        ge=0,
        le=1,
        description="In mirror mode, the largest share of the integration's users one file may "
        "remove; above it the file fails as suspicious (a trigger with `force` overrides).",
    )
    blank: Literal["keep", "clear"] = Field(
        "keep",
        description="What an empty cell does to a stored value: keep it (default) or clear it.",
    )
    timezone: str = Field("UTC", description="IANA time zone for timestamps written without a zone; stored in UTC.")
    max_file_mb: Annotated[int, Field(gt=0)] = Field(
        1024, description="Largest file (after decompression) that is read, in MiB."
    )
    alerts: Alerts | None = Field(None, description="Optional alerts on failure, rejected rows and staleness.")

    _file: str | None = PrivateAttr(None)

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        schedule_interval(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            hint = did_you_mean(
                value, sorted(zoneinfo.available_timezones()), otherwise="; use an IANA name such as Europe/Berlin"
            )
            raise ValueError(f"unknown time zone {value!r}{hint}") from None
        return value

    @model_validator(mode="after")
    def _unique_columns(self) -> Integration:
        seen: dict[str, int] = {}
        for i, attribute in enumerate(self.attributes):
            if attribute.attribute in seen:
                raise ValueError(
                    f"attribute name {attribute.attribute!r} is used twice "
                    f"(attributes[{seen[attribute.attribute]}] and attributes[{i}]); rename one"
                )
            seen[attribute.attribute] = i
            if attribute.column == self.user_id.column:
                raise ValueError(
                    f"attributes[{i}] maps the user-ID column {attribute.column!r}; "
                    "the user ID is the key, not an attribute"
                )
        return self

    @classmethod
    def from_file_data(cls, data: object, file: str) -> Integration:
        """Validate the parsed YAML of a config file; the integration remembers the file it came from."""
        integration = cls.model_validate(data)
        integration._file = file
        return integration

    @property
    def dag_id(self) -> str:
        return f"inbound_{self.name}"

    @property
    def file(self) -> str | None:
        """The YAML file this integration was loaded from."""
        return self._file

    @property
    def version(self) -> str:
        """A short hash of the effective config: what the run used and the import log records."""
        # Alerts change who hears about a run, not what it imports.
        canonical = json.dumps(self.model_dump(mode="json", exclude={"alerts"}), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def interval(self) -> timedelta:
        return schedule_interval(self.schedule)

    @property
    def attribute_types(self) -> dict[str, str]:
        """Attribute name -> declared type: how values are cast, stored and compared."""
        return {a.attribute: a.type for a in self.attributes}

    @property
    def max_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    def snapshot(self) -> dict[str, Any]:
        """A JSON-safe copy that a run carries from its first task to its last."""
        return {"config": self.model_dump(mode="json"), "file": self._file, "version": self.version}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> Integration:
        integration = cls.model_validate(snapshot["config"])
        integration._file = snapshot.get("file")
        if integration.version != snapshot["version"]:
            raise ValueError("config snapshot does not match its version")
        return integration


def schedule_interval(schedule: str) -> timedelta:
    """The time between two runs; a run waits at most this long for a file."""
    schedule = schedule.strip()
    if schedule in SCHEDULE_PRESETS:
        return SCHEDULE_PRESETS[schedule]
    if schedule.startswith("@"):
        raise ValueError(f"unknown schedule preset {schedule!r}{did_you_mean(schedule, SCHEDULE_PRESETS)}")
    if schedule.upper().startswith("P"):
        try:
            delta = _TIMEDELTA.validate_python(schedule)
        except ValidationError:
            raise ValueError(f"{schedule!r} is not an ISO-8601 duration such as PT30M or P1D") from None
        if delta < timedelta(minutes=1):
            raise ValueError("the schedule interval must be at least one minute")
        return delta
    # croniter (with dateutil) costs ~0.15 s to import: only configs with a cron schedule pay it.
    from croniter import croniter

    if not croniter.is_valid(schedule) or len(schedule.split()) != 5:
        raise ValueError(
            f"{schedule!r} is not a preset (@hourly, @daily, ...), a five-field cron "
            "expression such as '*/15 * * * *', or an ISO-8601 duration such as PT30M"
        )
    runs = croniter(schedule, datetime(2026, 1, 1, tzinfo=UTC))
    first: datetime = runs.get_next(datetime)
    second: datetime = runs.get_next(datetime)
    return second - first


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to complete and check integration YAML."""
    schema = Integration.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "inbound integration"
    return schema
