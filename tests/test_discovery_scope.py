"""Where the wizard's discovery may read (`inbound.discovery.scope`), without Airflow: the rule's edges.

The matrix over callers and places through the real API is `test_authorization.test_wizard_scope`.
"""

from __future__ import annotations

import pytest

from conftest import BUCKET, integration_dict
from inbound.config.model import Integration
from inbound.discovery.proposal import discover
from inbound.discovery.scope import OutOfScope, Scope
from inbound.errors import DiscoveryError
from inbound.settings import discovery_prefixes

STAGING = f"s3://{BUCKET}/_staging"


def integration(name: str, key: str, bucket: str = BUCKET) -> Integration:
    return Integration.model_validate(integration_dict(name, source={"bucket": bucket, "key": key}))


# crm (the caller's) and hr (another's) in one bucket; a shared folder; a folder inside crm's; one at another bucket's root
EVERY = [
    integration("crm", "crm/users_*.csv"),
    integration("hr", "hr/people_*.csv"),
    integration("crm_tickets", "shared/tickets_*.csv"),
    integration("hr_shared", "shared/people_*.csv"),
    integration("payroll", "crm/payroll/*.csv"),
    integration("rooted", "*.csv", bucket="hr-exports"),
]


def scope(editable: set[str], prefixes: list[tuple[str, str]] | None = None, staging: str = STAGING) -> Scope:
    return Scope.of(EVERY, editable, prefixes or [], staging)


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("crm/users_1.csv", True),
        ("crm/new.csv", True),  # in the caller's folder, not (yet) a file of any integration
        ("crm/sub/new.csv", True),
        ("vendor/new.csv", True),  # in the caller's bucket, nobody's folder
        ("new.csv", True),
        ("hr/people_1.csv", False),
        ("hr/new.csv", False),  # another integration's folder, whatever the name
        ("hr/sub/new.csv", False),
        ("crm/payroll/salaries.csv", False),  # a folder inside the caller's that belongs to another
        ("shared/new.csv", True),  # a folder the caller's integration shares
        ("shared/tickets_1.csv", True),
        ("shared/people_1.csv", False),  # ... but never the other one's files there
        ("crm/failed/20260101T000000Z_users_1.csv", False),  # the caller's own done folder: no landing place
        ("crm/success/20260101T000000Z_users_1.csv.rejected.csv", False),
        ("vendor/failed/sub/x.csv", False),  # a done folder anywhere above, as a source key may not point there
        ("_staging/inbound_hr/run/x.parquet", False),
        ("_staging/x.csv", False),
        ("crm/../hr/people_1.csv", False),
        ("crm/users_*.csv", True),  # a pattern: its literal folder decides, its files are filtered
        ("hr/people_*.csv", False),
        ("*/users_*.csv", True),
        ("crm/failed/*.csv", False),
    ],
)
def test_an_editor_of_one_integration_samples_only_where_it_lands(key: str, allowed: bool) -> None:
    assert scope({"crm", "crm_tickets"}).allows(BUCKET, key) is allowed


def test_another_bucket_only_when_the_deployment_opens_a_landing_folder_there() -> None:
    mine = scope({"crm"})
    assert not mine.allows("landing-zone", "incoming/new.csv")
    opened = scope({"crm"}, [("landing-zone", "incoming/"), (BUCKET, "")])
    assert opened.allows("landing-zone", "incoming/new.csv") and opened.allows("landing-zone", "incoming/a/b.csv")
    assert not opened.allows("landing-zone", "private/salaries.csv") and not opened.allows("landing-zone", "incoming")
    # an opened place never opens another integration's folder, a done folder or the staging location
    assert not opened.allows(BUCKET, "hr/new.csv") and not opened.allows(BUCKET, "_staging/x.csv")
    assert not opened.allows("landing-zone", "incoming/failed/x.csv")
    # a bucket another integration reads from its root is that integration's, opened or not
    assert not scope({"crm"}, [("hr-exports", "")]).allows("hr-exports", "vendor/new.csv")
    assert scope({"rooted"}).allows("hr-exports", "vendor/new.csv")


