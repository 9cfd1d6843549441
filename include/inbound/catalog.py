"""The configs folder loaded: every integration that loads, and every problem of the rest.

Problems are reported the way astronomer's `blueprint` does it: the file, the line, the
offending YAML and a "did you mean" for near misses. A folder is loaded in file-name
order; a file that breaks a rule across files (duplicate name, attribute name taken,
attribute cap) is refused while the files before it still load, so one bad merge never
takes the working integrations down.

Values are data, never templates. The one way to take a value from the environment is
the explicit YAML tag `!env NAME` (or `!env [NAME, default]`), resolved at load time, and
only for variables meant for configs (`env_allowed`): the scheduler's environment also
holds the database URL, the API's secret and the AWS keys, which a config must not read.

A config is small; its loader is bounded so that no file can stall the DAG processor,
the API or `inbound validate`: at most `INBOUND_YAML_MAX_BYTES` bytes, at most
`INBOUND_YAML_MAX_NODES` values with every alias expanded (a "billion laughs" file is
refused as composed, before anything expands it), nesting at most
`INBOUND_YAML_MAX_DEPTH` deep. A message never echoes more than a short prefix of an input.

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

from inbound.config import Integration, Loc, echo, setting_path
from inbound.suggest import did_you_mean

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

DEFAULT_MAX_ATTRIBUTES = 100
# A config is a few kB (100 attributes: ~10 kB, ~700 values, 4 levels deep). The limits leave
# room for ten times that and bound what one file can cost: ~0.1 s and a few MB.
DEFAULT_MAX_YAML_BYTES = 256 * 1024
DEFAULT_MAX_YAML_NODES = 20_000
DEFAULT_MAX_YAML_DEPTH = 16

ENV_PREFIX = "INBOUND_CONFIG_"  # variables meant for configs: `!env INBOUND_CONFIG_<NAME>`
# inbound's own settings under that prefix: never a config's value
_OWN_SETTINGS = frozenset({"INBOUND_CONFIG_DIR"})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def config_dir() -> Path:
    """The configs folder: `INBOUND_CONFIG_DIR`, else `dags/integrations` of this project."""
    env = os.environ.get("INBOUND_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "dags" / "integrations"


def max_attributes() -> int:
    """The product's cap on attributes across all integrations (`INBOUND_MAX_ATTRIBUTES`)."""
    return int(os.environ.get("INBOUND_MAX_ATTRIBUTES", DEFAULT_MAX_ATTRIBUTES))


def _positive_setting(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ValueError(f"{name}={echo(value)} is not a positive whole number")
    return number


def max_yaml_bytes() -> int:
    """`INBOUND_YAML_MAX_BYTES` (default 256 KiB): the largest config file that is read."""
    return _positive_setting("INBOUND_YAML_MAX_BYTES", DEFAULT_MAX_YAML_BYTES)


def max_yaml_nodes() -> int:
    """`INBOUND_YAML_MAX_NODES` (default 20,000): most values (keys, items, scalars) with aliases expanded."""
    return _positive_setting("INBOUND_YAML_MAX_NODES", DEFAULT_MAX_YAML_NODES)


def max_yaml_depth() -> int:
    """`INBOUND_YAML_MAX_DEPTH` (default 16): the deepest nesting of mappings and lists."""
    return _positive_setting("INBOUND_YAML_MAX_DEPTH", DEFAULT_MAX_YAML_DEPTH)


def env_allowlist() -> frozenset[str]:
    """`INBOUND_ENV_ALLOWLIST`: comma-separated names of further variables configs may read."""
    return frozenset(n.strip() for n in os.environ.get("INBOUND_ENV_ALLOWLIST", "").split(",") if n.strip())


def env_allowed(name: str) -> bool:
    """Whether a config may read the variable `name` with `!env`.

    Names starting with `INBOUND_CONFIG_` (except inbound's own `INBOUND_CONFIG_DIR`) and
    the names listed in `INBOUND_ENV_ALLOWLIST`; nothing else, whatever it holds.
    """
    if name in env_allowlist():
        return True
    return name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX) and name not in _OWN_SETTINGS


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

    @property
    def owners(self) -> dict[str, str]:
        """Attribute name -> the integration declaring it: only that integration's table answers for it."""
        return {a.attribute: i.name for i in self.integrations.values() for a in i.attributes}


