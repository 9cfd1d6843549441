"""What a name in a config may be: integration names, attribute names and CSV column names.

The patterns (`NAME_PATTERN`, `ATTRIBUTE_NAME_PATTERN`), the attribute names the store keeps
for itself (`RESERVED_ATTRIBUTE_NAMES`) and `ColumnName`, a header name that is one line of
visible text. Kept apart from the model (`inbound.config`) because discovery and the API
check and build names by the same rules.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

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
