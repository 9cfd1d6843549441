"""What a name in a config may be: integration, attribute, CSV column and `!env` variable names,
and the name of a setting (`setting_path`).

The patterns (`NAME_PATTERN`, `ATTRIBUTE_NAME_PATTERN`), the attribute names the store keeps
for itself (`RESERVED_ATTRIBUTE_NAMES`) and `ColumnName`, a header name that is one line of
visible text. Kept apart from the model (`inbound.config.model`) because discovery and the API
check and build names by the same rules.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from inbound.suggest import echo

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
ATTRIBUTE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,62}$"

# Attribute names the mapping and the store use for their own columns beside the attribute
# columns (the user ID, the rejected rows' line). Compared case-insensitively: SQLite's column
# names are. Every other column they add starts with "_", which no attribute name can.
RESERVED_ATTRIBUTE_NAMES = frozenset({"user_id", "line"})

# Characters a column name never holds: controls (newline, NUL, ESC, ...), invisible format
# characters (bidi overrides, zero-width) and line/paragraph separators.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _printable(value: str) -> str:
    """A column name is one line of visible text."""
    for position, char in enumerate(value, 1):
        if unicodedata.category(char) in _UNPRINTABLE:
            raise ValueError(
                f"the column name {echo(value)} has a control or invisible character (U+{ord(char):04X}) at "
                f"position {position}; write the header name as it reads, on one line"
            )
    return value


ColumnName = Annotated[str, StringConstraints(min_length=1), AfterValidator(_printable)]


_UMLAUTS = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"), ("ß", "ss"))


def snake_case(text: str) -> str:
    """A name that fits ^[A-Za-z][A-Za-z0-9_]*$: umlauts spelled out, camelCase split."""
    for umlaut, plain in _UMLAUTS:
        text = text.replace(umlaut, plain)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "attribute"
    if not name[0].isalpha():
        name = f"a_{name}"
    return name[:63].rstrip("_")


def attribute_names(columns: list[str]) -> dict[str, str]:
    """Each column's attribute name: the column itself when it is a valid name, else a unique snake_case."""
    names: dict[str, str] = {}
    taken = {c for c in columns if re.match(ATTRIBUTE_NAME_PATTERN, c)}
    for column in columns:
        if column in taken:
            names[column] = column
            continue
        base = snake_case(column)
        name, n = base, 2
        while name in taken:
            name = f"{base[:60]}_{n}"
            n += 1
        taken.add(name)
        names[column] = name
    return names


# -- `!env`: the variables meant for configs --------------------------------------------
ENV_PREFIX = "INBOUND_CONFIG_"  # variables meant for configs: `!env INBOUND_CONFIG_<NAME>`
# inbound's own settings under that prefix: never a config's value
OWN_SETTINGS = frozenset({"INBOUND_CONFIG_DIR", "INBOUND_CONFIG_URL_TEMPLATE"})
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_allowlist() -> frozenset[str]:
    """`INBOUND_ENV_ALLOWLIST`: comma-separated names of further variables configs may read."""
    return frozenset(n.strip() for n in os.environ.get("INBOUND_ENV_ALLOWLIST", "").split(",") if n.strip())


def env_allowed(name: str) -> bool:
    """Whether a config may read the variable `name` with `!env`.

    Names starting with `INBOUND_CONFIG_` (except inbound's own settings, `OWN_SETTINGS`) and
    the names listed in `INBOUND_ENV_ALLOWLIST`; nothing else, whatever it holds.
    """
    if name in env_allowlist():
        return True
    return name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX) and name not in OWN_SETTINGS


# -- where a value sits ------------------------------------------------------------------
Loc = tuple[int | str, ...]  # where in a config a value sits: keys and list indexes


def setting_path(loc: Loc) -> str:
    """("attributes", 0, "type") -> "attributes[0].type"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def replace_at(config: Any, loc: Loc, value: str) -> None:
    """Set the value at `loc` in a dumped config, when it is there."""
    for part in loc[:-1]:
        try:
            config = config[part]
        except (KeyError, IndexError, TypeError):
            return
    if not loc:
        return
    last = loc[-1]
    in_list = isinstance(config, list) and isinstance(last, int) and 0 <= last < len(config)
    if in_list or (isinstance(config, dict) and last in config):
        config[last] = value
