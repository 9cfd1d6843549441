"""`inbound run` starts fast: a fresh process imports only what the step needs (issue 28).

Each test runs the CLI as its own process (`python -X importtime -m inbound.cli ...`) against a
moto S3 server on loopback, with the connections in `AIRFLOW_CONN_*` variables, and checks
what the process did (its output, the bucket) and which modules it loaded. Importing Airflow
costs about 1.5 s, so a run whose connections are all in the environment must not; reading
(polars, numpy, the reader) loads only when there is a file to read; the store commands load
no boto3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import integration_dict, migrated
from e2e.cluster import start_moto, stop_group

BUCKET = "startup-exports"
EXPORT = b"Email,Plan,Open Tickets\nada@x,premium,3\n"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    proc, url = start_moto()
    try:
        yield url
    finally:
        stop_group(proc)


@pytest.fixture
def bucket(moto_url: str) -> Iterator[Any]:
    """An empty bucket on the moto server, removed afterwards."""
    client = boto3.client(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def aws_variable(moto_url: str, form: str) -> str:
    """`AIRFLOW_CONN_AWS_DEFAULT` for the moto server, in Airflow's JSON or URI form."""
    if form == "json":
        return json.dumps({"conn_type": "aws", "login": "k", "password": "s", "extra": {"endpoint_url": moto_url}})
    return f"aws://k:s@/?endpoint_url={moto_url.replace(':', '%3A').replace('/', '%2F')}&region_name=us-east-1"


@pytest.fixture
def cli_env(tmp_path: Path, write_config, moto_url: str) -> dict[str, str]:
    """The environment of an operator's `inbound run crm`: every connection in a variable."""
    write_config("crm.yaml", integration_dict("crm", source={"bucket": BUCKET, "key": "crm/users_*.csv"}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AWS_", "INBOUND_"))}
    return {
        **env,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "INBOUND_CONFIG_DIR": str(write_config.folder),
        "INBOUND_STAGING_DIR": str(tmp_path / "staging"),
        "AIRFLOW_CONN_INBOUND_STORE": migrated(f"sqlite:///{tmp_path / 'store.db'}"),  # as deployed
        "AIRFLOW_CONN_AWS_DEFAULT": aws_variable(moto_url, "json"),
    }


def inbound(env: dict[str, str], *argv: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`inbound ARGV...` as a fresh process: (the process, the modules it imported)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "inbound.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    loaded = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return proc, loaded


def packages(loaded: set[str], *names: str) -> set[str]:
    return {m for m in loaded if m.partition(".")[0] in names}


@pytest.mark.parametrize("form", ["json", "uri"])
def test_a_run_with_its_connections_in_the_environment_never_loads_airflow(
    cli_env: dict[str, str], bucket: Any, moto_url: str, form: str
) -> None:
    cli_env["AIRFLOW_CONN_AWS_DEFAULT"] = aws_variable(moto_url, form)
    key = f"crm/users_{uuid.uuid4().hex[:6]}.csv"
    bucket.put_object(Bucket=BUCKET, Key=key, Body=EXPORT)

    proc, loaded = inbound(cli_env, "run", "crm", "--json")

    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert (summary["outcome"], summary["rows_read"], summary["rows_written"]) == ("success", 1, 1)
    [moved] = [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert moved.startswith("crm/success/") and moved.endswith(key[4:])
    assert "inbound.pipeline.batches" in loaded  # the file was read in this process
    assert not packages(loaded, "airflow"), sorted(packages(loaded, "airflow"))[:10]


def test_a_run_without_new_files_loads_neither_airflow_nor_the_reader(cli_env: dict[str, str], bucket: Any) -> None:
    proc, loaded = inbound(cli_env, "run", "crm", "--json")

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["outcome"] == "no new file"
    assert "botocore.client" in loaded  # S3 was listed
    reading = {m for m in loaded if m.startswith(("inbound.pipeline.batches", "inbound.reading", "inbound.mapping"))}
    # The header comparison and the volume guard are plain Python (a run's records carry their results).
    light = {"inbound.mapping", "inbound.mapping.drift", "inbound.mapping.volume"}
    assert not (reading - light) | packages(loaded, "airflow", "polars", "numpy")


def test_store_commands_load_no_boto3(cli_env: dict[str, str]) -> None:
    proc, loaded = inbound(cli_env, "user", "ada@x")

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "inbound.store" in loaded  # the command did read the store
    assert not packages(loaded, "airflow", "boto3", "botocore", "s3transfer")


def test_without_the_aws_variable_the_connection_is_looked_up_through_airflow(
    cli_env: dict[str, str], bucket: Any, moto_url: str
) -> None:
    """The connection may live in Airflow's metadata database: without the variable, Airflow's
    S3 hook is asked (it finds none here and falls back to boto3's own chain, the environment)."""
    del cli_env["AIRFLOW_CONN_AWS_DEFAULT"]
    cli_env.update(
        AWS_ENDPOINT_URL_S3=moto_url, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", AWS_DEFAULT_REGION="us-east-1"
    )
    bucket.put_object(Bucket=BUCKET, Key="crm/users_1.csv", Body=EXPORT)

    proc, loaded = inbound(cli_env, "run", "crm", "--json")

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["rows_written"] == 1
    assert "airflow.providers.amazon.aws.hooks.s3" in loaded
