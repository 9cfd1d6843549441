"""Credentials from Airflow connections, resolved only at run time (never at parse time).

The core modules take a boto3 client and a store URL, so they run and test without a
scheduler; this module turns Airflow connections into those two. Airflow is imported
inside the functions that need it, never with this module: importing Airflow costs
seconds, and the store's connection usually does not need it.

The store's connection `inbound_store` is read straight from `AIRFLOW_CONN_INBOUND_STORE`
when that variable is set, in either of the two forms Airflow accepts there (a URI, or
JSON with the connection's fields), so `inbound user`, `inbound segment` and the other
store-only commands never load Airflow. Only when it is not set does the lookup go
through Airflow (its secrets backends and metadata database). One consequence: a
connection set both in the variable and in a custom secrets backend is taken from the
variable here, where Airflow would ask the backend first.

The S3 client is made the same way from `AIRFLOW_CONN_<AWS_CONN_ID>` in a process that has
not loaded Airflow (`inbound run`, `inbound discover`): boto3 with the fields Airflow's S3
hook would take from that connection. A connection using what only the hook knows (an
assumed role, `session_kwargs`, another connection type, a custom `[aws] session_factory`),
a value it cannot read, no variable at all, or a process where Airflow is loaded already
(tasks, the triggerer, the web server: there the hook costs nothing more to import and
keeps its extras: secret masking in task logs, its user agent) go through the hook.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from inbound.errors import ConfigInvalid
from inbound.s3.source import S3_RETRIES
from inbound.store import AttributeStore, open_store, store_url_from_connection

if TYPE_CHECKING:
    from botocore.config import Config
    from types_boto3_s3 import S3Client

STORE_CONN_ID = "inbound_store"
STORE_CONN_ENV = f"AIRFLOW_CONN_{STORE_CONN_ID.upper()}"


CLIENT_TTL_S = 600.0
_clients: dict[tuple[str, str | None], tuple[float, S3Client]] = {}
_clients_lock = threading.Lock()


def s3_client(aws_conn_id: str) -> S3Client:
    """A boto3 S3 client from the integration's AWS connection (keys, role, or default chain).

    It retries throttling, 5xx answers and dropped connections with exponential back-off
    (`S3_RETRIES`); what still fails becomes a `SourceUnavailable` naming the file.
    Clients are reused for ten minutes per connection (boto3 clients are thread-safe):
    building one loads the S3 service model, about 0.2 s of CPU, which a triggerer polling
    for a thousand waiting sensors cannot pay on every look.
    """
    key = (aws_conn_id, os.environ.get(f"AIRFLOW_CONN_{aws_conn_id.upper()}"))
    with _clients_lock:
        cached = _clients.get(key)
        if cached is None or time.monotonic() - cached[0] > CLIENT_TTL_S:
            cached = (time.monotonic(), _new_s3_client(aws_conn_id))
            _clients[key] = cached
    return cached[1]


def _new_s3_client(aws_conn_id: str) -> S3Client:
    from botocore.config import Config

    config = Config(retries=dict(S3_RETRIES), connect_timeout=10, read_timeout=120)  # type: ignore[arg-type]
    if "airflow" not in sys.modules:
        client = direct_s3_client(aws_conn_id, config)
        if client is not None:
            return client
    # Airflow's S3 hook loads Airflow (about 1.5 s): only where the variable does not say it all.
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return cast("S3Client", S3Hook(aws_conn_id=aws_conn_id, config=config).get_conn())


# The extra's keys whose meaning for an S3 client is replicated below (Airflow's
# `AwsConnectionWrapper`); `config_kwargs` is ignored there too, since inbound passes its own
# config. Any other key (`role_arn`, `session_kwargs`, ...) leaves the client to Airflow's hook.
_AWS_EXTRA = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "region_name",
        "profile_name",
        "endpoint_url",
        "service_config",
        "verify",
        "config_kwargs",
    }
)


def direct_s3_client(aws_conn_id: str, config: Config) -> S3Client | None:
    """The S3 client Airflow's `S3Hook(aws_conn_id, config=config)` makes, built from
    `AIRFLOW_CONN_<AWS_CONN_ID>` without Airflow; None when only the hook can make it.

    As the hook: login and password are the keys when both are set (else the extra's
    `aws_access_key_id` / `aws_secret_access_key`), the extra's `aws_session_token`,
    `region_name`, `profile_name` and `verify`, and the endpoint from the extra's
    `service_config.s3.endpoint_url`, else its `endpoint_url`.
    """
    env = f"AIRFLOW_CONN_{aws_conn_id.upper()}"
    value = os.environ.get(env, "")
    if not value.strip() or _custom_session_factory():
        return None
    try:
        conn = parse_connection(value, env)
    except ConfigInvalid:  # Airflow's own reading says what is wrong, in its words
        return None
    extra = conn.extra
    services = extra.get("service_config", {})
    if (
        conn.conn_type not in (None, "aws")  # Airflow warns about another type
        or not set(extra) <= _AWS_EXTRA
        or not isinstance(services, dict)
        or not all(isinstance(v, dict) for v in services.values())
    ):
        return None
    # boto3 (about 0.1 s) loads only in processes that talk to S3.
    import boto3

    key_id, secret = (
        (conn.login, conn.password)
        if conn.login and conn.password
        else (extra.get("aws_access_key_id"), extra.get("aws_secret_access_key"))
    )
    endpoint = services.get("s3", {}).get("endpoint_url", extra.get("endpoint_url"))
    session = boto3.session.Session(  # None is as absent here, as in the hook's `trim_none_values`
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=extra.get("aws_session_token"),
        region_name=extra.get("region_name"),
        profile_name=extra.get("profile_name"),
    )
    return session.client("s3", endpoint_url=endpoint, config=config, verify=extra.get("verify"))


def _custom_session_factory() -> bool:
    """Whether Airflow's `[aws] session_factory` is set (environment or airflow.cfg): only the hook uses it."""
    if any(os.environ.get(f"AIRFLOW__AWS__SESSION_FACTORY{s}") for s in ("", "_CMD", "_SECRET")):
        return True
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    path = os.environ.get("AIRFLOW_CONFIG") or os.path.join(home, "airflow.cfg")
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return False
    if "session_factory" not in text:
        return False
    import configparser

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return True  # unreadable here: let Airflow read it
    return any(parser.get("aws", f"session_factory{s}", fallback="").strip() for s in ("", "_cmd", "_secret"))


