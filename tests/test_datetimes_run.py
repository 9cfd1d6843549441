"""Issue 25, items 2 and 3 through `inbound run` on both stores: every ISO 8601 offset form is its
UTC instant, `%Y` is four digits, and a value that does not fit is a rejected row (line, column, and
in the report the `%y` hint), never another date."""

from __future__ import annotations

import csv
import io
import json

import psycopg
import pytest

from conftest import BUCKET, POSTGRES_URL, integration_dict, migrated
from inbound.cli import main
from inbound.store import open_store
from test_actions import _store_connection

ATTRIBUTES = [
    {"column": "Seen", "name": "seen", "type": "timestamp"},
    {"column": "Born", "name": "born", "type": "date", "format": "%d.%m.%Y"},
    {"column": "Called", "name": "called", "type": "timestamp", "format": "%d.%m.%Y %H:%M"},
]
TYPES = {"seen": "timestamp", "born": "date", "called": "timestamp"}
EXPORT = """Email,Seen,Born,Called
a@x,2026-11-28T10:15Z,05.01.2026,05.01.2026 09:30
b@x,2026-11-28 10:15+05:45,5.1.2026,5.1.2026 9:30
c@x,2026-11-28 10:15:30.123456+01,28.02.1990,
d@x,2026-11-28 10:15:30,05.01.26,
e@x,2026-11-28T10:15:30+1,01.01.2000,
f@x,2026-07-01 12:00,,05.01.26 09:30
g@x,2026-11-28T10:15:30.5-0330,29.02.2024,05.01.2026 9:30 Uhr
h@x,2026-07-01 12:00,,
"""


@pytest.fixture
def env(monkeypatch, tmp_path, write_config, s3, store_url):
    """Writes the crm config (Europe/Berlin) with the given attributes; the store is `store_url` (both stores)."""

    def configure(attributes: list[dict[str, str]] = ATTRIBUTES) -> str:
        write_config(
            "crm.yaml", integration_dict("crm", attributes=attributes, timezone="Europe/Berlin", max_rejected_ratio=0.6)
        )
        monkeypatch.setenv("INBOUND_CONFIG_DIR", str(write_config.folder))
        monkeypatch.setenv("AIRFLOW_CONN_INBOUND_STORE", _store_connection(migrated(store_url)))
        monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
        return store_url

    return configure


def test_iso_offsets_and_a_four_digit_year_through_inbound_run(env, s3, capsys) -> None:
    store_url = env()
    s3.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=EXPORT.encode())
    assert main(["run", "crm", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (result,) = summary["results"]
    assert (result["outcome"], result["rows_read"], result["rows_rejected"]) == ("success", 8, 4)
    assert sorted((r["column"], r["lines"]) for r in result["rejected_lines"]) == [
        ("Born", [5]),  # 05.01.26 under %Y
        ("Called", [7, 8]),  # a two-digit year; trailing text
        ("Seen", [6]),  # +1 is no ISO offset
    ]
    report = s3.get_object(Bucket=BUCKET, Key=f"{result['final_key']}.rejected.csv")["Body"].read().decode()
    reasons = {(int(r["line"]), r["column"]): r["reason"] for r in csv.DictReader(io.StringIO(report))}
    assert "%Y is a four-digit year" in reasons[5, "Born"] and "%y" in reasons[5, "Born"]
    assert "%y" in reasons[7, "Called"]
    assert "Z, +hh, +hhmm or +hh:mm" in reasons[6, "Seen"]
    with open_store(store_url) as store:
        found = {u: store.user_attributes(u, TYPES)["attributes"] for u in ("a@x", "b@x", "c@x", "d@x", "g@x", "h@x")}
    assert found == {
        "a@x": {"seen": "2026-11-28T10:15:00+00:00", "born": "2026-01-05", "called": "2026-01-05T08:30:00+00:00"},
        "b@x": {"seen": "2026-11-28T04:30:00+00:00", "born": "2026-01-05", "called": "2026-01-05T08:30:00+00:00"},
        "c@x": {"seen": "2026-11-28T09:15:30.123456+00:00", "born": "1990-02-28"},
        "d@x": {},
        "g@x": {},
        "h@x": {"seen": "2026-07-01T10:00:00+00:00"},  # no zone: read in Europe/Berlin (summer time)
    }


ZONES = ("Europe/Berlin", "Asia/Kathmandu", "America/St_Johns", "UTC")
INSTANTS = ("2026-11-28 09:15:30.123456+00", "2026-07-01 10:00:00+00")


def test_postgresql_copy_output_imports_as_its_instants(env, s3, capsys) -> None:
    """What PostgreSQL's COPY writes for `timestamptz` (`+01`, `+05:45`, `-02:30`, `+00`) is the instant it wrote."""
    store_url = env([ATTRIBUTES[0]])
    export = "Email,Seen\n"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        for z, zone in enumerate(ZONES):
            conn.execute(f"SET TIME ZONE '{zone}'")
            values = ", ".join(f"({n}, timestamptz '{t}')" for n, t in enumerate(INSTANTS))
            query = f"COPY (SELECT 'u{z}-' || n || '@x', t FROM (VALUES {values}) v(n, t)) TO STDOUT (FORMAT csv)"
            with conn.cursor() as cur, cur.copy(query) as copy:
                export += b"".join(bytes(piece) for piece in copy).decode()
    assert all(offset in export for offset in ("+01\n", "+05:45\n", "-02:30\n", "+00\n")), export
    s3.put_object(Bucket=BUCKET, Key="crm/users_2.csv", Body=export.encode())
    assert main(["run", "crm", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert (result["outcome"], result["rows_read"], result["rows_rejected"]) == ("success", 8, 0), result
    with open_store(store_url) as store:
        seen = {
            (z, n): store.user_attributes(f"u{z}-{n}@x", TYPES)["attributes"]["seen"]
            for z in range(len(ZONES))
            for n in range(len(INSTANTS))
        }
    assert set(seen.values()) == {"2026-11-28T09:15:30.123456+00:00", "2026-07-01T10:00:00+00:00"}
    assert all(seen[z, 0] == "2026-11-28T09:15:30.123456+00:00" for z in range(len(ZONES)))
