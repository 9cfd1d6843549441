"""The integration config: one YAML file per integration, validated by pydantic.

Errors are reported the way astronomer's `blueprint` does it: the file, the line, the
offending YAML and a "did you mean" for near misses. A folder is loaded in file-name
order; a file that breaks a rule across files (duplicate name, attribute name taken,
attribute cap) is refused while the files before it still load, so one bad merge never
takes the working integrations down.

Values are data, never templates. The one way to take a value from the environment is
the explicit YAML tag `!env NAME` (or `!env [NAME, default]`), resolved at load time.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_MAX_ATTRIBUTES = 100
ATTRIBUTE_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp")
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


def config_dir() -> Path:
    """The configs folder: `INBOUND_CONFIG_DIR`, else `dags/integrations` of this project."""
    env = os.environ.get("INBOUND_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "dags" / "integrations"


def max_attributes() -> int:
    """The product's cap on attributes across all integrations (`INBOUND_MAX_ATTRIBUTES`)."""
    return int(os.environ.get("INBOUND_MAX_ATTRIBUTES", DEFAULT_MAX_ATTRIBUTES))


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
        if value.startswith("/") or value.startswith("s3://"):
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
        import codecs

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
    from pydantic import TypeAdapter

    try:
        if not value.upper().startswith("P"):
            raise ValueError
        duration = TypeAdapter(timedelta).validate_python(value)
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
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(zoneinfo.available_timezones()), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; use an IANA name such as Europe/Berlin"
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
        close = difflib.get_close_matches(schedule, list(SCHEDULE_PRESETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown schedule preset {schedule!r}{hint}")
    if schedule.upper().startswith("P"):
        from pydantic import TypeAdapter

        try:
            delta = TypeAdapter(timedelta).validate_python(schedule)
        except ValidationError:
            raise ValueError(f"{schedule!r} is not an ISO-8601 duration such as PT30M or P1D") from None
        if delta < timedelta(minutes=1):
            raise ValueError("the schedule interval must be at least one minute")
        return delta
    from croniter import croniter

    if not croniter.is_valid(schedule) or len(schedule.split()) != 5:
        raise ValueError(
            f"{schedule!r} is not a preset (@hourly, @daily, ...), a five-field cron "
            "expression such as '*/15 * * * *', or an ISO-8601 duration such as PT30M"
        )
    from datetime import datetime

    itr = croniter(schedule, datetime(2026, 1, 1, tzinfo=UTC))
    first = itr.get_next(datetime)
    return itr.get_next(datetime) - first


# --------------------------------------------------------------------------- loading


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader plus `!env`; nothing else is constructed from tags.

    libyaml's parser when PyYAML has it (4x faster: the DAG processor loads every config
    at each parse), with the same nodes, marks and errors as the pure-Python one.
    """


class _EnvMissing(Exception):
    def __init__(self, name: str, node: yaml.Node):
        self.name, self.node = name, node


def _construct_env(loader: _Loader, node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        name, default = loader.construct_scalar(node), None
    else:
        items = loader.construct_sequence(node)
        if len(items) != 2:
            raise yaml.constructor.ConstructorError(None, None, "!env takes NAME or [NAME, default]", node.start_mark)
        name, default = str(items[0]), str(items[1])
    value = os.environ.get(str(name), default)
    if value is None:
        raise _EnvMissing(str(name), node)
    return value


_Loader.add_constructor("!env", _construct_env)


@dataclass(frozen=True)
class ConfigError:
    """One problem in one config file, with everything needed to fix it."""

    file: str
    message: str
    line: int | None = None
    path: str = ""
    context: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field_part = f" {self.path}:" if self.path else ""
        text = f"{where}:{field_part} {self.message}"
        return f"{text}\n{self.context}" if self.context else text

    def one_line(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field_part = f" {self.path}:" if self.path else ""
        return f"{where}:{field_part} {self.message}"


@dataclass
class Catalog:
    """Every integration of a folder that loaded, and every problem of the rest."""

    integrations: dict[str, Integration] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)

    @property
    def attribute_count(self) -> int:
        return sum(len(i.attributes) for i in self.integrations.values())


def _context(lines: list[str], line: int | None) -> str:
    if not line:
        return ""
    out = []
    for n in range(max(1, line - 1), min(len(lines), line + 1) + 1):
        marker = ">" if n == line else " "
        out.append(f"  {marker} {n:4d} | {lines[n - 1]}")
    return "\n".join(out)


def _node_at(root: yaml.Node, loc: tuple[Any, ...]) -> tuple[yaml.Node, bool]:
    """The YAML node a pydantic error location points at (or its nearest parent)."""
    node, exact = root, True
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    node = value_node
                    break
            else:
                return node, False
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node, False
    return node, exact


def _key_node(root: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node | None:
    parent, _ = _node_at(root, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key_node, _value in parent.value:
            if key_node.value == loc[-1]:
                return key_node
    return None


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at `loc` (for "did you mean" on keys)."""
    model: type[BaseModel] | None = Integration
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        nested = None
        for candidate in (Source, Format, UserId, Attribute):
            if annotation is candidate or candidate.__name__ in str(annotation):
                nested = candidate
        model = nested
    return model


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _explain(error: dict[str, Any]) -> str:
    loc = tuple(p for p in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(allowed)}"
        return f"unknown key {loc[-1]!r}{hint}"
    if kind == "literal_error":
        expected = list(error["ctx"]["expected"].replace("'", "").split(" or "))
        expected = [e for part in expected for e in part.split(", ")]
        close = difflib.get_close_matches(str(error["input"]), expected, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{error['input']!r} is not one of {', '.join(expected)}{hint}"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _validation_errors(file: str, text: str, root: yaml.Node, exc: ValidationError) -> list[ConfigError]:
    lines = text.splitlines()
    errors = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        # Errors from an `after` model validator carry the model's location, not a field's.
        if error["type"] == "extra_forbidden":
            node = _key_node(root, loc) or _node_at(root, loc)[0]
        elif error["type"] == "missing":
            node = _node_at(root, loc[:-1])[0]
        else:
            node = _node_at(root, loc)[0]
        line = node.start_mark.line + 1
        errors.append(ConfigError(file, _explain(error), line, _path(loc), _context(lines, line)))
    return errors


def load_file(path: Path | str) -> tuple[Integration | None, list[ConfigError]]:
    """Parse and validate one config file; never raises for a bad file."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigError(file, f"cannot read the file: {exc}")]
    lines = text.splitlines()
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, [ConfigError(file, "the file is empty; see the config reference in README.md")]
        data = loader.construct_document(root)
    except _EnvMissing as exc:
        line = exc.node.start_mark.line + 1
        return None, [
            ConfigError(
                file,
                f"environment variable {exc.name} is not set; set it, or give a default: !env [{exc.name}, value]",
                line,
                context=_context(lines, line),
            )
        ]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [ConfigError(file, f"invalid YAML: {problem}", line, context=_context(lines, line))]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return None, [ConfigError(file, "the top level must be a mapping of keys (name:, schedule:, ...)", 1)]
    try:
        integration = Integration.model_validate(data)
    except ValidationError as exc:
        return None, _validation_errors(file, text, root, exc)
    integration._file = file
    return integration, []


def config_files(directory: Path | str) -> list[Path]:
    directory = Path(directory)
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


_CATALOG_CACHE: dict[tuple[Any, ...], Catalog] = {}


def current_catalog(directory: Path | str | None = None) -> Catalog:
    """`load_folder`, reused while no config file changed (long-lived processes: the triggerer).

    The key is every config file's name, size and modification time, plus the cap; a
    changed, added or removed file loads the folder again.
    """
    directory = Path(directory) if directory is not None else config_dir()
    try:
        with os.scandir(directory) as entries:
            signature = tuple(
                sorted(
                    (e.name, e.stat().st_mtime_ns, e.stat().st_size)
                    for e in entries
                    if e.name.endswith((".yaml", ".yml")) and e.is_file()
                )
            )
    except OSError:
        return load_folder(directory)
    key = (str(directory), max_attributes(), signature)
    catalog = _CATALOG_CACHE.get(key)
    if catalog is None:
        catalog = load_folder(directory)
        _CATALOG_CACHE.clear()
        _CATALOG_CACHE[key] = catalog
    return catalog


def load_folder(directory: Path | str | None = None, cap: int | None = None) -> Catalog:
    """Load every config of a folder in file-name order and apply the rules across files."""
    directory = Path(directory) if directory is not None else config_dir()
    cap = max_attributes() if cap is None else cap
    catalog = Catalog()
    if not directory.is_dir():
        catalog.errors.append(ConfigError(str(directory), "the configs folder does not exist (INBOUND_CONFIG_DIR)"))
        return catalog
    owners: dict[str, str] = {}  # attribute name -> integration name
    for path in config_files(directory):
        integration, errors = load_file(path)
        if integration is None:
            catalog.errors.extend(errors)
            continue
        problem = _cross_file_problem(integration, catalog, owners, cap)
        if problem:
            catalog.errors.append(problem)
            continue
        catalog.integrations[integration.name] = integration
        owners.update({a.attribute: integration.name for a in integration.attributes})
    return catalog


def _cross_file_problem(
    integration: Integration, catalog: Catalog, owners: dict[str, str], cap: int
) -> ConfigError | None:
    file = integration.file or "?"
    text = Path(file).read_text(encoding="utf-8") if integration.file else ""
    lines = text.splitlines()

    def line_of(pattern: str) -> int | None:
        for n, line in enumerate(lines, 1):
            if re.search(pattern, line):
                return n
        return None

    earlier = catalog.integrations.get(integration.name)
    if earlier is not None:
        line = line_of(r"^name\s*:")
        return ConfigError(
            file,
            f"name {integration.name!r} is already used by {earlier.file}; names must be unique",
            line,
            "name",
            _context(lines, line),
        )
    for i, attribute in enumerate(integration.attributes):
        owner = owners.get(attribute.attribute)
        if owner is not None:
            line = line_of(rf"(name|column)\s*:\s*['\"]?{re.escape(attribute.attribute)}['\"]?\s*$")
            return ConfigError(
                file,
                f"attribute name {attribute.attribute!r} is already used by integration {owner!r} "
                f"({catalog.integrations[owner].file}); attribute names are one namespace, "
                "rename it with `name:`",
                line,
                f"attributes[{i}]",
                _context(lines, line),
            )
    total = catalog.attribute_count + len(integration.attributes)
    if total > cap:
        counted = ", ".join(f"{Path(i.file or '?').name}: {len(i.attributes)}" for i in catalog.integrations.values())
        line = line_of(r"^attributes\s*:")
        return ConfigError(
            file,
            f"at most {cap} attributes in total across all integrations; this file's "
            f"{len(integration.attributes)} would make {total} ({counted}"
            f"{', ' if counted else ''}{Path(file).name}: {len(integration.attributes)}). "
            "Drop attributes nobody targets with (less is more)",
            line,
            "attributes",
            _context(lines, line),
        )
    return None


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to complete and check integration YAML."""
    schema = Integration.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "inbound integration"
    return schema
