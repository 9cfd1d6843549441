"""Loading configs: `!env`, problems with file, line and a fix, rules across files, the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import EXAMPLES, integration_dict
from inbound.config.catalog import Catalog, current_catalog, load_file, load_folder
from inbound.config.model import Integration
from inbound.config.problems import ConfigProblem


def test_examples_are_valid() -> None:
    catalog = load_folder(EXAMPLES)
    assert catalog.errors == []
    assert set(catalog.integrations) == {"crm_users", "support_tickets"}
    crm = catalog.integrations["crm_users"]
    assert crm.dag_id == "inbound_crm_users"
    assert crm.attribute_types["seats"] == "integer"
    assert crm.source.bucket == "acme-exports"  # the !env default


def test_loaded_integration_knows_its_file(write_config) -> None:
    path = write_config("a.yaml", integration_dict(attributes=[{"column": "Plan"}]))
    integration, errors = load_file(path)
    assert errors == []
    assert integration.attributes[0].attribute == "Plan"
    assert integration.file == str(path)


def test_declared_types_span_every_integration() -> None:
    crm = Integration.model_validate(integration_dict("crm"))
    hr = Integration.model_validate(integration_dict("hr", attributes=[{"column": "Since", "type": "date"}]))
    catalog = Catalog(integrations={"crm": crm, "hr": hr})
    assert catalog.declared_types == {"crm_plan": "string", "crm_open_tickets": "integer", "Since": "date"}
    assert catalog.attribute_count == 3
    assert Catalog().declared_types == {}


def test_unknown_key_names_file_line_and_suggests(write_config) -> None:
    config = integration_dict()
    config["sorce"] = config.pop("source")
    path = write_config("crm.yaml", config)
    integration, errors = load_file(path)
    assert integration is None
    messages = [e.one_line() for e in errors]
    assert any("unknown key 'sorce'; did you mean 'source'?" in m for m in messages), messages
    assert any("required key 'source' is missing" in m for m in messages), messages
    sorce = next(e for e in errors if "sorce" in e.message)
    assert sorce.file == str(path)
    assert Path(path).read_text().splitlines()[sorce.line - 1].startswith("sorce:")
    assert "> " in sorce.context and "sorce:" in sorce.context


def test_bad_type_value_suggests_the_closest(write_config) -> None:
    path = write_config(
        "crm.yaml",
        "name: crm\nschedule: '@hourly'\nsource: {bucket: abc, key: a.csv}\nuser_id: {column: Email}\n"
        "attributes:\n  - column: Plan\n    type: strng\n",
    )
    _, errors = load_file(path)
    assert len(errors) == 1
    error = errors[0]
    assert error.line == 7
    assert error.path == "attributes[0].type"
    assert "did you mean 'string'?" in error.message
    assert str(error).startswith(f"{path}:7: attributes[0].type:")


def test_nested_unknown_key(write_config) -> None:
    config = integration_dict()
    config["attributes"][1]["nmae"] = "x"
    _, errors = load_file(write_config("a.yaml", config))
    assert [e.path for e in errors] == ["attributes[1].nmae"]
    assert "did you mean 'name'?" in errors[0].message


def test_unknown_key_in_optional_section_suggests(write_config) -> None:
    config = integration_dict(alerts={"email": ["a@b.test"], "stale_afterr": "P2D"})
    _, errors = load_file(write_config("a.yaml", config))
    assert [e.path for e in errors] == ["alerts.stale_afterr"]
    assert "did you mean 'stale_after'?" in errors[0].message


def test_unknown_key_without_a_near_miss_lists_the_allowed(write_config) -> None:
    config = integration_dict()
    config["source"]["zzz"] = 1
    _, errors = load_file(write_config("a.yaml", config))
    assert "unknown key 'zzz'; allowed keys: bucket, key, aws_conn_id, marker" in errors[0].message


def test_column_that_is_not_a_name_needs_a_rename(write_config) -> None:
    _, errors = load_file(write_config("a.yaml", integration_dict(attributes=[{"column": "Open Tickets"}])))
    assert "add `name: open_tickets`" in errors[0].message


@pytest.mark.parametrize(
    ("schedule", "hint"),
    [("@houryl", "did you mean '@hourly'"), ("every hour", "five-field cron"), ("PT0S", "at least one minute")],
)
def test_bad_schedules(write_config, schedule: str, hint: str) -> None:
    _, errors = load_file(write_config("a.yaml", integration_dict(schedule=schedule)))
    assert len(errors) == 1 and hint in errors[0].message and errors[0].path == "schedule"


def test_yaml_is_loaded_safely(write_config) -> None:
    path = write_config("a.yaml", "name: !!python/object/apply:os.system ['echo hacked']\n")
    integration, errors = load_file(path)
    assert integration is None
    assert "invalid YAML" in errors[0].message and errors[0].line == 1


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "the file is empty", None),
        ("- a\n- b\n", "the top level must be a mapping", 1),
        ("name: [crm\n", "invalid YAML", 2),
    ],
)
def test_files_that_are_not_a_config(write_config, text: str, message: str, line: int | None) -> None:
    integration, (error,) = load_file(write_config("a.yaml", text))
    assert integration is None and message in error.message and error.line == line


def test_unreadable_file(write_config) -> None:
    path = write_config("a.yaml", "")
    path.write_bytes(b"name: \xff\xfe\n")
    _, (error,) = load_file(path)
    assert "cannot read the file" in error.message


def test_env_tag(write_config, monkeypatch) -> None:
    config = (
        "name: crm\nschedule: '@daily'\nsource:\n  bucket: !env INBOUND_CONFIG_CRM_BUCKET\n  key: a.csv\n"
        "user_id: {column: Email}\nattributes: [{column: Plan}]\n"
    )
    path = write_config("a.yaml", config)
    monkeypatch.delenv("INBOUND_CONFIG_CRM_BUCKET", raising=False)
    integration, errors = load_file(path)
    assert integration is None
    assert errors[0].line == 4 and "INBOUND_CONFIG_CRM_BUCKET is not set" in errors[0].message
    assert "!env [INBOUND_CONFIG_CRM_BUCKET, value]" in errors[0].message and "> " in errors[0].context
    monkeypatch.setenv("INBOUND_CONFIG_CRM_BUCKET", "prod-exports")
    integration, errors = load_file(path)
    assert integration.source.bucket == "prod-exports"


def test_env_tag_default_and_shape(write_config, monkeypatch) -> None:
    monkeypatch.delenv("INBOUND_CONFIG_CRM_BUCKET", raising=False)
    base = (
        "name: crm\nschedule: '@daily'\nuser_id: {column: Email}\nattributes: [{column: Plan}]\nsource:\n  key: a.csv\n"
    )
    integration, _ = load_file(write_config("a.yaml", base + "  bucket: !env [INBOUND_CONFIG_CRM_BUCKET, fallback]\n"))
    assert integration.source.bucket == "fallback"
    _, (error,) = load_file(write_config("b.yaml", base + "  bucket: !env [INBOUND_CONFIG_CRM_BUCKET]\n"))
    assert "!env takes NAME or [NAME, default]" in error.message and error.line == 7


def test_env_values_are_not_templates(write_config, monkeypatch) -> None:
    monkeypatch.setenv("INBOUND_CONFIG_CRM_BUCKET", "prod-exports")
    config = integration_dict()
    config["source"]["bucket"] = "${INBOUND_CONFIG_CRM_BUCKET}"
    integration, _ = load_file(write_config("a.yaml", config))
    assert integration.source.bucket == "${INBOUND_CONFIG_CRM_BUCKET}"


def test_duplicate_attribute_within_file(write_config) -> None:
    config = integration_dict(attributes=[{"column": "A", "name": "x"}, {"column": "B", "name": "x"}])
    _, errors = load_file(write_config("a.yaml", config))
    assert "'x' is used twice" in errors[0].message


def test_key_cannot_point_into_done_folders(write_config) -> None:
    config = integration_dict()
    config["source"]["key"] = "crm/success/*.csv"
    _, errors = load_file(write_config("a.yaml", config))
    assert "success/ or failed/" in errors[0].message


def test_problem_text() -> None:
    problem = ConfigProblem("crm.yaml", "bad", 3, "schedule", "  >    3 | schedule: x")
    assert problem.one_line() == "crm.yaml:3: schedule: bad"
    assert str(problem) == "crm.yaml:3: schedule: bad\n  >    3 | schedule: x"
    assert str(ConfigProblem("crm.yaml", "bad")) == "crm.yaml: bad"


def test_missing_folder(tmp_path) -> None:
    catalog = load_folder(tmp_path / "nowhere")
    assert catalog.integrations == {}
    assert "the configs folder does not exist" in catalog.errors[0].message


def test_cross_file_rules_refuse_the_later_file(write_config) -> None:
    write_config("a.yaml", integration_dict("crm"))
    write_config("b.yaml", integration_dict("crm", attributes=[{"column": "X", "name": "other"}]))
    write_config("c.yaml", integration_dict("zendesk", attributes=[{"column": "Plan", "name": "crm_plan"}]))
    write_config("d.yaml", integration_dict("hr"))
    catalog = load_folder(write_config.folder)
    assert list(catalog.integrations) == ["crm", "hr"]
    by_file = {Path(e.file).name: e for e in catalog.errors}
    assert "name 'crm' is already used by" in by_file["b.yaml"].message and "a.yaml" in by_file["b.yaml"].message
    assert by_file["b.yaml"].line == 1 and by_file["b.yaml"].path == "name"
    assert "'crm_plan' is already used by integration 'crm'" in by_file["c.yaml"].message
    assert by_file["c.yaml"].line is not None and by_file["c.yaml"].path == "attributes[0]"


def test_attribute_cap_names_the_files(write_config) -> None:
    write_config(
        "a_crm.yaml", integration_dict("crm", attributes=[{"column": f"c{i}", "name": f"crm_{i}"} for i in range(60)])
    )
    write_config(
        "b_hr.yaml", integration_dict("hr", attributes=[{"column": f"c{i}", "name": f"hr_{i}"} for i in range(41)])
    )
    catalog = load_folder(write_config.folder)
    assert list(catalog.integrations) == ["crm"]
    (error,) = catalog.errors
    assert error.file.endswith("b_hr.yaml")
    assert "at most 100 attributes" in error.message and "would make 101" in error.message
    assert "(a_crm.yaml: 60, b_hr.yaml: 41)" in error.message
    assert error.path == "attributes" and error.context


def test_cap_is_a_setting(write_config, monkeypatch) -> None:
    write_config("a.yaml", integration_dict("crm"))
    monkeypatch.setenv("INBOUND_MAX_ATTRIBUTES", "1")
    message = load_folder(write_config.folder).errors[0].message
    assert "at most 1 attributes" in message and "(a.yaml: 2)" in message


def test_current_catalog_is_reused_until_a_config_file_changes(write_config) -> None:
    path = write_config("crm.yaml", integration_dict("crm"))
    first = current_catalog(write_config.folder)
    assert current_catalog(write_config.folder) is first
    path.write_text(path.read_text().replace("@hourly", "@daily"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    changed = current_catalog(write_config.folder)
    assert changed is not first and changed.integrations["crm"].schedule == "@daily"
    write_config("hr.yaml", integration_dict("hr"))
    assert set(current_catalog(write_config.folder).integrations) == {"crm", "hr"}


def test_current_catalog_reloads_when_the_environment_changes(write_config, monkeypatch) -> None:
    config = integration_dict("crm")
    config["source"]["bucket"] = "placeholder"
    path = write_config("crm.yaml", config)
    path.write_text(
        path.read_text().replace("bucket: placeholder", "bucket: !env [INBOUND_CONFIG_CRM_BUCKET, acme-exports]")
    )
    monkeypatch.delenv("INBOUND_CONFIG_CRM_BUCKET", raising=False)
    assert current_catalog(write_config.folder).integrations["crm"].source.bucket == "acme-exports"
    monkeypatch.setenv("INBOUND_CONFIG_CRM_BUCKET", "prod-exports")
    assert current_catalog(write_config.folder).integrations["crm"].source.bucket == "prod-exports"


def test_current_catalog_loads_once_for_threads_asking_at_once(write_config, monkeypatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from inbound.config import catalog as catalog_module

    write_config("crm.yaml", integration_dict("crm"))
    loads: list[Path] = []
    real = catalog_module.load_folder

    def counting(directory: Path, cap: int | None = None) -> Catalog:
        loads.append(directory)
        return real(directory, cap)

    monkeypatch.setattr("inbound.config.catalog.load_folder", counting)
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: current_catalog(write_config.folder), range(16)))
    assert len(loads) == 1 and all(c is found[0] for c in found)


def test_current_catalog_sees_a_same_size_edit_that_keeps_its_modification_time(write_config) -> None:
    """`rsync -a` / `cp -p` keep the mtime; the change time and the inode still tell."""
    import shutil

    path = write_config("crm.yaml", integration_dict("crm", schedule="PT30M"))
    assert current_catalog(write_config.folder).integrations["crm"].schedule == "PT30M"
    before = path.stat()
    replacement = path.with_suffix(".tmp")
    replacement.write_text(path.read_text().replace("PT30M", "PT45M"))
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    shutil.move(replacement, path)  # a rename, as rsync does; size and mtime are the old ones
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert current_catalog(write_config.folder).integrations["crm"].schedule == "PT45M"


# -- `!env` reads only variables meant for configs (issue 12, item 2) -----------------
SECRET = "s3cr3t-do-not-show"
ENV_BASE = "name: crm\nschedule: '@daily'\nuser_id: {column: Email}\nattributes: [{column: Plan}]\n"


@pytest.mark.parametrize(
    ("text", "variable", "line"),
    [
        ("description: !env AWS_SECRET_ACCESS_KEY\nsource: {bucket: abc, key: a.csv}\n", "AWS_SECRET_ACCESS_KEY", 5),
        ("source:\n  bucket: abc\n  key: !env [AIRFLOW_CONN_AWS_DEFAULT, x]\n", "AIRFLOW_CONN_AWS_DEFAULT", 7),
        (
            "description: !env [INBOUND_STORE_PASSWORD, x]\nsource: {bucket: abc, key: a.csv}\n",
            "INBOUND_STORE_PASSWORD",
            5,
        ),
        ("description: !env INBOUND_CONFIG_DIR\nsource: {bucket: abc, key: a.csv}\n", "INBOUND_CONFIG_DIR", 5),
        ("description: !env INBOUND_CONFIG_\nsource: {bucket: abc, key: a.csv}\n", "INBOUND_CONFIG_", 5),
    ],
)
def test_env_refuses_variables_not_meant_for_configs(write_config, monkeypatch, text, variable, line) -> None:
    monkeypatch.setenv(variable, SECRET)
    monkeypatch.delenv("INBOUND_ENV_ALLOWLIST", raising=False)
    path = write_config("a.yaml", ENV_BASE + text)
    integration, errors = load_file(path)
    assert integration is None
    (error,) = errors
    assert error.file == str(path) and error.line == line
    assert f"!env {variable}" in error.message
    assert "INBOUND_ENV_ALLOWLIST" in error.message and "INBOUND_CONFIG_" in error.message
    assert SECRET not in str(error)


def test_env_allowlist_and_prefix(write_config, monkeypatch) -> None:
    monkeypatch.setenv("CRM_BUCKET", "listed-bucket")
    monkeypatch.setenv("INBOUND_CONFIG_CRM_BUCKET", "prefixed-bucket")
    monkeypatch.setenv("INBOUND_ENV_ALLOWLIST", " OTHER , CRM_BUCKET,")
    listed = write_config("a.yaml", ENV_BASE + "source: {bucket: !env CRM_BUCKET, key: a.csv}\n")
    prefixed = write_config("b.yaml", ENV_BASE + "source: {bucket: !env INBOUND_CONFIG_CRM_BUCKET, key: a.csv}\n")
    assert load_file(listed)[0].source.bucket == "listed-bucket"
    assert load_file(prefixed)[0].source.bucket == "prefixed-bucket"
    monkeypatch.setenv("INBOUND_ENV_ALLOWLIST", "CRM_BUCKETS")  # names, not prefixes
    assert "INBOUND_ENV_ALLOWLIST" in load_file(listed)[1][0].message


def test_env_refuses_a_name_that_is_not_a_variable_name(write_config, monkeypatch) -> None:
    monkeypatch.setenv("INBOUND_ENV_ALLOWLIST", "A=B")
    _, (error,) = load_file(write_config("a.yaml", ENV_BASE + "description: !env A=B\nsource: {bucket: abc, key: a}\n"))
    assert "not a variable name" in error.message and error.line == 5


def test_no_setting_of_inbound_itself_is_readable_with_env(monkeypatch) -> None:
    """Every `INBOUND_...` name the code reads is a setting (a password, a path), never a config value."""
    import re

    from conftest import ROOT
    from inbound.config.names import env_allowed

    monkeypatch.delenv("INBOUND_ENV_ALLOWLIST", raising=False)
    names = set()
    for folder in ("include", "plugins", "dags"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"\bINBOUND_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    names |= set(re.findall(r"\bINBOUND_[A-Z0-9_]*[A-Z0-9]\b", (ROOT / "docker-compose.yaml").read_text()))
    names -= {"INBOUND_CONFIG_BUCKET"}  # the examples' bucket: the one variable meant for configs
    assert "INBOUND_STORE_PASSWORD" in names and "INBOUND_CONFIG_DIR" in names
    assert [n for n in sorted(names) if env_allowed(n)] == []


def test_values_from_env_are_marked_and_hidden_where_shown(write_config, monkeypatch) -> None:
    monkeypatch.setenv("INBOUND_CONFIG_CRM_BUCKET", "prod-exports")
    monkeypatch.setenv("INBOUND_CONFIG_TEXT", "from the environment")
    text = (
        "name: crm\nschedule: '@daily'\nuser_id: {column: Email}\ndescription: &d !env INBOUND_CONFIG_TEXT\n"
        "source: {bucket: !env INBOUND_CONFIG_CRM_BUCKET, key: a.csv}\n"
        "attributes: [{column: Plan}]\n"
    )
    integration, errors = load_file(write_config("a.yaml", text))
    assert errors == []
    assert integration.env_settings == {
        "description": "INBOUND_CONFIG_TEXT",
        "source.bucket": "INBOUND_CONFIG_CRM_BUCKET",
    }
    public = integration.public_config()
    assert public["source"]["bucket"] == "!env INBOUND_CONFIG_CRM_BUCKET"
    assert public["description"] == "!env INBOUND_CONFIG_TEXT"
    assert "prod-exports" not in str(public) and public["source"]["key"] == "a.csv"
    assert integration.source.bucket == "prod-exports"  # the run itself uses the value
    copy = Integration.from_snapshot(integration.snapshot())
    assert copy.env_settings == integration.env_settings and copy.public_config() == public
    plain = Integration.model_validate(integration_dict())
    assert plain.env_settings == {} and "env" not in plain.snapshot()


def test_env_as_a_mapping_key_is_refused(write_config, monkeypatch) -> None:
    monkeypatch.setenv("INBOUND_CONFIG_KEY", "description")
    text = ENV_BASE + "source: {bucket: abc, key: a.csv}\n? !env INBOUND_CONFIG_KEY\n: text\n"
    _, (error,) = load_file(write_config("a.yaml", text))
    assert "!env gives a value, not a key" in error.message and error.line == 6


# -- the loader is bounded: bytes, nodes after alias expansion, depth (item 4) ---------
SMALL = "name: crm\nschedule: '@daily'\nsource: {bucket: abc, key: a.csv}\nuser_id: {column: Email}\nattributes: [{column: Plan}]\n"
# nodes: the root mapping, 5 keys, 2 scalars, source (1 + 4), user_id (1 + 2), attributes (1 + 1 + 2) = 20
SMALL_NODES = 20
# depth: root mapping > attributes list > attribute mapping
SMALL_DEPTH = 3


def _limit_problems(errors: list[ConfigProblem]) -> list[ConfigProblem]:
    return [e for e in errors if "INBOUND_YAML_MAX" in e.message]


def test_byte_limit_is_exact(write_config, monkeypatch) -> None:
    path = write_config("a.yaml", SMALL)
    size = len(SMALL.encode())
    monkeypatch.setenv("INBOUND_YAML_MAX_BYTES", str(size))
    integration, errors = load_file(path)
    assert errors == [] and integration is not None
    monkeypatch.setenv("INBOUND_YAML_MAX_BYTES", str(size - 1))
    integration, (error,) = load_file(path)
    assert integration is None and error.file == str(path)
    assert f"larger than {size - 1} bytes" in error.message and "INBOUND_YAML_MAX_BYTES" in error.message


def test_default_byte_limit_refuses_a_huge_file_without_reading_it_all(write_config) -> None:
    from inbound.config.yaml_file import DEFAULT_MAX_YAML_BYTES

    path = write_config("a.yaml", SMALL)
    with path.open("a") as f:
        f.write("description: " + "x" * DEFAULT_MAX_YAML_BYTES + "\n")
    _, (error,) = load_file(path)
    assert "INBOUND_YAML_MAX_BYTES" in error.message and len(str(error)) < 500


def test_node_limit_is_exact(write_config, monkeypatch) -> None:
    path = write_config("a.yaml", SMALL)
    monkeypatch.setenv("INBOUND_YAML_MAX_NODES", str(SMALL_NODES))
    assert load_file(path)[1] == []
    monkeypatch.setenv("INBOUND_YAML_MAX_NODES", str(SMALL_NODES - 1))
    _, (error,) = load_file(path)
    assert f"more than {SMALL_NODES - 1} values" in error.message and "INBOUND_YAML_MAX_NODES" in error.message
    assert error.line == 5  # the value that went over: attributes' last one


def test_node_limit_counts_aliases_expanded(write_config, monkeypatch) -> None:
    # root 1 + keys 2 + a: [x, y, z] 4 + b: [*a, *a] 1 + 4 + 4 = 16
    path = write_config("a.yaml", "a: &a [x, y, z]\nb: [*a, *a]\n")
    monkeypatch.setenv("INBOUND_YAML_MAX_NODES", "16")
    assert _limit_problems(load_file(path)[1]) == []  # it loads (and fails validation, as a config)
    monkeypatch.setenv("INBOUND_YAML_MAX_NODES", "15")
    _, (error,) = load_file(path)
    assert "more than 15 values" in error.message and "aliases" in error.message and error.line == 2


def test_depth_limit_is_exact(write_config, monkeypatch) -> None:
    path = write_config("a.yaml", SMALL)
    monkeypatch.setenv("INBOUND_YAML_MAX_DEPTH", str(SMALL_DEPTH))
    assert load_file(path)[1] == []
    monkeypatch.setenv("INBOUND_YAML_MAX_DEPTH", str(SMALL_DEPTH - 1))
    _, (error,) = load_file(path)
    assert f"deeper than {SMALL_DEPTH - 1} levels" in error.message and "INBOUND_YAML_MAX_DEPTH" in error.message
    assert error.line == 5


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n"])
def test_a_recursive_alias_is_refused(write_config, text: str) -> None:
    _, (error,) = load_file(write_config("a.yaml", text))
    assert "inside its own anchor" in error.message and error.line == 1


def test_a_bad_setting_is_named(write_config, monkeypatch) -> None:
    monkeypatch.setenv("INBOUND_YAML_MAX_NODES", "lots")
    with pytest.raises(ValueError, match="INBOUND_YAML_MAX_NODES='lots' is not a whole number of at least 1"):
        load_file(write_config("a.yaml", SMALL))


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines[:-1]) + "\n" + SMALL + f"mode: [{', '.join([f'*a{levels - 2}'] * 10)}]\n"


def _run_limited(code: str, memory: int = 1 << 30, timeout: float = 120) -> str:
    """Run `code` in a fresh interpreter with at most `memory` bytes of address space."""
    import subprocess
    import sys

    from conftest import ROOT

    prelude = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
        f"sys.path[:0] = [{str(ROOT / 'tests')!r}, {str(ROOT / 'include')!r}]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_an_alias_bomb_is_refused_in_bounded_memory(write_config) -> None:
    """Nine levels of ten: 10^9 values once expanded; refused before anything expands it."""
    path = write_config("bomb.yaml", _bomb())
    out = _run_limited(
        "from inbound.config.catalog import load_file\n"
        f"integration, errors = load_file({str(path)!r})\n"
        "assert integration is None\n"
        "print(len(errors)); print(errors[0].line); print(errors[0])\n"
    )
    count, line, message = out.split("\n", 2)
    assert count == "1" and "INBOUND_YAML_MAX_NODES" in message and "aliases" in message
    assert line == "5"  # where the count first went over 20,000: the anchors already count expanded
    assert len(message) < 1000


def test_echoed_input_is_cut_short(write_config) -> None:
    huge = "x" * 50_000
    config = integration_dict(mode=huge, timezone=huge, format={"encoding": huge})
    config["attributes"][0] = {"column": "Plan Name " + huge}
    _, errors = load_file(write_config("a.yaml", config))
    paths = {e.path for e in errors}
    assert {"mode", "timezone", "format.encoding", "attributes[0]"} <= paths, paths
    for error in errors:
        assert len(str(error)) < 1000, (error.path, len(str(error)))


@pytest.mark.parametrize(
    "text",
    [
        "a: 2026-13-45\n",  # a timestamp that is not a date: ValueError from the constructor
        "a: !!int xyz\n",
        "a: !!float xyz\n",
        "a: !!timestamp 2026-02-30\n",
        "? [a]\n: b\n",
        "a: *nowhere\n",
        "--- a\n--- b\n",
        "a: !env {b: c}\n",
        "\t- a\n",
    ],
)
def test_odd_yaml_is_a_problem_not_an_exception(write_config, text: str) -> None:
    integration, errors = load_file(write_config("a.yaml", text))
    assert integration is None and errors and all(len(str(e)) < 1000 for e in errors)


# -- rules across files: attribute names that differ only by case (item 5) -------------
def test_attribute_names_differing_by_case_across_files(write_config) -> None:
    write_config("a.yaml", integration_dict("crm", attributes=[{"column": "Plan", "name": "plan"}]))
    write_config("b.yaml", integration_dict("hr", attributes=[{"column": "Plan"}]))
    catalog = load_folder(write_config.folder)
    assert list(catalog.integrations) == ["crm"]
    (error,) = catalog.errors
    assert error.file.endswith("b.yaml") and error.path == "attributes[0]"
    assert "'Plan'" in error.message and "'plan'" in error.message and "differ only by case" in error.message


# -- fuzz: arbitrary YAML through load_file, under a memory limit (item 5 of the brief) ---
FUZZ = r"""
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from inbound.config.catalog import load_file
from inbound.config.model import Integration
from inbound.config.problems import ConfigProblem

