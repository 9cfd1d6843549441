"""`inbound.airflow.connections`: the store's connection read from `AIRFLOW_CONN_INBOUND_STORE` without Airflow.

The variable must mean what it means to Airflow: every form is checked against Airflow's
own parsing (`Connection.from_uri` / `from_json`, as its environment-variable backend
calls them) and against the URL `store_url_from_connection` makes of Airflow's object.
"""

from __future__ import annotations

import json

import pytest

from inbound.airflow.connections import STORE_CONN_ENV, parse_connection, store, store_url
from inbound.errors import ConfigInvalid
from inbound.store import store_url_from_connection

EXTRA = "%7B%22sslmode%22%3A+%22require%22%7D"  # {"sslmode": "require"}, as Airflow's get_uri writes it

FORMS = {
    "postgresql URI": "postgresql://inbound:secret@store-db:5432/inbound",
    "postgres URI": "postgres://inbound:secret@store-db/inbound",
    "percent-encoded": "postgresql://in%40bound:p%40ss%2Fw%3Ard%25@store-db.example.com:5433/in%20bound",
    "extra query": f"postgresql://inbound:secret@store-db:5432/inbound?__extra__={EXTRA}",
    "plain query": "postgres://inbound:secret@store-db:5432/inbound?sslmode=require&connect_timeout=5",
    "no login, no port": "postgresql://store-db/inbound",
    "login without password": "postgresql://inbound@store-db/inbound",
    "no database": "postgresql://inbound:secret@store-db:5432",
    "spaces around": "  postgresql://inbound:secret@store-db/inbound \n",
    "upper-case scheme": "POSTGRESQL://inbound:secret@Store-DB:5432/inbound",
    "socket path as host": "postgresql://inbound@%2Fvar%2Frun%2Fpostgresql/inbound",
    "IPv6 host": "postgresql://inbound:secret@[::1]:5432/inbound",
    "sqlite absolute": "sqlite:////var/lib/inbound/store.db",
    "sqlite relative": "sqlite:///store.db",
    "json postgres": json.dumps(
        {
            "conn_type": "postgres",
            "host": "store-db",
            "login": "in@bound",
            "password": "p@ss/w:rd",
            "schema": "inbound",
            "port": 5432,
            "extra": {"sslmode": "require"},
        }
    ),
    "json postgresql, port as text": json.dumps(
        {"conn_type": "postgresql", "host": "store-db", "login": "inbound", "schema": "inbound", "port": "5433"}
    ),
    "json sqlite": json.dumps({"conn_type": "sqlite", "host": "/var/lib/inbound/store.db"}),
    "json sqlite in schema": json.dumps({"conn_type": "sqlite", "schema": "/var/lib/inbound/store.db"}),
    "json with description": json.dumps({"conn_type": "sqlite", "host": "/x.db", "description": "the store"}),
    "json with a uri": json.dumps({"uri": "postgres://inbound:secret@store-db/inbound", "extra": None}),
}


def airflow_connection(value: str) -> object:
    """Airflow's reading of an `AIRFLOW_CONN_*` value (its secrets backends' `_deserialize_connection_value`)."""
    from airflow.sdk.definitions.connection import Connection

    value = value.strip()
    if value.startswith("{"):
        return Connection.from_json(value, conn_id="inbound_store")
    return Connection.from_uri(value, conn_id="inbound_store")


@pytest.mark.parametrize("value", FORMS.values(), ids=FORMS.keys())
def test_each_form_reads_as_airflow_reads_it(value: str) -> None:
    ours = parse_connection(value)
    theirs = airflow_connection(value)
    for name in ("conn_type", "host", "schema", "login", "password", "port"):
        assert (getattr(ours, name) or None) == (getattr(theirs, name) or None), name
    assert store_url_from_connection(ours) == store_url_from_connection(theirs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "url"),
    [
        (FORMS["postgres URI"], "postgresql://inbound:secret@store-db/inbound"),
        (FORMS["percent-encoded"], "postgresql://in%40bound:p%40ss%2Fw%3Ard%25@store-db.example.com:5433/in bound"),
        (FORMS["extra query"], "postgresql://inbound:secret@store-db:5432/inbound?sslmode=require"),
        (FORMS["plain query"], "postgresql://inbound:secret@store-db:5432/inbound?connect_timeout=5&sslmode=require"),
        (FORMS["no database"], "postgresql://inbound:secret@store-db:5432/postgres"),
        (FORMS["sqlite absolute"], "sqlite:////var/lib/inbound/store.db"),
        (FORMS["sqlite relative"], "sqlite:///store.db"),
        (FORMS["json postgres"], "postgresql://in%40bound:p%40ss%2Fw%3Ard@store-db:5432/inbound?sslmode=require"),
        (FORMS["json sqlite"], "sqlite:////var/lib/inbound/store.db"),
    ],
)
def test_the_store_url_from_the_variable(monkeypatch, value: str, url: str) -> None:
    monkeypatch.setenv(STORE_CONN_ENV, value)
    assert store_url() == url


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("mysql://inbound:secret@db/inbound", "type 'mysql'; use postgres or sqlite"),
        (json.dumps({"conn_type": "aws", "password": "secret"}), "type 'aws'; use postgres or sqlite"),
        ('{"conn_type": "postgres", "password": "secret"', "is not valid JSON"),
        ('["postgres", "secret"]', "is neither a connection URI"),  # Airflow reads only objects as JSON
        (json.dumps({"conn_type": "postgres", "pasword": "secret"}), "unknown connection fields ['pasword']"),
        (json.dumps({"conn_id": "inbound_store", "conn_type": "sqlite"}), "unknown connection fields ['conn_id']"),
        (json.dumps({"uri": "postgres://u:secret@db/x", "login": "u"}), "either a uri or the connection's fields"),
        ("postgres://u:secret@http://db/x", "is not a valid connection URI"),
        (json.dumps({"conn_type": "postgres", "port": "secret"}), "port must be a whole number"),
        ("postgresql://inbound:secret@store-db:54x2/inbound", "the port is not a number"),
        ("store-db/inbound", "is neither a connection URI"),
    ],
)
def test_a_connection_the_store_cannot_use_is_a_clear_error_without_the_secret(
    monkeypatch, value: str, says: str
) -> None:
    monkeypatch.setenv(STORE_CONN_ENV, value)
    with pytest.raises(ConfigInvalid) as raised:
        store_url()
    assert says in str(raised.value)
    assert "secret" not in str(raised.value).replace(says, "")