def test_an_admin_reads_every_integrations_folder_and_still_no_done_folder_nor_staging() -> None:
    admin = scope({i.name for i in EVERY})
    assert admin.allows(BUCKET, "hr/new.csv") and admin.allows(BUCKET, "crm/payroll/x.csv")
    assert not admin.allows(BUCKET, "hr/failed/20260101T000000Z_people_1.csv")
    assert not admin.allows(BUCKET, "_staging/inbound_hr/run/set.csv")
    assert not admin.allows("other-exports", "x.csv")


def test_the_staging_location_is_closed_whole_and_a_local_one_closes_nothing() -> None:
    assert not scope({"crm"}, staging=f"s3://{BUCKET}").allows(BUCKET, "crm/new.csv")  # staging is the whole bucket
    assert scope({"crm"}, staging="file:///var/inbound/staging").allows(BUCKET, "_staging/x.csv")


def test_refusals_say_where_the_caller_may_read_and_never_what_is_there() -> None:
    mine = scope({"crm"}, [("landing-zone", "incoming/")])
    messages = []
    for key in ("hr/new.csv", "_staging/x.csv", "crm/payroll/x.csv"):
        with pytest.raises(OutOfScope) as refused:
            mine.check(BUCKET, key)
        messages.append(str(refused.value).split(": ", 1)[1])
    assert len(set(messages)) == 1  # another's folder and the staging location read alike
    assert "s3://acme-exports/, s3://landing-zone/incoming/" in messages[0]
    assert "INBOUND_DISCOVERY_PREFIXES" in messages[0] and "hr" not in messages[0] and "payroll" not in messages[0]
    with pytest.raises(OutOfScope, match="success/ or failed/ folder"):
        mine.check(BUCKET, "crm/failed/x.csv")
    with pytest.raises(DiscoveryError, match=r"'\.\.' segment") as climbing:
        mine.check(BUCKET, "crm/../hr/x.csv")
    assert not isinstance(climbing.value, OutOfScope)  # a bad key (400), not a place refused (403)


def test_a_pattern_samples_and_a_missing_key_suggests_only_keys_in_scope(s3) -> None:
    for key in ("crm/users_1.csv", "hr/people_2.csv", "_staging/x/users_9.csv", "crm/payroll/users_3.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"Email,Plan\nada@x,pro\n")
    mine = scope({"crm"})

    def readable(key: str) -> bool:
        return mine.allows(BUCKET, key)

    found = discover(s3, BUCKET, "*/users_*.csv", readable=readable)  # _staging/x/users_9.csv is newer: not read
    assert found.key == "crm/users_1.csv"
    with pytest.raises(DiscoveryError, match="no file matches the pattern"):
        discover(s3, BUCKET, "hr/people_*.csv", readable=readable)
    with pytest.raises(DiscoveryError) as missing:
        discover(s3, BUCKET, "users.csv", readable=readable)
    assert "keys with the same prefix: crm/users_1.csv" in str(missing.value)
    for hidden in ("hr/", "_staging", "payroll"):
        assert hidden not in str(missing.value)
    with pytest.raises(DiscoveryError, match="no file you may sample is under 'vendor/'"):
        discover(s3, BUCKET, "vendor/x.csv", readable=readable)


@pytest.mark.parametrize(
    ("value", "places"),
    [
        ("", []),
        ("s3://landing-zone/incoming/", [("landing-zone", "incoming/")]),
        (" s3://landing-zone/incoming , s3://drop ", [("landing-zone", "incoming/"), ("drop", "")]),
        ("s3://landing-zone/a/b//", [("landing-zone", "a/b/")]),
    ],
)
def test_discovery_prefixes_are_s3_folders(monkeypatch, value: str, places: list[tuple[str, str]]) -> None:
    monkeypatch.setenv("INBOUND_DISCOVERY_PREFIXES", value)
    assert discovery_prefixes() == places


@pytest.mark.parametrize("value", ["landing-zone/incoming", "s3://", "s3://x/a/../b", "s3://x/a//b", "file:///tmp"])
def test_a_bad_discovery_prefix_names_the_setting_and_the_form(monkeypatch, value: str) -> None:
    monkeypatch.setenv("INBOUND_DISCOVERY_PREFIXES", value)
    with pytest.raises(ValueError, match=r"INBOUND_DISCOVERY_PREFIXES: .* s3://bucket/folder/"):
        discovery_prefixes()
