"""The inbound Airflow plugin: the "Integrations" page in the Airflow UI and its JSON API.

Airflow's API server mounts the FastAPI app of `inbound.api` under /inbound; the
external view puts it in the UI's navigation, shown inside the UI. Every route checks
the caller through Airflow's auth manager (see inbound.api); Airflow does not do it
for plugin apps.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

PREFIX = "/inbound"  # the same as inbound.api.PREFIX (checked in tests/test_api.py)


class LazyApp:
    """The plugin's ASGI app, imported at its first request.

    Airflow loads every plugin in every task process (for macros), but only the API server
    serves the app: importing FastAPI and `inbound.api` up front cost each task about a
    second (see tests/benchmarks/load_celery.py).
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from inbound.api import app

            self._app = app
        await self._app(scope, receive, send)


app = LazyApp()


class InboundPlugin(AirflowPlugin):
    name = "inbound"
    fastapi_apps = [{"app": app, "url_prefix": PREFIX, "name": "inbound"}]
    external_views = [
        {
            "name": "Integrations",
            "href": f"{PREFIX}/",
            "destination": "nav",
            "url_route": "integrations",  # the page is /plugin/integrations in the UI
            "nav_top_level": True,  # a button of its own, not under "Plugins"
        }
    ]