@dataclass(frozen=True)
class ConnectionParts:
    """The fields of an Airflow connection the store URL is made of, as Airflow parses them."""

    conn_type: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line or a traceback
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold an sslpassword

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """As Airflow's `Connection.extra_dejson`: the extra's options (libpq's TLS options, ...)."""
        return dict(self.extra)


# The keys of Airflow's JSON form (`Connection.from_json`): Airflow refuses any other, `conn_id` included.
_JSON_FIELDS = frozenset({"conn_type", "description", "host", "schema", "login", "password", "port", "extra", "uri"})


def parse_connection(value: str, env: str = STORE_CONN_ENV) -> ConnectionParts:
    """An `AIRFLOW_CONN_*` value as Airflow reads it: JSON when it starts with `{`, else a URI.

    An error names the variable `env` and never repeats the value (it may hold a password).
    """
    value = value.strip()
    if value.startswith("{"):
        return _from_json(value, env)
    return _from_uri(value, env)


def _from_json(value: str, env: str) -> ConnectionParts:
    try:
        fields = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigInvalid(f"{env} is not valid JSON ({exc.msg} at character {exc.pos})") from None
    unknown = sorted(set(fields) - _JSON_FIELDS)
    if unknown:
        raise ConfigInvalid(f"{env} has unknown connection fields {unknown}; known: {sorted(_JSON_FIELDS)}")
    if (
        "uri" in fields
    ):  # the URI form inside JSON: Airflow takes no other field with it (but an empty extra, type, port)
        if [k for k, v in fields.items() if k != "uri" and (v or k not in ("extra", "conn_type", "port"))]:
            raise ConfigInvalid(f"{env}: give either a uri or the connection's fields, not both")
        return _from_uri(str(fields["uri"]), env)
    port = fields.get("port")
    if port:
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise ConfigInvalid(f"{env}: port must be a whole number") from None
    text = {k: None if fields.get(k) is None else str(fields[k]) for k in ("host", "schema", "login", "password")}
    conn_type = fields.get("conn_type")
    return ConnectionParts(
        conn_type=_normalize_type(str(conn_type)) if conn_type else None,
        port=port or None,
        extra=_extra(fields.get("extra"), env),
        **text,
    )


