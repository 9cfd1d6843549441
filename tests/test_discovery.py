"""`inbound discover` against moto's in-process S3: formats, types, user-ID candidates,
the proposed config (loaded and run through the real pipeline), and S3 errors."""

from __future__ import annotations

import gzip
import json
import time

import boto3
import pytest

from conftest import BUCKET
from inbound.cli import main
from inbound.config.catalog import Catalog, load_file
from inbound.discovery.infer import key_glob
from inbound.discovery.proposal import discover
from inbound.discovery.report import to_yaml
from inbound.errors import DiscoveryError
from inbound.run import Run
from inbound.s3.source import list_new_files
from inbound.store import open_store

GERMAN_KEY = "crm/kunden_2026-11-28.csv"
GERMAN = (
    "\r\n".join(
        [
            "Kundennr.;E-Mail;Name;Umsatz;Rabatt;Geburtsdatum;Newsletter;Kunde seit;PLZ;Notiz",
            "1001;anna@example.de;Anna Müller;1.234,56;3,5;01.03.1980;ja;15.01.2020 08:30;01067;",
            "1002;bernd@example.de;Bernd Schäfer;980,00;0,5;24.12.1975;nein;02.02.2021 17:05;80331;VIP",
            "1003;clara@example.de;Clara Weiß;12.000,10;10;31.07.1990;Ja;28.11.2026 23:59;10115;",
            "1004;dieter@example.de;Dieter Öz;0,99;2,25;29.02.1984;NEIN;01.06.2019 00:00;20095;",
        ]
    )
    + "\r\n"
).encode("cp1252")


