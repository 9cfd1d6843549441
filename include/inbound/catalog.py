"""The configs folder loaded: every integration that loads, and every problem of the rest.

Problems are reported the way astronomer's `blueprint` does it: the file, the line, the
offending YAML and a "did you mean" for near misses. A folder is loaded in file-name
order; a file that breaks a rule across files (duplicate name, attribute name taken,
attribute cap) is refused while the files before it still load, so one bad merge never
takes the working integrations down.

Values are data, never templates. The one way to take a value from the environment is
the explicit YAML tag `!env NAME` (or `!env [NAME, default]`), resolved at load time.
The model itself (what a file may say) is `inbound.config`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from inbound.config import Integration
from inbound.suggest import did_you_mean

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

DEFAULT_MAX_ATTRIBUTES = 100

Loc = tuple[int | str, ...]  # where in a config a pydantic error points: keys and list indexes


def config_dir() -> Path:
    """The configs folder: `INBOUND_CONFIG_DIR`, else `dags/integrations` of this project."""
    env = os.environ.get("INBOUND_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "dags" / "integrations"


def max_attributes() -> int:
    """The product's cap on attributes across all integrations (`INBOUND_MAX_ATTRIBUTES`)."""
    return int(os.environ.get("INBOUND_MAX_ATTRIBUTES", DEFAULT_MAX_ATTRIBUTES))


