"""The integration config as a model: what one YAML file may say, checked by pydantic.

One `Integration` per file (its sections, `Source`, `Format`, `UserId`, `Attribute`, optional
`Alerts`, are `inbound.config.sections`) and the JSON Schema editors use. The rules for names and columns are `inbound.config.names`,
schedules and durations `inbound.config.schedules`. Reading files, `!env`, errors with file and
line, and the rules across files live in `inbound.config.catalog`; this module knows nothing of
files, so a snapshot or a test builds an `Integration` from a dict alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import zoneinfo
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, StringConstraints, field_validator, model_validator

from inbound import settings
from inbound.config.names import (
    NAME_PATTERN,
    ColumnName,
    Loc,
    env_allowed,
    replace_at,
    setting_path,
)
from inbound.config.schedules import schedule_interval
from inbound.config.sections import Alerts, Attribute, DeleteWhen, Format, Reports, Source, UserId, _Model
from inbound.errors import ConfigInvalid
from inbound.suggest import did_you_mean, echo

VOLUME_HISTORY = 5  # the imports whose median row count a file is compared with (`max_row_drop`)
VOLUME_MIN_HISTORY = 3  # the imports an integration needs before the row-count guard applies


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
        102400,
        description=(
            "Largest file (after decompression) that is read, in MiB. Memory does not grow with the file "
            "(it is read in batches of INBOUND_BATCH_MB); local disk and staging hold about its size as Parquet."
        ),
    )
    on_new_columns: Literal["ignore", "warn", "fail"] = Field(
        "warn",
        description="What a column the config does not read, new in the export since its last import, does: "
        "ignore (recorded only), warn (reported in the import result, the management table and an alert, "
        "imported without it) or fail (the file fails, nothing written, unless forced).",
    )
    ignore_columns: list[ColumnName] = Field(
        default_factory=list,
        description="Columns of the export this integration knowingly does not read: never reported as new.",
    )
    delete_when: DeleteWhen | None = Field(
        None,
        description="Deletions from the export: a row whose `column` holds one of `values` removes this "
        "integration's values of its user (upsert mode; mirror mode removes users missing from the file).",
    )
    max_deleted: float = Field(
        0.2,
        ge=0,
        le=1,
        description="The largest share of the integration's users one file may delete; above it the file fails "
        "as suspicious (a trigger with `force` overrides).",
    )
    max_row_drop: float | None = Field(
        0.5,
        ge=0,
        le=1,
        description="Volume guard: a file whose rows fall by more than this share below the median of the "
        f"integration's last {VOLUME_HISTORY} imports fails as a suspicious export (nothing written; a trigger "
        f"with `force` overrides). null turns it off. It starts once the integration has {VOLUME_MIN_HISTORY} imports.",
    )
    guard_empty_columns: bool = Field(
        True,
        description="Volume guard: a file in which a read column that had values at the last import is empty in "
        "every row fails as a suspicious export (a trigger with `force` overrides).",
    )
    reports: Reports = Field(default_factory=Reports, description="Retention of the moved files and reports.")
    alerts: Alerts | None = Field(None, description="Optional alerts on failure, rejected rows and staleness.")

    _file: str | None = PrivateAttr(None)
    _env: dict[Loc, str] = PrivateAttr(default_factory=dict)

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
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
            otherwise = "; use an IANA name such as Europe/Berlin"
            hint = did_you_mean(value, sorted(zoneinfo.available_timezones()), otherwise=otherwise)
            raise ValueError(f"unknown time zone {echo(value)}{hint if len(value) <= 64 else otherwise}") from None
        return value

    @model_validator(mode="after")
    def _unique_columns(self) -> Integration:
        seen: dict[str, int] = {}  # lower-case name -> index: the store's column names ignore case
        for i, attribute in enumerate(self.attributes):
            name = attribute.attribute
            if name.lower() in seen:
                j = seen[name.lower()]
                other = self.attributes[j].attribute
                if other == name:
                    raise ValueError(
                        f"attribute name {name!r} is used twice (attributes[{j}] and attributes[{i}]); rename one"
                    )
                raise ValueError(
                    f"attribute name {name!r} (attributes[{i}]) differs from {other!r} (attributes[{j}]) only by "
                    "case; the store's column names do not tell them apart: rename one"
                )
            seen[name.lower()] = i
            if attribute.column == self.user_id.column:
                raise ValueError(
                    f"attributes[{i}] maps the user-ID column {echo(attribute.column)}; "
                    "the user ID is the key, not an attribute"
                )
        if self.delete_when is not None and self.mode == "mirror":
            raise ValueError(
                "delete_when is for mode: upsert; in mirror mode a user missing from the file already loses "
                "this integration's values: leave the deleted users out of the export, or use mode: upsert"
            )
        if self.delete_when is not None and self.delete_when.column == self.user_id.column:
            raise ValueError(
                f"delete_when.column {echo(self.delete_when.column)} is the user-ID column; name the column "
                "that says a user is deleted (e.g. Status)"
            )
        read = {self.user_id.column, *(a.column for a in self.attributes)}
        if self.delete_when is not None:
            read.add(self.delete_when.column)
        for i, column in enumerate(self.ignore_columns):
            if column in read:
                raise ValueError(
                    f"ignore_columns[{i}] {echo(column)} is a column the config reads; "
                    "remove it from ignore_columns (it lists the columns this integration does not read)"
                )
        return self

    @classmethod
    def from_file_data(cls, data: object, file: str, env: Mapping[Loc, str] | None = None) -> Integration:
        """Validate the parsed YAML of a config file; the integration remembers the file it came from.

        `env`: where a value came from a variable (`!env NAME`): setting location -> NAME.
        """
        integration = cls.model_validate(data)
        integration._file = file
        integration._env = dict(env or {})
        return integration

    @property
    def env_settings(self) -> dict[str, str]:
        """Each setting whose value came from `!env`, e.g. {"source.bucket": "INBOUND_CONFIG_BUCKET"}."""
        return {setting_path(loc): name for loc, name in sorted(self._env.items(), key=lambda item: str(item[0]))}

    def public_config(self) -> dict[str, Any]:
        """The config as JSON to show people (docs, status, pages): a value from `!env` shows as `!env NAME`.

        The run itself uses the values; where they are only shown, the variable's name is enough.
        """
        config = self.model_dump(mode="json")
        for loc, name in self._env.items():
            replace_at(config, loc, f"!env {name}")
        return config

    @property
    def shown_source(self) -> str:
        """`source.uri` as shown to people (docs, table, pages): a part from `!env` shows as `!env NAME`."""
        source = self.public_config()["source"]
        return f"s3://{source['bucket']}/{source['key']}"

    @property
    def shown_description(self) -> str | None:
        description = self.public_config().get("description")
        return None if description is None else str(description)

    @property
    def retain_days(self) -> int | None:
        """How many days its moved files and reports stay: `reports.retain_days`, else `INBOUND_RETAIN_DAYS`."""
        return self.reports.retain_days or settings.retain_days()

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
        # Alerts change who hears about a run, events when it starts, reports how long files stay: not what it imports.
        config = self.model_dump(mode="json", exclude={"alerts": True, "reports": True, "source": {"events"}})
        # Settings added later count only when set: a config that does not use them keeps its version.
        later: tuple[tuple[str, object], ...] = (
            ("on_new_columns", "warn"),
            ("ignore_columns", []),
            ("max_row_drop", 0.5),
            ("guard_empty_columns", True),
            ("delete_when", None),
            ("max_deleted", 0.2),
        )
        for setting, default in later:
            if config.get(setting) == default:
                del config[setting]
        canonical = json.dumps(config, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def interval(self) -> timedelta:
        return schedule_interval(self.schedule)

    @property
    def start(self) -> Literal["events", "polling"]:
        """How runs start: from S3 event notifications (`source.events`), or by polling on the schedule."""
        return "polling" if self.source.events is None else "events"

    @property
    def start_words(self) -> str:
        """How runs start, in words, as the DAG docs and the management pages show it."""
        events = self.source.events
        if events is None:
            return f"polling: each scheduled run ({self.schedule}) waits for a file"
        return (
            f"events: S3 notifications on {events.queue} (connection {self.source.events_conn_id}) start a run; "
            f"the schedule ({self.schedule}) sweeps up what an event missed"
        )

    @property
    def attribute_types(self) -> dict[str, str]:
        """Attribute name -> declared type: how values are cast, stored and compared."""
        return {a.attribute: a.type for a in self.attributes}

    @property
    def max_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    def snapshot(self) -> dict[str, Any]:
        """A JSON-safe copy that a run carries from its first task to its last.

        It lands in the serialized DAG (the sensor's argument) and in XCom, which people
        read: a value from `!env` travels as `!env NAME` and each task reads the variable
        again (`from_snapshot`); the version proves it read the same value.
        """
        snapshot: dict[str, Any] = {"config": self.public_config(), "file": self._file, "version": self.version}
        if self._env:
            snapshot["env"] = [[list(loc), name] for loc, name in self._env.items()]
        return snapshot

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> Integration:
        """The integration of a `snapshot`, its `!env` values read from this process's environment."""
        config = json.loads(json.dumps(snapshot["config"]))
        env = {tuple(loc): str(name) for loc, name in snapshot.get("env", [])}
        for loc, name in env.items():
            value = os.environ.get(name) if env_allowed(name) else None
            if value is None:
                raise ConfigInvalid(
                    f"the config reads {name} with !env (at {setting_path(loc)}), and it is not set here, or not "
                    "a variable meant for configs: set it in the environment of every Airflow component, the "
                    "workers as well as the DAG processor"
                )
            replace_at(config, loc, value)
        integration = cls.model_validate(config)
        integration._file = snapshot.get("file")
        integration._env = env
        if integration.version != snapshot["version"]:
            raise ConfigInvalid(
                f"integration {integration.name!r}: the config differs from the one this run started with (a !env "
                f"variable of {', '.join(sorted(env.values())) or 'none'} has another value here than where the DAG "
                "was parsed?); give every Airflow component the same environment"
            )
        return integration


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to complete and check integration YAML."""
    schema = Integration.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "inbound integration"
    return schema