@pytest.fixture
def aws_conn(monkeypatch):
    """An Airflow AWS connection the CLI's S3Hook resolves (moto intercepts its calls)."""

    def make(conn_id: str, key: str = "testing", secret: str = "testing") -> str:
        conn = {"conn_type": "aws", "login": key, "password": secret, "extra": {"region_name": "us-east-1"}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make


def put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def columns(report) -> dict[str, tuple[str, str | None]]:
    return {c.name: (c.type, c.format) for c in report.columns}


# --------------------------------------------------------------------------- formats


def test_german_excel_export(s3, tmp_path, monkeypatch) -> None:
    put(s3, GERMAN_KEY, GERMAN)
    report = discover(s3, BUCKET, GERMAN_KEY)
    assert (report.encoding, report.delimiter, report.decimal, report.compressed) == ("cp1252", ";", ",", False)
    assert "format.encoding: cp1252" in report.encoding_hint
    assert report.rows == 4 and report.complete
    assert columns(report) == {
        "Kundennr.": ("integer", None),
        "E-Mail": ("string", None),
        "Name": ("string", None),
        "Umsatz": ("number", None),
        "Rabatt": ("number", None),
        "Geburtsdatum": ("date", "%d.%m.%Y"),
        "Newsletter": ("boolean", None),
        "Kunde seit": ("timestamp", "%d.%m.%Y %H:%M"),
        "PLZ": ("string", None),  # leading zeros: never a number
        "Notiz": ("string", None),
    }
    by_name = {c.name: c for c in report.columns}
    assert by_name["Name"].samples == ["Anna Müller", "Bernd Schäfer", "Clara Weiß"]
    assert by_name["Notiz"].empty == 0.75 and by_name["Newsletter"].distinct == 1.0
    assert report.user_id_candidates[0] == "E-Mail"
    # numbers, booleans and dates are never proposed as user IDs, even when unique
    assert set(report.user_id_candidates) == {"E-Mail", "Kundennr.", "Name", "PLZ"}
    assert report.user_id_candidates.index("Kundennr.") < report.user_id_candidates.index("Name")

    text = to_yaml(report)
    path = tmp_path / "crm_kunden.yaml"
    path.write_text(text, encoding="utf-8")
    integration, errors = load_file(path)
    assert errors == [] and integration is not None
    assert integration.name == "crm_kunden" and integration.schedule == "@daily"
    assert integration.source.key == "crm/kunden_*.csv" and integration.source.bucket == BUCKET
    assert integration.format.encoding == "cp1252" and integration.format.decimal == ","
    assert integration.user_id.column == "E-Mail"
    names = {a.column: a.attribute for a in integration.attributes}
    assert names["Kundennr."] == "kundennr" and names["Kunde seit"] == "kunde_seit" and names["Umsatz"] == "Umsatz"

    # what `inbound run` does with this config: the real pipeline on the real file
    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", migrate=True)
    try:
        files = list_new_files(s3, BUCKET, integration.source.key)
        assert [f.key for f in files] == [GERMAN_KEY]
        summary = Run(integration, s3, store, f"run_{time.time_ns()}", "test", catalog=Catalog())(files)
        assert summary.outcome == "success", summary.lines()
        assert (summary.rows_read, summary.rows_written, summary.rows_rejected) == (4, 4, 0)
        anna = store.user_attributes("anna@example.de", integration.attribute_types)["attributes"]
        assert anna["Umsatz"] == 1234.56 and anna["Rabatt"] == 3.5 and anna["kundennr"] == 1001
        assert anna["Name"] == "Anna Müller" and anna["Newsletter"] is True and anna["PLZ"] == "01067"
        assert anna["Geburtsdatum"] == "1980-03-01"
        assert str(anna["kunde_seit"]).startswith("2020-01-15")
        assert (
            store.user_attributes("dieter@example.de", integration.attribute_types)["attributes"]["Geburtsdatum"]
            == "1984-02-29"
        )
    finally:
        store.close()


def test_cli_prints_report_and_yaml(s3, aws_conn, capsys) -> None:
    put(s3, GERMAN_KEY, GERMAN)
    assert main(["discover", f"s3://{BUCKET}/{GERMAN_KEY}", "--aws-conn-id", aws_conn("exports")]) == 0
    out = capsys.readouterr().out
    assert "encoding   cp1252" in out and "format.encoding: cp1252" in out
    assert 'delimiter  ";"' in out and "gzip       no" in out and 'decimal    ","' in out
    assert "rows       4 sampled" in out
    assert "date %d.%m.%Y" in out and "Anna Müller" in out
    assert "user ID candidates (filled and unique in the sample): E-Mail, Kundennr." in out
    assert 'aws_conn_id: "exports"' in out and "name: crm_kunden" in out

    assert main(["discover", f"s3://{BUCKET}/{GERMAN_KEY}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["delimiter"] == ";" and report["user_id_candidates"][0] == "E-Mail"
    assert report["config"].startswith("# yaml-language-server")


def test_utf16_tab_txt(s3, tmp_path) -> None:
    rows = ["UserId\tPlan\tSeats\tActive\tSince"] + [
        f"u{i:04d}\t{'premium' if i % 3 else 'free'}\t{i}\t{'true' if i % 2 else 'false'}\t2024-01-{i % 28 + 1:02d}"
        for i in range(200)
    ]
    put(s3, "hr/people.txt", ("\r\n".join(rows) + "\r\n").encode("utf-16"))
    report = discover(s3, BUCKET, "hr/people.txt")
    assert (report.encoding, report.bom, report.delimiter, report.encoding_hint) == ("utf-16", True, "\t", None)
    assert report.rows == 200 and report.complete
    assert columns(report) == {
        "UserId": ("string", None),
        "Plan": ("string", None),
        "Seats": ("integer", None),
        "Active": ("boolean", None),
        "Since": ("date", None),
    }
    assert report.user_id_candidates == ["UserId", "Seats"]
    # the head of a UTF-16 file is cut at a whole line in UTF-16, not mid-character
    head = discover(s3, BUCKET, "hr/people.txt", max_bytes=1001)
    assert not head.complete and 0 < head.rows < 200 and head.encoding == "utf-16"
    assert {c.name for c in head.columns} == {"UserId", "Plan", "Seats", "Active", "Since"}
    assert any("only the first" in n for n in head.notes)
    path = tmp_path / "hr_people.yaml"
    path.write_text(to_yaml(report))
    integration, errors = load_file(path)
    assert errors == [] and integration.format.delimiter == "\t" and integration.source.key == "hr/people.txt"


def test_gzip_head_is_inflated_up_to_the_limit(s3) -> None:
    rows = ["Email,Plan,Score"] + [f"user{i}@example.com,p{i % 7},{i}.5" for i in range(20000)]
    body = gzip.compress(("\n".join(rows) + "\n").encode())
    put(s3, "exports/users_20261128.csv.gz", body)
    report = discover(s3, BUCKET, "exports/users_20261128.csv.gz", max_bytes=64 * 1024)
    assert len(body) > 64 * 1024 and report.size == len(body)
    assert report.compressed and not report.complete
    assert 0 < report.rows < 20000 and report.read_bytes <= 64 * 1024
    assert columns(report) == {"Email": ("string", None), "Plan": ("string", None), "Score": ("number", None)}
    assert report.decimal == "." and report.user_id_candidates == ["Email"]
    assert key_glob(report.key) == "exports/users_*.csv.gz"
    small = discover(s3, BUCKET, "exports/users_20261128.csv.gz")  # 1 MiB: the whole file
    assert small.compressed and small.complete and small.rows == 20000


def test_quoted_newline_at_the_cut_is_never_split(s3) -> None:
    rows = ["Email,Note"] + [f'u{i}@x,"line one\nline two"' for i in range(100)]
    put(s3, "notes.csv", ("\n".join(rows) + "\n").encode())
    for limit in range(60, 400, 7):
        report = discover(s3, BUCKET, "notes.csv", max_bytes=limit)
        assert all(c.type == "string" for c in report.columns)
        assert not report.notes or "different number of fields" not in report.notes[0]


def test_key_pattern_samples_the_newest_file(s3) -> None:
    put(s3, "crm/users_2026-11-27.csv", b"Email,Plan\na@x,free\n")
    put(s3, "crm/users_2026-11-28.csv", b"Email,Plan,Seats\na@x,free,3\n")
    report = discover(s3, BUCKET, "crm/users_*.csv")
    assert report.key == "crm/users_2026-11-28.csv" and [c.name for c in report.columns] == ["Email", "Plan", "Seats"]
    assert 'key: "crm/users_*.csv"' in to_yaml(report)


def test_boolean_zero_one_stays_integer_and_decimal_point_with_semicolon(s3) -> None:
    put(s3, "x/flags.csv", b"Email;Tickets;Score\na@x;0;1.5\nb@x;1;2.25\n")
    report = discover(s3, BUCKET, "x/flags.csv")
    assert report.decimal == "." and columns(report)["Tickets"] == ("integer", None)
    assert columns(report)["Score"] == ("number", None)


# --------------------------------------------------------------------------- S3 errors


def test_no_such_bucket(s3, aws_conn, capsys) -> None:
    assert main(["discover", "s3://no-such-bucket-here/crm/users.csv", "--aws-conn-id", aws_conn("exports")]) == 2
    err = capsys.readouterr().err
    assert (
        "s3://no-such-bucket-here/crm/users.csv: the bucket 'no-such-bucket-here' does not exist (NoSuchBucket)" in err
    )
    assert "'exports'" in err


def test_no_such_key_suggests_keys(s3, capsys) -> None:
    put(s3, "crm/users_2026-11-28.csv", b"Email\na@x\n")
    put(s3, "crm/success/20261127T000000Z_users_2026-11-27.csv", b"Email\na@x\n")
    assert main(["discover", f"s3://{BUCKET}/crm/users.csv"]) == 2
    err = capsys.readouterr().err
    assert "no object with the key 'crm/users.csv' in the bucket 'acme-exports' (NoSuchKey)" in err
    assert "keys with the same prefix: crm/users_2026-11-28.csv" in err and "success/" not in err
    with pytest.raises(DiscoveryError, match="there are no files under 'hr/'"):
        discover(s3, BUCKET, "hr/people.csv")
    with pytest.raises(DiscoveryError, match="no file matches the pattern"):
        discover(s3, BUCKET, "hr/people_*.csv")


@pytest.fixture
def restricted(s3, monkeypatch):
    """An IAM user allowed only `actions` on the bucket, with moto enforcing IAM from now on."""
    from moto import settings

    def make(actions: list[str]) -> tuple[str, str]:
        iam = boto3.client("iam", region_name="us-east-1")
        user = f"reader{len(actions)}{time.time_ns()}"
        iam.create_user(UserName=user)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                }
            ],
        }
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
        return key["AccessKeyId"], key["SecretAccessKey"]

    return make


