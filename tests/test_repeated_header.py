"""Issue 25, item 4: a header line repeated inside the data (two exports joined with `cat`) is
skipped, counted and reported, never stored as a user, on both stores through `inbound run`."""

from __future__ import annotations

import codecs
import csv
import io
import json

import pytest

from conftest import BUCKET, integration_dict, migrated
from inbound.cli import main
from inbound.config.model import Integration
from inbound.errors import BadFile, Problem
from inbound.mapping.header import REPEATED_HEADER_REASON
from inbound.mapping.mapper import AttributeSet, map_table
from inbound.reading.reader import read_table
from inbound.store import open_store
from test_actions import _store_connection

HEADER = "Email,Plan,Region,Seats\n"
PARTS = (
    "ada@x,premium,eu,3\nbob@x,free,us,1\n",
    "cy@x,free,eu,2\n",
    "dan@x,gold,apac,7\n",
)


def concatenated(bom: bool) -> bytes:
    """Three exports joined with `cat`: the header on lines 1, 4 and 6, each after a BOM with `bom`."""
    start = codecs.BOM_UTF8 if bom else b""
    return b"".join(start + (HEADER + part).encode() for part in PARTS)


@pytest.mark.parametrize("bom", [False, True], ids=["plain", "bom"])
def test_run_skips_repeated_header_lines(bom: bool, monkeypatch, tmp_path, write_config, s3, store_url, capsys) -> None:
    attributes = [
        {"column": "Plan", "name": "plan"},
        {"column": "Region", "name": "region"},
        {"column": "Seats", "name": "seats", "type": "integer"},  # "Seats" is no integer: skipped, not rejected
    ]
    write_config("crm.yaml", integration_dict("crm", attributes=attributes))
    monkeypatch.setenv("INBOUND_CONFIG_DIR", str(write_config.folder))
    monkeypatch.setenv("AIRFLOW_CONN_INBOUND_STORE", _store_connection(migrated(store_url)))
    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=concatenated(bom))

    assert main(["run", "crm"]) == 0
    out = capsys.readouterr().out
    assert "crm: success: 1 file(s), 4 rows read, 4 written, 0 rejected, 2 repeated header line(s) skipped" in out
    assert "2 repeated header line(s) skipped (lines 4, 6)" in out
    assert "imported 4 rows from crm/users_1.csv (2 repeated header line(s) skipped (lines 4, 6)): 4 inserted" in out

    with open_store(store_url) as store:
        types = {"plan": "string", "region": "string", "seats": "integer"}
        assert store.user_count("crm") == 4
        assert store.user_attributes("Email", types)["attributes"] == {}
        assert store.user_attributes("cy@x", types)["attributes"] == {"plan": "free", "region": "eu", "seats": 2}
        (entry,) = store.imports("crm")
        assert (entry.rows_read, entry.rows_rejected) == (4, 0)

    found = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="crm/success/")["Contents"]]
    (moved,) = [k for k in found if k.endswith("_users_1.csv")]
    assert f"{moved}.rejected.csv" in found  # nothing rejected, yet the report beside it lists the skipped lines
    report = s3.get_object(Bucket=BUCKET, Key=f"{moved}.rejected.csv")["Body"].read().decode()
    rows = list(csv.DictReader(io.StringIO(report)))
    assert [r["line"] for r in rows] == ["4", "6"]
    assert all(r["reason"].startswith("repeated header line") for r in rows)
    assert all((r["user_id"], r["column"], r["value"]) == ("", "", "") for r in rows)  # never values


def test_run_json_counts_repeated_header_lines(monkeypatch, tmp_path, write_config, s3, capsys) -> None:
    """Only string attributes: today the repeated header is stored as a user named `Email`."""
    write_config("crm.yaml", integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}]))
    monkeypatch.setenv("INBOUND_CONFIG_DIR", str(write_config.folder))
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_INBOUND_STORE", _store_connection(migrated(store_url)))
    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=b"Email,Plan\na@x,free\nEmail,Plan\nb@x,gold\n")
    assert main(["run", "crm", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    with open_store(store_url) as store:
        assert store.user_attributes("Email", {"plan": "string"})["attributes"] == {}
        assert store.user_count("crm") == 2
    assert (found["rows_read"], found["rows_rejected"], found["headers_skipped"]) == (2, 0, 1)
    (result,) = found["results"]
    assert (result["headers_skipped"], result["header_lines"]) == (1, [3])


def strings(header: str, body: str) -> AttributeSet:
    """A file held whole, read with string attributes `Plan` and `Region` (what a repeated header gets through)."""
    attributes = [{"column": "Plan", "name": "plan"}, {"column": "Region", "name": "region"}]
    config = Integration.model_validate(integration_dict("crm", attributes=attributes))
    return map_table(read_table((header + body).encode(), config.format), config)


@pytest.mark.parametrize(
    "line",
    [
        "Email,Plan,Region,\n",
        " Email , Plan,Region ,\n",  # trimmed as the reader trims the header's names
        '"Email","Plan","Region",""\n',  # quoted as the first header may have been
        "\ufeffEmail,Plan,Region,\n",  # the BOM of the second export
        '\ufeff"Email",Plan,Region,\n',  # a BOM before a quoted name: the parser keeps the quotes
    ],
    ids=["same", "spaces", "quoted", "bom", "bom_quoted"],
)
def test_the_header_again_is_skipped(line: str) -> None:
    """The header's last name is empty (a trailing delimiter): an empty cell equals it."""
    mapped = strings("Email,Plan,Region,\n", "a@x,free,eu,\n" + line + "b@x,gold,us,\n")
    assert mapped.frame.get_column("user_id").to_list() == ["a@x", "b@x"]
    assert (mapped.rows_read, mapped.rows_rejected, mapped.headers_skipped) == (2, 0, 1)
    assert mapped.skipped.row(0) == (3, None, None, None, REPEATED_HEADER_REASON)


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("Email,premium,eu,\n", {"user_id": "Email", "plan": "premium", "region": "eu"}),  # a user named Email
        ("EMAIL,PLAN,REGION,\n", {"user_id": "EMAIL", "plan": "PLAN", "region": "REGION"}),  # another case: data
        ("Email,Plan,Region,x\n", {"user_id": "Email", "plan": "Plan", "region": "Region"}),  # one cell differs
    ],
    ids=["real_user", "other_case", "one_cell_differs"],
)
def test_a_row_that_is_not_exactly_the_header_is_data(line: str, kept: dict[str, str]) -> None:
    mapped = strings("Email,Plan,Region,\n", "a@x,free,eu,\n" + line)
    assert mapped.headers_skipped == 0 and mapped.frame.row(1, named=True) == kept


def test_a_short_repeat_of_the_header_is_a_ragged_row() -> None:
    mapped = strings("Email,Plan,Region,Notes\n", "a@x,free,eu,n\nEmail,Plan,Region\n")
    assert (mapped.headers_skipped, mapped.rows_rejected) == (0, 1)


def test_a_header_with_only_repeats_of_it_has_no_data_rows() -> None:
    with pytest.raises(BadFile, match=r"header but no data rows \(only 2 repeated header line\(s\)\)") as refused:
        strings("Email,Plan,Region\n", "Email,Plan,Region\nEmail,Plan,Region\n")
    assert refused.value.problem is Problem.EMPTY
