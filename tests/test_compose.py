"""Static checks of the deployment files: docker-compose.yaml, Dockerfile, .dockerignore, .env.example.

No Docker engine is needed: the compose file is validated against the Compose Specification
JSON schema (vendored in tests/data/compose-spec.json), interpolated the way `docker compose`
does with the values of .env.example, and checked for what the deployment relies on.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA_FILE = Path(__file__).parent / "data" / "compose-spec.json"

AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
STORE_SERVICE = "store-db"
LOCAL_S3_PROFILE = "local-s3"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|(^|_)KEY($|_)|ACCESS_KEY", re.IGNORECASE)
# ${NAME}, ${NAME:-x}, ${NAME-x}, ${NAME:?x}, ${NAME?x}, ${NAME:+x}, ${NAME+x}; $$ escapes.
VAR_REF = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
WHOLE_REQUIRED_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}$")


# --- helpers -------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blank lines skipped)."""
    env: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a KEY=VALUE line: {raw!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation of one string."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = value is None or value == ""
        if op in (":-", "-"):
            return arg if (unset_or_empty if op == ":-" else value is None) else value  # type: ignore[return-value]
        if op in (":?", "?"):
            if unset_or_empty if op == ":?" else value is None:
                raise KeyError(f"required variable {name} is missing a value: {arg}")
            return value  # type: ignore[return-value]
        if op in (":+", "+"):
            return "" if (unset_or_empty if op == ":+" else value is None) else arg
        return value or ""

    return VAR_REF.sub(sub, text)


def walk_strings(node: Any, fn: Callable[[str], Any]) -> Any:
    if isinstance(node, dict):
        return {key: walk_strings(value, fn) for key, value in node.items()}
    if isinstance(node, list):
        return [walk_strings(value, fn) for value in node]
    if isinstance(node, str):
        return fn(node)
    return node


def var_refs(text: str) -> list[re.Match[str]]:
    return [m for m in VAR_REF.finditer(text) if m.group(0) != "$$"]


def compose_strings(node: Any) -> list[str]:
    """Every string value of the parsed compose file (what compose interpolates; not comments)."""
    found: list[str] = []
    walk_strings(node, found.append)
    return found


def env_mapping(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.partition("=")[::2] for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command")
    return " ".join(command) if isinstance(command, list) else (command or "")


def airflow_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run the project image (built from this repo)."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def volume_mounts(service: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(source, target, type) of each mount; short syntax parsed like compose does."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append((volume.get("source"), volume["target"], volume["type"]))
            continue
        parts = volume.split(":")
        if len(parts) == 1:
            mounts.append((None, parts[0], "volume"))
            continue
        source, target = parts[0], parts[1]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        mounts.append((source, target, kind))
    return mounts


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, args = current.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    return instructions


def copy_sources(instructions: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY/ADD from the build context (not --from)."""
    copies = []
    for keyword, args in instructions:
        if keyword not in ("COPY", "ADD"):
            continue
        words = shlex.split(args)
        if any(word.startswith("--from") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        copies.append((paths[:-1], paths[-1]))
    return copies


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore excludes `path` (last matching pattern wins, `!` re-includes)."""
    ignored = False
    candidates = [path]
    parts = Path(path).parts
    candidates += [str(Path(*parts[:i])) for i in range(1, len(parts))]  # a parent excluded
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip("/").removeprefix("**/")
        if any(fnmatch.fnmatch(c, pat) or (fnmatch.fnmatch(Path(c).name, pat) and "/" not in pat) for c in candidates):
            ignored = not negate
    return ignored


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def raw_compose(raw_text: str) -> dict[str, Any]:
    return yaml.safe_load(raw_text)


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any], example_env: dict[str, str]) -> dict[str, Any]:
    """The compose model as `docker compose config` would see it with .env.example as .env."""
    return walk_strings(copy.deepcopy(raw_compose), lambda s: interpolate(s, example_env))


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


# --- (a) schema ------------------------------------------------------------------------------


def test_schema_is_the_vendored_compose_spec() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    jsonschema.Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("which", ["raw", "interpolated"])
def test_compose_file_validates_against_compose_spec(which: str, raw_compose: dict, compose: dict) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    document = raw_compose if which == "raw" else compose
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_compose_file(compose: dict) -> None:
    """The validation above can fail: a misspelt key is refused."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-worker"]["comand"] = "celery worker"
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_interpolation_helper_follows_compose_rules() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET:-d} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} $$HOME ${SET}", env) == "v d d  $HOME v"
    with pytest.raises(KeyError):
        interpolate("${EMPTY:?must be set}", env)


# --- (b) referenced files exist --------------------------------------------------------------


def test_build_context_and_dockerfile_exist(compose: dict) -> None:
    services = airflow_services(compose)
    assert services, "no service builds the project image"
    for name, service in services.items():
        build = service["build"]
        context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert (context / dockerfile).is_file(), f"{name}: {context / dockerfile} does not exist"


def test_every_copy_source_exists_and_is_not_dockerignored(dockerfile: list) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = copy_sources(dockerfile)
    assert copies, "the Dockerfile copies nothing from the build context"
    for sources, _ in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source {source} does not exist"
            assert not dockerignored(source.rstrip("/"), patterns), f"COPY source {source} is excluded by .dockerignore"


def test_dockerignore_check_can_fail() -> None:
    assert dockerignored("include", ["include/"])
    assert dockerignored("include/inbound/x.py", ["include"])
    assert not dockerignored("README.md", ["*.md", "!README.md"])
    assert dockerignored(".env", [".env", ".env.*", "!.env.example"])
    assert not dockerignored(".env.example", [".env", ".env.*", "!.env.example"])


def test_mounted_host_paths_and_env_files_exist(compose: dict) -> None:
    assert ENV_EXAMPLE.is_file()
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for source, target, kind in volume_mounts(service):
            if kind == "bind":
                assert (ROOT / source).exists(), f"{name}: bind-mounted {source} does not exist"
            elif kind == "volume" and source:
                assert source in declared, f"{name}: volume {source} (on {target}) is not declared at the top level"
        env_files = service.get("env_file") or []
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            path = env_file if isinstance(env_file, str) else env_file["path"]
            required = True if isinstance(env_file, str) else env_file.get("required", True)
            if required:
                assert (ROOT / path).is_file(), f"{name}: env_file {path} does not exist"


# --- (c) the services and their settings -----------------------------------------------------


def test_airflow_services_run_the_right_commands(compose: dict) -> None:
    services = compose["services"]
    for name, command in AIRFLOW_COMMANDS.items():
        assert name in services, f"service {name} is missing"
        assert command_text(services[name]) == command, f"{name} runs {command_text(services[name])!r}, not {command!r}"
        assert "build" in services[name], f"{name} does not run the project image"
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    for name in ("postgres", "redis", STORE_SERVICE, "airflow-init"):
        assert name in services, f"service {name} is missing"
    assert services["airflow-apiserver"]["ports"], "api-server publishes no port"
    assert any(str(p).endswith(":8080") for p in services["airflow-apiserver"]["ports"])


def test_airflow_init_migrates_and_creates_admin_and_store(compose: dict) -> None:
    init = compose["services"]["airflow-init"]
    env = env_mapping(init)
    assert env.get("_AIRFLOW_DB_MIGRATE") == "true"
    assert env.get("_AIRFLOW_WWW_USER_CREATE") == "true"
    assert env.get("_AIRFLOW_WWW_USER_USERNAME") and env.get("_AIRFLOW_WWW_USER_PASSWORD")
    script = command_text(init)
    assert "/entrypoint airflow" in script, "the entrypoint (db migrate + user creation) is not run"
    assert "CREATE DATABASE" in script, "the attribute store's database is not created"
    # Migrations are a deploy step: the init service runs the one command that changes the store's schema,
    # after the database exists, and fails (so nothing that depends on it starts) when it fails.
    lines = [line.strip() for line in script.splitlines()]
    assert "inbound migrate" in lines, "the attribute store's schema is not migrated (`inbound migrate`)"
    assert script.index("CREATE DATABASE") < script.index("inbound migrate"), "migrated before the database exists"
    assert lines[0].endswith("set -euo pipefail"), "a failed `inbound migrate` would not fail airflow-init"
    assert "open_store(" not in script, "the store is opened by hand instead of migrated by `inbound migrate`"
    assert init["depends_on"][STORE_SERVICE]["condition"] == "service_healthy"
    for name in AIRFLOW_COMMANDS:
        assert compose["services"][name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_celery_executor_with_redis_broker(compose: dict) -> None:
    services = compose["services"]
    assert "healthcheck" in services["redis"]
    for name, service in airflow_services(compose).items():
        env = env_mapping(service)
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", f"{name}: executor is not CeleryExecutor"
        broker = urlparse(env.get("AIRFLOW__CELERY__BROKER_URL", ""))
        assert broker.scheme == "redis", f"{name}: broker is not redis"
        assert broker.hostname in services and services[broker.hostname]["image"].startswith("redis"), (
            f"{name}: broker host"
        )
        assert "redis" in service["depends_on"], f"{name} does not wait for redis"
        db = urlparse(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert db.hostname == "postgres" and db.scheme.startswith("postgresql")
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env, f"{name}: dependencies belong in the image"


def test_compose_sets_what_the_tested_celery_deployment_sets(compose: dict) -> None:
    """tests/e2e/test_celery.py runs real processes with DEPLOYMENT_ENV; compose must set it too."""
    from e2e.cluster import DEPLOYMENT_ENV

    for name, service in airflow_services(compose).items():
        env = env_mapping(service)
        missing = [key for key in DEPLOYMENT_ENV if not env.get(key)]
        assert not missing, f"{name} does not set {missing}"


def test_workers_reach_the_execution_api_of_the_api_server(compose: dict) -> None:
    services = compose["services"]
    for name, service in airflow_services(compose).items():
        url = urlparse(env_mapping(service)["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert url.hostname == "airflow-apiserver" and url.port == 8080 and url.path.rstrip("/") == "/execution", (
            f"{name}: {url.geturl()}"
        )
    assert command_text(services["airflow-apiserver"]) == "api-server"
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_sensors_wait_in_the_triggerer_not_on_workers(compose: dict) -> None:
    assert command_text(compose["services"]["airflow-triggerer"]) == "triggerer"
    for name, service in airflow_services(compose).items():
        value = env_mapping(service).get("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "false").lower()
        assert value == "true", f"{name}: wait_for_file is not deferrable ([operators] default_deferrable)"
        assert int(env_mapping(service)["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) >= 1


def test_image_installs_the_celery_provider_from_the_lock(dockerfile: list) -> None:
    runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
    assert "--extra celery" in runs and "--extra postgres" in runs and "--extra openlineage" in runs
    lock = (ROOT / "uv.lock").read_text(encoding="utf-8")
    assert 'name = "apache-airflow-providers-celery"' in lock


def test_lineage_and_statsd_are_off_unless_the_env_turns_them_on(compose: dict, tmp_path) -> None:
    """With .env.example as it is, the OpenLineage provider sees no transport and StatsD is off."""
    import os
    import subprocess
    import sys

    env = compose["services"]["airflow-worker"]["environment"]
    assert env["OPENLINEAGE_URL"] == "" and env["AIRFLOW__METRICS__STATSD_ON"] == "false"
    assert env["INBOUND_LINEAGE_MAX_FILES"] == "20"
    script = "from airflow.providers.openlineage import conf; print(conf.is_disabled())"
    run_env = {k: v for k, v in os.environ.items() if "OPENLINEAGE" not in k}
    checked = subprocess.run(
        [sys.executable, "-c", script],
        env={**run_env, **{k: str(v) for k, v in env.items() if "OPENLINEAGE" in k}, "AIRFLOW_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert checked.stdout.strip().splitlines()[-1] == "True"


def test_shared_secrets_are_the_same_on_every_airflow_service(compose: dict) -> None:
    keys = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")
    values = {name: tuple(env_mapping(svc).get(k) for k in keys) for name, svc in airflow_services(compose).items()}
    assert len(set(values.values())) == 1, values
    assert all(next(iter(values.values()))), "a shared secret is empty"


def test_inbound_store_connection_points_at_store_db(compose: dict) -> None:
    store = compose["services"][STORE_SERVICE]
    assert store["image"].startswith("postgres")
    store_env = env_mapping(store)
    for name, service in airflow_services(compose).items():
        raw = env_mapping(service).get("AIRFLOW_CONN_INBOUND_STORE")
        assert raw, f"{name}: AIRFLOW_CONN_INBOUND_STORE is not set"
        conn = json.loads(raw) if raw.lstrip().startswith("{") else None
        if conn is None:  # URI form
            uri = urlparse(raw)
            conn = {
                "conn_type": uri.scheme,
                "host": uri.hostname,
                "port": uri.port,
                "login": uri.username,
                "password": uri.password,
                "schema": uri.path.lstrip("/"),
            }
        assert conn["conn_type"] in ("postgres", "postgresql"), f"{name}: inbound_store is not postgres"
        assert conn["host"] == STORE_SERVICE, f"{name}: inbound_store points at {conn['host']!r}"
        assert int(conn.get("port") or 5432) == 5432
        assert conn["login"] == store_env["POSTGRES_USER"]
        assert conn["password"] == store_env["POSTGRES_PASSWORD"]
        assert conn["schema"] == store_env["POSTGRES_DB"], f"{name}: inbound_store uses another database"
        assert STORE_SERVICE in service["depends_on"], f"{name} does not wait for {STORE_SERVICE}"
    # the store is not Airflow's metadata database
    assert compose["services"]["postgres"]["volumes"] != store.get("volumes")


def test_aws_connection_is_valid_json(compose: dict) -> None:
    for service in airflow_services(compose).values():
        conn = json.loads(env_mapping(service)["AIRFLOW_CONN_AWS_DEFAULT"])
        assert conn["conn_type"] == "aws"
        assert conn.get("extra", {}).get("endpoint_url", "x") != "", "an empty endpoint_url breaks boto3"


def test_inbound_env_and_staging_volume_on_every_airflow_service(compose: dict, dockerfile: list) -> None:
    declared = compose.get("volumes") or {}
    dags_destinations = [
        dest for sources, dest in copy_sources(dockerfile) if any(s.rstrip("/") == "dags" for s in sources)
    ]
    assert dags_destinations, "the Dockerfile does not copy dags/ into the image"
    config_dir_in_image = dags_destinations[0].rstrip("/") + "/integrations"
    assert list((ROOT / "dags" / "integrations").glob("*.yaml")), "no configs in dags/integrations"
    services = airflow_services(compose)
    assert set(AIRFLOW_COMMANDS) | {"airflow-init"} <= set(services)
    for name, service in services.items():
        env = env_mapping(service)
        assert env.get("INBOUND_CONFIG_DIR") == config_dir_in_image, (
            f"{name}: INBOUND_CONFIG_DIR is not {config_dir_in_image}"
        )
        staging = env.get("INBOUND_STAGING_DIR")
        assert staging and staging.startswith("/"), f"{name}: INBOUND_STAGING_DIR is not set to an absolute path"
        mounts = [
            (source, kind)
            for source, target, kind in volume_mounts(service)
            if target.rstrip("/") == staging.rstrip("/")
        ]
        assert mounts, f"{name}: nothing is mounted on the staging folder {staging}"
        source, kind = mounts[0]
        assert kind == "volume" and source in declared, f"{name}: staging must be a named volume, not {kind} {source}"
    staging_sources = {
        next(
            src
            for src, tgt, _ in volume_mounts(svc)
            if tgt.rstrip("/") == env_mapping(svc)["INBOUND_STAGING_DIR"].rstrip("/")
        )
        for svc in services.values()
    }
    assert len(staging_sources) == 1, f"services use different staging volumes: {staging_sources}"


def test_dockerfile_base_image_matches_the_lock(dockerfile: list) -> None:
    froms = [args for keyword, args in dockerfile if keyword == "FROM"]
    assert froms[-1].split()[0] == "apache/airflow:3.3.2-python3.11"
    pins = re.findall(r'"apache-airflow==([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pins == ["3.3.2"], "the base image's Airflow differs from the pinned apache-airflow"
    runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
    assert "uv export --frozen" in runs and "--no-dev" in runs, "dependencies are not installed from uv.lock"
    assert not any("_PIP_ADDITIONAL_REQUIREMENTS" in args for _, args in dockerfile)
    for wanted in ("dags", "plugins", "include"):
        assert any(any(s.rstrip("/") == wanted for s in sources) for sources, _ in copy_sources(dockerfile)), (
            f"{wanted}/ not in the image"
        )


def test_minio_is_only_in_the_local_s3_profile(compose: dict) -> None:
    services = compose["services"]
    for name in ("minio", "minio-init"):
        assert name in services, f"service {name} is missing"
        assert services[name].get("profiles") == [LOCAL_S3_PROFILE], f"{name} is not under profile {LOCAL_S3_PROFILE}"
    assert "mc mb" in command_text(services["minio-init"]), "minio-init does not create the bucket"
    profiled = {name for name, svc in services.items() if svc.get("profiles")}
    for name, service in services.items():
        if service.get("profiles"):
            continue
        depends = service.get("depends_on") or {}
        for dep in depends:
            required = depends[dep].get("required", True) if isinstance(depends, dict) else True
            assert not (dep in profiled and required), f"{name} needs {dep}, which only runs with its profile"


# --- (d) no literal secrets ------------------------------------------------------------------


def _secret_values(compose: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, value) of everything that holds a secret in the raw compose model."""
    found: list[tuple[str, str]] = []
    for name, service in compose["services"].items():
        for key, value in env_mapping(service).items():
            where = f"{name}.environment.{key}"
            if SECRET_NAME.search(key):
                found.append((where, value))
            if value.lstrip().startswith("{"):  # a JSON connection
                is_aws = re.search(r'"conn_type"\s*:\s*"aws"', value) is not None
                for field, field_value in re.findall(r'"(\w+)"\s*:\s*"([^"]*)"', value):
                    if SECRET_NAME.search(field) or field == "password" or (is_aws and field == "login"):
                        found.append((f"{where}.{field}", field_value))
            password = url_password(value)
            if password is not None:
                found.append((f"{where} (URL password)", password))
    return found


def url_password(value: str) -> str | None:
    """The password part of `scheme://user:password@host...`, where parts may be ${...} references."""
    match = re.match(r"^[a-z][a-z0-9+.-]*://", value)
    if not match:
        return None
    refs: list[str] = []

    def mask(m: re.Match[str]) -> str:
        refs.append(m.group(0))
        return f"\0{len(refs) - 1}\0"

    masked = VAR_REF.sub(mask, value[match.end() :])
    userinfo, at, _ = masked.rpartition("@")
    if not at or ":" not in userinfo:
        return None
    password = userinfo.split(":", 1)[1]
    return re.sub(r"\0(\d+)\0", lambda m: refs[int(m.group(1))], password)


def test_no_literal_secrets_in_compose_file(raw_compose: dict) -> None:
    found = _secret_values(raw_compose)
    assert len(found) >= 8, f"the secret scan found too little to be trusted: {found}"
    for where, value in found:
        if where.endswith("BROKER_URL (URL password)") and value == "":
            continue  # redis://:@redis — no password on the internal network
        assert WHOLE_REQUIRED_REF.match(value), f"{where} = {value!r}: secrets must be a ${{VAR:?message}} reference"
    for match in (m for text in compose_strings(raw_compose) for m in var_refs(text)):
        name = match.group("name") or match.group("bare")
        if SECRET_NAME.search(name):
            assert match.group("op") in (":?", "?"), f"${{{name}}} must be required (:?), never defaulted"


def test_secret_scan_catches_literals(raw_compose: dict) -> None:
    broken = copy.deepcopy(raw_compose)
    env = broken["services"]["postgres"]["environment"]
    env["POSTGRES_PASSWORD"] = "airflow"
    values = dict(_secret_values(broken))
    assert not WHOLE_REQUIRED_REF.match(values["postgres.environment.POSTGRES_PASSWORD"])
    url = "postgresql+psycopg2://airflow:hunter2@postgres/airflow"
    broken["services"]["airflow-worker"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = url
    assert (
        "airflow-worker.environment.AIRFLOW__DATABASE__SQL_ALCHEMY_CONN (URL password)",
        "hunter2",
    ) in _secret_values(broken)
    conn = '{"conn_type": "postgres", "host": "store-db", "password": "hunter2"}'
    broken["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_INBOUND_STORE"] = conn
    assert ("airflow-worker.environment.AIRFLOW_CONN_INBOUND_STORE.password", "hunter2") in _secret_values(broken)
    assert not WHOLE_REQUIRED_REF.match("${POSTGRES_PASSWORD:-airflow}")
    assert url_password("postgresql://${U:-a}:${P:?set P}@db/x") == "${P:?set P}"
    assert url_password("redis://redis:6379/0") is None


# --- (e) .env.example lists every variable ---------------------------------------------------


def test_env_example_lists_every_compose_variable(raw_compose: dict, example_env: dict[str, str]) -> None:
    used = {m.group("name") or m.group("bare") for text in compose_strings(raw_compose) for m in var_refs(text)}
    assert len(used) >= 10, f"too few variables found to trust the scan: {used}"
    missing = sorted(used - set(example_env))
    assert not missing, f".env.example does not list: {', '.join(missing)}"
    documented = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "#" in documented


def test_env_example_holds_placeholders_not_secrets(example_env: dict[str, str]) -> None:
    secrets = [key for key in example_env if SECRET_NAME.search(key)]
    assert {"POSTGRES_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AIRFLOW_FERNET_KEY"} <= set(secrets)
    for key in secrets:
        assert example_env[key].startswith("change-me"), f".env.example: {key} must be a change-me placeholder"


def test_escaped_dollars_are_not_variables() -> None:
    refs = var_refs('ping -d "celery@$${HOSTNAME}" ${A:?x} $B')
    assert [m.group("name") or m.group("bare") for m in refs] == ["A", "B"]


def test_init_and_minio_init_scripts_parse(compose: dict) -> None:
    """The inline shell scripts (after interpolation) are valid sh, and the store step valid Python."""
    import shutil
    import subprocess

    for name, shell in (("airflow-init", "bash"), ("minio-init", "sh")):
        command = compose["services"][name]["command"]
        assert command[0] == "-c"
        if shutil.which(shell):
            result = subprocess.run([shell, "-n", "-c", command[1]], capture_output=True, text=True)
            assert result.returncode == 0, f"{name}: {result.stderr}"
    script = compose["services"]["airflow-init"]["command"][1]
    python = script.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    compile(python, "airflow-init store step", "exec")
