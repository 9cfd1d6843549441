"""The configs folder loaded: every integration that loads, and every problem of the rest.

Problems are reported the way astronomer's `blueprint` does it: the file, the line, the
offending YAML and a "did you mean" for near misses. A folder is loaded in file-name
order; a file that breaks a rule across files (duplicate name, attribute name taken,
attribute cap) is refused while the files before it still load, so one bad merge never
takes the working integrations down.

The model itself (what a file may say) is `inbound.config.model`; reading a file's YAML (`!env`,
the size bounds) is `inbound.config.yaml_file`; a problem's file and line is `inbound.config.problems`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from pydantic import ValidationError

from inbound.config.model import Integration
from inbound.config.problems import ConfigProblem, line_context, validation_problems
from inbound.config.yaml_file import max_yaml_bytes, parse_yaml
from inbound.settings import staging_url

DEFAULT_MAX_ATTRIBUTES = 100


def config_dir() -> Path:
    """The configs folder: `INBOUND_CONFIG_DIR`, else `dags/integrations` of this project."""
    env = os.environ.get("INBOUND_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "dags" / "integrations"


def max_attributes() -> int:
    """The product's cap on attributes across all integrations (`INBOUND_MAX_ATTRIBUTES`)."""
    return int(os.environ.get("INBOUND_MAX_ATTRIBUTES", DEFAULT_MAX_ATTRIBUTES))