def test_access_denied_names_the_permission(s3, restricted, aws_conn, capsys) -> None:
    put(s3, GERMAN_KEY, GERMAN)
    key_id, secret = restricted(["s3:ListBucket"])
    conn = aws_conn("lister", key_id, secret)
    assert main(["discover", f"s3://{BUCKET}/{GERMAN_KEY}", "--aws-conn-id", conn]) == 2
    err = capsys.readouterr().err
    assert f"s3://{BUCKET}/{GERMAN_KEY}: access denied (AccessDenied)" in err
    assert f"s3:GetObject on arn:aws:s3:::{BUCKET}/{GERMAN_KEY}" in err and "'lister'" in err


def test_missing_key_when_listing_is_denied(s3, restricted) -> None:
    key_id, secret = restricted(["s3:GetObject"])
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id=key_id, aws_secret_access_key=secret)
    with pytest.raises(DiscoveryError) as caught:
        discover(client, BUCKET, "crm/missing.csv")
    message = str(caught.value)
    assert "s3://acme-exports/crm/missing.csv" in message
    assert "s3:ListBucket on arn:aws:s3:::acme-exports" in message


def test_refused_credentials(s3, restricted, aws_conn, capsys) -> None:
    put(s3, GERMAN_KEY, GERMAN)
    restricted(["s3:GetObject"])
    conn = aws_conn("wrong", "AKIAWRONGWRONGWRONG1", "not-the-secret")
    assert main(["discover", f"s3://{BUCKET}/{GERMAN_KEY}", "--aws-conn-id", conn]) == 2
    err = capsys.readouterr().err
    assert "the credentials were refused (InvalidAccessKeyId)" in err
    assert "access key (login) and secret (password) of the Airflow connection 'wrong'" in err


