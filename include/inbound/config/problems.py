"""A config problem as people read it: the file, the line, the setting and how to fix it.

`ConfigProblem` is what every check of a config reports, from the YAML reader
(`inbound.config.yaml_file`), the model (`inbound.config.model`, through `validation_problems`) and the
rules across files (`inbound.config.catalog`). pydantic's errors name a location in the data; this
module turns one into the YAML line it came from, with the lines around it and a "did you
mean" for near misses, the way astronomer's `blueprint` reports them. Kept apart from the
loader so both the YAML side and the catalog point at lines the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from inbound.config.model import Integration
from inbound.config.names import ATTRIBUTE_NAME_PATTERN, NAME_PATTERN, Loc, setting_path
from inbound.suggest import did_you_mean, echo

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


MAX_PATH_CHARS = 120  # of a setting's path as a problem shows it


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in one config file, with everything needed to fix it."""

    file: str
    message: str
    line: int | None = None
    path: str = ""  # the setting, e.g. "attributes[0].type"
    context: str = ""  # the lines around `line`, the offending one marked with ">"

    def __post_init__(self) -> None:
        # A setting's path is built from the file's keys: a 70 kB key must not make a 70 kB message.
        if len(self.path) > MAX_PATH_CHARS:
            object.__setattr__(self, "path", self.path[: MAX_PATH_CHARS - 3] + "...")

    def one_line(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        setting = f" {self.path}:" if self.path else ""
        return f"{where}:{setting} {self.message}"

    def __str__(self) -> str:
        text = self.one_line()
        return f"{text}\n{self.context}" if self.context else text


_CONTEXT_WIDTH = 160  # characters of a line a problem shows


def line_context(lines: list[str], line: int | None) -> str:
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


# What a name or value with a pattern may be, said for people (never the pattern itself).
_PATTERN_WORDS = {
    NAME_PATTERN: (
        "an integration name is lower-case letters a-z, digits and _, starting with a letter, at most 63 "
        "characters (crm_users)"
    ),
    ATTRIBUTE_NAME_PATTERN: (
        "an attribute name is letters, digits and _ (no spaces, '-' or '.'), starting with a letter, at "
        "most 63 characters (plan_tier)"
    ),
    r"^[^/*?\[]+$": "a marker is a file name in the export's folder, without '/', '*', '?' or '['",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "an e-mail address is name@domain.tld, without spaces",
}


def _pattern_words(error: ErrorDetails) -> str:
    """A value that does not match a setting's pattern: what the setting takes, in words."""
    pattern = error.get("ctx", {}).get("pattern")
    words = _PATTERN_WORDS.get(str(pattern), "it is not in the form this setting takes (see the config reference)")
    return f"{echo(error['input'])}: {words}"


def line_at(text: str, loc: Loc) -> int | None:
    """The line of `text` (a config's YAML) where the setting at `loc` is written, or its nearest parent."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    return None if root is None else _node_at(root, loc).start_mark.line + 1


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
    if kind == "string_pattern_mismatch":
        return _pattern_words(error)
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message if len(message) <= 500 else f"{message[:500]} ..."


def validation_problems(file: str, lines: list[str], root: yaml.Node, exc: ValidationError) -> list[ConfigProblem]:
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
        problems.append(ConfigProblem(file, _explain(error), line, setting_path(loc), line_context(lines, line)))
    return problems