def config_files(directory: Path | str) -> list[Path]:
    """The folder's `.yaml`/`.yml` files in name order: the order they load and win in."""
    return sorted(p for p in Path(directory).iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


@dataclass
class Catalog:
    """Every integration of a folder that loaded, and every problem of the rest."""

    integrations: dict[str, Integration] = field(default_factory=dict)
    errors: list[ConfigProblem] = field(default_factory=list)

    @property
    def attribute_count(self) -> int:
        return sum(len(i.attributes) for i in self.integrations.values())

    @property
    def declared_types(self) -> dict[str, str]:
        """Attribute name -> declared type across all integrations (one namespace): how values are read back."""
        return {name: kind for i in self.integrations.values() for name, kind in i.attribute_types.items()}

    @property
    def owners(self) -> dict[str, str]:
        """Attribute name -> the integration declaring it: only that integration's table answers for it."""
        return {a.attribute: i.name for i in self.integrations.values() for a in i.attributes}


def load_file(path: Path | str) -> tuple[Integration | None, list[ConfigProblem]]:
    """Parse and validate one config file; never raises for a bad file."""
    file = str(path)
    limit = max_yaml_bytes()
    try:
        with open(path, "rb") as stream:
            raw = stream.read(limit + 1)
    except OSError as exc:
        return None, [ConfigProblem(file, f"cannot read the file: {exc.strerror or exc}")]
    if len(raw) > limit:
        message = (
            f"the file is larger than {limit} bytes, the most a config may be (INBOUND_YAML_MAX_BYTES); "
            "a config is a few kB: is this the right file?"
        )
        return None, [ConfigProblem(file, message)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [ConfigProblem(file, f"cannot read the file: not UTF-8 (byte {exc.start + 1})", line)]
    return load_text(file, text)


def load_text(file: str, text: str) -> tuple[Integration | None, list[ConfigProblem]]:
    """Parse and validate one config's text (`file`: the name its problems carry); never raises."""
    if len(text.encode()) > max_yaml_bytes():
        return None, [
            ConfigProblem(file, f"the config is larger than {max_yaml_bytes()} bytes (INBOUND_YAML_MAX_BYTES)")
        ]
    parsed = parse_yaml(file, text)
    if isinstance(parsed, ConfigProblem):
        return None, [parsed]
    root, data, env = parsed
    if not isinstance(data, dict):
        return None, [ConfigProblem(file, "the top level must be a mapping of keys (name:, schedule:, ...)", 1)]
    try:
        return Integration.from_file_data(data, file, env), []
    except ValidationError as exc:
        return None, validation_problems(file, text.splitlines(), root, exc)


# -- the folder ----------------------------------------------------------------------
def load_folder(directory: Path | str | None = None, cap: int | None = None) -> Catalog:
    """Load every config of a folder in file-name order and apply the rules across files."""
    directory = Path(directory) if directory is not None else config_dir()
    cap = max_attributes() if cap is None else cap
    catalog = Catalog()
    if not directory.is_dir():
        catalog.errors.append(ConfigProblem(str(directory), "the configs folder does not exist (INBOUND_CONFIG_DIR)"))
        return catalog
    owners: dict[str, str] = {}  # attribute name in lower case (the store's columns ignore case) -> integration
    for path in config_files(directory):
        integration, problems = load_file(path)
        if integration is None:
            catalog.errors.extend(problems)
            continue
        problem = _cross_file_problem(integration, catalog, owners, cap)
        if problem:
            catalog.errors.append(problem)
            continue
        catalog.integrations[integration.name] = integration
        owners.update({a.attribute.lower(): integration.name for a in integration.attributes})
    return catalog


def check_new(
    text: str, catalog: Catalog, file: str, cap: int | None = None, hidden: Collection[str] = frozenset()
) -> tuple[Integration | None, list[ConfigProblem]]:
    """A new config, as if added to `catalog`'s folder as `file`: its own problems and the rules across files.

    The rules hold across every config, also those the asker may not read (`hidden`, by name):
    a problem with one of those says that a name or attribute is taken, never by whom, its
    file or its spelling, and the attribute cap counts them as one "other integrations: N".
    """
    integration, problems = load_text(file, text)
    if integration is None:
        return None, problems
    owners = {a.attribute.lower(): i.name for i in catalog.integrations.values() for a in i.attributes}
    cap = max_attributes() if cap is None else cap
    problem = _cross_file_problem(integration, catalog, owners, cap, text, frozenset(hidden))
    return (None, [problem]) if problem else (integration, [])


_CATALOG_CACHE: dict[tuple[object, ...], Catalog] = {}
_CATALOG_LOCK = threading.Lock()


def _signature(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def current_catalog(directory: Path | str | None = None) -> Catalog:
    """`load_folder`, reused while nothing it depends on changed: the one catalog cache.

    Long-lived processes ask often (the triggerer at each look, the API at each request);
    parsing 500 configs takes seconds, listing them a millisecond. The key is the folder,
    the cap, every config file's name, size, modification and change time and inode (a copy
    that keeps the modification time, `rsync -a` or `cp -p`, still changes the change time
    or the inode), and the environment (a config may read variables with `!env`). Threads
    asking at once load only once.
    """
    directory = Path(directory) if directory is not None else config_dir()
    try:
        with os.scandir(directory) as entries:
            files = sorted(
                (e.name, *_signature(e.stat())) for e in entries if e.name.endswith((".yaml", ".yml")) and e.is_file()
            )
    except OSError:
        return load_folder(directory)
    key = (str(directory), max_attributes(), tuple(files), tuple(sorted(os.environ.items())))
    with _CATALOG_LOCK:
        catalog = _CATALOG_CACHE.get(key)
        if catalog is None:
            catalog = load_folder(directory)
            _CATALOG_CACHE.clear()
            _CATALOG_CACHE[key] = catalog
        return catalog


# -- rules across files --------------------------------------------------------------
class _Source:
    """A loaded integration's file text, to point a cross-file problem at a line."""

    def __init__(self, integration: Integration, text: str | None = None) -> None:
        self.file = integration.file or "?"
        if text is None:
            text = Path(self.file).read_text(encoding="utf-8") if integration.file else ""
        self.lines = text.splitlines()

    def problem(self, message: str, pattern: str, path: str) -> ConfigProblem:
        """A problem at the first line that matches `pattern` (the file itself when none does)."""
        line = next((n for n, text in enumerate(self.lines, 1) if re.search(pattern, text)), None)
        return ConfigProblem(self.file, message, line, path, line_context(self.lines, line))


def _cross_file_problem(
    integration: Integration,
    catalog: Catalog,
    owners: dict[str, str],
    cap: int,
    text: str | None = None,
    hidden: frozenset[str] = frozenset(),
) -> ConfigProblem | None:
    """The first rule across files this integration breaks, given those loaded before it (`text`: its file's).

    `hidden`: integrations the asker may not read, never named in a message (`check_new`).
    """
    source = _Source(integration, text)
    earlier = catalog.integrations.get(integration.name)
    if earlier is not None:
        by = "another integration's config" if earlier.name in hidden else earlier.file
        message = f"name {integration.name!r} is already used by {by}; names must be unique, pick another"
        return source.problem(message, r"^name\s*:", "name")
    for i, attribute in enumerate(integration.attributes):
        owner = owners.get(attribute.attribute.lower())
        if owner is not None and owner in hidden:
            message = (
                f"attribute name {attribute.attribute!r} is already used by another integration (compared "
                "without case, which the store's columns ignore); attribute names are one namespace, "
                "rename it with `name:`"
            )
            pattern = rf"(name|column)\s*:\s*['\"]?{re.escape(attribute.attribute)}['\"]?\s*$"
            return source.problem(message, pattern, f"attributes[{i}]")
        if owner is not None:
            taken = next(
                a.attribute
                for a in catalog.integrations[owner].attributes
                if a.attribute.lower() == attribute.attribute.lower()
            )
            how = (
                ""
                if taken == attribute.attribute
                else f" as {taken!r} (the names differ only by case, which the store's columns ignore)"
            )
            message = (
                f"attribute name {attribute.attribute!r} is already used by integration {owner!r}{how} "
                f"({catalog.integrations[owner].file}); attribute names are one namespace, rename it with `name:`"
            )
            pattern = rf"(name|column)\s*:\s*['\"]?{re.escape(attribute.attribute)}['\"]?\s*$"
            return source.problem(message, pattern, f"attributes[{i}]")
    staged_here = _staging_in_source(integration)
    if staged_here:
        return source.problem(staged_here, r"^\s*key\s*:", "source.key")
    total = catalog.attribute_count + len(integration.attributes)
    if total > cap:
        counts = _attribute_counts([*catalog.integrations.values(), integration], hidden)
        message = (
            f"at most {cap} attributes in total across all integrations; this file's "
            f"{len(integration.attributes)} would make {total} ({', '.join(counts)}). "
            "Drop attributes nobody targets with (less is more)"
        )
        return source.problem(message, r"^attributes\s*:", "attributes")
    return None


def _staging_in_source(integration: Integration) -> str | None:
    """Staged sets under a source folder would look like exports (and fire bucket notifications)."""
    staging = urlparse(staging_url())
    if staging.scheme != "s3" or staging.netloc != integration.source.bucket:
        return None
    key = integration.source.key
    folder = key[: min((key.find(c) for c in "*?[" if c in key), default=len(key))].rpartition("/")[0]
    prefix = staging.path.strip("/")
    if folder and not f"{prefix}/".startswith(f"{folder}/"):
        return None
    return (
        f"INBOUND_STAGING_URL {staging.geturl()} lies in this integration's source folder "
        f"s3://{integration.source.bucket}/{folder}: staged sets would look like exports; stage in another "
        "bucket or a prefix outside every source folder"
    )


def _attribute_counts(integrations: Iterable[Integration], hidden: frozenset[str] = frozenset()) -> list[str]:
    """`crm.yaml: 12` per integration, for the attribute cap's message; those `hidden` as one
    "other integrations: N" (the asker may not read them: no name, no file, no count of each)."""
    shown, others = [], None
    for i in integrations:
        if i.name in hidden:
            others = (others or 0) + len(i.attributes)
        else:
            shown.append(f"{Path(i.file or '?').name}: {len(i.attributes)}")
    return shown if others is None else [*shown, f"other integrations: {others}"]