# -- YAML with `!env` -----------------------------------------------------------------
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    # libyaml's parser when PyYAML has it (4x faster: the DAG processor loads every config at
    # each parse), with the same nodes, marks and errors as the pure-Python one.
    _SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _Loader(_SafeLoader):
    """PyYAML's safe loader plus `!env`; nothing else is constructed from tags.

    The first `!env` problem (a variable not set and without default, or one a config may
    not read) is recorded in `env_problem` with its node, so that the problem names it with
    its line rather than as a YAML error. `env_nodes`: the nodes that took a variable's value.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.env_problem: tuple[str, yaml.Node] | None = None
        self.env_nodes: dict[int, str] = {}  # id(node) -> variable name


def _env_refusal(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        return f"!env {echo(name)}: that is not a variable name (letters, digits, '_')"
    if name in _OWN_SETTINGS:
        return (
            f"!env {name}: that is a setting of inbound itself, not a value for configs; a config reads only "
            f"variables named {ENV_PREFIX}... or listed in INBOUND_ENV_ALLOWLIST"
        )
    return (
        f"!env {name}: a config reads only variables meant for configs, named {ENV_PREFIX}... or listed "
        f"in INBOUND_ENV_ALLOWLIST (comma-separated names). If {name} is meant for configs (never a secret: "
        f"a config's values are shown), add {name} to INBOUND_ENV_ALLOWLIST in the environment of every "
        f"Airflow component, or name it {ENV_PREFIX}..."
    )


def _construct_env(loader: _Loader, node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        name, default = str(loader.construct_scalar(node)), None
    elif (
        isinstance(node, yaml.SequenceNode)
        and len(node.value) == 2
        and all(isinstance(item, yaml.ScalarNode) for item in node.value)
    ):
        name, default = (str(item) for item in loader.construct_sequence(node))
    else:
        raise yaml.constructor.ConstructorError(None, None, "!env takes NAME or [NAME, default]", node.start_mark)
    if not (_ENV_NAME.fullmatch(name) and env_allowed(name)):
        # never looked up: its value must not reach a config, a message or a page
        loader.env_problem = loader.env_problem or (_env_refusal(name), node)
        return ""
    value = os.environ.get(name, default)
    if value is None:
        message = f"environment variable {name} is not set; set it, or give a default: !env [{name}, value]"
        loader.env_problem = loader.env_problem or (message, node)
        return ""
    loader.env_nodes[id(node)] = name
    return value


_Loader.add_constructor("!env", _construct_env)


# -- pydantic errors -> file, line and a fix -------------------------------------------
_CONTEXT_WIDTH = 160  # characters of a line a problem shows


def _context(lines: list[str], line: int | None) -> str:
    """The line and its neighbours, numbered, the line itself marked with ">" (long lines cut)."""
    if not line:
        return ""
    out = []
    for n in range(max(1, line - 1), min(len(lines), line + 1) + 1):
        marker = ">" if n == line else " "
        text = lines[n - 1]
        text = text if len(text) <= _CONTEXT_WIDTH else f"{text[:_CONTEXT_WIDTH]} ... ({len(text)} characters)"
        out.append(f"  {marker} {n:4d} | {text}")
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


def _choices(expected: str) -> list[str]:
    """`'a', 'b' or 'c'` (pydantic's literal_error context) -> ["a", "b", "c"]."""
    return [choice for part in expected.replace("'", "").split(" or ") for choice in part.split(", ")]


def _explain(error: ErrorDetails) -> str:
    loc, kind = error["loc"], error["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = list(model.model_fields) if model else []
        otherwise = f"; allowed keys: {', '.join(allowed)}"
        key = loc[-1]
        hint = did_you_mean(key, allowed, otherwise=otherwise) if isinstance(key, str) and len(key) <= 64 else otherwise
        return f"unknown key {echo(key)}{hint}"
    if kind == "literal_error":
        expected = _choices(error.get("ctx", {})["expected"])
        given = error["input"]
        hint = did_you_mean(given, expected, cutoff=0.5) if isinstance(given, str) and len(given) <= 64 else ""
        return f"{echo(given)} is not one of {', '.join(expected)}{hint}"
    if kind == "missing":
        return f"required key {echo(loc[-1])} is missing"
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message if len(message) <= 500 else f"{message[:500]} ..."


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
        problems.append(ConfigProblem(file, _explain(error), line, setting_path(loc), _context(lines, line)))
    return problems


# -- one file ------------------------------------------------------------------------
class _Size:
    """Measures a composed YAML: nesting depth, and values with every alias expanded.

    An alias is the very node its anchor names, so a "billion laughs" file composes into a
    few dozen nodes; each node's expanded size is worked out once (memoized), so measuring
    never expands anything. `problem` is why the YAML is too big, with the node it went
    over at (the mapping or list that holds it).
    """

    def __init__(self, max_nodes: int, max_depth: int) -> None:
        self.max_nodes, self.max_depth = max_nodes, max_depth
        self.sizes: dict[int, int] = {}  # id(node) -> its expanded size, once complete
        self.open: set[int] = set()  # the nodes being measured (an alias to one: recursion)
        self.total = 0
        self.problem: tuple[str, yaml.Node] | None = None

    def measure(self, node: yaml.Node, parent: yaml.Node, depth: int = 0) -> int:
        """The expanded size of `node`, adding it to the total; 0 once a problem was found."""
        if self.problem is not None:
            return 0
        known = self.sizes.get(id(node))
        if known is not None:  # a second use of the node: an alias
            self._count(known, parent)
            return known
        if id(node) in self.open:
            self.problem = (
                "an alias (*name) is used inside its own anchor (&name): a value that contains itself; "
                "a config cannot be recursive",
                parent,
            )
            return 0
        if not isinstance(node, yaml.CollectionNode):
            self.sizes[id(node)] = 1
            self._count(1, parent)
            return 1
        if depth >= self.max_depth:
            self.problem = (
                f"the YAML nests deeper than {self.max_depth} levels, the most a config may "
                "(INBOUND_YAML_MAX_DEPTH); a config is a few levels of keys and lists",
                node,
            )
            return 0
        self.open.add(id(node))
        self._count(1, node)
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        size = 1 + sum(self.measure(child, node, depth + 1) for child in children)
        self.open.discard(id(node))
        self.sizes[id(node)] = size
        return size

    def _count(self, size: int, where: yaml.Node) -> None:
        self.total += size
        if self.total > self.max_nodes and self.problem is None:
            self.problem = (
                f"the YAML has more than {self.max_nodes} values once its aliases (*name) are expanded, the most "
                "a config may have (INBOUND_YAML_MAX_NODES); write the values out, or use fewer aliases",
                where,
            )


def _bounds(file: str, root: yaml.Node, lines: list[str], size: _Size) -> ConfigProblem | None:
    """Why the composed YAML is too big to construct and validate, or None."""
    size.measure(root, root)
    if size.problem is None:
        return None
    message, node = size.problem
    line = node.start_mark.line + 1
    return ConfigProblem(file, message, line, context=_context(lines, line))


def _yaml_problem(file: str, lines: list[str], exc: yaml.YAMLError) -> ConfigProblem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else None
    problem = str(getattr(exc, "problem", None) or exc)
    problem = problem if len(problem) <= 200 else f"{problem[:200]} ..."
    return ConfigProblem(file, f"invalid YAML: {problem}", line, context=_context(lines, line))


def _env_locations(root: yaml.Node, env_nodes: dict[int, str]) -> dict[Loc, str] | yaml.Node:
    """Where each value from `!env` sits (location -> variable), or the node of an `!env` used as a key."""
    found: dict[Loc, str] = {}

    def walk(node: yaml.Node, loc: Loc) -> yaml.Node | None:
        bad: yaml.Node | None
        if id(node) in env_nodes:
            found[loc] = env_nodes[id(node)]
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                if (bad := walk(item, (*loc, i))) is not None:
                    return bad
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if id(key) in env_nodes:
                    return key  # type: ignore[no-any-return]  # stubs: a mapping node's value is Any
                if (bad := walk(value, (*loc, key.value if isinstance(key, yaml.ScalarNode) else "?"))) is not None:
                    return bad
        return None

    bad = walk(root, ())
    return bad if bad is not None else found


def _parse(file: str, text: str) -> tuple[yaml.Node, object, dict[Loc, str]] | ConfigProblem:
    """The YAML's root node (for line numbers), its data and where `!env` values sit, or why there is none."""
    lines = text.splitlines()
    size = _Size(max_yaml_nodes(), max_yaml_depth())  # a bad setting raises: it is no file's fault
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return ConfigProblem(file, "the file is empty; see the config reference in README.md")
        too_big = _bounds(file, root, lines, size)
        if too_big is not None:
            return too_big
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        return _yaml_problem(file, lines, exc)
    except RecursionError:  # PyYAML's pure-Python composer on deep nesting (libyaml stops at 1000 levels)
        message = f"invalid YAML: it nests deeper than {size.max_depth} levels (INBOUND_YAML_MAX_DEPTH)"
        return ConfigProblem(file, message)
    except Exception as exc:  # PyYAML's constructors on a value that is not what its tag says
        # (`!!int x`, `!!int ''`, 2026-13-45) raise ValueError, IndexError, ...: a bad file, not a crash.
        message = str(exc) if len(str(exc)) <= 200 else f"{str(exc)[:200]} ..."
        return ConfigProblem(file, f"invalid YAML: a value is not what its tag or form says ({message})")
    finally:
        loader.dispose()
    if loader.env_problem is not None:
        message, node = loader.env_problem
        line = node.start_mark.line + 1
        return ConfigProblem(file, message, line, context=_context(lines, line))
    env = _env_locations(root, loader.env_nodes) if loader.env_nodes else {}
    if isinstance(env, yaml.Node):
        line = env.start_mark.line + 1
        return ConfigProblem(file, "!env gives a value, not a key", line, context=_context(lines, line))
    return root, data, env


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
    parsed = _parse(file, text)
    if isinstance(parsed, ConfigProblem):
        return None, [parsed]
    root, data, env = parsed
    if not isinstance(data, dict):
        return None, [ConfigProblem(file, "the top level must be a mapping of keys (name:, schedule:, ...)", 1)]
    try:
        return Integration.from_file_data(data, file, env), []
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
        owner = owners.get(attribute.attribute.lower())
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
