"""The outcomes every entry point is held to (issue 23's matrix): one place for the CLI matrix
(`tests/test_actions.py`) and the DAG matrix (`tests/e2e/test_actions_dag.py`).

Each case starts from the same history: `users_0.csv` (three users and one rejected row) was
imported and moved to `success/` with its `.rejected.csv`. The case then drops a file (or not)
and names a key; what each entry point must do is written down beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HEADER = "Email,Plan,Open Tickets\n"
SEED = HEADER + "a@x,pro,1\nb@x,free,2\nc@x,free,3\nd@x,free,x\n"  # d@x is rejected (Open Tickets)
SEEDED = {"a@x": "pro", "b@x": "free", "c@x": "free"}
USERS = ("a@x", "b@x", "c@x", "d@x", "e@x", "f@x")


@dataclass(frozen=True)
class Case:
    """One outcome. `key`: what the re-import names ("{seed}" is the seed's key now, in success/).

    What a real import does: `moves_to` (success/failed/None), `reports` beside the moved
    file, the import log's new entry (`logs`), the users' plans after (`plans`, None: as
    before), the exit status and run state, and words the answer holds. A dry run of the same
    case leaves S3 and the store as they were and answers `dry_says` (exit/state `dry_fails`).
    """

    name: str
    body: str | None  # the dropped users_1.csv, None: nothing dropped
    key: str = "crm/users_1.csv"
    config: dict[str, Any] = field(default_factory=dict)
    moves_to: str | None = None
    reports: tuple[str, ...] = ()
    logs: str | None = None  # "success", "failed", "skip"
    plans: dict[str, str] | None = None
    fails: bool = False  # the run fails (CLI exit 1; a refused key: exit 2)
    refused: bool = False  # the key is refused before anything is read
    says: str = ""
    dry_fails: bool = False
    dry_says: str = ""


CASES = [
    Case(
        "good file",
        HEADER + "a@x,gold,1\ne@x,free,5\n",
        moves_to="success",
        logs="success",
        plans={**SEEDED, "a@x": "gold", "e@x": "free"},
        says="imported 2 rows from crm/users_1.csv: 1 inserted, 1 updated",
        dry_says="dry run: would import 2 rows from crm/users_1.csv: 1 inserted, 1 updated",
    ),
    Case(
        "rows rejected within the ratio",
        HEADER + "a@x,gold,1\ne@x,free,x\n",
        moves_to="success",
        reports=(".rejected.csv",),
        logs="success",
        plans={**SEEDED, "a@x": "gold"},
        says="imported 1 rows from crm/users_1.csv (1 rejected)",
        dry_says="rejected: 1 row(s) invalid_value in 'Open Tickets', line(s) 3",
    ),
    Case(
        "rows rejected over the ratio",
        HEADER + "a@x,gold,x\ne@x,free,x\nf@x,free,1\n",
        moves_to="failed",
        reports=(".rejected.csv", ".error.txt"),
        logs="failed",
        fails=True,
        says="2 of 3 rows rejected",
        dry_fails=True,
        dry_says="dry run: would fail: s3://acme-exports/crm/users_1.csv: 2 of 3 rows rejected",
    ),
    Case(
        "a file-level failure",
        "Mail,Plan\na@x,gold\n",
        moves_to="failed",
        reports=(".error.txt",),
        logs="failed",
        fails=True,
        says="user-ID column 'Email' is not in the file's header",
        dry_fails=True,
        dry_says="would fail",
    ),
    Case(
        "the mirror guard",
        HEADER + "a@x,gold,1\n",
        config={"mode": "mirror", "mirror_max_removed": 0.2},
        moves_to="failed",
        reports=(".error.txt",),
        logs="failed",
        fails=True,
        says="mirror mode would remove 2 of 3 users",
        dry_fails=True,
        dry_says="mirror mode would remove 2 of 3 users",
    ),
    Case(
        "a missing key",
        None,
        key="crm/users_9.csv",
        refused=True,
        fails=True,
        says="s3://acme-exports/crm/users_9.csv does not exist",
        dry_fails=True,
        dry_says="s3://acme-exports/crm/users_9.csv does not exist",
    ),
    Case(
        "a moved key",
        None,
        key="crm/users_0.csv",
        refused=True,
        fails=True,
        says="crm/users_0.csv does not exist: it was processed before",
        dry_fails=True,
        dry_says="re-import that key",
    ),
    Case(
        "a report's key",
        None,
        key="{seed}.rejected.csv",
        refused=True,
        fails=True,
        says="is a report a run wrote beside a moved file",
        dry_fails=True,
        dry_says="is a report",
    ),
    Case(
        "identical content",
        SEED,
        moves_to="success",  # not read again: no report of its rejected row this time
        logs="skip",
        says="skipped crm/users_1.csv: identical to an earlier import",
        dry_says="would skip crm/users_1.csv: identical to an earlier import",
    ),
]


def config(case: Case, bucket: str, name: str = "crm") -> dict[str, Any]:
    return {
        "name": name,
        "schedule": "@daily",
        "source": {"bucket": bucket, "key": f"{name}/users_*.csv"},
        "user_id": {"column": "Email"},
        "max_rejected_ratio": 0.5,
        "attributes": [
            {"column": "Plan", "name": f"{name}_plan"},
            {"column": "Open Tickets", "name": f"{name}_open_tickets", "type": "integer"},
        ],
        **case.config,
    }


def keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def store_state(store: Any, name: str = "crm") -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """Every user's values and the whole import log: what "the store is as it was" compares."""
    types = {f"{name}_plan": "string", f"{name}_open_tickets": "integer"}
    values = {u: store.user_attributes(u, types)["attributes"] for u in USERS}
    log = sorted((r.id, r.outcome, r.source_file, r.final_key, r.error) for r in store.imports(name, limit=1000))
    return values, log


def plans(values: dict[str, Any], name: str = "crm") -> dict[str, str]:
    return {u: v[f"{name}_plan"] for u, v in values.items() if f"{name}_plan" in v}


def check_real(case: Case, s3_before: list[str], s3_after: list[str], before: Any, after: Any, run: str) -> None:
    """What a real run of `case` must have done to S3 and the store (the answer is checked by the caller)."""
    values_before, log_before = before
    values_after, log_after = after
    dropped = "crm/users_1.csv"
    if case.moves_to is None:
        assert s3_after == s3_before
        assert (values_after, log_after) == (values_before, log_before)
        return
    new = sorted(set(s3_after) - set(s3_before))
    (moved,) = [k for k in new if k.startswith(f"crm/{case.moves_to}/") and k.endswith("_users_1.csv")]
    assert sorted(new) == sorted([moved, *(f"{moved}{suffix}" for suffix in case.reports)])
    assert sorted(set(s3_before) - set(s3_after)) == [dropped]
    assert plans(values_after) == (case.plans or plans(values_before))
    (entry,) = log_after[len(log_before) :]  # one entry, with where the file went
    _, outcome, source, final_key, error = entry
    assert source == f"s3://acme-exports/{dropped}" and final_key == moved
    if case.logs == "skip":
        assert outcome == "success" and error.startswith("skipped: same content")
    else:
        assert outcome == case.logs


def check_untouched(s3_before: list[str], s3_after: list[str], before: Any, after: Any) -> None:
    """A dry run, a refused key: S3 and the store exactly as they were."""
    assert s3_after == s3_before
    assert after == before
