"""Loading configs: `!env`, problems with file, line and a fix, rules across files, the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import EXAMPLES, integration_dict
from inbound.catalog import Catalog, ConfigProblem, current_catalog, load_file, load_folder
from inbound.config import Integration


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
    config = "name: crm\nschedule: '@daily'\nsource:\n  bucket: !env CRM_BUCKET\n  key: a.csv\nuser_id: {column: Email}\nattributes: [{column: Plan}]\n"
    path = write_config("a.yaml", config)
    monkeypatch.delenv("CRM_BUCKET", raising=False)
    integration, errors = load_file(path)
    assert integration is None
    assert errors[0].line == 4 and "CRM_BUCKET is not set" in errors[0].message
    assert "!env [CRM_BUCKET, value]" in errors[0].message and "> " in errors[0].context
    monkeypatch.setenv("CRM_BUCKET", "prod-exports")
    integration, errors = load_file(path)
    assert integration.source.bucket == "prod-exports"


def test_env_tag_default_and_shape(write_config, monkeypatch) -> None:
    monkeypatch.delenv("CRM_BUCKET", raising=False)
    base = (
        "name: crm\nschedule: '@daily'\nuser_id: {column: Email}\nattributes: [{column: Plan}]\nsource:\n  key: a.csv\n"
    )
    integration, _ = load_file(write_config("a.yaml", base + "  bucket: !env [CRM_BUCKET, fallback]\n"))
    assert integration.source.bucket == "fallback"
    _, (error,) = load_file(write_config("b.yaml", base + "  bucket: !env [CRM_BUCKET]\n"))
    assert "!env takes NAME or [NAME, default]" in error.message and error.line == 7


def test_env_values_are_not_templates(write_config, monkeypatch) -> None:
    monkeypatch.setenv("CRM_BUCKET", "prod-exports")
    config = integration_dict()
    config["source"]["bucket"] = "${CRM_BUCKET}"
    integration, _ = load_file(write_config("a.yaml", config))
    assert integration.source.bucket == "${CRM_BUCKET}"


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
    path.write_text(path.read_text().replace("bucket: placeholder", "bucket: !env [CRM_BUCKET, acme-exports]"))
    monkeypatch.delenv("CRM_BUCKET", raising=False)
    assert current_catalog(write_config.folder).integrations["crm"].source.bucket == "acme-exports"
    monkeypatch.setenv("CRM_BUCKET", "prod-exports")
    assert current_catalog(write_config.folder).integrations["crm"].source.bucket == "prod-exports"


def test_current_catalog_loads_once_for_threads_asking_at_once(write_config, monkeypatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from inbound import catalog as catalog_module

    write_config("crm.yaml", integration_dict("crm"))
    loads: list[Path] = []
    real = catalog_module.load_folder

    def counting(directory: Path, cap: int | None = None) -> Catalog:
        loads.append(directory)
        return real(directory, cap)

    monkeypatch.setattr("inbound.catalog.load_folder", counting)
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
