"""Issue 25, item 1: a lone quote inside an unquoted value (`O"Brien`, `24"`, `27" 4K`, `5'11"`) is a
literal character, on both stores through `inbound run`; a quote at a value's start that is never
closed fails the file at the line where that value starts, and the store keeps what it had."""

from __future__ import annotations

import csv
import io
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BUCKET, integration_dict, migrated
from inbound.cli import main
from inbound.errors import BadFile
from inbound.reading import quoting
from inbound.store import open_store
from test_actions import _store_connection

TYPES = {"name": "string", "screen": "string", "height": "string", "seats": "integer"}
EXPORT = (
    "Email,Name,Screen,Height,Seats\r\n"
    'ada@x,Ada O"Brien,27" 4K,5\'11",3\r\n'
    'bob@x,"Bob ""Bobby"" Tables","24""",6\'1",1\r\n'
    'cy@x,Cy,"32"" curved,\r\nwide",5\',2\r\n'
)


@pytest.fixture
def crm(monkeypatch, tmp_path, write_config, store_url):
    attributes = [
        {"column": "Name", "name": "name"},
        {"column": "Screen", "name": "screen"},
        {"column": "Height", "name": "height"},
        {"column": "Seats", "name": "seats", "type": "integer"},
    ]
    write_config("crm.yaml", integration_dict("crm", attributes=attributes))
    monkeypatch.setenv("INBOUND_CONFIG_DIR", str(write_config.folder))
    monkeypatch.setenv("AIRFLOW_CONN_INBOUND_STORE", _store_connection(migrated(store_url)))
    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
    return store_url


def test_run_reads_a_lone_quote_as_a_literal(crm, s3, capsys) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=EXPORT.encode())
    assert main(["run", "crm"]) == 0, capsys.readouterr().out
    assert "crm: success: 1 file(s), 3 rows read, 3 written, 0 rejected" in capsys.readouterr().out
    with open_store(crm) as store:
        found = {user: store.user_attributes(user, TYPES)["attributes"] for user in ("ada@x", "bob@x", "cy@x")}
    assert found == {
        "ada@x": {"name": 'Ada O"Brien', "screen": '27" 4K', "height": "5'11\"", "seats": 3},
        "bob@x": {"name": 'Bob "Bobby" Tables', "screen": '24"', "height": "6'1\"", "seats": 1},
        "cy@x": {"name": "Cy", "screen": '32" curved,\nwide', "height": "5'", "seats": 2},
    }


def test_run_refuses_a_quote_never_closed_at_its_line(crm, s3, capsys) -> None:
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=EXPORT.encode())
    assert main(["run", "crm"]) == 0
    broken = (
        EXPORT + "dan@x,\"Dan, never closed,24,5'9,4\r\nzed@x,Z,1,6,5\r\n"
    )  # line 6: a quote opens, no quote follows
    s3.put_object(Bucket=BUCKET, Key="crm/users_2.csv", Body=broken.encode())
    capsys.readouterr()
    with open_store(crm) as store:
        before = {user: store.user_attributes(user, TYPES)["attributes"] for user in ("ada@x", "bob@x", "cy@x")}
    assert main(["run", "crm"]) == 1
    out = capsys.readouterr().out
    assert "failed" in out and "line 6: a value starts with a quote" in out, out
    error = next(
        o["Key"]
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="crm/failed/")["Contents"]
        if o["Key"].endswith(".error.txt")
    )
    reason = s3.get_object(Bucket=BUCKET, Key=error)["Body"].read().decode()
    assert "line 6: a value starts with a quote" in reason and "Dan" not in reason
    with open_store(crm) as store:
        after = {user: store.user_attributes(user, TYPES)["attributes"] for user in ("ada@x", "bob@x", "cy@x", "dan@x")}
        assert store.imports("crm")[0].outcome == "failed"
    assert after == {**before, "dan@x": {}}


TOKENS = st.lists(st.sampled_from(['"', '"', "a", ",", "\n", "\r\n", " "]), max_size=40)


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(TOKENS, st.sampled_from([1, 2, 3, 7, 1 << 20]), st.sampled_from([1, 3, 32]))
def test_the_scan_reads_quotes_as_pythons_csv_in_any_slices(tokens: list[str], step: int, reach: int) -> None:
    """Refused exactly when Python's csv (strict) refuses; else rewritten to mean the same to it, with
    no literal quote left for polars to take for an opening one; whatever the scan's slices, the
    reach of the vectorized search for a value's ends (beyond it, `bytes.find`), and whether a slice
    takes the parity's shortcut: the same text, or the same message."""
    text = ("Email,A\n" + "".join(tokens)).encode()

    def python(data: bytes) -> list[list[str]]:
        return list(csv.reader(io.StringIO(data.decode(), newline=""), strict=True))

    def ours() -> bytes | str:
        try:
            return quoting.for_polars(text, ",", 1, last=True)
        except BadFile as exc:
            return exc.message

    try:
        expected: list[list[str]] | None = python(text)
    except csv.Error:
        expected = None
    with mock.patch.object(quoting, "_STEP", step), mock.patch.object(quoting, "_REACH", reach):
        rewritten = ours()
        with mock.patch.object(quoting, "_fits_parity", lambda *_: False):
            assert ours() == rewritten  # every slice by runs
    assert isinstance(rewritten, str) == (expected is None), (text, rewritten)
    if isinstance(rewritten, bytes):
        assert python(rewritten) == expected
        assert quoting.for_polars(rewritten, ",", 1, last=True) is rewritten  # nothing left to quote
