"""How an attribute value is written down: the words, the text forms, and reading them back.

The store keeps every value as canonical text: integers and numbers as Python writes them,
booleans as `true`/`false`, dates as `YYYY-MM-DD`, timestamps in UTC as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` (so they order and compare as text). `inbound.values.casts` turns
file text into typed columns and typed columns into this text; `from_text` turns it into
the JSON targeting reads. This module needs no polars: reading the store never loads it.
"""

from __future__ import annotations

from datetime import date, datetime

TRUE_WORDS = ("true", "t", "yes", "y", "1", "ja", "j", "wahr")
FALSE_WORDS = ("false", "f", "no", "n", "0", "nein", "falsch")
# Canonical text of dates and timestamps, as polars (chrono) layouts.
DATE_TEXT = "%Y-%m-%d"
TIMESTAMP_TEXT = "%Y-%m-%dT%H:%M:%S%.6fZ"

# A stored value as targeting reads it (JSON): dates and timestamps as ISO-8601 text.
JsonValue = str | int | float | bool


def from_text(value: str, kind: str) -> JsonValue:
    """Stored text back to the typed JSON value targeting reads."""
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return value == "true"
    if kind == "date":
        return date.fromisoformat(value).isoformat()
    if kind == "timestamp":
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    return value