def _extra(value: object, env: str) -> dict[str, Any]:
    """A connection's extra: a JSON object, given as one or as its text."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigInvalid(f"{env}: the extra is not a JSON object") from None
    if not isinstance(value, dict):
        raise ConfigInvalid(f"{env}: the extra is not a JSON object")
    return value


def _from_uri(uri: str, env: str) -> ConnectionParts:
    """Airflow's `Connection.from_uri`, quirks included (percent-decoding, `scheme://` in the host)."""
    schemes = uri.count("://")
    if schemes == 0:
        raise ConfigInvalid(f"{env} is neither a connection URI (type://...) nor JSON")
    conn_type = urlsplit(uri).scheme
    with_protocol = schemes == 2
    rest = uri.replace(f"{conn_type}://", "" if with_protocol else "//")
    if schemes > 2 or (with_protocol and any(c in rest.split("://", 1)[0] for c in "@:")):
        raise ConfigInvalid(f"{env} is not a valid connection URI")
    parts = urlsplit(rest)  # a query holds the extra: `?sslmode=verify-full&...`, or `?__extra__=<json>`
    host = _hostname(parts)
    if with_protocol and host:
        host = f"{parts.scheme}://{host}"
    try:
        port = parts.port
    except ValueError:
        raise ConfigInvalid(f"{env}: the port is not a number") from None
    return ConnectionParts(
        conn_type=_normalize_type(conn_type),
        host=host,
        schema=unquote(parts.path[1:]),
        login=unquote(parts.username) if parts.username else parts.username,
        password=unquote(parts.password) if parts.password else parts.password,
        port=port,
        extra=_query_extra(parts.query, env),
    )


def _query_extra(query: str, env: str) -> dict[str, Any]:
    """Airflow's `Connection.from_uri`: the query's pairs are the extra, or `__extra__` holds it as JSON."""
    pairs = dict(parse_qsl(query, keep_blank_values=True))
    return _extra(pairs["__extra__"], env) if "__extra__" in pairs else dict(pairs)


def _hostname(parts: SplitResult) -> str:
    """Airflow's `_parse_netloc_to_hostname`: a host holding `/` (a socket path) is kept whole."""
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        hostname = parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        hostname = unquote(hostname)
    return hostname


def _normalize_type(conn_type: str) -> str:
    """Airflow's `_normalize_conn_type`: `postgresql` is `postgres`, `-` becomes `_`."""
    return "postgres" if conn_type == "postgresql" else conn_type.replace("-", "_")


def store_url() -> str | None:
    """The `inbound_store` connection as a URL, or None for the embedded SQLite default.

    From `AIRFLOW_CONN_INBOUND_STORE` when it is set (no Airflow import), else from
    Airflow's connection lookup.
    """
    value = os.environ.get(STORE_CONN_ENV, "")
    conn = parse_connection(value) if value.strip() else _airflow_connection()
    if conn is None:
        return None
    try:
        return store_url_from_connection(conn)
    except ValueError as exc:  # a connection type the store cannot use
        raise ConfigInvalid(str(exc)) from None


def _airflow_connection() -> ConnectionParts | None:
    # Airflow's lookup (secrets backends, metadata database) loads Airflow: only without the variable.
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(STORE_CONN_ID)
    except AirflowNotFoundException:
        return None
    return ConnectionParts(conn.conn_type, conn.host, conn.schema, conn.login, conn.password, conn.port)


def store(*, migrate: bool = False) -> AttributeStore:
    """The attribute store of the `inbound_store` connection; a context manager that closes it.

    As `open_store`: a schema behind the code is `SchemaBehind` ("run `inbound migrate`"), one
    ahead of it reads but refuses writes. Only `inbound migrate` passes `migrate`.
    """
    return open_store(store_url(), migrate=migrate)


def staging_client() -> S3Client | None:
    """The S3 client of an `s3://` staging location (`INBOUND_STAGING_CONN_ID`); None for a folder."""
    from inbound.s3.staging import staging_conn_id
    from inbound.settings import staging_url

    return s3_client(staging_conn_id()) if staging_url().startswith("s3://") else None