PIECES = [
    "[", "]", "{", "}", ", ", ": ", "- ", "? ", "\n", "  ", "&a ", "&b ", "*a", "*b", "!env ", "!!int ", "!!float ",
    "!!timestamp ", "!!binary ", "!!set ", "!!omap ", "!!pairs ", "!!str ", "!!map ", "!!seq ", "!!null ", "!!bool ",
    "!!python/object:os.system ", "!custom ", "<<: ", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "'",
    '"', "|\n", ">\n", "#", "\t", "\x00", "\ufeff", "2026-13-45", "0x1F", "1e999", ".inf", "name", "schedule",
    "attributes", "source", "user_id", "column", "mode", "x" * 70_000, "[" * 2000, "{a: " * 600, "- " * 300,
    "INBOUND_CONFIG_X", "AWS_SECRET_ACCESS_KEY",
]
VALID = "name: crm\nschedule: '@daily'\nsource: {bucket: abc, key: a.csv}\nuser_id: {column: Email}\nattributes: [{column: Plan}]\n"
folder = Path(tempfile.mkdtemp())
count = 0

@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=20)), max_size=60),
    st.booleans(),
)
def fuzz(pieces, prefix_valid):
    global count
    count += 1
    text = (VALID if prefix_valid else "") + "".join(pieces)
    path = folder / "a.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    integration, errors = load_file(path)
    assert (integration is None) == bool(errors)
    assert integration is None or isinstance(integration, Integration)
    for error in errors:
        assert isinstance(error, ConfigProblem) and len(str(error)) < 5000, str(error)[:300]

fuzz()
print(count)
"""


def test_fuzz_arbitrary_yaml_is_a_result_or_problems_in_bounded_memory() -> None:
    out = _run_limited("MAX_EXAMPLES = 1000\n" + FUZZ, timeout=300)
    assert int(out.strip()) >= 1000


@pytest.mark.parametrize("text", ["{" + "x" * 70_000 + "}", "? " + "x" * 70_000, "!env " + "x" * 70_000])
def test_a_huge_key_or_variable_name_never_makes_a_huge_message(write_config, text: str) -> None:
    """Found by the fuzz above: a setting path and an `!env` name came back whole."""
    path = write_config.folder / "a.yaml"
    path.write_text(text)
    _, errors = load_file(path)
    assert errors and all(len(str(e)) < 2000 for e in errors), max(len(str(e)) for e in errors)
