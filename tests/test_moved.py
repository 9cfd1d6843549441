"""The old flat package's paths that outside code stored still import, to the very same objects.

Airflow keeps a deferred trigger's classpath in its `trigger` table across an upgrade, and a
deployment's DAG files and plugin import `inbound.dag` and `inbound.api`.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from inbound.moved import OLD_PATHS


@pytest.mark.parametrize(("old", "new"), sorted(OLD_PATHS.items()))
def test_an_old_path_is_the_new_module(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)


def test_a_stored_trigger_classpath_resolves_in_a_fresh_interpreter() -> None:
    """As the triggerer does (`TriggerRunner` loads `classpath` with `import_string`) of the classpath a row written before the move holds."""
    code = (
        "from airflow._shared.module_loading import import_string as load\n"
        "from inbound.airflow.files_trigger import NewFilesTrigger\n"
        "from inbound.airflow.queue_trigger import QueueEventsTrigger\n"
        "assert load('inbound.trigger.NewFilesTrigger') is NewFilesTrigger\n"
        "assert load('inbound.notifications.QueueEventsTrigger') is QueueEventsTrigger\n"
        "assert NewFilesTrigger(integration='crm', source={'bucket': 'b', 'key': 'k'}, poke_interval=1.0,"
        " deadline='2026-01-01T00:00:00+00:00')"
        ".serialize()[0] == 'inbound.airflow.files_trigger.NewFilesTrigger'\n"
        "from inbound.dag import build_dags, raise_config_errors\n"
        "from inbound.api import create_app\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_an_unknown_old_name_is_still_an_import_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("inbound.no_such_module")
