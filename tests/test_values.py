"""Stored canonical text back to the JSON targeting reads, without polars."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import migrated
from inbound.values.text import from_text


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("premium", "string", "premium"),
        ("-7", "integer", -7),
        ("4.5", "number", 4.5),
        ("true", "boolean", True),
        ("false", "boolean", False),
        ("2021-10-25", "date", "2021-10-25"),
        ("2026-01-02T03:04:05.600000Z", "timestamp", "2026-01-02T03:04:05.600000+00:00"),
    ],
)
def test_stored_text_reads_back_typed(text: str, kind: str, expected: object) -> None:
    found = from_text(text, kind)
    assert found == expected and type(found) is type(expected)


READER = """
import sys
from inbound.store import open_store
with open_store(sys.argv[1]) as store:  # a new store, migrated (`inbound migrate`) by the test
    store.user_attributes("ada@x", {"plan": "string"})
    store.integrations()
    store.imports()
    store.last_success()
print("polars" in sys.modules)
"""


def test_reading_the_store_does_not_load_polars(tmp_path) -> None:
    """`inbound user` reads the store: polars (about half a second to import) stays out of it."""
    url = migrated(f"sqlite:///{tmp_path / 'store.db'}")
    found = subprocess.run([sys.executable, "-c", READER, url], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