def test_the_password_stays_out_of_the_repr() -> None:
    parts = parse_connection("postgresql://inbound:secret@store-db/inbound")
    assert parts.password == "secret"
    assert "secret" not in repr(parts)


def test_without_the_variable_airflow_is_asked(monkeypatch) -> None:
    from airflow.sdk import BaseHook, Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    monkeypatch.setenv(STORE_CONN_ENV, "  ")  # blank: as unset, for Airflow too
    asked: list[str] = []

    def found(conn_id: str) -> Connection:
        asked.append(conn_id)
        return Connection(conn_id=conn_id, conn_type="postgres", host="db", login="u", password="p w", port=5432)

    monkeypatch.setattr(BaseHook, "get_connection", found)
    assert store_url() == "postgresql://u:p%20w@db:5432/postgres"
    assert asked == ["inbound_store"]

    def missing(conn_id: str) -> Connection:
        raise AirflowNotFoundException(conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", missing)
    assert store_url() is None  # the embedded SQLite default


def test_the_variable_wins_and_airflow_is_not_asked(monkeypatch, tmp_path) -> None:
    from airflow.sdk import BaseHook

    def fail(conn_id: str) -> None:
        raise AssertionError("Airflow was asked")

    monkeypatch.setattr(BaseHook, "get_connection", fail)
    monkeypatch.setenv(STORE_CONN_ENV, f"sqlite:///{tmp_path / 'store.db'}")
    with store(migrate=True) as attribute_store:  # `inbound migrate`'s open
        assert attribute_store.integrations() == {}
    assert (tmp_path / "store.db").exists()
    with store() as attribute_store:
        assert attribute_store.integrations() == {}


# The S3 client from `AIRFLOW_CONN_<AWS_CONN_ID>` without Airflow: the client Airflow's S3 hook makes.

AWS_FORMS = {
    "login and password, endpoint": json.dumps(
        {"conn_type": "aws", "login": "AKIA1", "password": "s3cret", "extra": {"endpoint_url": "http://127.0.0.1:9"}}
    ),
    "URI with region and endpoint": "aws://AKIA1:s3cret@/?region_name=eu-west-1&endpoint_url=http%3A%2F%2Fminio%3A9000",
    "URI with the extra as JSON": "aws://?__extra__=%7B%22region_name%22%3A+%22eu-central-1%22%7D",
    "keys, token and region in the extra": json.dumps(
        {
            "conn_type": "aws",
            "extra": {
                "aws_access_key_id": "AKIA2",
                "aws_secret_access_key": "s3cret2",
                "aws_session_token": "tok",
                "region_name": "ap-south-1",
            },
        }
    ),
    "login wins over the extra's keys": json.dumps(
        {"conn_type": "aws", "login": "AKIA1", "password": "s", "extra": {"aws_access_key_id": "AKIA2"}}
    ),
    "login without password": json.dumps({"conn_type": "aws", "login": "AKIA1", "extra": {"aws_access_key_id": "A3"}}),
    "service endpoint wins": json.dumps(
        {
            "conn_type": "aws",
            "extra": {"endpoint_url": "http://a:1", "service_config": {"s3": {"endpoint_url": "http://b:2"}}},
        }
    ),
    "another service's endpoint": json.dumps(
        {"conn_type": "aws", "extra": {"endpoint_url": "http://a:1", "service_config": {"sts": {"endpoint_url": "x"}}}}
    ),
    "verify off": json.dumps({"conn_type": "aws", "extra": {"verify": False, "region_name": "us-east-1"}}),
    "verify a bundle": json.dumps({"conn_type": "aws", "extra": {"verify": "/etc/ssl/certs/ca-certificates.crt"}}),
    "config_kwargs (inbound's config wins)": json.dumps(
        {"conn_type": "aws", "extra": {"config_kwargs": {"signature_version": "unsigned", "read_timeout": 3}}}
    ),
    "no type, no fields: boto3's own chain": json.dumps({}),
    "type only": "aws://",
}


def _client_facts(client: object) -> dict[str, object]:
    creds = client._request_signer._credentials  # type: ignore[attr-defined]
    config = client.meta.config  # type: ignore[attr-defined]
    return {
        "endpoint": client.meta.endpoint_url,  # type: ignore[attr-defined]
        "region": client.meta.region_name,  # type: ignore[attr-defined]
        "credentials": creds and (creds.access_key, creds.secret_key, creds.token),
        "verify": client._endpoint.http_session._verify,  # type: ignore[attr-defined]
        "signature": config.signature_version,
        "config": (config.retries, config.connect_timeout, config.read_timeout),
    }


@pytest.mark.parametrize("value", AWS_FORMS.values(), ids=AWS_FORMS.keys())
def test_the_s3_client_from_the_variable_is_the_one_airflows_hook_makes(monkeypatch, value: str) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config

    from inbound.airflow.connections import direct_s3_client

    monkeypatch.setenv("AIRFLOW_CONN_SOURCE_AWS", value)
    config = Config(retries={"mode": "standard", "total_max_attempts": 8}, connect_timeout=10, read_timeout=120)
    ours = direct_s3_client("source_aws", config)
    assert ours is not None
    theirs = S3Hook(aws_conn_id="source_aws", config=config).get_conn()
    assert _client_facts(ours) == _client_facts(theirs)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "  ",
        json.dumps({"conn_type": "aws", "extra": {"role_arn": "arn:aws:iam::1:role/r"}}),
        json.dumps({"conn_type": "aws", "extra": {"session_kwargs": {"aws_access_key_id": "A"}}}),
        json.dumps({"conn_type": "aws", "extra": {"service_config": {"s3": "http://x"}}}),
        json.dumps({"conn_type": "s3", "login": "A", "password": "s"}),  # Airflow warns about the type
        '{"conn_type": "aws"',  # not JSON: Airflow's own error
        "no-scheme",
        json.dumps({"conn_type": "aws", "port": "x"}),
    ],
    ids=[
        "unset",
        "blank",
        "role",
        "session_kwargs",
        "bad service_config",
        "other type",
        "bad JSON",
        "not a URI",
        "port",
    ],
)
def test_what_only_airflows_hook_knows_is_left_to_it(monkeypatch, value: str) -> None:
    from botocore.config import Config

    from inbound.airflow.connections import direct_s3_client

    monkeypatch.setenv("AIRFLOW_CONN_SOURCE_AWS", value)
    assert direct_s3_client("source_aws", Config()) is None


