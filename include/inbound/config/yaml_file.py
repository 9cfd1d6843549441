"""A config file's YAML read safely: PyYAML's safe loader, `!env`, and bounds on size.

Values are data, never templates. The one way to take a value from the environment is
the explicit YAML tag `!env NAME` (or `!env [NAME, default]`), resolved at load time, and
only for variables meant for configs (`env_allowed`): the scheduler's environment also
holds the database URL, the API's secret and the AWS keys, which a config must not read.

A config is small; its loader is bounded so that no file can stall the DAG processor,
the API or `inbound validate`: at most `INBOUND_YAML_MAX_BYTES` bytes, at most
`INBOUND_YAML_MAX_NODES` values with every alias expanded (a "billion laughs" file is
refused as composed, before anything expands it), nesting at most
`INBOUND_YAML_MAX_DEPTH` deep. A message never echoes more than a short prefix of an input.

Kept apart from `inbound.config.catalog` (which validates the data and applies the rules across
files) because it is the one place that touches YAML and the environment.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import yaml

from inbound.config.names import ENV_NAME, ENV_PREFIX, OWN_SETTINGS, Loc, env_allowed
from inbound.config.problems import ConfigProblem, line_context
from inbound.settings import number_setting
from inbound.suggest import echo

# A config is a few kB (100 attributes: ~10 kB, ~700 values, 4 levels deep). The limits leave
# room for ten times that and bound what one file can cost: ~0.1 s and a few MB.
DEFAULT_MAX_YAML_BYTES = 256 * 1024
DEFAULT_MAX_YAML_NODES = 20_000
DEFAULT_MAX_YAML_DEPTH = 16


def _positive_setting(name: str, default: int) -> int:
    return int(number_setting(name, default, minimum=1))


def max_yaml_bytes() -> int:
    """`INBOUND_YAML_MAX_BYTES` (default 256 KiB): the largest config file that is read."""
    return _positive_setting("INBOUND_YAML_MAX_BYTES", DEFAULT_MAX_YAML_BYTES)


def max_yaml_nodes() -> int:
    """`INBOUND_YAML_MAX_NODES` (default 20,000): most values (keys, items, scalars) with aliases expanded."""
    return _positive_setting("INBOUND_YAML_MAX_NODES", DEFAULT_MAX_YAML_NODES)


def max_yaml_depth() -> int:
    """`INBOUND_YAML_MAX_DEPTH` (default 16): the deepest nesting of mappings and lists."""
    return _positive_setting("INBOUND_YAML_MAX_DEPTH", DEFAULT_MAX_YAML_DEPTH)


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
    if not ENV_NAME.fullmatch(name):
        return f"!env {echo(name)}: that is not a variable name (letters, digits, '_')"
    if name in OWN_SETTINGS:
        return (
            f"!env {name}: that is a setting of inbound itself, not a value for configs; a config reads only "
            f"variables named {ENV_PREFIX}... or listed in INBOUND_ENV_ALLOWLIST"
        )
    shown = name if len(name) <= 60 else echo(name)  # a message never grows with the file
    return (
        f"!env {shown}: a config reads only variables meant for configs, named {ENV_PREFIX}... or listed "
        f"in INBOUND_ENV_ALLOWLIST (comma-separated names). If {shown} is meant for configs (never a secret: "
        f"a config's values are shown), add it to INBOUND_ENV_ALLOWLIST in the environment of every "
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
    if not (ENV_NAME.fullmatch(name) and env_allowed(name)):
        # never looked up: its value must not reach a config, a message or a page
        loader.env_problem = loader.env_problem or (_env_refusal(name), node)
        return ""
    value = os.environ.get(name)
    if value is None and default is not None:
        return default  # the author's own literal, written in the config: shown as it is
    if value is None:
        message = f"environment variable {name} is not set; set it, or give a default: !env [{name}, value]"
        loader.env_problem = loader.env_problem or (message, node)
        return ""
    loader.env_nodes[id(node)] = name
    return value


_Loader.add_constructor("!env", _construct_env)


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
    return ConfigProblem(file, message, line, context=line_context(lines, line))


def _yaml_problem(file: str, lines: list[str], exc: yaml.YAMLError) -> ConfigProblem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else None
    problem = str(getattr(exc, "problem", None) or exc)
    problem = problem if len(problem) <= 200 else f"{problem[:200]} ..."
    return ConfigProblem(file, f"invalid YAML: {problem}", line, context=line_context(lines, line))


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


def parse_yaml(file: str, text: str) -> tuple[yaml.Node, object, dict[Loc, str]] | ConfigProblem:
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
        return ConfigProblem(file, message, line, context=line_context(lines, line))
    env = _env_locations(root, loader.env_nodes) if loader.env_nodes else {}
    if isinstance(env, yaml.Node):
        line = env.start_mark.line + 1
        return ConfigProblem(file, "!env gives a value, not a key", line, context=line_context(lines, line))
    return root, data, env
