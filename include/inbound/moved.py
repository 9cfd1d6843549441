"""Import paths of the old flat package that outside code has stored, still importable.

Airflow stores a deferred trigger's classpath in its database (`inbound.trigger.NewFilesTrigger`,
`inbound.notifications.QueueEventsTrigger`) and a serialized task's module; a deployment's own
DAG files and plugin import `inbound.dag` and `inbound.api`. Those rows and files outlive an
upgrade, so each old path resolves to the module that now holds it (the very same module
object: one class, one set of globals). Nothing inside the package uses these paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

OLD_PATHS = {
    "inbound.dag": "inbound.airflow.dag",
    "inbound.sensor": "inbound.airflow.sensor",
    "inbound.trigger": "inbound.airflow.files_trigger",
    "inbound.notifications": "inbound.airflow.queue_trigger",
    "inbound.api": "inbound.web.app",
}


class _OldPath(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as its new module (put in `sys.modules` under both names)."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in OLD_PATHS:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        # The import system returns what sys.modules holds under the name after this call.
        sys.modules[module.__name__] = importlib.import_module(OLD_PATHS[module.__name__])


def install() -> None:
    """Add the finder once (after the default finders: a real module of that name would win)."""
    if not any(isinstance(finder, _OldPath) for finder in sys.meta_path):
        sys.meta_path.append(_OldPath())