def test_a_custom_session_factory_is_left_to_airflows_hook(monkeypatch, tmp_path) -> None:
    from botocore.config import Config

    from inbound.airflow.connections import direct_s3_client

    monkeypatch.setenv("AIRFLOW_CONN_SOURCE_AWS", json.dumps({"conn_type": "aws", "login": "A", "password": "s"}))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_CONFIG", raising=False)
    assert direct_s3_client("source_aws", Config()) is not None
    (tmp_path / "airflow.cfg").write_text("[core]\nload_examples = False\n[aws]\n# session_factory =\n")
    assert direct_s3_client("source_aws", Config()) is not None
    (tmp_path / "airflow.cfg").write_text("[aws]\nsession_factory = acme.aws.Factory\n")
    assert direct_s3_client("source_aws", Config()) is None
    monkeypatch.setenv("AIRFLOW_CONFIG", str(tmp_path / "elsewhere.cfg"))
    assert direct_s3_client("source_aws", Config()) is not None
    monkeypatch.setenv("AIRFLOW__AWS__SESSION_FACTORY", "acme.aws.Factory")
    assert direct_s3_client("source_aws", Config()) is None


def test_where_airflow_is_loaded_its_hook_makes_the_client(monkeypatch) -> None:
    import sys

    import airflow

    from inbound.airflow import connections

    monkeypatch.setenv(
        "AIRFLOW_CONN_SOURCE_AWS", json.dumps({"conn_type": "aws", "extra": {"region_name": "eu-west-3"}})
    )
    direct = object()
    monkeypatch.setattr(connections, "direct_s3_client", lambda conn_id, config: direct)
    monkeypatch.setitem(sys.modules, "airflow", airflow)
    hooks = connections._new_s3_client("source_aws")  # a task, the triggerer, the web server
    assert hooks is not direct and hooks.meta.region_name == "eu-west-3"
    monkeypatch.delitem(sys.modules, "airflow")  # a process that has not loaded Airflow (restored after)
    assert connections._new_s3_client("source_aws") is direct
