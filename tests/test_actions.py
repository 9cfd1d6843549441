"""Issue 23's matrix, CLI column: `run --key`, `preview --key`, `run --key --dry-run` (and `--force`)
× every outcome of `tests/actions.py`, on both stores: S3 and the store before and after, the
import log, the exit status and what the command prints."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from actions import CASES, SEED, Case, check_real, check_untouched, config, keys, store_state
from conftest import BUCKET, migrated
from inbound.cli import main
from inbound.store import open_store

ENTRIES = {
    "run": ["run", "crm"],
    "preview": ["preview", "crm"],
    "run --dry-run": ["run", "crm", "--dry-run"],
}


def _store_connection(url: str) -> str:
    """The `inbound_store` connection (JSON) for a store URL of the `store_url` fixture."""
    if url.startswith("sqlite:///"):
        return json.dumps({"conn_type": "sqlite", "host": url.removeprefix("sqlite:///")})
    parts = urlsplit(url)
    options = parse_qs(parts.query).get("options", [""])[0]
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": parts.hostname,
            "port": parts.port,
            "login": parts.username,
            "schema": parts.path.lstrip("/"),
            "extra": {"options": options},
        }
    )


@pytest.fixture
def world(monkeypatch, tmp_path, write_config, s3, store_url):
    """A crm integration on either store whose users_0.csv was imported (and moved to success/)."""

    def start(case: Case) -> str:
        write_config("crm.yaml", config(case, BUCKET))
        monkeypatch.setenv("INBOUND_CONFIG_DIR", str(write_config.folder))
        monkeypatch.setenv("AIRFLOW_CONN_INBOUND_STORE", _store_connection(migrated(store_url)))
        monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
        s3.put_object(Bucket=BUCKET, Key="crm/users_0.csv", Body=SEED.encode())
        assert main(["run", "crm"]) == 0
        (seed,) = [k for k in keys(s3, BUCKET, "crm/success/") if k.endswith("_users_0.csv")]
        if case.body is not None:
            s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=case.body.encode())
        return seed

    return start


def _state(s3, store_url):
    with open_store(store_url) as store:
        return keys(s3, BUCKET), store_state(store)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("entry", list(ENTRIES))
def test_every_entry_point_answers_each_outcome_truthfully(world, s3, store_url, capsys, case, entry) -> None:
    seed = world(case)
    capsys.readouterr()
    key = case.key.format(seed=seed)
    s3_before, before = _state(s3, store_url)
    status = main([*ENTRIES[entry], "--key", key])
    out = capsys.readouterr()
    said = out.out + out.err
    s3_after, after = _state(s3, store_url)
    dry = entry != "run"
    if dry or case.refused:
        check_untouched(s3_before, s3_after, before, after)
    else:
        check_real(case, s3_before, s3_after, before, after, run="cli")
        if case.moves_to == "failed":  # the reason, and the ways to import it again with its new key
            (moved,) = [k for k in set(s3_after) - set(s3_before) if k.endswith("_users_1.csv")]
            text = s3.get_object(Bucket=BUCKET, Key=f"{moved}.error.txt")["Body"].read().decode()
            assert case.says in text and f"inbound run crm --key {moved}" in text and "Re-import" in text
    expected = 2 if case.refused else int(case.dry_fails if dry else case.fails)
    assert status == expected, said
    assert (case.dry_says if dry else case.says) in said, said
    if dry and not case.refused:
        assert ("nothing written or moved" in said and "Nothing was written or moved" in said) or "would skip" in said


def test_a_preview_of_the_waiting_files_that_would_fail_moves_nothing(world, s3, store_url, capsys) -> None:
    """The reported defect itself: `inbound preview crm` (no key) of a failing file."""
    (case,) = [c for c in CASES if c.name == "rows rejected over the ratio"]
    world(case)
    s3_before, before = _state(s3, store_url)
    assert main(["preview", "crm"]) == 1
    said = capsys.readouterr().out
    assert "dry run: would fail" in said and "line(s) 2, 3" in said  # where the rejected rows are
    assert _state(s3, store_url) == (s3_before, before)


def test_force_writes_past_the_mirror_guard_and_a_dry_run_with_force_still_writes_nothing(
    world, s3, store_url, capsys
) -> None:
    (case,) = [c for c in CASES if c.name == "the mirror guard"]
    world(case)
    s3_before, before = _state(s3, store_url)
    assert main(["run", "crm", "--key", "crm/users_1.csv", "--dry-run", "--force"]) == 0
    said = capsys.readouterr().out
    assert "dry run: would import 1 rows from crm/users_1.csv: 1 updated, 2 removed" in said
    assert _state(s3, store_url) == (s3_before, before)
    assert main(["run", "crm", "--key", "crm/users_1.csv", "--force"]) == 0
    assert "imported 1 rows from crm/users_1.csv: 1 updated, 2 removed" in capsys.readouterr().out
    with open_store(store_url) as store:
        values, _ = store_state(store)
    assert {u for u, v in values.items() if v} == {"a@x"}


def test_mirror_mode_never_removes_a_user_who_is_in_the_file(world, s3, store_url, capsys) -> None:
    """b@x is on two rows (both rejected: which is right?), c@x's only row is rejected: both stay."""
    case = Case("mirror", HEADER_ROWS, config={"mode": "mirror", "max_rejected_ratio": 0.9})
    world(case)
    for args in (["preview", "crm", "--key", "crm/users_1.csv"], ["run", "crm", "--key", "crm/users_1.csv"]):
        assert main(args) == 0
        said = capsys.readouterr().out
        assert "0 removed" in said and "3 rejected" in said, said
    with open_store(store_url) as store:
        values, log = store_state(store)
    assert values["b@x"] == {"crm_plan": "free", "crm_open_tickets": 2} and values["c@x"]["crm_plan"] == "free"
    assert values["a@x"]["crm_plan"] == "gold" and log[0][1] == "success"


HEADER_ROWS = "Email,Plan,Open Tickets\na@x,gold,1\nb@x,gold,1\nb@x,pro,1\nc@x,gold,x\n"


def test_a_config_written_for_the_matrix_is_valid(tmp_path) -> None:
    for case in CASES:
        path = tmp_path / "crm.yaml"
        path.write_text(yaml.safe_dump(config(case, BUCKET)))
        assert main(["validate", str(tmp_path)]) == 0