def test_unreachable_endpoint() -> None:
    from botocore.config import Config

    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(connect_timeout=1, retries={"max_attempts": 1}),
    )
    with pytest.raises(
        DiscoveryError,
        match=r"s3://acme-exports/a\.csv: cannot reach the S3 endpoint http://127\.0\.0\.1:9.*endpoint_url",
    ):
        discover(client, BUCKET, "a.csv", aws_conn_id="minio")


def test_not_a_csv_and_bad_uri(s3, capsys) -> None:
    put(s3, "x/book.xlsx", b"PK\x03\x04rest-of-a-zip")
    put(s3, "x/empty.csv", b"")
    assert main(["discover", f"s3://{BUCKET}/x/book.xlsx"]) == 2
    assert "s3://acme-exports/x/book.xlsx: the file is a ZIP archive" in capsys.readouterr().err
    assert main(["discover", f"s3://{BUCKET}/x/empty.csv"]) == 2
    assert "the file is empty" in capsys.readouterr().err
    assert main(["discover", "acme-exports/x.csv"]) == 2
    assert "give s3://BUCKET/KEY" in capsys.readouterr().err


# --------------------------------------------------------------------------- unnamed columns


@pytest.mark.parametrize(
    ("body", "unnamed"),
    [
        (b",Email,Plan\n0,ada@x,pro\n1,grace@x,free\n", "column 1 has no name"),  # pandas `to_csv()`'s index
        (b"Email,,Plan\nada@x,7,pro\ngrace@x,8,free\n", "column 2 has no name"),
        (b"Email,Plan,\nada@x,pro,\ngrace@x,free,\n", "column 3 has no name"),  # a delimiter ending the header
        (b",Email,,Plan,\n0,ada@x,7,pro,\n1,grace@x,8,free,\n", "columns 1, 3 and 5 have no name"),
    ],
    ids=["pandas index", "middle", "trailing delimiter", "several"],
)
def test_an_unnamed_column_is_left_out_of_the_proposal_and_the_import_takes_the_file(
    s3, tmp_path, monkeypatch, body: bytes, unnamed: str
) -> None:
    """A header cell with no name cannot be mapped (a config names its columns): discovery says where it is and
    proposes the named columns, and the proposed config imports the file as it is."""
    put(s3, "shop/orders.csv", body)
    report = discover(s3, BUCKET, "shop/orders.csv")
    assert [c.name for c in report.columns] == ["Email", "Plan"]
    (note,) = [n for n in report.notes if "no name" in n]
    assert note.startswith(unnamed) and "left out of the proposed config" in note
    text = to_yaml(report)
    assert 'column: ""' not in text
    path = tmp_path / "shop_orders.yaml"
    path.write_text(text, encoding="utf-8")
    integration, errors = load_file(path)
    assert errors == [] and integration is not None
    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path / "staging"))
    with open_store(f"sqlite:///{tmp_path / 'store.db'}", migrate=True) as store:
        files = list_new_files(s3, BUCKET, integration.source.key)
        summary = Run(integration, s3, store, f"run_{time.time_ns()}", "test", catalog=Catalog())(files)
        assert summary.outcome == "success", summary.lines()
        assert store.user_attributes("ada@x", integration.attribute_types)["attributes"] == {"Plan": "pro"}


def test_a_pandas_index_is_named_as_such_and_the_cli_proposes_a_config(s3, capsys) -> None:
    put(s3, "shop/orders.csv", b",Email,Plan\n0,ada@x,pro\n1,grace@x,free\n")
    assert main(["discover", f"s3://{BUCKET}/shop/orders.csv"]) == 0
    out = capsys.readouterr().out
    assert "column 1 has no name" in out and "index=False" in out and 'column: "Email"' in out


def test_a_header_without_a_named_column_is_a_clear_refusal(s3, capsys) -> None:
    put(s3, "shop/blank.csv", b",\n1,2\n")
    with pytest.raises(DiscoveryError, match=r"s3://acme-exports/shop/blank\.csv: .*no column has a name"):
        discover(s3, BUCKET, "shop/blank.csv")
    assert main(["discover", f"s3://{BUCKET}/shop/blank.csv"]) == 2
    assert "no column has a name" in capsys.readouterr().err