def config_files(directory: Path | str) -> list[Path]:
    """The folder's `.yaml`/`.yml` files in name order: the order they load and win in."""
    return sorted(p for p in Path(directory).iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in one config file, with everything needed to fix it."""

    file: str
    message: str
    line: int | None = None
    path: str = ""  # the setting, e.g. "attributes[0].type"
    context: str = ""  # the lines around `line`, the offending one marked with ">"

    def one_line(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        setting = f" {self.path}:" if self.path else ""
        return f"{where}:{setting} {self.message}"

    def __str__(self) -> str:
        text = self.one_line()
        return f"{text}\n{self.context}" if self.context else text


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


# -- YAML with `!env` -----------------------------------------------------------------
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    # libyaml's parser when PyYAML has it (4x faster: the DAG processor loads every config at
    # each parse), with the same nodes, marks and errors as the pure-Python one.
    _SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _Loader(_SafeLoader):
    """PyYAML's safe loader plus `!env`; nothing else is constructed from tags.

    A variable that is not set (and has no default) is recorded in `missing`, the first one
    only, so that the problem names it with its line rather than as a YAML error.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.missing: tuple[str, yaml.Node] | None = None


def _construct_env(loader: _Loader, node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        name, default = str(loader.construct_scalar(node)), None
    elif isinstance(node, yaml.SequenceNode) and len(node.value) == 2:
        name, default = (str(item) for item in loader.construct_sequence(node))
    else:
        raise yaml.constructor.ConstructorError(None, None, "!env takes NAME or [NAME, default]", node.start_mark)
    value = os.environ.get(name, default)
    if value is None:
        loader.missing = loader.missing or (name, node)
        return ""
    return value


_Loader.add_constructor("!env", _construct_env)


# -- pydantic errors -> file, line and a fix -------------------------------------------
def _context(lines: list[str], line: int | None) -> str:
    """The line and its neighbours, numbered, the line itself marked with ">"."""
    if not line:
        return ""
    out = []
    for n in range(max(1, line - 1), min(len(lines), line + 1) + 1):
        marker = ">" if n == line else " "
        out.append(f"  {marker} {n:4d} | {lines[n - 1]}")
    return "\n".join(out)


def _node_at(root: yaml.Node, loc: Loc) -> yaml.Node:
    """The YAML node a pydantic error location points at (or its nearest parent)."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = next((value for key, value in node.value if key.value == part), None)
            if found is None:
                return node
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _key_node(root: yaml.Node, loc: Loc) -> yaml.Node | None:
    """The node of the key itself (for an unknown key: its value may sit lines below)."""
    parent = _node_at(root, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        key: yaml.Node
        for key, _value in parent.value:
            if key.value == loc[-1]:
                return key
    return None


def _nested_model(annotation: object) -> type[BaseModel] | None:
    """The model a field holds (`Source`, `list[Attribute]`, `Alerts | None`, ...), if any."""
    if get_origin(annotation) is None and isinstance(annotation, type):
        return annotation if issubclass(annotation, BaseModel) else None
    return next((m for m in map(_nested_model, get_args(annotation)) if m is not None), None)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at `loc` (for "did you mean" on keys)."""
    model: type[BaseModel] | None = Integration
    for part in loc:
        if model is None:
            return None
        if isinstance(part, str):
            found = model.model_fields.get(part)
            model = _nested_model(found.annotation) if found else None
    return model


def _path(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _choices(expected: str) -> list[str]:
    """`'a', 'b' or 'c'` (pydantic's literal_error context) -> ["a", "b", "c"]."""
    return [choice for part in expected.replace("'", "").split(" or ") for choice in part.split(", ")]


def _explain(error: ErrorDetails) -> str:
    loc, kind = error["loc"], error["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = list(model.model_fields) if model else []
        hint = did_you_mean(str(loc[-1]), allowed, otherwise=f"; allowed keys: {', '.join(allowed)}")
        return f"unknown key {loc[-1]!r}{hint}"
    if kind == "literal_error":
        expected = _choices(error.get("ctx", {})["expected"])
        hint = did_you_mean(str(error["input"]), expected, cutoff=0.5)
        return f"{error['input']!r} is not one of {', '.join(expected)}{hint}"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    return error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _validation_problems(file: str, lines: list[str], root: yaml.Node, exc: ValidationError) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        # An unknown key points at the key; a missing one at the mapping that lacks it. Errors
        # from an `after` model validator carry the model's location, not a field's.
        if error["type"] == "extra_forbidden":
            node = _key_node(root, loc) or _node_at(root, loc)
        elif error["type"] == "missing":
            node = _node_at(root, loc[:-1])
        else:
            node = _node_at(root, loc)
        line = node.start_mark.line + 1
        problems.append(ConfigProblem(file, _explain(error), line, _path(loc), _context(lines, line)))
    return problems


# -- one file ------------------------------------------------------------------------
def _parse(file: str, text: str) -> tuple[yaml.Node, object] | ConfigProblem:
    """The YAML's root node (for line numbers) and its data, or why there is none."""
    lines = text.splitlines()
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return ConfigProblem(file, "the file is empty; see the config reference in README.md")
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        return ConfigProblem(file, f"invalid YAML: {problem}", line, context=_context(lines, line))
    finally:
        loader.dispose()
    if loader.missing is not None:
        name, node = loader.missing
        line = node.start_mark.line + 1
        return ConfigProblem(
            file,
            f"environment variable {name} is not set; set it, or give a default: !env [{name}, value]",
            line,
            context=_context(lines, line),
        )
    return root, data


def load_file(path: Path | str) -> tuple[Integration | None, list[ConfigProblem]]:
    """Parse and validate one config file; never raises for a bad file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigProblem(file, f"cannot read the file: {exc}")]
    parsed = _parse(file, text)
    if isinstance(parsed, ConfigProblem):
        return None, [parsed]
    root, data = parsed
    if not isinstance(data, dict):
        return None, [ConfigProblem(file, "the top level must be a mapping of keys (name:, schedule:, ...)", 1)]
    try:
        return Integration.from_file_data(data, file), []
    except ValidationError as exc:
        return None, _validation_problems(file, text.splitlines(), root, exc)


# -- the folder ----------------------------------------------------------------------
def load_folder(directory: Path | str | None = None, cap: int | None = None) -> Catalog:
    """Load every config of a folder in file-name order and apply the rules across files."""
    directory = Path(directory) if directory is not None else config_dir()
    cap = max_attributes() if cap is None else cap
    catalog = Catalog()
    if not directory.is_dir():
        catalog.errors.append(ConfigProblem(str(directory), "the configs folder does not exist (INBOUND_CONFIG_DIR)"))
        return catalog
    owners: dict[str, str] = {}  # attribute name -> integration name
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
        owners.update({a.attribute: integration.name for a in integration.attributes})
    return catalog


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

    def __init__(self, integration: Integration) -> None:
        self.file = integration.file or "?"
        self.lines = Path(self.file).read_text(encoding="utf-8").splitlines() if integration.file else []

    def problem(self, message: str, pattern: str, path: str) -> ConfigProblem:
        """A problem at the first line that matches `pattern` (the file itself when none does)."""
        line = next((n for n, text in enumerate(self.lines, 1) if re.search(pattern, text)), None)
        return ConfigProblem(self.file, message, line, path, _context(self.lines, line))


def _cross_file_problem(
    integration: Integration, catalog: Catalog, owners: dict[str, str], cap: int
) -> ConfigProblem | None:
    """The first rule across files this integration breaks, given those loaded before it."""
    source = _Source(integration)
    earlier = catalog.integrations.get(integration.name)
    if earlier is not None:
        message = f"name {integration.name!r} is already used by {earlier.file}; names must be unique"
        return source.problem(message, r"^name\s*:", "name")
    for i, attribute in enumerate(integration.attributes):
        owner = owners.get(attribute.attribute)
        if owner is not None:
            message = (
                f"attribute name {attribute.attribute!r} is already used by integration {owner!r} "
                f"({catalog.integrations[owner].file}); attribute names are one namespace, rename it with `name:`"
            )
            pattern = rf"(name|column)\s*:\s*['\"]?{re.escape(attribute.attribute)}['\"]?\s*$"
            return source.problem(message, pattern, f"attributes[{i}]")
    total = catalog.attribute_count + len(integration.attributes)
    if total > cap:
        counts = _attribute_counts([*catalog.integrations.values(), integration])
        message = (
            f"at most {cap} attributes in total across all integrations; this file's "
            f"{len(integration.attributes)} would make {total} ({', '.join(counts)}). "
            "Drop attributes nobody targets with (less is more)"
        )
        return source.problem(message, r"^attributes\s*:", "attributes")
    return None


def _attribute_counts(integrations: Iterable[Integration]) -> list[str]:
    """`crm.yaml: 12` per integration, for the attribute cap's message."""
    return [f"{Path(i.file or '?').name}: {len(i.attributes)}" for i in integrations]
